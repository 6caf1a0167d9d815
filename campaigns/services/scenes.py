"""Running scenes: who is eligible today, granting their benefit packages once per occurrence, events
(enrolment, upgrade, purchase) through the same code, claims on the member pages, and the points
multiplier the earn rule asks for (product.md, "Campaigns and scenes").

Daily runs are set-based: a query selects the eligible members that have no grant for the
occurrence yet, and they are granted in batches, each batch one transaction. The unique constraint
on (scene, member, occurrence) is the "once"; a crash loses at most the open batch, and a re-run
grants only those not granted yet."""

import hashlib
import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from core import rows
from core.clock import local, now, tz
from core.errors import Invalid, NotFound
from core.metrics import SCENE_ERRORS
from membership import config
from membership.models import Member, PointsEntry, TierChange
from membership.services import points

from .. import kinds
from ..models import BenefitPackage, Scene, SceneGrant
from . import coupons, notifications

log = logging.getLogger(__name__)
Kind, Variant, Status = Scene.Kind, SceneGrant.Variant, SceneGrant.Status
DAILY_KINDS = kinds.DAILY
MSG_NOT_CLAIMABLE = _("This benefit cannot be claimed any more.")

# segment name → callable(queryset of Member) → queryset; analytics registers its RFM and lifecycle
# segments here at start-up (campaigns does not import analytics).
segment_filters: dict = {}
# "category" → callable(queryset of Member, category) → the members whose latest snapshot prefers that
# sale-line category; analytics registers it at start-up as well.
preference_filters: dict = {}


@dataclass
class RunResult:
    scene: int
    granted: int = 0
    held_out: int = 0
    over_budget: int = 0
    occurrence: str = ""
    preview: list = field(default_factory=list)


