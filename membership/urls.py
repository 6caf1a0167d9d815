"""Member pages, mounted at /m/ (issue 5)."""

from django.urls import path

from . import views

app_name = "member"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("signup/", views.signup, name="signup"),
    path("join/<str:store_code>/", views.join, name="join"),
    path("join/<str:store_code>/qr.svg", views.join_qr, name="join-qr"),
    path("join/<str:store_code>/poster/", views.poster, name="poster"),
    path("code/", views.send_code, name="send-code"),
    path("wechat/", views.wechat_start, name="wechat"),
    path("wechat/callback/", views.wechat_callback, name="wechat-callback"),
    path("wechat/bind/", views.wechat_bind, name="wechat-bind"),
    path("password/", views.password, name="password"),
    path("privacy/", views.privacy, name="privacy"),
    path("program/", views.program, name="program"),
    path("card/", views.card, name="card"),
    path("card/qr/", views.card_qr, name="card-qr"),
    path("history/", views.history, name="history"),
    path("history/stored-value/", views.history_sv, name="history-sv"),
    path("history/purchases/", views.history_purchases, name="history-purchases"),
    path("history/purchases/<int:pk>/", views.purchase, name="purchase"),
    path("notices/", views.notices, name="notices"),
    path("notices/<int:pk>/", views.notice, name="notice"),
    path("invite/", views.invite, name="invite"),
    path("invite/qr.svg", views.invite_qr, name="invite-qr"),
    path("profile/", views.profile, name="profile"),
    path("pin/", views.pin, name="pin"),
    path("profile/data.json", views.my_data, name="my-data"),
]
