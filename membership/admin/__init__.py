"""The merchant admin (HQ only: User.is_staff and has_perm follow permissions.can_configure).

- Configuration rows (program settings, tiers, staged rates, multipliers, top-up plans, tags) are
  the merchant's settings and are edited here directly.
- Members, cards and balances change only through the services: the member actions below call
  services.points.adjust, services.cards.replace, services.enrolment.merge and
  services.tiers.set_manual; imports call services.enrolment.enrol and services.cards.add_stock
  (membership/resources.py). A domain error becomes an admin error message and the action's
  transaction is rolled back, so nothing is half-written.
- Ledgers (points, stored value, growth, tier changes, purchases, returns, audit) are read-only:
  no add, change or delete, as admins or as inlines.

One module per area: `staff` (stores, staff users), `program` (program configuration, paid card
purchases), `imports` (import and export through the services), `ledgers` (read-only ledgers and
the member page's inlines), `members` (cards, members and the member actions) and `jobs` (member
imports in the background). Importing them here registers their admins, in the order of before.
"""

# isort: off
# In the old module's order, so the admins are registered in the same order as before.
from .staff import StoreAdmin, UserAdmin
from .program import (
    EarnMultiplierAdmin,
    EarnStageAdmin,
    PaidCardAdmin,
    PaidCardProductAdmin,
    ProgramSettingsAdmin,
    RecordsOnly,
    TagAdmin,
    TierAdmin,
    TopUpPlanAdmin,
)
from .imports import ServiceImportMixin, describe_errors, import_summary
from .ledgers import (
    LEDGER_INLINE_LIMIT,
    AuditLogAdmin,
    CardInline,
    GrowthEntryAdmin,
    LatestEntriesFormSet,
    LedgerAdmin,
    PointsEntryAdmin,
    PointsEntryInline,
    PurchaseAdmin,
    PurchaseReturnAdmin,
    ReadOnlyInline,
    StoredValueEntryAdmin,
    StoredValueEntryInline,
    TierChangeAdmin,
)
from .members import MAX_ACTION_MEMBERS, MEMBER_FIELDSETS, ActionFailed, CardAdmin, MemberAdmin
from .jobs import MemberImportJobAdmin, job_state, start_job

# isort: on

__all__ = [
    "MAX_ACTION_MEMBERS",
    "LEDGER_INLINE_LIMIT",
    # staff
    "StoreAdmin",
    "UserAdmin",
    # program
    "ProgramSettingsAdmin",
    "TierAdmin",
    "EarnStageAdmin",
    "EarnMultiplierAdmin",
    "RecordsOnly",
    "PaidCardProductAdmin",
    "PaidCardAdmin",
    "TopUpPlanAdmin",
    "TagAdmin",
    # imports
    "ServiceImportMixin",
    "import_summary",
    "describe_errors",
    # ledgers
    "ReadOnlyInline",
    "LatestEntriesFormSet",
    "CardInline",
    "PointsEntryInline",
    "StoredValueEntryInline",
    "LedgerAdmin",
    "PointsEntryAdmin",
    "StoredValueEntryAdmin",
    "GrowthEntryAdmin",
    "TierChangeAdmin",
    "PurchaseAdmin",
    "PurchaseReturnAdmin",
    "AuditLogAdmin",
    # members
    "CardAdmin",
    "ActionFailed",
    "MEMBER_FIELDSETS",
    "MemberAdmin",
    # jobs
    "MemberImportJobAdmin",
    "start_job",
    "job_state",
]
