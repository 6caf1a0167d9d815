"""Member web accounts: sign-up (on the web or from a store's QR poster), first password and reset
by one-time code, sign-in with lockout, the member's own profile and personal-data export
(product.md, "Who uses it" (member) and "What bad input gets"; issue 5).

Members are not staff users: their password is `Member.password`, hashed with Django's hashers,
and their session is kept by the member site (memberweb/auth.py)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core import lockout
from core.clock import now
from core.errors import Invalid, LimitReached, NotFound, PhoneTaken
from core.models import LoginThrottle

from .. import config
from ..identity import mask_phone, normalise_phone
from ..models import Channel, Gender, Member, OneTimeCode, Store
from ..permissions import can_manage_members
from . import enrolment, otp, points, stored_value
from .common import audit, lock_member
from .enrolment import Birthday, active_member_by_phone

Purpose = OneTimeCode.Purpose

MAX_FAILURES = 5  # wrong passwords for one phone ...
WINDOW_MINUTES = 15  # ... within this many minutes ...
LOCK_MINUTES = 15  # ... lock that phone's sign-in this long
MAX_IP_FAILURES = 30  # and this many from one IP address (password spraying across phones)

MSG_BAD_LOGIN = _("The mobile number or the password is wrong.")
MSG_LOCKED = _(
    "Too many wrong passwords: sign-in is locked for %(minutes)s minutes. You can reset your password with an SMS code."
)
MSG_ALREADY_MEMBER = _("This mobile number is already a member: sign in instead.")
MSG_ENROLLED_NO_PASSWORD = _("You are already a member (enrolled at a store): set your password with an SMS code.")
MSG_NOT_MEMBER = _("No member has this mobile number: sign up first.")
MSG_EMAIL_INVALID = _("Enter a valid e-mail address, e.g. name@example.com, or leave it empty.")
MSG_CONSENT_REQUIRED = _("Please agree to the member terms and privacy notice to join.")
MSG_BIRTHDAY_SET = _("Your birthday is already set: it can be changed only at a store's counter.")
MSG_NO_REFERRER = _("No member has this referral code.")
MSG_NO_STORE = _("Web sign-up is not open: no store is configured.")


# ---------------------------------------------------------------------------------------
# Which store a web sign-up belongs to
# ---------------------------------------------------------------------------------------


def web_signup_store() -> Store:
    """The store a sign-up without a poster is attributed to: the first active shop (a store with
    no children, so not HQ or a region) by code. docs/decisions.md records this choice."""
    store = Store.objects.filter(is_active=True, children__isnull=True).order_by("code").first()
    if store is None:
        raise Invalid(MSG_NO_STORE, field="store")
    return store


def poster_store(code: str) -> Store:
    """The store of a QR poster (/m/join/<code>/): an active shop, never HQ or a region."""
    store = Store.objects.filter(code=code, is_active=True, children__isnull=True).first()
    if store is None:
        raise NotFound(field="store")
    return store


# ---------------------------------------------------------------------------------------
# Codes and passwords
# ---------------------------------------------------------------------------------------


def _valid_password(password: str) -> str:
    password = password or ""
    try:
        validate_password(password, user=None)
    except ValidationError as exc:
        raise Invalid(" ".join(exc.messages), field="password") from exc
    return password


def password_purpose(member: Member) -> str:
    """A member enrolled at the counter has no password yet: their code sets the first one."""
    return Purpose.SET_PASSWORD if not member.password else Purpose.RESET


def send_signup_code(*, phone, ip: str | None = None) -> otp.SentCode:
    """A sign-up code. The answer and the limits are the same whether or not the phone is a member
    (so /m/code/ tells nobody who is one); a member's phone is sent no code: signing up needs one."""
    phone = normalise_phone(phone)
    return otp.request_code(phone=phone, purpose=Purpose.SIGNUP, ip=ip, send=active_member_by_phone(phone) is None)


def send_password_code(*, phone, ip: str | None = None) -> otp.SentCode:
    """A code to set or reset the password; the same answer for a phone that is no member's (no SMS)."""
    phone = normalise_phone(phone)
    member = active_member_by_phone(phone)
    return otp.request_code(
        phone=phone, purpose=password_purpose(member) if member else Purpose.RESET, ip=ip, send=member is not None
    )


