from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from campaigns import receipts
from core import metrics

from . import views
from .forms import AdminSignInForm, StaffSignInForm

admin.site.login_form = AdminSignInForm  # the lockout of membership.services.staff_signin

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html", authentication_form=StaffSignInForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("counter/", include("pos.urls")),
    path("m/", include("memberweb.urls")),
    path("m/", include("memberweb.campaign_urls")),
    path("analytics/", include("analytics.urls")),
    path("api/v1/", include("pos.urls_api")),
    path("api/v1/", include("integrations.urls_api")),
    # the contract is public documentation; every operation in it still needs a token
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    path(
        "api/docs/", SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[AllowAny]), name="api-docs"
    ),
    # Swagger UI and Redoc come from drf-spectacular-sidecar's static files: no CDN (settings, issue 16)
    path(
        "api/redoc/", SpectacularRedocView.as_view(url_name="schema", permission_classes=[AllowAny]), name="api-redoc"
    ),
    # the SMS providers' delivery receipts (campaigns/receipts.py); the path carries SMS_RECEIPT_TOKEN
    path("hooks/sms/<str:provider>/<str:token>/", receipts.sms_receipt, name="sms-receipt"),
    # Prometheus metrics, for the operator only (core/metrics.py)
    path("metrics", metrics.metrics_view, name="metrics"),
]

handler400 = "portal.views.bad_request"
handler403 = "portal.views.permission_denied"
handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"
