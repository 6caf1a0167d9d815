"""The member's campaign pages, mounted at /m/ beside membership's."""

from django.urls import path

from . import member_views as views

app_name = "campaigns"
urlpatterns = [
    path("coupons/", views.coupon_list, name="coupons"),
    path("benefits/<int:grant_id>/claim/", views.claim, name="claim"),
    path("mall/", views.mall_page, name="mall"),
    path("mall/<str:code>/redeem/", views.redeem, name="redeem"),
    path("mall/orders/<str:order_no>/cancel/", views.mall_cancel, name="mall-cancel"),
    path("checkin/", views.checkin_page, name="checkin"),
    path("checkin/today/", views.checkin, name="checkin-today"),
    path("plus/", views.paid_card_page, name="paid-card"),
    path("plus/<str:code>/buy/", views.paid_card_buy, name="paid-card-buy"),
]
