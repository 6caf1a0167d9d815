"""The dashboards (/analytics/): HQ sees every store (with a store filter), a store manager their own
store, clerks nothing (403). Pages read the roll-up tables through selectors; every table can be
downloaded as CSV or XLSX from its table endpoint (?format=csv|xlsx)."""

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from membership import permissions

from . import exports, forms, journey, selectors
from .models import AnalyticsSettings, RfmClass
from .services import rollups, watch

reports_only = permissions.role_required(permissions.can_view_reports)

PAGES = [
    ("analytics:index", gettext_lazy("Overview")),
    ("analytics:members", gettext_lazy("Members")),
    ("analytics:sales", gettext_lazy("Sales")),
    ("analytics:points", gettext_lazy("Points & stored value")),
    ("analytics:rfm", gettext_lazy("RFM")),
    ("analytics:campaigns", gettext_lazy("Campaigns")),
    ("analytics:clerks", gettext_lazy("Clerks")),
]
PALETTE = ["#c8102e", "#2f7dd1", "#1a7f37", "#9a6700", "#8250df", "#6a737d", "#e0533f", "#0a7b83"]


def _rolled(request):
    """The last rolled-up day, read once per request (the filter, the presets and the page use it)."""
    if not hasattr(request, "_analytics_rolled"):
        request._analytics_rolled = selectors.last_rolled_day()
    return request._analytics_rolled


def _latest(request=None):
    return (_rolled(request) if request is not None else selectors.last_rolled_day()) or rollups.yesterday()


def _context(request, scope, form, allowed, page: str, **extra) -> dict:
    latest = _latest(request)
    query = {"start": scope.start.isoformat(), "end": scope.end.isoformat()}
    if scope.store:
        query["store"] = scope.store.pk
    if scope.window != forms.DEFAULT_WINDOW:
        query["window"] = scope.window
    return {
        "scope": scope,
        "form": form,
        "stores": allowed,
        "store_groups": forms.store_groups(allowed),
        "is_hq": permissions.is_hq(request.user),
        "pages": [(name, label, name == page) for name, label in PAGES],
        "query": urlencode(query),
        "presets": [
            (
                label,
                f"?{urlencode({**query, 'start': s.isoformat(), 'end': e.isoformat()})}",
                s == scope.start and e == scope.end,
            )
            for label, s, e in forms.presets(latest)
        ],
        "latest": _rolled(request),
        "snapshot_day": selectors.snapshot_day(),
        # issue 20: progress against the month's targets, on every dashboard page
        "targets": selectors.target_progress(scope) if page else [],
        "target_coverage": selectors.target_coverage(scope) if page else "",
        "target_month": scope.end.replace(day=1),
        **extra,
    }


def _scope(request):
    return forms.resolve(request, latest=_latest(request))


def _floats(values):
    return [None if v is None else float(v) for v in values]


def chart(kind: str, labels, series, *, fmt: str = "int", stacked: bool = False, title: str = "") -> dict:
    """The data of one chart, drawn by static/js/analytics.js with the vendored Chart.js."""
    return {
        "type": kind,
        "labels": [str(x) for x in labels],
        "format": fmt,
        "stacked": stacked,
        "title": str(title),
        "datasets": [
            {
                "label": str(label),
                "data": _floats(values),
                "color": PALETTE[i % len(PALETTE)],
                **({"type": t} if (t := extra.get("type")) else {}),
                **({"axis": a} if (a := extra.get("axis")) else {}),
            }
            for i, (label, values, extra) in enumerate((s if len(s) == 3 else (s[0], s[1], {})) for s in series)
        ],
    }


def _sales_chart(table):
    return chart(
        "line",
        [r["day"].strftime("%m-%d") for r in table.rows],
        [
            (_("Net sales"), [r["net_sales"] for r in table.rows]),
            (_("Member net sales"), [r["member_net_sales"] for r in table.rows]),
        ],
        fmt="money",
    )


def _lifecycle_chart(table):
    rows = table.rows
    return chart(
        "bar",
        [r["day"].strftime("%m-%d") for r in rows],
        [
            (_("New active"), [r["new_active"] for r in rows]),
            (_("Revived"), [r["revived"] for r in rows]),
            (_("Churned"), [-r["newly_churned"] for r in rows]),
            (_("Net new active"), [r["net_new_active"] for r in rows], {"type": "line"}),
        ],
    )


