"""Scene kinds as a registry (issue 29), one small class per kind, as services/channels.py does for
channels. Each kind declares the "when" fields it uses (the admin form shows only those, with their
help), validates them (Scene.clean), and says from the one definition who is eligible on a day,
set-based for the daily run (`eligible`), and whether one member is in its window (`active_for`,
asked by the earn rule for a points multiplier). Adding a kind is one class here and its code in
Scene.Kind.

A kind's code never raises on a row that bypassed validation in a way the sale path can meet:
services.scenes guards every call per scene anyway (a bad scene is skipped and logged)."""

import calendar
from abc import ABC, abstractmethod
from datetime import date, datetime, timedelta
from datetime import time as dtime

from django.apps import apps
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from core.clock import day_start, local, tz

from . import calendar as cal

WINBACK_COOLDOWN_DAYS = 180  # a win-back scene without its own cooldown recalls a member at most this often
LEAP_YEAR = 2024  # 29 February exists: a yearly date is checked against a leap year

MSG_REQUIRED = _("This kind of scene needs it.")
MSG_MONTH = _("A month is 1 to 12.")
MSG_NO_SUCH_DAY = _("There is no such day in that month.")
MSG_LUNAR_DAY = _("A lunar day is 1 to 30.")
MSG_NTH = _("1 to 4, or 5 for the last.")
MSG_WEEKDAY = _("0 (Monday) to 6 (Sunday).")
MSG_END_PAIR = _("Give both the end month and the end day, or neither.")
MSG_END_BEFORE = _("The last day of the member day comes before its first.")
MSG_OFFSETS = _("Days after, separated by commas, e.g. 2,7,30 (each 1 to 3650).")
MSG_WINDOW = _("At most 366 days.")
MSG_STEP = _("At least 1.")


def day_end(day: date) -> datetime:
    return datetime.combine(day, dtime(23, 59, 59), tzinfo=tz())


def _offset_parts(scene) -> list[str]:
    """The scene's offsets as typed, e.g. "2, 7，30" → ["2", "7", "30"] (a full-width comma too)."""
    return [x.strip() for x in (scene.offsets or "").replace("，", ",").split(",") if x.strip()]


def offsets(scene) -> list[int]:
    """The scene's day offsets, e.g. "2,7,30" → [2, 7, 30]; what is not a number is left out."""
    return sorted({int(x) for x in _offset_parts(scene) if x.isdigit()})


def _anchor_groups(scene, on: date) -> dict[str, list]:
    """(month, day) anchors whose window covers `on`, grouped by their occurrence key (the year)."""
    groups: dict[str, list] = {}
    for pair, key in cal.anchors_for_window(on, scene.days_before, scene.days_after).items():
        groups.setdefault(key, []).append(pair)
    return groups


def _required(scene, *names) -> dict:
    return {name: MSG_REQUIRED for name in names if getattr(scene, name) is None}


def _pairs_q(pairs, month_field: str, day_field: str) -> Q:
    q = Q(pk__in=[])
    for m, d in pairs:
        q |= Q(**{month_field: m, day_field: d})
    return q


def _date_exists(month, day) -> bool:
    return 1 <= (month or 0) <= 12 and 1 <= (day or 0) <= calendar.monthrange(LEAP_YEAR, month)[1]


class SceneKind:
    """A kind of scene. `fields`: the "when" fields it uses (in the form's order); `help`: a word on
    each, shown under it in admin. `daily`: run by the daily run (else granted by events only)."""

    code = ""
    label = ""
    fields: tuple[str, ...] = ()
    help: dict = {}
    daily = True

    def validate(self, scene) -> dict:
        """{field: message} of what is wrong with the scene's "when" for this kind."""
        errors = {}
        for name in ("days_before", "days_after"):
            if name in self.fields and (getattr(scene, name) or 0) > 366:
                errors[name] = MSG_WINDOW
        return errors

    def eligible(self, scene, on: date, at: datetime, base) -> list[tuple[str, object, datetime | None]]:
        """(occurrence key, queryset of eligible members, window end) groups for a daily run on `on`;
        `base` is the scene's audience."""
        return []

    def active_for(self, scene, member, on: date) -> bool:
        """Whether `member` is in the scene's window on `on` (a multiplier applies to their sale)."""
        return False