def variant_for(scene: Scene, member_id: int) -> str:
    """Stable per member and scene: the holdout first, then A or B by a hash of the two ids."""
    h = int(hashlib.sha256(f"scene:{scene.pk}:member:{member_id}".encode()).hexdigest()[:12], 16)
    if h % 100 < scene.holdout_percent:
        return Variant.HOLDOUT
    if scene.package_b_id and (h // 100) % 2:
        return Variant.B
    return Variant.A


@dataclass(frozen=True)
class AudienceRule:
    """One rule of a scene's audience, defined once: `applies(scene)`, the members it keeps as a
    queryset filter (`narrow(qs, scene)`, the daily run) and for one member (`holds(scene, member)`,
    the sale's multiplier; None: asked of the queryset)."""

    applies: object
    narrow: object
    holds: object = None


def _ids(related) -> list[int]:
    return [obj.pk for obj in related.all()]


AUDIENCE = (
    AudienceRule(
        lambda s: _ids(s.tiers),
        lambda qs, s: qs.filter(tier_id__in=_ids(s.tiers)),
        lambda s, m: m.tier_id in _ids(s.tiers),
    ),
    AudienceRule(
        lambda s: _ids(s.stores),
        lambda qs, s: qs.filter(home_store_id__in=_ids(s.stores)),
        lambda s, m: m.home_store_id in _ids(s.stores),
    ),
    AudienceRule(
        lambda s: _ids(s.tags),
        lambda qs, s: qs.filter(
            Exists(Member.tags.through.objects.filter(member_id=OuterRef("pk"), tag_id__in=_ids(s.tags)))
        ),
        lambda s, m: m.tags.filter(pk__in=_ids(s.tags)).exists(),
    ),
    AudienceRule(
        lambda s: s.consent_required,
        lambda qs, s: qs.filter(marketing_consent=True),
        lambda s, m: m.marketing_consent,
    ),
    AudienceRule(
        lambda s: s.birthday_gift_tiers,
        lambda qs, s: qs.filter(tier__birthday_gift=True),
        lambda s, m: config.tier(m.tier_id).birthday_gift,
    ),
    AudienceRule(
        lambda s: s.audience_segment,
        lambda qs, s: segment(qs) if (segment := segment_filters.get(s.audience_segment)) else qs.none(),
    ),
    AudienceRule(
        lambda s: s.preferred_category,
        lambda qs, s: (
            prefers(qs, s.preferred_category) if (prefers := preference_filters.get("category")) else qs.none()
        ),
    ),
)


def audience(scene: Scene):
    """Members the scene may reach: active, and in its tiers, tags, home stores, consent, segment and
    preferred category."""
    qs = Member.objects.filter(status=Member.Status.ACTIVE)
    for rule in AUDIENCE:
        if rule.applies(scene):
            qs = rule.narrow(qs, scene)
    return qs


def in_audience(scene: Scene, member: Member) -> bool:
    """Whether `member` is in the scene's audience, by the same rules, in memory where they can be."""
    asked = False
    for rule in AUDIENCE:
        if not rule.applies(scene):
            continue
        if rule.holds is None:
            asked = True
        elif not rule.holds(scene, member):
            return False
    return not asked or audience(scene).filter(pk=member.pk).exists()


def is_running(scene: Scene, on: date) -> bool:
    return (
        scene.is_active
        and (scene.starts_on is None or scene.starts_on <= on)
        and (scene.ends_on is None or scene.ends_on >= on)
    )


def eligible(scene: Scene, on: date, at: datetime) -> list[tuple[str, object, datetime | None]]:
    """(occurrence key, queryset of eligible members, window end) groups for a daily run on `on`:
    the scene's kind says who (campaigns.kinds), within the scene's audience."""
    return kinds.of(scene).eligible(scene, on, at, audience(scene))


def _grantable(package: BenefitPackage) -> bool:
    return bool(package.bonus_points or package.mall_item_id or package.coupons.exists())


def has_message(scene: Scene) -> bool:
    return bool(scene.channel and (scene.message_title or scene.message_body))


def _grants(scene: Scene) -> bool:
    """Whether the scene records grants: a package that gives something, or just a message (a
    thank-you, a greeting, a member-day notice). A multiplier-only scene without a message acts
    through the earn rule instead."""
    return _grantable(scene.package) or bool(scene.package_b_id and _grantable(scene.package_b)) or has_message(scene)


def _reserve_budget(scene: Scene, n: int, points_each: int) -> int:
    """How many of `n` grants fit the scene's budgets; counts them as granted (scene row locked)."""
    locked = Scene.objects.select_for_update().get(pk=scene.pk)
    fit = n
    if locked.budget_grants is not None:
        fit = min(fit, max(0, locked.budget_grants - locked.granted))
    if locked.budget_points is not None and points_each:
        fit = min(fit, max(0, (locked.budget_points - locked.points_granted) // points_each))
    if fit:
        Scene.objects.filter(pk=scene.pk).update(
            granted=F("granted") + fit, points_granted=F("points_granted") + fit * points_each
        )
    return fit


def _apply(
    scene: Scene, package: BenefitPackage, grants: list[SceneGrant], at: datetime, valid_days: int | None = None
) -> None:
    """Give a package to the members of these grants (inside the caller's transaction)."""
    if package.bonus_points:
        points.grant_bulk(
            grants=[
                (g.member_id, package.bonus_points, f"scene:{scene.pk}:{g.occurrence}:{g.member_id}") for g in grants
            ],
            source=PointsEntry.Source.SCENE,
            source_ref=f"scene:{scene.pk}",
            at=at,
        )
    for template in package.coupons.all():
        # a template that runs out leaves the rest of the batch without it; the grants stand
        coupons.grant_bulk(
            template=template,
            source=f"scene:{scene.pk}",
            at=at,
            valid_days=valid_days,
            grants=[(g.member_id, f"scene:{scene.pk}:{g.occurrence}:{g.member_id}:{template.pk}") for g in grants],
        )
    if package.mall_item_id:
        from .mall import gifts

        gifts(
            item=package.mall_item,
            members=[(g.member_id, f"scene:{scene.pk}:{g.occurrence}:{g.member_id}:gift") for g in grants],
            at=at,
        )


def _tell(scene: Scene, grants: list[SceneGrant], at: datetime) -> None:
    """Record the batch's messages in its transaction; notifications sends them after commit, outside
    the scene's lock (a rollback sends nothing, a slow gateway holds nothing up)."""
    if not scene.channel:
        return
    members = {m.pk: m for m in Member.objects.filter(pk__in=[g.member_id for g in grants]).select_related("tier")}
    for g in grants:
        m = members[g.member_id]
        fields = {"name": m.name or m.masked_phone, "tier": m.tier.name, "points": g.points, "scene": scene.name}
        notifications.notify(
            member=m,
            channel=scene.channel,
            title=notifications.render(scene.message_title, **fields),
            body=notifications.render(scene.message_body, **fields),
            scene=scene,
            at=at,
            dedupe_key=f"scene:{scene.pk}:{g.occurrence}:{g.member_id}",
        )


def grant_batch(
    scene: Scene, occurrence: str, member_ids: list[int], *, at: datetime, window_ends: datetime | None = None
) -> RunResult:
    """Grant one batch: one transaction; members already granted for the occurrence are skipped.
    The scene's row is locked first, so an overlapping run (or an event) granting the same scene
    waits for this batch and then skips the members it granted, instead of failing on the
    unique grant."""
    result = RunResult(scene=scene.pk, occurrence=occurrence)
    with transaction.atomic():
        Scene.objects.select_for_update().filter(pk=scene.pk).values_list("pk", flat=True).first()
        done = set(
            SceneGrant.objects.filter(scene=scene, occurrence=occurrence, member_id__in=member_ids).values_list(
                "member_id", flat=True
            )
        )
        todo = [pk for pk in dict.fromkeys(member_ids) if pk not in done]
        by_variant: dict[str, list[int]] = {}
        for pk in todo:
            by_variant.setdefault(variant_for(scene, pk), []).append(pk)
        new_grants = []
        held = by_variant.pop(Variant.HOLDOUT, [])
        new_grants += [
            SceneGrant(
                scene=scene,
                member_id=pk,
                occurrence=occurrence,
                variant=Variant.HOLDOUT,
                status=Status.HOLDOUT,
                created_at=at,
            )
            for pk in held
        ]
        result.held_out = len(held)
        to_apply = []
        for variant, ids in sorted(by_variant.items()):
            package = scene.package_b if variant == Variant.B else scene.package
            # a message-only package has nothing to claim: its grant is the message
            claim = scene.claim_mode == Scene.ClaimMode.CLAIM and _grantable(package)
            fit = _reserve_budget(scene, len(ids), package.bonus_points)
            result.over_budget += len(ids) - fit
            given = [
                SceneGrant(
                    scene=scene,
                    member_id=pk,
                    occurrence=occurrence,
                    variant=variant,
                    status=Status.CLAIMABLE if claim else Status.GRANTED,
                    points=0 if claim else package.bonus_points,
                    window_ends=window_ends,
                    created_at=at,
                )
                for pk in ids[:fit]
            ]
            new_grants += given
            if not claim:
                to_apply.append((package, given))
        rows.insert_many(new_grants)
        for package, given in to_apply:
            _apply(scene, package, given, at)
        result.granted = len(new_grants) - len(held)
        _tell(scene, [g for g in new_grants if g.status != Status.HOLDOUT], at)
    return result


def run_scene(
    scene: Scene,
    *,
    on: date | None = None,
    at: datetime | None = None,
    batch_size: int = 1000,
    dry_run: bool = False,
    limit_preview: int = 200,
    progress=None,
) -> RunResult:
    """Grant today's occurrence of one scene to every eligible member not granted yet; `progress()`
    is called after each batch (a claimed run shows it is alive: campaigns.tasks.run_scenes)."""
    at = at or now()
    on = on or local(at).date()
    total = RunResult(scene=scene.pk)
    if not is_running(scene, on):
        return total
    if not _grants(scene):
        return total  # a multiplier-only scene acts through the earn rule, not through grants
    for occurrence, members, window_ends in eligible(scene, on, at):
        total.occurrence = occurrence
        fresh = members.filter(
            ~Exists(SceneGrant.objects.filter(scene=scene, occurrence=occurrence, member=OuterRef("pk")))
        )
        if dry_run:
            for m in fresh.select_related("tier").order_by("pk")[:limit_preview]:
                total.preview.append({"member": m, "variant": variant_for(scene, m.pk), "occurrence": occurrence})
            total.granted += fresh.count()
            continue
        # the eligible ids in one query: asking for each batch by `pk > last … LIMIT` made the planner
        # walk the primary key through the whole member table again and again (bench_scenes: 2.3 s of a
        # 6 s birthday run over a million members); one scan reads them all (8 bytes a member)
        ids = list(fresh.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(ids), batch_size):
            r = grant_batch(scene, occurrence, ids[start : start + batch_size], at=at, window_ends=window_ends)
            total.granted += r.granted
            total.held_out += r.held_out
            total.over_budget += r.over_budget
            if progress:
                progress()
    return total


def run_daily(*, kinds=None, on: date | None = None, at: datetime | None = None, progress=None) -> list[RunResult]:
    """Every active scene of the given kinds (all daily kinds by default), for today."""
    scenes = (
        Scene.objects.filter(is_active=True, kind__in=kinds or DAILY_KINDS)
        .select_related("package", "package_b")
        .order_by("pk")
    )
    results = []
    for scene in scenes:
        try:
            results.append(run_scene(scene, on=on, at=at, progress=progress))
        except Exception as exc:  # one scene failing does not stop the others
            skipped(scene, "daily run", exc)
            continue
        _ran(scene)
    return results


# --------------------------------------------------------------------------------------------
# events: enrolment, upgrade, purchase (called after the event's transaction committed)
# --------------------------------------------------------------------------------------------


def _for_member(kind: str, member_id: int, occurrence_for, at: datetime) -> list[RunResult]:
    results = []
    on = local(at).date()
    for scene in Scene.objects.filter(is_active=True, kind=kind).select_related("package", "package_b"):
        try:
            if not is_running(scene, on) or not audience(scene).filter(pk=member_id).exists():
                continue
            occurrence, window_ends = occurrence_for(scene)
            if occurrence is None or not _grants(scene):
                continue
            with transaction.atomic():  # a scene that fails rolls back alone
                results.append(grant_batch(scene, occurrence, [member_id], at=at, window_ends=window_ends))
        except (OperationalError, InterfaceError):
            # the database, not the scene (a deadlock, a lock timeout, a lost connection): skipping it
            # would commit the event's receipt without the benefit, never to be tried again; raised, the
            # whole handling rolls back with its receipt and the event is handled again (issue 32)
            raise
        except Exception as exc:
            skipped(scene, kind, exc)
    return results


def on_enrolled(member_id: int, at: datetime | None = None) -> list[RunResult]:
    return _for_member(Kind.WELCOME, member_id, lambda scene: ("welcome", None), at or now())


def on_tier_changed(member_id: int, to_tier_code: str, reason: str, at: datetime | None = None):
    if reason != TierChange.Reason.UPGRADE:
        return []
    at = at or now()
    # the occurrence is the upgrade's own day (as the daily catch-up keys it), not the day the event is
    # handled: an upgrade at 23:59 handled after midnight, or a backdated sale, is one occurrence
    change = (
        TierChange.objects.filter(member_id=member_id, reason=TierChange.Reason.UPGRADE, to_tier__code=to_tier_code)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    upgraded_at = change or at

    def occurrence(scene):
        if scene.tiers.exists() and not scene.tiers.filter(code=to_tier_code).exists():
            return None, None
        return f"{to_tier_code}:{local(upgraded_at).date().isoformat()}", upgraded_at + timedelta(
            days=scene.days_after or 7
        )

    return _for_member(Kind.TIER_UPGRADE, member_id, occurrence, at)


def on_purchase(purchase_id: int, at: datetime | None = None) -> list[RunResult]:
    """Milestones: this purchase making the member's purchase count (or purchase days) a multiple
    of the step. Counted up to this purchase, so events handled late or out of order still hit
    every milestone exactly once."""
    from django.db.models.functions import TruncDate

    from membership.models import Purchase

    at = at or now()
    purchase = Purchase.objects.get(pk=purchase_id)
    earlier = Purchase.objects.filter(member_id=purchase.member_id, pk__lte=purchase.pk)

    def occurrence(scene):
        step = scene.step or 100
        if scene.milestone_of == "days":
            day = local(purchase.created_at).date()
            days = earlier.annotate(d=TruncDate("created_at", tzinfo=tz())).values_list("d", flat=True)
            if list(days).count(day) != 1:
                return None, None  # not the first purchase of its day
            count = len(set(days))
        else:
            count = earlier.count()
        return (f"{scene.milestone_of or 'count'}:{count}", None) if count % step == 0 else (None, None)

    return _for_member(Kind.MILESTONE, purchase.member_id, occurrence, at)


def claim(*, grant_id: int, member, at: datetime | None = None) -> SceneGrant:
    """The member claims a claimable benefit within its window; coupons are valid N days from now."""
    at = at or now()
    with transaction.atomic():
        grant = (
            SceneGrant.objects.select_for_update(of=("self",))
            .select_related("scene__package", "scene__package_b")
            .filter(pk=grant_id, member=member)
            .first()
        )
        if grant is None:
            raise NotFound(field="grant")
        if grant.status != Status.CLAIMABLE or (grant.window_ends and grant.window_ends < at):
            raise Invalid(MSG_NOT_CLAIMABLE, field="grant")
        scene = grant.scene
        package = scene.package_b if grant.variant == Variant.B else scene.package
        _apply(scene, package, [grant], at, valid_days=scene.claim_valid_days)
        grant.status, grant.claimed_at, grant.points = Status.CLAIMED, at, package.bonus_points
        grant.save(update_fields=["status", "claimed_at", "points"])
        return grant


def lapse_unclaimed(*, at: datetime | None = None) -> int:
    return SceneGrant.objects.filter(status=Status.CLAIMABLE, window_ends__lt=at or now()).update(status=Status.LAPSED)


# --------------------------------------------------------------------------------------------
# the points multiplier during a scene's window (asked by membership's earn rule)
# --------------------------------------------------------------------------------------------

_cache = {"at": 0.0, "scenes": [], "milestones": False}
CACHE_SECONDS = 30


def _refresh() -> None:
    """What every sale asks of the campaigns, read again every 30 s per process (a scene saved in
    admin is seen by every till within that time)."""
    if time.monotonic() - _cache["at"] > CACHE_SECONDS:
        active = Scene.objects.filter(is_active=True)
        scenes = list(
            active.filter(Q(package__multiplier__isnull=False) | Q(package_b__multiplier__isnull=False))
            .select_related("package", "package_b")
            .prefetch_related("tiers", "stores", "tags")
        )
        _cache.update(at=time.monotonic(), scenes=scenes, milestones=active.filter(kind=Kind.MILESTONE).exists())


def _multiplier_scenes():
    """Active scenes whose package carries a multiplier."""
    _refresh()
    return _cache["scenes"]


def watches_purchases() -> bool:
    """Whether an active milestone scene needs to hear of each purchase."""
    _refresh()
    return _cache["milestones"]


def clear_cache() -> None:
    _cache["at"] = 0.0


def campaign_multiplier(member: Member, at: datetime) -> Decimal:
    """The largest multiplier of the scenes whose window the member is in at `at` (1 if none)."""
    on = local(at).date()
    best = Decimal(1)
    for scene in _multiplier_scenes():
        try:
            best = max(best, _multiplier(scene, member, on))
        except Exception as exc:  # a row that bypassed validation never stops a sale
            skipped(scene, "multiplier", exc)
    return best


def _multiplier(scene: Scene, member: Member, on: date) -> Decimal:
    """The multiplier `scene` gives `member` on `on` (1 when none)."""
    if not is_running(scene, on) or not kinds.of(scene).active_for(scene, member, on) or not in_audience(scene, member):
        return Decimal(1)
    variant = variant_for(scene, member.pk)
    if variant == Variant.HOLDOUT:
        return Decimal(1)
    package = scene.package_b if variant == Variant.B else scene.package
    return Decimal(package.multiplier) if package and package.multiplier else Decimal(1)


# --------------------------------------------------------------------------------------------
# a scene that fails is skipped, counted, logged once and shown in admin; the others go on
# --------------------------------------------------------------------------------------------

_logged: set = set()


def skipped(scene: Scene, where: str, exc: Exception) -> None:
    """A scene failed in `where` (the sale's multiplier, an event, the daily run): counted in
    portal_scene_errors_total, logged once per process, and recorded on the scene (shown in admin)
    after the caller's transaction commits, so the sale or run it was part of is not held up."""
    SCENE_ERRORS.labels(where=where).inc()
    text = f"{where}: {type(exc).__name__}: {exc}"[:500]
    if (scene.pk, text) in _logged:
        return
    _logged.add((scene.pk, text))
    log.error("scene %s (%s) skipped in %s", scene.pk, scene.name, where, exc_info=exc)
    transaction.on_commit(
        lambda: Scene.objects.filter(pk=scene.pk).update(last_error=text, last_error_at=now()), robust=True
    )


def _ran(scene: Scene) -> None:
    """A scene ran through: an error recorded earlier is cleared."""
    if scene.last_error:
        Scene.objects.filter(pk=scene.pk).update(last_error="", last_error_at=None)
        _logged.difference_update({key for key in _logged if key[0] == scene.pk})