def _refuse_existing(phone: str) -> None:
    if member := active_member_by_phone(phone):
        message = MSG_ALREADY_MEMBER if member.password else MSG_ENROLLED_NO_PASSWORD
        raise PhoneTaken(message, field="phone", member=member, has_password=bool(member.password))


def sign_up(
    *,
    phone,
    code,
    password: str,
    name: str = "",
    birthday=None,
    marketing_consent: bool = False,
    terms_accepted: bool = True,
    store: Store | None = None,
    referral_code: str | None = None,
    ip: str | None = None,
) -> Member:
    """A member signs themselves up: on the web (attributed to `web_signup_store`) or from a
    store's QR poster (channel poster, attributed to that store). Checks everything that can be
    checked first, then the code (a wrong code uses an attempt), then enrols through
    enrolment.enrol and sets the password in one transaction that also uses the code up."""
    phone = normalise_phone(phone)
    if not terms_accepted:
        raise Invalid(MSG_CONSENT_REQUIRED, field="terms")
    if birthday is not None and not isinstance(birthday, Birthday):
        birthday = Birthday.parse(birthday)
    _valid_password(password)
    if (
        referral_code
        and not Member.objects.filter(referral_code=referral_code.strip().upper(), status=Member.Status.ACTIVE).exists()
    ):
        raise Invalid(MSG_NO_REFERRER, field="referral_code")  # before the code, so no attempt is wasted
    channel = Channel.POSTER if store is not None else Channel.WEB
    store = store or web_signup_store()
    code_id = otp.check_code(phone=phone, purpose=Purpose.SIGNUP, code=code)
    _refuse_existing(phone)  # after the code (a member's phone is sent none): the form tells nobody who is a member
    with transaction.atomic():
        otp.consume(code_id)
        member = enrolment.enrol(
            phone=phone,
            store=store,
            name=name,
            birthday=birthday,
            referral_code=referral_code or None,
            marketing_consent=marketing_consent,
            channel=channel,
        )
        member.password = make_password(password)
        member.save(update_fields=["password"])
        audit("member.sign_up", member=member, channel=channel, store=store.code, ip=ip)
    return member


def set_password(*, phone, code, password: str, ip: str | None = None) -> Member:
    """Set the first password (member enrolled at the counter) or reset a forgotten one with a code.
    A reset also lifts a sign-in lock on the phone: the member has just proved they hold it."""
    phone = normalise_phone(phone)
    member = active_member_by_phone(phone)
    _valid_password(password)
    # the code first, for members and strangers alike (a stranger's phone is sent no code)
    purpose = password_purpose(member) if member else Purpose.RESET
    code_id = otp.check_code(phone=phone, purpose=purpose, code=code)
    if member is None:
        raise NotFound(MSG_NOT_MEMBER, field="phone")
    with transaction.atomic():
        otp.consume(code_id)
        member = lock_member(member)
        member.password = make_password(password)
        member.save(update_fields=["password"])
        LoginThrottle.objects.filter(key=_phone_key(phone)).delete()
        audit(
            "member.password_set" if purpose == Purpose.SET_PASSWORD else "member.password_reset", member=member, ip=ip
        )
    return member


# ---------------------------------------------------------------------------------------
# The store desk: a new phone and the stored-value PIN, proved by a code (or a manager)
# ---------------------------------------------------------------------------------------

MSG_CODE_REQUIRED = _("Enter the code sent by SMS: only a store manager may do without it.")
MSG_SAME_PHONE = _("This is already the member's mobile number.")
MSG_NOT_ACTIVE = _("This membership is not active.")


def _desk_code(*, phone: str, purpose: str, code, acting_user) -> int | None:
    """The checked code's id, or None when a manager goes without one (pos-api.md, "The store desk")."""
    if not str(code or "").strip():
        if can_manage_members(acting_user):
            return None
        raise Invalid(MSG_CODE_REQUIRED, field="code")
    return otp.check_code(phone=phone, purpose=purpose, code=code)


def _new_phone(member: Member, phone) -> str:
    phone = normalise_phone(phone)
    if phone == member.phone:
        raise Invalid(MSG_SAME_PHONE, field="phone")
    if (other := active_member_by_phone(phone)) and other.pk != member.pk:
        raise PhoneTaken(field="phone")
    return phone


