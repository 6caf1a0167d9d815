from django.urls import path

from . import views

app_name = "counter"
urlpatterns = [
    path("", views.counter, name="index"),
    path("lookup/", views.lookup, name="lookup"),
    path("enrol/", views.enrol, name="enrol"),
    path("sale/preview/", views.sale_preview, name="sale-preview"),
    path("sale/", views.sale, name="sale"),
    path("return/", views.sale_return, name="return"),
    path("topup/", views.topup, name="topup"),
    path("pickup/", views.pickup, name="pickup"),
    path("mall/redeem/", views.mall_redeem, name="mall-redeem"),
    path("paid-card/", views.paid_card, name="paid-card"),
    path("paid-card/refund/", views.paid_card_refund, name="paid-card-refund"),
    path("today/", views.today, name="today"),
]
