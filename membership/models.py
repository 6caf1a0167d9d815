from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Store(models.Model):
    """A shop of the chain, or a node above shops (HQ, a region) through `parent`."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey("self", verbose_name=_("parent"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"


class Role(models.TextChoices):
    CLERK = "clerk", _("Clerk")
    MANAGER = "manager", _("Store manager")
    HQ = "hq", _("HQ operator")


class User(AbstractUser):
    """A staff account: clerk, store manager or HQ operator. Members sign in separately.

    Admin access (is_staff) follows the role: only HQ operators and superusers get it."""

    store = models.ForeignKey(Store, verbose_name=_("store"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="staff")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.CLERK)

    class Meta(AbstractUser.Meta):
        verbose_name = _("staff user")
        verbose_name_plural = _("staff users")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role="hq") | models.Q(store__isnull=False),
                name="staff_outside_hq_has_store",
                violation_error_message=_("Clerks and store managers belong to a store."),
            )
        ]

    def has_perm(self, perm, obj=None):
        from .permissions import can_configure  # the one place that decides

        return can_configure(self) or super().has_perm(perm, obj)

    def has_module_perms(self, app_label):
        from .permissions import can_configure

        return can_configure(self) or super().has_module_perms(app_label)

    def save(self, *args, **kwargs):
        if self.is_superuser:
            self.role = Role.HQ
        self.is_staff = self.role == Role.HQ
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and ("role" in update_fields or "is_superuser" in update_fields):
            kwargs["update_fields"] = set(update_fields) | {"is_staff", "role"}
        super().save(*args, **kwargs)
