"""What HQ should look at in the programme's configuration (issue 29): settings that no longer pass
their own validation (saved before it, or written past it), scenes that failed when they ran, and
risky ones: a running scene whose audience is empty, a budget already spent, a coupon template that
nothing gives, member days that overlap. One list for `manage.py check_config`, the deploy check and
the admin page, each problem with its object and what to do."""

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from core.clock import local, now
from membership.models import EarnMultiplier, EarnStage, PaidCardProduct, ProgramSettings, Tier

from ..kinds import KINDS
from ..models import BenefitPackage, CouponTemplate, MallItem, ProgramRules, Scene
from . import scenes

ERROR, WARNING = "error", "warning"
VALIDATED = (ProgramSettings, Tier, EarnStage, EarnMultiplier, CouponTemplate, BenefitPackage, Scene)


@dataclass(frozen=True)
class Problem:
    severity: str  # ERROR: it is wrong or it failed; WARNING: it works, but likely not as meant
    obj: object
    message: str
    todo: str

    @property
    def label(self) -> str:
        return f"{self.obj._meta.verbose_name} “{self.obj}”"

    @property
    def url(self) -> str:
        meta = self.obj._meta
        try:
            return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[self.obj.pk])
        except NoReverseMatch:
            return ""

    def __str__(self):
        return f"[{self.severity}] {self.label}: {self.message} {self.todo}"


def errors(found: list[Problem]) -> int:
    return sum(p.severity == ERROR for p in found)


def problems(today: date | None = None) -> list[Problem]:
    today = today or local(now()).date()
    return [
        *_invalid(),
        *_failed_scenes(),
        *_running_scene_risks(today),
        *_unused_templates(),
        *_overlapping_member_days(today),
    ]


def _invalid():
    for model in VALIDATED:
        for obj in model.objects.order_by("pk"):
            try:
                obj.full_clean(validate_unique=False)
            except ValidationError as exc:
                said = "; ".join(
                    f"{_field_name(obj, name)}: {' '.join(msgs)}" if name != "__all__" else " ".join(msgs)
                    for name, msgs in exc.message_dict.items()
                )
                yield Problem(
                    ERROR,
                    obj,
                    _("Does not pass its own validation: %(said)s") % {"said": said},
                    _("Open it in admin and correct it."),
                )


def _field_name(obj, name: str) -> str:
    """The field as admin labels it ("growth to reach"), the attribute's name when it is none."""
    try:
        return str(obj._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:  # a name that is not a field (a check of several)
        return name


def _failed_scenes():
    for scene in Scene.objects.exclude(last_error="").order_by("pk"):
        yield Problem(
            ERROR,
            scene,
            _("Failed at %(at)s and was skipped: %(error)s.")
            % {
                "at": f"{local(scene.last_error_at):%Y-%m-%d %H:%M}" if scene.last_error_at else "?",
                "error": scene.last_error,
            },
            _("Correct it in admin; the next run clears the error."),
        )


def _running(today: date) -> list[Scene]:
    return [scene for scene in Scene.objects.order_by("pk") if scenes.is_running(scene, today)]


def _running_scene_risks(today: date):
    for scene in _running(today):
        if scene.kind in KINDS and scene.kind != "welcome" and not scenes.audience(scene).exists():
            yield Problem(
                WARNING,
                scene,
                _("Is running, but no member is in its audience."),
                _("Check its tiers, tags, stores and segment."),
            )
        if scene.budget_grants is not None and scene.granted >= scene.budget_grants:
            yield Problem(
                WARNING,
                scene,
                _("Its grant budget is spent (%(n)s of %(n)s).") % {"n": scene.budget_grants},
                _("Raise the budget or end the scene."),
            )
        elif scene.budget_points is not None and scene.points_granted >= scene.budget_points:
            yield Problem(
                WARNING,
                scene,
                _("Its points budget is spent (%(n)s points).") % {"n": scene.budget_points},
                _("Raise the budget or end the scene."),
            )


def _unused_templates():
    used = set(BenefitPackage.coupons.through.objects.values_list("coupontemplate_id", flat=True))
    used |= set(MallItem.objects.exclude(coupon_template=None).values_list("coupon_template_id", flat=True))
    used |= set(
        ProgramRules.objects.exclude(monthly_coupon_template=None).values_list("monthly_coupon_template_id", flat=True)
    )
    codes = set(PaidCardProduct.objects.exclude(monthly_coupon_code="").values_list("monthly_coupon_code", flat=True))
    for template in (
        CouponTemplate.objects.filter(is_active=True).exclude(pk__in=used).exclude(code__in=codes).order_by("pk")
    ):
        yield Problem(
            WARNING,
            template,
            _("Is active, but no scene, mall item, paid card or monthly rule gives it."),
            _("Give it in a benefit package, or make it inactive."),
        )


def _overlapping_member_days(today: date):
    days = [s for s in _running(today) if s.kind == "member_day" and s.day]
    for i, first in enumerate(days):
        for second in days[i + 1 :]:
            if first.day <= (second.end_day or second.day) and second.day <= (first.end_day or first.day):
                yield Problem(
                    WARNING,
                    second,
                    _(
                        "Its member days overlap those of “%(other)s”: a member gets both scenes' benefits on those days."
                    )
                    % {"other": first.name},
                    _("Move one of them to other days, or end one."),
                )
