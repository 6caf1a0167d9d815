"""Stores (the tree: HQ → region → store) and staff users with their roles."""

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class Store(models.Model):
    """A shop of the chain, or a node above shops (HQ, a region) through `parent`."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"

    def subtree_ids(self) -> list[int]:
        """This node and every node under it (a region's stores, a store alone)."""
        return StoreTree.load().subtree_ids(self.pk)


class StoreTree:
    """The whole store tree (HQ → region → store) read in one query: a chain has hundreds of nodes,
    not millions, so walking it in memory beats a recursive query per page."""

    def __init__(self, stores):
        self.nodes = {s.pk: s for s in stores}
        self.children: dict[int | None, list] = {}
        for s in sorted(self.nodes.values(), key=lambda s: s.code):
            self.children.setdefault(s.parent_id if s.parent_id in self.nodes else None, []).append(s)

    @classmethod
    def load(cls) -> "StoreTree":
        return cls(Store.objects.all())

    def subtree_ids(self, pk: int) -> list[int]:
        out, todo = [], [pk]
        while todo:
            node = todo.pop()
            out.append(node)
            todo.extend(c.pk for c in self.children.get(node, []))
        return sorted(out)

    def is_leaf(self, pk: int) -> bool:
        return not self.children.get(pk)

    def regions(self) -> list:
        """The nodes that have nodes under them (HQ, regions), in tree order."""
        return [s for s, _depth in self.walk() if not self.is_leaf(s.pk)]

    def walk(self, root: int | None = None, depth: int = 0):
        """(node, depth) in tree order, children by code, from the roots (or under `root`)."""
        for s in self.children.get(root, []):
            yield s, depth
            yield from self.walk(s.pk, depth + 1)


class Role(models.TextChoices):
    CLERK = "clerk", _("Clerk")
    MANAGER = "manager", _("Store manager")
    REGIONAL = "regional", _("Regional manager")
    HQ = "hq", _("HQ operator")


class User(AbstractUser):
    """A staff account: clerk, store manager or HQ operator. Members sign in separately.

    Admin access (is_staff) follows the role: only HQ operators and superusers get it; what they may do
    there is decided by `membership.permissions.RoleBackend` (an authentication backend in settings)."""

    store = models.ForeignKey(
        Store, verbose_name=_("store"), null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )
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

    def clean(self):
        super().clean()
        if self.role == Role.REGIONAL and self.store_id and not Store.objects.filter(parent_id=self.store_id).exists():
            raise ValidationError(
                {"store": _("A regional manager belongs to a region: a store node with stores under it.")}
            )

    def save(self, *args, **kwargs):
        if self.is_superuser:
            self.role = Role.HQ
        self.is_staff = self.role == Role.HQ
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and ("role" in update_fields or "is_superuser" in update_fields):
            kwargs["update_fields"] = set(update_fields) | {"is_staff", "role"}
        super().save(*args, **kwargs)
