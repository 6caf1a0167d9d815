"""The member's campaign pages, mounted at /m/ beside urls.py's. Their URL names keep the
`campaigns` namespace they had when campaigns served them ({% url 'campaigns:coupons' %})."""

from django.urls import path

from .views import checkin, coupons, mall, paid_card

app_name = "campaigns"
urlpatterns = [
    path("coupons/", coupons.coupon_list, name="coupons"),
    path("benefits/<int:grant_id>/claim/", coupons.claim, name="claim"),
    path("mall/", mall.mall_page, name="mall"),
    path("mall/<str:code>/redeem/", mall.redeem, name="redeem"),
    path("mall/orders/<str:order_no>/cancel/", mall.mall_cancel, name="mall-cancel"),
    path("checkin/", checkin.checkin_page, name="checkin"),
    path("checkin/today/", checkin.checkin, name="checkin-today"),
    path("plus/", paid_card.paid_card_page, name="paid-card"),
    path("plus/<str:code>/buy/", paid_card.paid_card_buy, name="paid-card-buy"),
]
