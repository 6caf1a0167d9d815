"""WeChat official account (微信公众号): web sign-in inside WeChat (OAuth2, snsapi_base or
snsapi_userinfo) and template or subscribe messages. Hand-written on `requests`: the calls are
four plain HTTPS endpoints, and the Python SDKs for them are unmaintained (docs/decisions.md).

Settings: WECHAT_APP_ID, WECHAT_APP_SECRET, WECHAT_OAUTH_SCOPE, WECHAT_MESSAGE_API (template |
subscribe), WECHAT_API_BASE and WECHAT_OPEN_BASE (the hosts; a local fake in tests),
WECHAT_TIMEOUT_SECONDS. The access token is fetched once and kept in the shared cache until shortly
before it expires, so every process uses the same one."""

import logging
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

# the token WeChat gave is no longer good (another process fetched a new one, or it expired early)
TOKEN_INVALID = {40001, 40014, 42001}
TOKEN_MARGIN_SECONDS = 300


class WeChatError(Exception):
    def __init__(self, code, message: str = ""):
        super().__init__(f"{code}: {message}" if message else str(code))
        self.code = str(code)
        self.message = message


class WeChatUnreachable(WeChatError):
    """WeChat could not be reached: nothing went out."""


class WeChatTimeout(WeChatError):
    """No answer in time after the request went out: the message may have been sent."""


def configured() -> bool:
    return bool(settings.WECHAT_APP_ID and settings.WECHAT_APP_SECRET)


def _call(method: str, path: str, *, params: dict, json: dict | None = None) -> dict:
    url = settings.WECHAT_API_BASE.rstrip("/") + path
    try:
        response = requests.request(method, url, params=params, json=json, timeout=settings.WECHAT_TIMEOUT_SECONDS)
    except requests.ConnectTimeout as exc:
        raise WeChatUnreachable("network", str(exc)[:150]) from exc
    except requests.Timeout as exc:
        raise WeChatTimeout("timeout", str(exc)[:150]) from exc
    except requests.RequestException as exc:
        raise WeChatUnreachable("network", str(exc)[:150]) from exc
    try:
        answer = response.json()
    except ValueError as exc:
        raise WeChatError(f"http_{response.status_code}", response.text[:150]) from exc
    if answer.get("errcode"):
        raise WeChatError(answer["errcode"], str(answer.get("errmsg", ""))[:150])
    return answer


def authorize_url(redirect_uri: str, state: str) -> str:
    """Where to send a browser inside WeChat: it comes back to `redirect_uri` with ?code=&state=."""
    query = urlencode(
        {
            "appid": settings.WECHAT_APP_ID,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": settings.WECHAT_OAUTH_SCOPE,
            "state": state,
        }
    )
    return f"{settings.WECHAT_OPEN_BASE.rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect"


def openid_for_code(code: str) -> str:
    """The member's openid for the OAuth code WeChat gave the browser (one use, 5 minutes)."""
    answer = _call(
        "GET",
        "/sns/oauth2/access_token",
        params={
            "appid": settings.WECHAT_APP_ID,
            "secret": settings.WECHAT_APP_SECRET,
            "code": code,
            "grant_type": "authorization_code",
        },
    )
    openid = answer.get("openid") or ""
    if not openid:
        raise WeChatError("no_openid", "the answer named no openid")
    return openid


def _token_key() -> str:
    return f"wechat:access_token:{settings.WECHAT_APP_ID}"


def access_token(*, refresh: bool = False) -> str:
    """The account's access token from the shared cache, fetched when missing or refused."""
    if not refresh:
        token = cache.get(_token_key())
        if token:
            return token
    answer = _call(
        "GET",
        "/cgi-bin/token",
        params={
            "grant_type": "client_credential",
            "appid": settings.WECHAT_APP_ID,
            "secret": settings.WECHAT_APP_SECRET,
        },
    )
    token = answer["access_token"]
    lifetime = int(answer.get("expires_in") or 7200)
    cache.set(_token_key(), token, max(60, lifetime - TOKEN_MARGIN_SECONDS))
    return token


def send_template(openid: str, template_id: str, data: dict, *, url: str = "") -> str:
    """Send a template message (or, with WECHAT_MESSAGE_API=subscribe, a subscribe message) to
    `openid`; `data` maps the template's keywords to their values. Returns WeChat's message id.
    A refused token is fetched again once (WeChat refused the call, so nothing went out)."""
    subscribe = settings.WECHAT_MESSAGE_API == "subscribe"
    body = {
        "touser": openid,
        "template_id": template_id,
        "data": {key: {"value": str(value)} for key, value in data.items()},
    }
    if url:
        body["page" if subscribe else "url"] = url
    path = "/cgi-bin/message/subscribe/bizsend" if subscribe else "/cgi-bin/message/template/send"
    for refresh in (False, True):
        try:
            answer = _call("POST", path, params={"access_token": access_token(refresh=refresh)}, json=body)
        except WeChatError as exc:
            if not refresh and exc.code.isdigit() and int(exc.code) in TOKEN_INVALID:
                log.info("WeChat refused the cached access token (%s): fetching a new one", exc.code)
                continue
            raise
        return str(answer.get("msgid", ""))
    raise AssertionError("unreachable")  # pragma: no cover