def _tier_chart(table):
    tier_columns = [c for c in table.columns if c.key[:1] == "t" and c.key[1:].isdigit()]
    return chart(
        "bar",
        [r["day"].strftime("%m-%d") for r in table.rows],
        [(c.label, [r.get(c.key, 0) for r in table.rows]) for c in tier_columns],
        stacked=True,
    )


@require_GET
@reports_only
def index(request):
    scope, form, allowed = _scope(request)
    daily = selectors.daily(scope)
    life = selectors.lifecycle(scope)
    tier = selectors.tiers(scope)
    stores = selectors.by_store(scope)
    return render(
        request,
        "analytics/index.html",
        _context(
            request,
            scope,
            form,
            allowed,
            "analytics:index",
            kpis=selectors.kpis(scope),
            stores_table=stores,
            regions_table=selectors.regions(scope),
            sales_chart=_sales_chart(daily),
            lifecycle_chart=_lifecycle_chart(life),
            tier_chart=_tier_chart(tier),
        ),
    )


@require_GET
@reports_only
def members(request):
    scope, form, allowed = _scope(request)
    life, tier, months = selectors.lifecycle(scope), selectors.tiers(scope), selectors.months(scope)
    return render(
        request,
        "analytics/members.html",
        _context(
            request,
            scope,
            form,
            allowed,
            "analytics:members",
            lifecycle=life,
            tiers=tier,
            months=months,
            lifecycle_chart=_lifecycle_chart(life),
            tier_chart=_tier_chart(tier),
        ),
    )


@require_GET
@reports_only
def sales(request):
    scope, form, allowed = _scope(request)
    daily, months, stores = selectors.daily(scope), selectors.months(scope), selectors.by_store(scope)
    now = selectors.totals(scope)
    balance = selectors.balances(scope, scope.end)
    repurchase = chart(
        "bar",
        [r["month"] for r in months.rows],
        [
            (_("Repurchase rate"), [r["repurchase_rate"] for r in months.rows]),
            (_("Repurchase amount share"), [r["repurchase_amount_share"] for r in months.rows]),
            (_("Conversion rate"), [r["conversion_rate"] for r in months.rows], {"type": "line"}),
        ],
        fmt="pct",
    )
    return render(
        request,
        "analytics/sales.html",
        _context(
            request,
            scope,
            form,
            allowed,
            "analytics:sales",
            daily=daily,
            months=months,
            stores_table=stores,
            totals=now,
            balance=balance,
            sales_chart=_sales_chart(daily),
            repurchase_chart=repurchase,
        ),
    )


@require_GET
@reports_only
def points(request):
    scope, form, allowed = _scope(request)
    table = selectors.points_weeks(scope)
    labels = [r["day"].strftime("%m-%d") for r in table.rows]
    flows = chart(
        "bar",
        labels,
        [
            (_("Points issued"), [r["points_issued"] for r in table.rows]),
            (_("Points redeemed"), [-r["points_redeemed"] for r in table.rows]),
            (_("Points expired"), [-r["points_expired"] for r in table.rows]),
        ],
    )
    liability = chart(
        "line",
        labels,
        [
            (_("Points liability"), [r["points_liability"] for r in table.rows]),
            (_("Stored-value liability"), [r["sv_liability"] for r in table.rows]),
        ],
        fmt="money",
    )
    return render(
        request,
        "analytics/points.html",
        _context(
            request,
            scope,
            form,
            allowed,
            "analytics:points",
            table=table,
            flows_chart=flows,
            liability_chart=liability,
            balance=selectors.balances(scope, scope.end),
        ),
    )


@require_GET
@reports_only
def rfm(request):
    scope, form, allowed = _scope(request)
    summary = selectors.rfm_summary(scope)
    counts = chart("bar", [c["label"] for c in summary], [(_("Members"), [c["members"] for c in summary])])
    return render(
        request,
        "analytics/rfm.html",
        _context(
            request,
            scope,
            form,
            allowed,
            "analytics:rfm",
            summary=summary,
            table=selectors.rfm_counts(scope),
            counts_chart=counts,
        ),
    )


PAGE_SIZE = 50


