"""Campaign watch (计划异常提醒): the running scenes whose grants stopped or whose budget will run out
before they end at the current pace (definitions.grants_stopped, budget_runs_out_on, budget_short).

`check(day)` says which scenes are flagged at the end of a day; the campaigns dashboard shows it for
the latest rolled-up day, and the daily task (`analytics.tasks.watch_campaigns`) keeps one open
CampaignAlert per flagged scene and kind, which HQ sees in admin: raised the first day a condition
holds, closed the first day it no longer does. A rerun for the same day changes nothing."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from campaigns.models import Scene, SceneGrant
from campaigns.services.scenes import is_running

from .. import definitions as d
from ..models import AnalyticsSettings, CampaignAlert

STOPPED, BUDGET = CampaignAlert.Kind.STOPPED, CampaignAlert.Kind.BUDGET


@dataclass(frozen=True)
class Flag:
    scene: Scene
    kind: str
    detail: str
    runs_out: date | None = None

    @property
    def label(self) -> str:
        return CampaignAlert.Kind(self.kind).label


def check(on: date, settings: AnalyticsSettings | None = None) -> list[Flag]:
    """The flags of every scene running on `on`, from its grants up to the end of that day (held-out
    members are not grants) and its budget counters."""
    settings = settings or AnalyticsSettings.load()
    idle_days, pace_days = settings.watch_idle_days, settings.watch_pace_days
    idle_start = d.day_start(on - timedelta(days=idle_days - 1))
    pace_start = d.day_start(on - timedelta(days=pace_days - 1))
    end = d.day_bounds(on)[1]
    scenes = [
        s
        for s in Scene.objects.filter(is_active=True).select_related("package", "package_b").order_by("name", "pk")
        if is_running(s, on)
    ]
    counts = _grant_counts(scenes, end, idle_start, pace_start)
    flags = []
    for scene in scenes:
        mine = [r for (pk, _v), r in counts.items() if pk == scene.pk]
        flags += _stopped(scene, mine, on, idle_days)
        flags += _budget_short(scene, mine, on, pace_days)
    return flags


def _grant_counts(scenes, end, idle_start, pace_start) -> dict[tuple, dict]:
    """{(scene, variant): grants up to `end` in the idle window, before it, and in the pace window}."""
    return {
        (r["scene"], r["variant"]): r
        for r in SceneGrant.objects.filter(scene__in=scenes, created_at__lt=end)
        .exclude(status=SceneGrant.Status.HOLDOUT)
        .order_by()
        .values("scene", "variant")
        .annotate(
            recent=Count("id", filter=Q(created_at__gte=idle_start)),
            before=Count("id", filter=Q(created_at__lt=idle_start)),
            paced=Count("id", filter=Q(created_at__gte=pace_start)),
        )
    }


def _stopped(scene: Scene, mine: list[dict], on: date, idle_days: int) -> list[Flag]:
    """The scene's STOPPED flag, if its grants stopped (`mine`: its rows of _grant_counts)."""
    recent = sum(r["recent"] for r in mine)
    before = any(r["before"] for r in mine)
    since_window = scene.starts_on is not None and scene.starts_on <= on - timedelta(days=idle_days - 1)
    if d.grants_stopped(scene.kind, recent, before, since_window):
        return [
            Flag(
                scene,
                STOPPED,
                _("No grants for %(days)s days (%(start)s to %(end)s).")
                % {"days": idle_days, "start": on - timedelta(days=idle_days - 1), "end": on},
            )
        ]
    return []


def _budget_short(scene: Scene, mine: list[dict], on: date, pace_days: int) -> list[Flag]:
    """One BUDGET flag at most: the first of the scene's budgets (points, then grants) that runs short."""
    budgets = []
    if scene.budget_points is not None:
        points_each = {
            SceneGrant.Variant.A: scene.package.bonus_points,
            SceneGrant.Variant.B: scene.package_b.bonus_points if scene.package_b else 0,
        }
        used = sum(r["paced"] * points_each.get(r["variant"], 0) for r in mine)
        budgets.append((_("points"), scene.budget_points, scene.points_granted, used))
    if scene.budget_grants is not None:
        budgets.append((_("grants"), scene.budget_grants, scene.granted, sum(r["paced"] for r in mine)))
    for what, budget, spent, used in budgets:
        runs_out = d.budget_runs_out_on(budget - spent, used, pace_days, on)
        if d.budget_short(runs_out, scene.ends_on, on):
            return [_budget_flag(scene, what, budget, spent, used, runs_out, on, pace_days)]
    return []


def _budget_flag(scene: Scene, what, budget, spent, used, runs_out, on: date, pace_days: int) -> Flag:
    until = scene.ends_on or _("the next %(n)s days") % {"n": d.OPEN_ENDED_HORIZON_DAYS}
    if budget - spent <= 0:
        detail = (
            _("Budget of %(budget)s %(what)s all used; the scene runs until %(end)s.")
            if scene.ends_on
            else _("Budget of %(budget)s %(what)s all used; the scene has no end date.")
        ) % {"budget": budget, "what": what, "end": scene.ends_on}
        return Flag(scene, BUDGET, detail, runs_out)
    return Flag(
        scene,
        BUDGET,
        _(
            "Budget of %(budget)s %(what)s, %(left)s left; at %(used)s in the last %(days)s days it"
            " runs out on %(out)s, before %(end)s."
        )
        % {
            "budget": budget,
            "what": what,
            "left": max(0, budget - spent),
            "used": used,
            "days": pace_days,
            "out": runs_out,
            "end": until,
        },
        runs_out,
    )


def record(on: date) -> dict:
    """Open an alert for each new flag of `on`, keep the open ones that still hold, close the rest."""
    flags = check(on)
    raised = kept = closed = 0
    with transaction.atomic():
        open_alerts = {
            (a.scene_id, a.kind): a for a in CampaignAlert.objects.select_for_update().filter(closed_on=None)
        }
        for flag in flags:
            alert = open_alerts.pop((flag.scene.pk, flag.kind), None)
            if alert is None:
                CampaignAlert.objects.create(
                    scene=flag.scene, kind=flag.kind, detail=flag.detail[:300], raised_on=on, checked_on=on
                )
                raised += 1
            else:
                if on >= alert.checked_on:
                    alert.detail, alert.checked_on = flag.detail[:300], on
                    alert.save(update_fields=["detail", "checked_on"])
                kept += 1
        for alert in open_alerts.values():
            if on > alert.raised_on:
                alert.closed_on = on
                alert.save(update_fields=["closed_on"])
                closed += 1
    return {"raised": raised, "kept": kept, "closed": closed}


def open_alerts():
    return CampaignAlert.objects.filter(closed_on=None).select_related("scene").order_by("-raised_on", "scene__name")
