"""membership's models, one module per section: `stores` (stores and staff), `program` (program
configuration), `members` (members and cards), `ledgers`, `web_accounts` (one-time codes) and `jobs`
(member migration jobs, adjustments waiting for a manager). The imports point one way (stores ←
program ← members ← ledgers ← jobs); every public name is imported here, so `from membership.models
import X` finds it, and the app label (membership), tables and fields are those of the one module."""

# isort: off
# In the sections' order, so the models are created and registered in the same order as before.
from .stores import Role, Store, StoreTree, User
from .program import (
    EarnMultiplier,
    EarnStage,
    ExpiryPolicy,
    PaidCard,
    PaidCardProduct,
    ProgramSettings,
    ReviewPeriod,
    ReviewWindow,
    StoredValuePayOrder,
    Tag,
    Tier,
    TierBasis,
    TopUpPlan,
)
from .members import Card, CardQuerySet, Channel, Gender, Member
from .ledgers import (
    AuditLog,
    ExpiryNotice,
    GrowthEntry,
    PointsEntry,
    Purchase,
    PurchaseReturn,
    StoredValueEntry,
    TierChange,
)
from .web_accounts import OneTimeCode
from .jobs import AdjustmentRequest, MemberImportJob

# isort: on

__all__ = [
    # stores and staff
    "Store",
    "StoreTree",
    "Role",
    "User",
    # program configuration
    "Tier",
    "ExpiryPolicy",
    "ReviewPeriod",
    "ReviewWindow",
    "StoredValuePayOrder",
    "TierBasis",
    "ProgramSettings",
    "EarnStage",
    "EarnMultiplier",
    "PaidCardProduct",
    "PaidCard",
    "TopUpPlan",
    "Tag",
    # members and cards
    "Channel",
    "Gender",
    "Member",
    "CardQuerySet",
    "Card",
    # ledgers
    "PointsEntry",
    "StoredValueEntry",
    "GrowthEntry",
    "Purchase",
    "TierChange",
    "ExpiryNotice",
    "AuditLog",
    "PurchaseReturn",
    # member web accounts
    "OneTimeCode",
    # member migration jobs
    "MemberImportJob",
    "AdjustmentRequest",
]
