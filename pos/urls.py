from django.urls import path

from . import desk_views, manager_views, views

app_name = "counter"
urlpatterns = [
    path("", views.counter, name="index"),
    path("sw.js", views.service_worker, name="service-worker"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
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
    path("manager/", manager_views.manager, name="manager"),
    path("manager/adjustments/<int:request_id>/", manager_views.manager_decide, name="manager-decide"),
    path("desk/adjust/", desk_views.adjust, name="desk-adjust"),
    path("desk/", desk_views.desk, name="desk"),
    path("desk/card/", desk_views.bind_card, name="desk-card"),
    path("desk/lost/", desk_views.lost_card, name="desk-lost"),
    path("desk/phone/", desk_views.phone, name="desk-phone"),
    path("desk/pin/", desk_views.pin, name="desk-pin"),
    path("desk/refund/", desk_views.refund_topup, name="desk-refund"),
    path("desk/merge/", desk_views.merge, name="desk-merge"),
    path("desk/close/", desk_views.close, name="desk-close"),
]