class CalendarKind(SceneKind, ABC):
    """The same window for every member: a holiday or the member day."""

    @abstractmethod
    def occurrence(self, scene, on: date) -> cal.Occurrence | None:
        """This year's (or the year around's) window of the scene that holds `on`, if any."""

    def eligible(self, scene, on, at, base):
        occ = self.occurrence(scene, on)
        return [(occ.key, base, day_end(occ.ends))] if occ else []

    def active_for(self, scene, member, on):
        return self.occurrence(scene, on) is not None

    @staticmethod
    def _first(candidates, on):
        return next((occ for occ in candidates if on in occ), None)


class FixedHoliday(CalendarKind):
    code, label = "fixed_holiday", _("Fixed-date holiday")
    fields = ("month", "day", "end_month", "end_day", "days_before", "days_after")
    help = {
        "month": _("The holiday's month and day, e.g. 10 and 1 for National Day."),
        "end_month": _("For a holiday of several days: its last month and day (may cross New Year)."),
    }

    def validate(self, scene):
        errors = super().validate(scene)
        if missing := _required(scene, "month", "day"):
            errors.update(missing)
        elif not _date_exists(scene.month, scene.day):
            errors["day"] = MSG_NO_SUCH_DAY if 1 <= scene.month <= 12 else MSG_MONTH
        if (scene.end_month is None) != (scene.end_day is None):
            errors["end_day"] = MSG_END_PAIR
        elif scene.end_month is not None and not _date_exists(scene.end_month, scene.end_day):
            errors["end_day"] = MSG_NO_SUCH_DAY
        return errors

    def occurrence(self, scene, on):
        candidates = []
        for y in (on.year - 1, on.year, on.year + 1):
            start = cal.yearly_date(y, scene.month, scene.day)
            end = cal.yearly_date(y, scene.end_month or scene.month, scene.end_day or scene.day)
            if end < start:  # a range across New Year
                end = cal.yearly_date(y + 1, end.month, end.day)
            candidates.append(cal.window(start, scene.days_before, scene.days_after, str(y), end))
        return self._first(candidates, on)


class LunarHoliday(CalendarKind):
    code, label = "lunar_holiday", _("Lunar holiday")
    fields = ("month", "day", "lunar_leap", "days_before", "days_after")
    help = {"month": _("The lunar month and day, e.g. 8 and 15 for the Mid-Autumn Festival.")}

    def validate(self, scene):
        errors = super().validate(scene)
        if missing := _required(scene, "month", "day"):
            errors.update(missing)
        elif not 1 <= scene.month <= 12:
            errors["month"] = MSG_MONTH
        elif not 1 <= scene.day <= 30:
            errors["day"] = MSG_LUNAR_DAY
        return errors

    def occurrence(self, scene, on):
        candidates = []
        for y in (on.year - 1, on.year, on.year + 1):
            if anchor := cal.lunar_to_solar(y, scene.month, scene.day, scene.lunar_leap):
                candidates.append(cal.window(anchor, scene.days_before, scene.days_after, str(y)))
        return self._first(candidates, on)


class NthWeekday(CalendarKind):
    code, label = "nth_weekday", _("Nth-weekday holiday")
    fields = ("month", "nth", "weekday", "days_before", "days_after")
    help = {"nth": _("E.g. Mother's Day: month 5, the 2nd, weekday 6 (Sunday).")}

    def validate(self, scene):
        errors = super().validate(scene)
        checks = (("month", 1, 12, MSG_MONTH), ("nth", 1, 5, MSG_NTH), ("weekday", 0, 6, MSG_WEEKDAY))
        for name, low, high, message in checks:
            value = getattr(scene, name)
            if value is None:
                errors[name] = MSG_REQUIRED
            elif not low <= value <= high:
                errors[name] = message
        return errors

    def occurrence(self, scene, on):
        candidates = [
            cal.window(
                cal.nth_weekday(y, scene.month, scene.nth or 1, scene.weekday or 0),
                scene.days_before,
                scene.days_after,
                str(y),
            )
            for y in (on.year - 1, on.year, on.year + 1)
        ]
        return self._first(candidates, on)