def send_phone_change_code(*, member: Member, phone, ip: str | None = None) -> otp.SentCode:
    """A code to the member's new phone, proving they hold it."""
    return otp.request_code(phone=_new_phone(member, phone), purpose=Purpose.CHANGE_PHONE, ip=ip)


def change_phone(*, member: Member, phone, code=None, acting_user=None) -> Member:
    """Change a member's phone at the desk, with the code sent to the new phone (a manager may omit
    it). The old number is free at once; a number of another active member is PhoneTaken."""
    phone = _new_phone(member, phone)
    code_id = _desk_code(phone=phone, purpose=Purpose.CHANGE_PHONE, code=code, acting_user=acting_user)
    try:
        with transaction.atomic():
            if code_id:
                otp.consume(code_id)
            member = lock_member(member)
            if member.status != Member.Status.ACTIVE:
                raise Invalid(MSG_NOT_ACTIVE, field="member")
            old = member.phone
            member.phone = phone
            member.save(update_fields=["phone"])
            LoginThrottle.objects.filter(key=_phone_key(old)).delete()
            audit(
                "member.phone_change",
                member=member,
                operator=acting_user,
                old=mask_phone(old),
                new=mask_phone(phone),
                with_code=code_id is not None,
            )
    except IntegrityError as exc:  # a parallel enrolment or change took the number first
        raise PhoneTaken(field="phone") from exc
    return member


def send_pin_code(*, member: Member, ip: str | None = None) -> otp.SentCode:
    """A code to the member's own phone, for setting or resetting the stored-value PIN."""
    return otp.request_code(phone=member.phone, purpose=Purpose.SET_PIN, ip=ip)


def set_pin(*, member: Member, pin, code=None, acting_user=None) -> None:
    """Set or reset the stored-value PIN the member typed, with the code sent to their phone (a
    manager may omit it; a member on /m/ passes no acting_user and always needs the code)."""
    pin = stored_value.clean_pin(pin)
    code_id = _desk_code(phone=member.phone, purpose=Purpose.SET_PIN, code=code, acting_user=acting_user)
    with transaction.atomic():
        if code_id:
            otp.consume(code_id)
        stored_value.set_pin(member=member, pin=pin, acting_user=acting_user)


# ---------------------------------------------------------------------------------------
# Sign-in with lockout
# ---------------------------------------------------------------------------------------


def _phone_key(phone: str) -> str:
    return f"phone:{phone}"


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _locked_minutes(row: LoginThrottle | None, at: datetime) -> int | None:
    return lockout.minutes_left(row, at)


def _record_failure(key: str, at: datetime, *, max_failures: int) -> bool:
    """Count one failure for `key` (services.lockout); returns True when it locks."""
    return lockout.record_failure(
        key,
        at,
        max_failures=max_failures,
        window=_limit("MEMBER_LOGIN_WINDOW_MINUTES", WINDOW_MINUTES),
        lock=_limit("MEMBER_LOCK_MINUTES", LOCK_MINUTES),
    )


def purge_throttles(at: datetime | None = None) -> int:
    """Delete sign-in counters whose counting window and lock have both passed: such a row counts as
    nothing at the next failure anyway. Returns how many; safe to re-run."""
    at = at or now()
    window = timedelta(minutes=_limit("MEMBER_LOGIN_WINDOW_MINUTES", WINDOW_MINUTES))
    return LoginThrottle.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=at),
        Q(window_started_at__isnull=True) | Q(window_started_at__lt=at - window),
    ).delete()[0]


