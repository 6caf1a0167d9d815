"""Running scenes: who is eligible today, granting their benefit packages once per occurrence, events
(enrolment, upgrade, purchase) through the same code, claims on the member pages, and the points
multiplier the earn rule asks for (product.md, "Campaigns and scenes").

Daily runs are set-based: a query selects the eligible members that have no grant for the
occurrence yet, and they are granted in batches, each batch one transaction. The unique constraint
on (scene, member, occurrence) is the "once"; a crash loses at most the open batch, and a re-run
grants only those not granted yet."""

import calendar
import hashlib
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from core import rows
from core.clock import day_start as _day_start
from core.clock import local, now, tz
from core.errors import Invalid, NotFound
from membership import config
from membership.models import Member, PointsEntry, TierChange
from membership.services import points

from .. import calendar as cal
from ..models import BenefitPackage, Scene, SceneGrant
from . import coupons, notifications

Kind, Variant, Status = Scene.Kind, SceneGrant.Variant, SceneGrant.Status
DAILY_KINDS = [
    Kind.BIRTHDAY,
    Kind.ANNIVERSARY,
    Kind.FIXED_HOLIDAY,
    Kind.LUNAR_HOLIDAY,
    Kind.NTH_WEEKDAY,
    Kind.MEMBER_DAY,
    Kind.WELCOME,
    Kind.ACTIVATION,
    Kind.POST_PURCHASE,
    Kind.WINBACK,
    Kind.TIER_UPGRADE,
]
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


WINBACK_COOLDOWN_DAYS = 180  # a win-back scene without its own cooldown recalls a member at most this often