class MemberDay(CalendarKind):
    code, label = "member_day", _("Member day")
    fields = ("day", "end_day")
    help = {"day": _("Every month from this day (1–31; in a shorter month its last day) to the end day, if any.")}

    def validate(self, scene):
        errors = super().validate(scene)
        if scene.day is None:
            errors["day"] = MSG_REQUIRED
        elif not 1 <= scene.day <= 31:
            errors["day"] = MSG_NO_SUCH_DAY
        elif scene.end_day is not None and not scene.day <= scene.end_day <= 31:
            errors["end_day"] = MSG_END_BEFORE
        return errors

    def occurrence(self, scene, on):
        last = calendar.monthrange(on.year, on.month)[1]
        start = date(on.year, on.month, min(scene.day, last))
        end = date(on.year, on.month, min(scene.end_day or scene.day, last))
        occ = cal.Occurrence(f"{on.year}-{on.month:02d}", start, start, end)
        return occ if on in occ else None


class Birthday(SceneKind):
    code, label = "birthday", _("Birthday")
    fields = ("days_before", "days_after", "whole_month")
    help = {"whole_month": _("The whole birthday month instead of days around the birthday.")}

    def eligible(self, scene, on, at, base):
        if scene.whole_month:
            last = date(on.year, on.month, calendar.monthrange(on.year, on.month)[1])
            return [(str(on.year), base.filter(birth_month=on.month, birth_day__isnull=False), day_end(last))]
        ends = day_end(on + timedelta(days=scene.days_before + scene.days_after))
        groups = _anchor_groups(scene, on)
        return [(key, base.filter(_pairs_q(pairs, "birth_month", "birth_day")), ends) for key, pairs in groups.items()]

    def active_for(self, scene, member, on):
        if not member.birth_month or not member.birth_day:
            return False
        occ = cal.birthday_occurrence(
            member.birth_month,
            member.birth_day,
            on,
            before=scene.days_before,
            after=scene.days_after,
            whole_month=scene.whole_month,
        )
        return occ is not None


class Anniversary(SceneKind):
    code, label = "anniversary", _("Membership anniversary")
    fields = ("days_before", "days_after")

    def eligible(self, scene, on, at, base):
        ends = day_end(on + timedelta(days=scene.days_before + scene.days_after))
        return [
            (
                key,
                base.filter(_pairs_q(pairs, "joined_at__month", "joined_at__day")).filter(
                    joined_at__lt=day_start(date(int(key), 1, 1))
                ),
                ends,
            )
            for key, pairs in _anchor_groups(scene, on).items()
        ]

    def active_for(self, scene, member, on):
        joined = local(member.joined_at).date()
        occ = cal.birthday_occurrence(joined.month, joined.day, on, before=scene.days_before, after=scene.days_after)
        return occ is not None and int(occ.key) > joined.year


class Welcome(SceneKind):
    code, label = "welcome", _("Welcome")
    fields = ("days_after",)
    help = {"days_after": _("Members who joined within this many days (7 if empty); granted at enrolment too.")}

    def eligible(self, scene, on, at, base):
        return [("welcome", base.filter(joined_at__gte=at - timedelta(days=max(1, scene.days_after or 7))), None)]


class Activation(SceneKind):
    code, label = "activation", _("New-member activation")
    fields = ("offsets",)
    help = {"offsets": _("Days after joining without a purchase, e.g. 1,3,7.")}

    def validate(self, scene):
        return {**super().validate(scene), **_check_offsets(scene)}

    def eligible(self, scene, on, at, base):
        out = []
        for n in offsets(scene):
            day = on - timedelta(days=n)
            joined = base.filter(purchase_count=0, joined_at__gte=day_start(day), joined_at__lte=day_end(day))
            out.append((f"day{n}", joined, None))
        return out


class PostPurchase(SceneKind):
    code, label = "post_purchase", _("Post-purchase care")
    fields = ("offsets",)
    help = {"offsets": _("Days after each purchase, e.g. 2,7,30,60,120.")}
    CATCHUP = timedelta(days=1)  # a touch whose time passed longer ago than this is not sent late

    def validate(self, scene):
        return {**super().validate(scene), **_check_offsets(scene)}

    def eligible(self, scene, on, at, base):
        """Each purchase of a member in the audience gets the touch N days (N × 24 h) after its own
        time, once (the occurrence is the purchase), when a run comes within a day of that (the
        schedule runs every 15 minutes; `run_scenes --date` re-runs a missed day). Purchases returned
        in full get no touch."""
        from django.db.models import CharField, F, Value
        from django.db.models.functions import Cast, Concat

        from membership.models import Member, Purchase

        SceneGrant = apps.get_model("campaigns", "SceneGrant")  # noqa: N806 (campaigns.models imports this module)

        out = []
        for n in offsets(scene):
            due = at - timedelta(days=n)
            purchases = (
                Purchase.objects.filter(
                    created_at__lte=due,
                    created_at__gt=due - self.CATCHUP,
                    returned_amount__lt=F("amount"),
                    member_id__in=base.values("pk"),
                )
                .annotate(key=Concat(Value("purchase:"), Cast("pk", CharField()), Value(f"+{n}")))
                .filter(
                    ~Exists(
                        SceneGrant.objects.filter(scene=scene, member=OuterRef("member_id"), occurrence=OuterRef("key"))
                    )
                )
                .order_by("created_at", "pk")
            )
            for key, member_id in purchases.values_list("key", "member_id"):
                out.append((key, Member.objects.filter(pk=member_id), None))
        return out