def check_login(*, phone, password: str, ip: str | None = None) -> Member:
    """The member for this phone and password, or Invalid (wrong phone or password: one message for
    both, so the form does not tell who is a member) or LimitReached while locked.

    Lockout: 5 wrong passwords for one phone within 15 minutes lock that phone's sign-in for 15
    minutes; 30 from one IP address lock that address. While locked the password is not even
    checked. Counts live in the database (LoginThrottle), so every web process shares them."""
    try:
        phone = normalise_phone(phone)
    except Invalid:
        raise Invalid(MSG_BAD_LOGIN, field="phone") from None
    at = now()
    keys = [_phone_key(phone)] + ([f"ip:{ip}"] if ip else [])
    if row := LoginThrottle.objects.filter(key__in=keys, locked_until__gt=at).order_by("-locked_until").first():
        raise LimitReached(MSG_LOCKED % {"minutes": _locked_minutes(row, at)}, field="password")
    member = active_member_by_phone(phone)
    if member is not None and member.password:

        def upgrade(raw):  # rehash with the current hasher, as Django's auth does (the session
            member.password = make_password(raw)  # hash is taken from this new value)
            Member.objects.filter(pk=member.pk).update(password=member.password)

        ok = check_password(password or "", member.password, setter=upgrade)
    else:
        make_password(password or "")  # same work as a real check: timing tells nothing
        ok = False
    if ok:
        LoginThrottle.objects.filter(key=_phone_key(phone)).delete()
        return member
    with transaction.atomic():
        locked = _record_failure(_phone_key(phone), at, max_failures=_limit("MEMBER_LOGIN_MAX_FAILURES", MAX_FAILURES))
        if ip:
            locked = (
                _record_failure(f"ip:{ip}", at, max_failures=_limit("MEMBER_LOGIN_MAX_IP_FAILURES", MAX_IP_FAILURES))
                or locked
            )
        if locked:
            audit("member.sign_in_locked", member=member, phone=mask_phone(phone), ip=ip)
    if locked:
        minutes = _limit("MEMBER_LOCK_MINUTES", LOCK_MINUTES)
        raise LimitReached(MSG_LOCKED % {"minutes": minutes}, field="password")
    raise Invalid(MSG_BAD_LOGIN, field="password")


# ---------------------------------------------------------------------------------------
# The member's own profile
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileChange:
    member: Member
    changed: tuple[str, ...]


def clean_email(email) -> str:
    """An optional e-mail address: empty, or a valid address (its domain in lower case)."""
    email = (email or "").strip()
    if not email:
        return ""
    try:
        validate_email(email)
    except ValidationError as exc:
        raise Invalid(MSG_EMAIL_INVALID, field="email") from exc
    if len(email) > 254:
        raise Invalid(_("An e-mail address is at most 254 characters."), field="email")
    local_part, _at, domain = email.rpartition("@")
    return f"{local_part}@{domain.lower()}"


def update_profile(
    *, member, name: str, marketing_consent: bool, birthday=None, gender: str | None = None, email: str | None = None
) -> ProfileChange:
    """What a member may change themselves: name, e-mail (optional; e-mail messages go there),
    marketing consent (recorded with its time), and the birthday only while none is set; after that
    only the counter changes it (it drives birthday benefits). `email=None` leaves it as it is."""
    name = (name or "").strip()
    if len(name) > 50:
        raise Invalid(_("A name is at most 50 characters."), field="name")
    if email is not None:
        email = clean_email(email)
    if birthday is not None and not isinstance(birthday, Birthday):
        birthday = Birthday.parse(birthday)
    changed = []
    with transaction.atomic():
        member = lock_member(member)
        if birthday is not None:
            current = (member.birth_month, member.birth_day, member.birth_year)
            if member.birth_month and current != (birthday.month, birthday.day, birthday.year):
                raise Invalid(MSG_BIRTHDAY_SET, field="birthday")
            if not member.birth_month:
                member.birth_month, member.birth_day, member.birth_year = birthday.month, birthday.day, birthday.year
                changed += ["birth_month", "birth_day", "birth_year"]
        if name != member.name:
            member.name = name
            changed.append("name")
        if email is not None and email != member.email:
            member.email = email
            changed.append("email")
        if gender and gender != member.gender:
            if gender not in Gender.values:
                raise Invalid(_("Gender is F, M or U."), field="gender")
            member.gender = gender
            changed.append("gender")
        if bool(marketing_consent) != member.marketing_consent:
            member.marketing_consent, member.consent_at = bool(marketing_consent), now()
            changed += ["marketing_consent", "consent_at"]
        if changed:
            if points.reward_profile_locked(member, at=now(), program=config.program()):
                changed += ["points_balance", "points_pending", "points_flagged"]
            member.save(update_fields=changed)
            audit("member.profile", member=member, fields=sorted(set(changed)))
    return ProfileChange(member=member, changed=tuple(changed))


