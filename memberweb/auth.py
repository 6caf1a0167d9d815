"""Member sessions, kept apart from staff sign-in.

Members are not django.contrib.auth users: a signed-in member is a member id (and a hash of their
password hash) under keys of their own in the session. Staff views look at `request.user`, which
a member session never sets, so a member can never reach /admin/, /counter/ or a report; member
views look only at these keys, so a staff user visiting /m/ is an anonymous member.

Like Django's auth, the session carries a keyed hash of the member's password hash: setting or
resetting the password signs out every other session of that member."""

from functools import wraps

from django.contrib.auth import logout as staff_logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache

from core import signing_keys
from membership import selectors
from membership.models import Member

SESSION_MEMBER_ID = "member_id"
SESSION_MEMBER_HASH = "member_auth_hash"
# the module's name before it moved to memberweb: sessions signed in then stay valid
AUTH_HASH_SALT = "membership.member_auth"


def _password_hash(member: Member) -> str:
    return signing_keys.keyed_hash(AUTH_HASH_SALT, member.password or "")


def _session_hash_valid(request, member: Member) -> bool:
    """The session's hash matches the member's password hash under SECRET_KEY; or, after a key
    rotation, under a former key (SECRET_KEY_FALLBACKS): then it is made again with the new key and
    the session key changes, as Django's auth does for staff sessions."""
    stored = request.session.get(SESSION_MEMBER_HASH, "")
    if constant_time_compare(stored, _password_hash(member)):
        return True
    if not signing_keys.matches_fallback(stored, AUTH_HASH_SALT, member.password or ""):
        return False
    request.session.cycle_key()
    request.session[SESSION_MEMBER_HASH] = _password_hash(member)
    return True


def login_member(request, member: Member) -> None:
    """Sign `member` in on this request's session. The session key changes (no fixation); a staff
    user signed in on the same browser is signed out first, so a shared phone or till never holds
    a member and a staff account at once."""
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        staff_logout(request)  # flushes the session
    request.session.cycle_key()
    request.session[SESSION_MEMBER_ID] = member.pk
    request.session[SESSION_MEMBER_HASH] = _password_hash(member)
    request.member = member


def logout_member(request) -> None:
    request.session.flush()
    request.member = None


def current_member(request) -> Member | None:
    """The signed-in member (active, password unchanged since sign-in), or None. Cached on the request."""
    if hasattr(request, "member"):
        return request.member
    member = None
    member_id = request.session.get(SESSION_MEMBER_ID)
    if member_id is not None:
        member = selectors.active_member(member_id)
        if member is None or not _session_hash_valid(request, member):
            request.session.pop(SESSION_MEMBER_ID, None)
            request.session.pop(SESSION_MEMBER_HASH, None)
            member = None
    request.member = member
    return member


def login_url() -> str:
    return reverse("member:login")


def member_required(view):
    """View decorator: the signed-in member is `request.member`; anyone else goes to /m/login/
    (an htmx request is told to go there with HX-Redirect). Member pages are never cached."""

    @wraps(view)
    @never_cache
    def wrapped(request, *args, **kwargs):
        if current_member(request) is None:
            if getattr(request, "htmx", False):
                response = HttpResponse(status=204)
                response["HX-Redirect"] = login_url()
                return response
            return redirect_to_login(request.get_full_path(), login_url())
        return view(request, *args, **kwargs)

    return wrapped