class Winback(SceneKind):
    code, label = "winback", _("Win-back")
    fields = ("inactive_days", "cooldown_days")
    help = {
        "inactive_days": _("Members without a purchase for this many days (90 if empty)."),
        "cooldown_days": _("A member is recalled at most once in this many days (180 if empty)."),
    }

    def eligible(self, scene, on, at, base):
        SceneGrant = apps.get_model("campaigns", "SceneGrant")  # noqa: N806 (campaigns.models imports this module)

        quiet = base.filter(last_purchase_at__lt=day_start(on - timedelta(days=scene.inactive_days or 90)))
        # a win-back always has a cooldown: without one the same quiet member was recalled every day
        cooldown = scene.cooldown_days or WINBACK_COOLDOWN_DAYS
        recent = SceneGrant.objects.filter(
            scene=scene, member=OuterRef("pk"), created_at__gte=at - timedelta(days=cooldown)
        )
        return [(on.isoformat(), quiet.filter(~Exists(recent)), None)]


class TierUpgrade(SceneKind):
    code, label = "tier_upgrade", _("Tier upgrade")
    fields = ("days_after",)
    help = {"days_after": _("Upgrades of the last this many days are caught up by the daily run (7 if empty).")}

    def eligible(self, scene, on, at, base):
        from membership.models import TierChange

        window = scene.days_after or 7
        ups = TierChange.objects.filter(reason=TierChange.Reason.UPGRADE, created_at__gte=at - timedelta(days=window))
        if tier_ids := [t.pk for t in scene.tiers.all()]:
            ups = ups.filter(to_tier_id__in=tier_ids)
        out = {}
        for change in ups.values("member_id", "to_tier__code", "created_at"):
            key = f"{change['to_tier__code']}:{local(change['created_at']).date().isoformat()}"
            out.setdefault(key, (change["created_at"], []))[1].append(change["member_id"])
        # the catch-up honours the scene's audience (stores, tags, consent, segment) as the event does
        return [(key, base.filter(pk__in=ids), created + timedelta(days=window)) for key, (created, ids) in out.items()]


class Milestone(SceneKind):
    code, label = "milestone", _("Milestone")
    fields = ("step", "milestone_of")
    help = {"step": _("Every this many purchases (or purchase days), e.g. 10.")}
    daily = False  # granted from purchase events

    def validate(self, scene):
        errors = super().validate(scene)
        if scene.step is None:
            errors["step"] = MSG_REQUIRED
        elif scene.step < 1:
            errors["step"] = MSG_STEP
        return errors


def _check_offsets(scene) -> dict:
    parts = _offset_parts(scene)
    if not parts:
        return {"offsets": MSG_REQUIRED}
    if not all(x.isdigit() and 1 <= int(x) <= 3650 for x in parts):
        return {"offsets": MSG_OFFSETS}
    return {}


KINDS: dict[str, SceneKind] = {
    kind.code: kind
    for kind in (
        Birthday(),
        Anniversary(),
        FixedHoliday(),
        LunarHoliday(),
        NthWeekday(),
        MemberDay(),
        TierUpgrade(),
        Milestone(),
        Welcome(),
        Activation(),
        PostPurchase(),
        Winback(),
    )
}
WHEN_FIELDS = tuple(dict.fromkeys(name for kind in KINDS.values() for name in kind.fields))
DAILY = [code for code, kind in KINDS.items() if kind.daily]


def of(scene) -> SceneKind:
    """The kind of `scene`; an unknown code (a row written past validation) has no window."""
    return KINDS.get(scene.kind, SceneKind())
