"""Messages out: e-mail, SMS (console, Alibaba Cloud, Tencent Cloud) and the WeChat official account."""

from .base import env

# --- messages out: e-mail and SMS -----------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="portal@localhost")
SMS_BACKEND = env.str("SMS_BACKEND", default="core.sms.ConsoleSmsBackend")  # or aliyun, tencent
SMS_ACCESS_KEY_ID = env.str("SMS_ACCESS_KEY_ID", default="")  # Tencent: SecretId
SMS_ACCESS_KEY_SECRET = env.str("SMS_ACCESS_KEY_SECRET", default="")  # Tencent: SecretKey
SMS_SIGN_NAME = env.str("SMS_SIGN_NAME", default="")
SMS_SDK_APP_ID = env.str("SMS_SDK_APP_ID", default="")  # Tencent only
SMS_REGION = env.str("SMS_REGION", default="")  # empty: cn-hangzhou (Alibaba), ap-guangzhou (Tencent)
SMS_ENDPOINT = env.str("SMS_ENDPOINT", default="")  # empty: the SDK's; http://host:port for a local fake
SMS_TIMEOUT_SECONDS = env.float("SMS_TIMEOUT_SECONDS", default=5.0)
# delivery receipts: the providers push them to /hooks/sms/<aliyun|tencent>/<token>/; empty: off
SMS_RECEIPT_TOKEN = env.str("SMS_RECEIPT_TOKEN", default="")
# templates per purpose, "CODE:var=field,…" (core.sms.parse_template); a scene names its own
SMS_TEMPLATES = {
    "otp": env.str("SMS_TEMPLATE_OTP", default=""),
    "notice": env.str("SMS_TEMPLATE_NOTICE", default=""),
}
# WeChat official account (core/wechat.py): web sign-in inside WeChat and template messages
WECHAT_APP_ID = env.str("WECHAT_APP_ID", default="")
WECHAT_APP_SECRET = env.str("WECHAT_APP_SECRET", default="")
WECHAT_OAUTH_SCOPE = env.str("WECHAT_OAUTH_SCOPE", default="snsapi_base")
WECHAT_MESSAGE_API = env.str("WECHAT_MESSAGE_API", default="template")  # or subscribe
WECHAT_TEMPLATE_NOTICE = env.str("WECHAT_TEMPLATE_NOTICE", default="")
WECHAT_API_BASE = env.str("WECHAT_API_BASE", default="https://api.weixin.qq.com")
WECHAT_OPEN_BASE = env.str("WECHAT_OPEN_BASE", default="https://open.weixin.qq.com")
WECHAT_TIMEOUT_SECONDS = env.float("WECHAT_TIMEOUT_SECONDS", default=5.0)