def personal_data(member: Member) -> dict:
    """What membership holds about the member, for 'download my data' (the PIPL right to a copy;
    the member site adds what campaigns keeps). Other people's data (the members they invited)
    appears only as a count."""
    data = {
        "exported_at": now().isoformat(),
        "member": _profile_data(member),
        "cards": _cards_data(member),
        "tier_changes": _tier_changes_data(member),
        "points": _points_data(member),
        "stored_value": _stored_value_data(member),
        "purchases": _purchases_data(member),
    }
    audit("member.data_export", member=member)
    return data


def _profile_data(member: Member) -> dict:
    """The member row of the download: identity, enrolment, tier and balances."""
    return {
        "member_no": member.member_no,
        "phone": member.phone,
        "name": member.name,
        "email": member.email,
        "wechat_bound": bool(member.wechat_openid),
        "gender": member.gender,
        "birthday": member.birthday_display,
        "home_store": member.home_store.code,
        "channel": member.channel,
        "joined_at": member.joined_at.isoformat(),
        "status": member.status,
        "referral_code": member.referral_code,
        "referred_by": member.referrer.member_no if member.referrer else None,
        "marketing_consent": member.marketing_consent,
        "consent_at": member.consent_at.isoformat() if member.consent_at else None,
        "tier": member.tier.code,
        "tier_since": member.tier_since.isoformat(),
        "growth_value": member.growth_value,
        "points_available": member.points_balance,
        "points_pending": member.points_pending,
        "stored_value_principal": f"{member.sv_principal:.2f}",
        "stored_value_bonus": f"{member.sv_bonus:.2f}",
        "purchase_count": member.purchase_count,
        "has_password": bool(member.password),
        "members_invited": member.referrals.count(),
    }


def _cards_data(member: Member) -> list[dict]:
    cards = member.cards.order_by("bound_at", "id")
    return [
        {
            "number": c.number,
            "kind": c.kind,
            "status": c.status,
            "bound_at": c.bound_at.isoformat() if c.bound_at else None,
        }
        for c in cards
    ]


def _tier_changes_data(member: Member) -> list[dict]:
    tier_changes = member.tier_changes.select_related("from_tier", "to_tier").order_by("created_at", "id")
    return [
        {
            "from": t.from_tier.code if t.from_tier else None,
            "to": t.to_tier.code,
            "reason": t.reason,
            "at": t.created_at.isoformat(),
        }
        for t in tier_changes
    ]


def _points_data(member: Member) -> list[dict]:
    points = member.points_entries.select_related("store").order_by("created_at", "id")
    return [
        {
            "at": e.created_at.isoformat(),
            "amount": e.amount,
            "kind": e.kind,
            "source": e.source,
            "reference": e.source_ref,
            "store": e.store.code if e.store else None,
            "reason": e.reason,
            "balance_after": e.balance_after,
            "expires_at": e.expires_at.isoformat() if e.expires_at and e.amount > 0 else None,
        }
        for e in points
    ]


def _stored_value_data(member: Member) -> list[dict]:
    sv = member.sv_entries.select_related("store").order_by("created_at", "id")
    return [
        {
            "at": e.created_at.isoformat(),
            "kind": e.kind,
            "principal": f"{e.principal:.2f}",
            "bonus": f"{e.bonus:.2f}",
            "principal_after": f"{e.principal_after:.2f}",
            "bonus_after": f"{e.bonus_after:.2f}",
            "store": e.store.code if e.store else None,
        }
        for e in sv
    ]


def _purchases_data(member: Member) -> list[dict]:
    purchases = member.purchases.select_related("store").prefetch_related("returns").order_by("created_at", "id")
    return [
        {
            "at": p.created_at.isoformat(),
            "store": p.store.code,
            "receipt": p.reference,
            "amount": f"{p.amount:.2f}",
            "points_paid": p.points_paid,
            "points_earned": p.points_earned,
            "stored_value_paid": f"{p.sv_paid:.2f}",
            "returned_amount": f"{p.returned_amount:.2f}",
            "returns": [
                {"at": r.created_at.isoformat(), "amount": f"{r.amount:.2f}", "receipt": r.reference}
                for r in p.returns.all()
            ],
        }
        for p in purchases
    ]