def variant_for(scene: Scene, member_id: int) -> str:
    """Stable per member and scene: the holdout first, then A or B by a hash of the two ids."""
    h = int(hashlib.sha256(f"scene:{scene.pk}:member:{member_id}".encode()).hexdigest()[:12], 16)
    if h % 100 < scene.holdout_percent:
        return Variant.HOLDOUT
    if scene.package_b_id and (h // 100) % 2:
        return Variant.B
    return Variant.A


def _day_end(day: date) -> datetime:
    return datetime.combine(day, dtime(23, 59, 59), tzinfo=tz())


def audience(scene: Scene):
    """Members the scene may reach: active, and in its tiers, tags, home stores, consent, segment and
    preferred category."""
    qs = Member.objects.filter(status=Member.Status.ACTIVE)
    tier_ids = [t.pk for t in scene.tiers.all()]
    if tier_ids:
        qs = qs.filter(tier_id__in=tier_ids)
    store_ids = [s.pk for s in scene.stores.all()]
    if store_ids:
        qs = qs.filter(home_store_id__in=store_ids)
    tag_ids = [t.pk for t in scene.tags.all()]
    if tag_ids:
        qs = qs.filter(Exists(Member.tags.through.objects.filter(member_id=OuterRef("pk"), tag_id__in=tag_ids)))
    if scene.consent_required:
        qs = qs.filter(marketing_consent=True)
    if scene.birthday_gift_tiers:
        qs = qs.filter(tier__birthday_gift=True)
    if scene.audience_segment:
        segment = segment_filters.get(scene.audience_segment)
        qs = segment(qs) if segment else qs.none()
    if scene.preferred_category:
        prefers = preference_filters.get("category")
        qs = prefers(qs, scene.preferred_category) if prefers else qs.none()
    return qs


def is_running(scene: Scene, on: date) -> bool:
    return (
        scene.is_active
        and (scene.starts_on is None or scene.starts_on <= on)
        and (scene.ends_on is None or scene.ends_on >= on)
    )


def _pairs_q(pairs, month_field: str, day_field: str) -> Q:
    q = Q(pk__in=[])
    for m, d in pairs:
        q |= Q(**{month_field: m, day_field: d})
    return q


def eligible(scene: Scene, on: date, at: datetime) -> list[tuple[str, object, datetime | None]]:
    """(occurrence key, queryset of eligible members, window end) groups for a daily run on `on`."""
    base = audience(scene)
    kind = scene.kind
    if kind in (Kind.FIXED_HOLIDAY, Kind.LUNAR_HOLIDAY, Kind.NTH_WEEKDAY, Kind.MEMBER_DAY):
        occ = cal.holiday_occurrence(scene, on)
        return [(occ.key, base, _day_end(occ.ends))] if occ else []
    if kind == Kind.BIRTHDAY:
        if scene.whole_month:
            last = date(on.year, on.month, calendar.monthrange(on.year, on.month)[1])
            return [(str(on.year), base.filter(birth_month=on.month, birth_day__isnull=False), _day_end(last))]
        groups: dict[str, list] = {}
        for pair, key in cal.anchors_for_window(on, scene.days_before, scene.days_after).items():
            groups.setdefault(key, []).append(pair)
        return [
            (
                key,
                base.filter(_pairs_q(pairs, "birth_month", "birth_day")),
                _day_end(on + timedelta(days=scene.days_before + scene.days_after)),
            )
            for key, pairs in groups.items()
        ]
    if kind == Kind.ANNIVERSARY:
        groups = {}
        for pair, key in cal.anchors_for_window(on, scene.days_before, scene.days_after).items():
            groups.setdefault(key, []).append(pair)
        return [
            (
                key,
                base.filter(_pairs_q(pairs, "joined_at__month", "joined_at__day")).filter(
                    joined_at__lt=_day_start(date(int(key), 1, 1))
                ),
                _day_end(on + timedelta(days=scene.days_before + scene.days_after)),
            )
            for key, pairs in groups.items()
        ]
    if kind == Kind.WELCOME:
        return [("welcome", base.filter(joined_at__gte=at - timedelta(days=max(1, scene.days_after or 7))), None)]
    if kind == Kind.ACTIVATION:
        out = []
        for n in _offsets(scene):
            day = on - timedelta(days=n)
            out.append(
                (
                    f"day{n}",
                    base.filter(purchase_count=0, joined_at__gte=_day_start(day), joined_at__lte=_day_end(day)),
                    None,
                )
            )
        return out
    if kind == Kind.POST_PURCHASE:
        return _after_purchases(scene, base, at)
    if kind == Kind.WINBACK:
        quiet = base.filter(last_purchase_at__lt=_day_start(on - timedelta(days=scene.inactive_days or 90)))
        # a win-back always has a cooldown: without one the same quiet member was recalled every day
        cooldown = scene.cooldown_days or WINBACK_COOLDOWN_DAYS
        recent = SceneGrant.objects.filter(
            scene=scene, member=OuterRef("pk"), created_at__gte=at - timedelta(days=cooldown)
        )
        return [(on.isoformat(), quiet.filter(~Exists(recent)), None)]
    if kind == Kind.TIER_UPGRADE:
        window = scene.days_after or 7
        ups = TierChange.objects.filter(reason=TierChange.Reason.UPGRADE, created_at__gte=at - timedelta(days=window))
        if tier_ids := [t.pk for t in scene.tiers.all()]:
            ups = ups.filter(to_tier_id__in=tier_ids)
        out = {}
        for change in ups.values("member_id", "to_tier__code", "created_at"):
            key = f"{change['to_tier__code']}:{local(change['created_at']).date().isoformat()}"
            out.setdefault(key, (change["created_at"], []))[1].append(change["member_id"])
        # the catch-up honours the scene's audience (stores, tags, consent, segment) as the event does
        return [
            (key, audience(scene).filter(pk__in=ids), created + timedelta(days=window))
            for key, (created, ids) in out.items()
        ]
    return []  # milestones are granted from purchase events


POST_PURCHASE_CATCHUP = timedelta(days=1)  # a touch whose time passed longer ago than this is not sent late


def _after_purchases(scene: Scene, base, at: datetime) -> list:
    """Post-purchase care: each purchase of a member in the audience gets the touch N days (N × 24 h)
    after its own time, once (the occurrence is the purchase), when a run comes within a day of that
    (the schedule runs every 15 minutes; `run_scenes --date` re-runs a missed day). Purchases
    returned in full get no touch."""
    from django.db.models import CharField, Value
    from django.db.models.functions import Cast, Concat

    from membership.models import Purchase

    out = []
    for n in _offsets(scene):
        due = at - timedelta(days=n)
        purchases = (
            Purchase.objects.filter(
                created_at__lte=due,
                created_at__gt=due - POST_PURCHASE_CATCHUP,
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


def _offsets(scene: Scene) -> list[int]:
    return sorted({int(x) for x in scene.offsets.replace("，", ",").split(",") if x.strip().isdigit()})


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
        from .mall import gift

        for g in grants:
            gift(
                item=package.mall_item,
                member=g.member_id,
                at=at,
                idempotency_key=f"scene:{scene.pk}:{g.occurrence}:{g.member_id}:gift",
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
    return [run_scene(scene, on=on, at=at, progress=progress) for scene in scenes]


# --------------------------------------------------------------------------------------------
# events: enrolment, upgrade, purchase (called after the event's transaction committed)
# --------------------------------------------------------------------------------------------


def _for_member(kind: str, member_id: int, occurrence_for, at: datetime) -> list[RunResult]:
    results = []
    on = local(at).date()
    for scene in Scene.objects.filter(is_active=True, kind=kind).select_related("package", "package_b"):
        if not is_running(scene, on) or not audience(scene).filter(pk=member_id).exists():
            continue
        occurrence, window_ends = occurrence_for(scene)
        if occurrence is None:
            continue
        if not _grants(scene):
            continue
        results.append(grant_batch(scene, occurrence, [member_id], at=at, window_ends=window_ends))
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


def _in_audience(scene: Scene, member: Member) -> bool:
    tiers = [t.pk for t in scene.tiers.all()]
    stores = [s.pk for s in scene.stores.all()]
    tags = [t.pk for t in scene.tags.all()]
    if tiers and member.tier_id not in tiers:
        return False
    if stores and member.home_store_id not in stores:
        return False
    if scene.consent_required and not member.marketing_consent:
        return False
    if scene.birthday_gift_tiers and not config.tier(member.tier_id).birthday_gift:
        return False
    if tags and not member.tags.filter(pk__in=tags).exists():
        return False
    if scene.audience_segment or scene.preferred_category:
        return audience(scene).filter(pk=member.pk).exists()
    return True


def _active_for(scene: Scene, member: Member, on: date) -> bool:
    if scene.kind in (Kind.FIXED_HOLIDAY, Kind.LUNAR_HOLIDAY, Kind.NTH_WEEKDAY, Kind.MEMBER_DAY):
        return cal.holiday_occurrence(scene, on) is not None
    if scene.kind == Kind.BIRTHDAY:
        if not member.birth_month or not member.birth_day:
            return False
        return (
            cal.birthday_occurrence(
                member.birth_month,
                member.birth_day,
                on,
                before=scene.days_before,
                after=scene.days_after,
                whole_month=scene.whole_month,
            )
            is not None
        )
    if scene.kind == Kind.ANNIVERSARY:
        joined = local(member.joined_at).date()
        occ = cal.birthday_occurrence(joined.month, joined.day, on, before=scene.days_before, after=scene.days_after)
        return occ is not None and int(occ.key) > joined.year
    return False


def campaign_multiplier(member: Member, at: datetime) -> Decimal:
    """The largest multiplier of the scenes whose window the member is in at `at` (1 if none)."""
    on = local(at).date()
    best = Decimal(1)
    for scene in _multiplier_scenes():
        if not is_running(scene, on) or not _active_for(scene, member, on) or not _in_audience(scene, member):
            continue
        variant = variant_for(scene, member.pk)
        if variant == Variant.HOLDOUT:
            continue
        package = scene.package_b if variant == Variant.B else scene.package
        if package and package.multiplier:
            best = max(best, package.multiplier)
    return best
