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
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.cache import never_cache

from membership import selectors
from membership.models import Member

SESSION_MEMBER_ID = "member_id"
SESSION_MEMBER_HASH = "member_auth_hash"


def _password_hash(member: Member) -> str:
    # the salt is the module's name before it moved to memberweb: sessions signed in then stay valid
    return salted_hmac("membership.member_auth", member.password or "", algorithm="sha256").hexdigest()


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
        if member is None or not constant_time_compare(
            request.session.get(SESSION_MEMBER_HASH, ""), _password_hash(member)
        ):
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
