"""Domain errors raised by the services. Each carries the error code of pos-api.md; the API's
exception handler and the counter pages translate them in one place each."""

from django.utils.translation import gettext_lazy as _


class MembershipError(Exception):
    code = "invalid"
    status = 400
    default_message = _("The request is not valid.")

    def __init__(self, message=None, *, field: str | None = None, **context):
        self.message = message or self.default_message
        self.field = field
        self.context = context
        super().__init__(str(self.message))

    @property
    def fields(self) -> dict:
        return {self.field: [str(self.message)]} if self.field else {}


class Invalid(MembershipError):
    pass


class NotFound(MembershipError):
    code, status, default_message = "not_found", 404, _("Not found.")


class Forbidden(MembershipError):
    code, status, default_message = "forbidden", 403, _("You are not allowed to do this.")


class PhoneTaken(MembershipError):
    code, status, default_message = "phone_taken", 409, _("This mobile number already belongs to a member.")


class CardTaken(MembershipError):
    code, status, default_message = "card_taken", 409, _("This card is already bound to a member.")


class InsufficientPoints(MembershipError):
    code, status, default_message = "insufficient_points", 409, _("Not enough points.")


class PointsCapExceeded(MembershipError):
    code, status, default_message = "points_cap_exceeded", 409, _("Points can pay only part of this sale.")


class InsufficientStoredValue(MembershipError):
    code, status, default_message = "insufficient_stored_value", 409, _("Not enough stored value.")


class LimitReached(MembershipError):
    code, status, default_message = "limit_reached", 409, _("The limit has been reached.")


class Conflict(MembershipError):
    code, status, default_message = "conflict", 409, _("This conflicts with the current state.")


class CouponInvalid(MembershipError):
    code, status, default_message = "coupon_invalid", 409, _("This coupon cannot be used on this sale.")


class OutOfStock(MembershipError):
    code, status, default_message = "out_of_stock", 409, _("Out of stock.")


class IdempotencyConflict(MembershipError):
    code, status, default_message = (
        "idempotency_conflict",
        409,
        _("This key or receipt number was already used for a different request."),
    )


class SignInLocked(MembershipError):
    """Too many wrong passwords for a staff account or from an address (pos-api.md: 429 `throttled`)."""

    code, status, default_message = "throttled", 429, _("Too many wrong passwords: sign-in is locked for a while.")


class PinLocked(MembershipError):
    """Too many wrong stored-value PINs: the member's stored value is locked for a while (pos-api.md)."""

    code, status, default_message = "pin_locked", 429, _("Too many wrong PINs: stored value is locked for a while.")


class SaleTooOld(MembershipError):
    """A till's queued sale or return sent with an original time older than the program accepts."""

    code, status, default_message = "sale_too_old", 400, _("This sale is too old to be recorded.")
