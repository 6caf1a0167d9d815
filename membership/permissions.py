"""Who may do what: the one place that answers it.

Views (through `role_required`), the admin and the API (through `RolePermission`) all ask
these predicates; no view compares roles by itself. Spec: product.md, "What bad input gets"
(a clerk only counter pages; a store manager only their store's reports; only HQ configures).
"""

from functools import wraps

from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from .models import Role, Store


def _staff(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and hasattr(user, "role"))


def is_hq(user) -> bool:
    return _staff(user) and (user.is_superuser or user.role == Role.HQ)


def is_manager(user) -> bool:
    return _staff(user) and user.role == Role.MANAGER


def is_regional(user) -> bool:
    """A regional manager: attached to a region node of the store tree, reads its subtree's reports."""
    return _staff(user) and user.role == Role.REGIONAL


def can_use_counter(user) -> bool:
    """Clerks, managers, and HQ operators attached to a store work the counter of that store (a
    regional manager is attached to a region, not a shop: no counter)."""
    return _staff(user) and user.store_id is not None and user.role != Role.REGIONAL


def can_read_members(user) -> bool:
    """Looking members up: anyone at a counter, and HQ (who alone sees full phone numbers)."""
    return can_use_counter(user) or is_hq(user)


def can_adjust_points(user, points: int | None = None, limit: int | None = None) -> bool:
    """Manual point adjustments: store managers and HQ any size; a clerk only up to the program's
    limit, and only where the caller passes the size (the POS API passes none: clerk → 403)."""
    if is_manager(user) or is_hq(user):
        return True
    if points is None or limit is None:
        return False
    return can_use_counter(user) and abs(points) <= limit


def can_manage_members(user) -> bool:
    """The store's manager operations: merge two accounts, close a membership, refund a top-up or a
    paid card, change a phone or a PIN without the member's SMS code (pos-api.md, "The store desk"),
    and the manager's screen (approvals)."""
    return is_manager(user) or is_hq(user)


def can_view_reports(user) -> bool:
    return is_manager(user) or is_regional(user) or is_hq(user)


def can_configure(user) -> bool:
    """Rules, tiers, scenes, the mall: HQ only."""
    return is_hq(user)


ALL_STORES = object()


def report_node(user):
    """The node of the store tree whose subtree the user's reports cover: ALL_STORES for HQ, the
    user's store for a store manager (a shop: its subtree is itself) and for a regional manager
    (their region), None for anyone without reports."""
    if is_hq(user):
        return ALL_STORES
    if is_manager(user) or is_regional(user):
        return user.store_id
    return None


def report_stores(user):
    """The stores whose reports the user may read: all for HQ, their own for a manager, their
    region's subtree (the region node and every node under it) for a regional manager."""
    if is_hq(user):
        return Store.objects.all()
    if is_manager(user):
        return Store.objects.filter(pk=user.store_id)
    if is_regional(user):
        return Store.objects.filter(pk__in=user.store.subtree_ids())
    return Store.objects.none()


def may_act_for_store(user, store) -> bool:
    """Counter work is done for the user's own store only (an S002 token records S002 sales)."""
    return can_use_counter(user) and user.store_id == getattr(store, "pk", store)


def may_refund_top_up(user, topup) -> bool:
    """A top-up is refunded by a manager of the store that took it, or by HQ (issue 28, R4)."""
    return is_hq(user) or (can_manage_members(user) and user.store_id == topup.store_id)


def role_required(predicate):
    """View decorator: anonymous → sign-in page; signed in without the right → 403."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not predicate(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class RolePermission(BasePermission):
    """DRF adapter: `RolePermission.of(can_use_counter)` as a permission class."""

    predicate = staticmethod(lambda user: False)

    @classmethod
    def of(cls, predicate):
        return type(f"RolePermission_{predicate.__name__}", (cls,), {"predicate": staticmethod(predicate)})

    def has_permission(self, request, view):
        return self.predicate(request.user)


class RoleBackend(BaseBackend):
    """Django's permission checks (admin, `user.has_perm`) asked of the role: whoever may configure has
    every model permission; everyone else has what `ModelBackend` (listed before it) grants. It
    authenticates nobody: sign-in stays with `ModelBackend`, so existing sessions stay valid."""

    def has_perm(self, user_obj, perm, obj=None):
        return can_configure(user_obj)

    def has_module_perms(self, user_obj, app_label):
        return can_configure(user_obj)
