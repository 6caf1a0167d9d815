"""The member pages, mounted at /m/ (issue 5); the campaign pages beside them are in campaign_urls.py."""

from django.urls import path

from .views import auth, card, history, home, info, invite, notices, profile, wechat

app_name = "member"
urlpatterns = [
    path("", home.home, name="home"),
    path("login/", auth.login_view, name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("signup/", auth.signup, name="signup"),
    path("join/<str:store_code>/", auth.join, name="join"),
    path("join/<str:store_code>/qr.svg", auth.join_qr, name="join-qr"),
    path("join/<str:store_code>/poster/", auth.poster, name="poster"),
    path("code/", auth.send_code, name="send-code"),
    path("wechat/", wechat.wechat_start, name="wechat"),
    path("wechat/callback/", wechat.wechat_callback, name="wechat-callback"),
    path("wechat/bind/", wechat.wechat_bind, name="wechat-bind"),
    path("password/", auth.password, name="password"),
    path("privacy/", info.privacy, name="privacy"),
    path("program/", info.program, name="program"),
    path("card/", card.card, name="card"),
    path("card/qr/", card.card_qr, name="card-qr"),
    path("history/", history.history, name="history"),
    path("history/stored-value/", history.history_sv, name="history-sv"),
    path("history/purchases/", history.history_purchases, name="history-purchases"),
    path("history/purchases/<int:pk>/", history.purchase, name="purchase"),
    path("notices/", notices.notices, name="notices"),
    path("notices/<int:pk>/", notices.notice, name="notice"),
    path("invite/", invite.invite, name="invite"),
    path("invite/qr.svg", invite.invite_qr, name="invite-qr"),
    path("profile/", profile.profile, name="profile"),
    path("pin/", profile.pin, name="pin"),
    path("profile/data.json", profile.my_data, name="my-data"),
]