@require_GET
@reports_only
def rfm_members(request, rfm_class: str):
    if rfm_class not in RfmClass.values:
        raise Http404
    scope, form, allowed = _scope(request)
    members = selectors.rfm_members(scope, rfm_class)
    fmt = request.GET.get("format")
    if fmt in exports.FORMATS:
        table = selectors.rfm_member_table(scope, rfm_class, members[: exports.EXPORT_LIMIT])
        return exports.response(table, fmt, f"rfm-{rfm_class}-{scope.store.code if scope.store else 'all'}")
    summary = {c["key"]: c for c in selectors.rfm_summary(scope)}[rfm_class]
    paginator = Paginator(members, PAGE_SIZE)
    paginator.count = summary["members"]  # from the class counts: no COUNT over the snapshot
    page = paginator.get_page(request.GET.get("page"))
    segment = f"rfm:{rfm_class}"
    campaign_url = None
    if permissions.can_configure(request.user):
        initial = {"audience_segment": segment, "name": f"{summary['label']} · {scope.end:%Y-%m-%d}"}
        if scope.store:
            initial["stores"] = ",".join(str(pk) for pk in scope.store_ids)  # a region: its whole subtree
        campaign_url = f"{reverse('admin:campaigns_scene_add')}?{urlencode(initial)}"
    return render(
        request,
        "analytics/rfm_members.html",
        _context(
            request,
            scope,
            form,
            allowed,
            "analytics:rfm",
            rfm_class=rfm_class,
            summary=summary,
            members_page=page,
            table=selectors.rfm_member_table(scope, rfm_class, page.object_list),
            segment=segment,
            campaign_url=campaign_url,
        ),
    )


@require_GET
@reports_only
def campaigns(request):
    scope, form, allowed = _scope(request)
    watch_day, settings = _latest(), AnalyticsSettings.load()
    return render(
        request,
        "analytics/campaigns.html",
        _context(
            request,
            scope,
            form,
            allowed,
            "analytics:campaigns",
            table=selectors.campaigns(scope, settings),
            # campaign watch (services/watch.py): today's flags and the alerts still open
            watch_day=watch_day,
            watch_flags=watch.check(watch_day, settings),
            open_alerts=watch.open_alerts()[:50],
            alerts_url=reverse("admin:analytics_campaignalert_changelist")
            if permissions.can_configure(request.user)
            else None,
        ),
    )


@require_GET
@reports_only
def clerks(request):
    scope, form, allowed = _scope(request)
    return render(
        request,
        "analytics/clerks.html",
        _context(request, scope, form, allowed, "analytics:clerks", table=selectors.clerks(scope)),
    )


@require_GET
@reports_only
def table(request, name: str):
    """One table of the dashboards: an HTML fragment, or a download with ?format=csv|xlsx."""
    build = selectors.TABLES.get(name)
    if build is None:
        raise Http404
    scope, form, allowed = _scope(request)
    result = build(scope)
    fmt = request.GET.get("format")
    if fmt in exports.FORMATS:
        store = scope.store.code if scope.store else "all"
        return exports.response(result, fmt, f"{name}-{store}-{scope.start:%Y%m%d}-{scope.end:%Y%m%d}")
    if fmt:
        raise Http404
    return render(
        request,
        "analytics/_table.html",
        {"table": result, "query": _context(request, scope, form, allowed, "")["query"]},
    )


# ---------------------------------------------------------------------------------------------
# funnel and product preference (analytics/journey.py)
# ---------------------------------------------------------------------------------------------

PAGES.append(("analytics:funnel", gettext_lazy("Funnel & preference")))


@require_GET
@reports_only
def funnel(request):
    scope, form, allowed = _scope(request)
    steps = journey.funnel(scope)
    prefs = journey.preferences(scope)
    funnel_chart = chart("bar", [r["step"] for r in steps.rows], [(_("Members"), [r["members"] for r in steps.rows])])
    campaign_url = None
    if permissions.can_configure(request.user):
        campaign_url = reverse("admin:campaigns_scene_add")
    return render(
        request,
        "analytics/funnel.html",
        _context(
            request,
            scope,
            form,
            allowed,
            "analytics:funnel",
            funnel=steps,
            preferences=prefs,
            funnel_chart=funnel_chart,
            campaign_url=campaign_url,
        ),
    )
