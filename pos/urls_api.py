from django.urls import path

from . import api

urlpatterns = [
    path("auth/token/", api.TokenView.as_view(), name="api-token"),
    path("members/", api.MembersView.as_view(), name="api-members"),
    path("members/lookup/", api.LookupView.as_view(), name="api-lookup"),
    path("members/<str:member_no>/", api.MemberView.as_view(), name="api-member"),
    path("members/<str:member_no>/points/", api.LedgerView.as_view(), name="api-ledger"),
    path("members/<str:member_no>/points/adjust/", api.AdjustView.as_view(), name="api-adjust"),
    path("members/<str:member_no>/stored-value/topups/", api.TopUpView.as_view(), name="api-topup"),
    path("members/<str:member_no>/cards/", api.CardsView.as_view(), name="api-cards"),
    path("members/<str:member_no>/cards/<str:card_no>/lost/", api.LostCardView.as_view(), name="api-card-lost"),
    path("members/<str:member_no>/phone/", api.PhoneView.as_view(), name="api-phone"),
    path("members/<str:member_no>/phone/code/", api.PhoneCodeView.as_view(), name="api-phone-code"),
    path("members/<str:member_no>/pin/", api.PinView.as_view(), name="api-pin"),
    path("members/<str:member_no>/pin/code/", api.PinCodeView.as_view(), name="api-pin-code"),
    path("members/<str:member_no>/merge/", api.MergeView.as_view(), name="api-merge"),
    path("members/<str:member_no>/close/", api.CloseView.as_view(), name="api-close"),
    path("stored-value/topups/<str:topup_id>/refund/", api.TopUpRefundView.as_view(), name="api-topup-refund"),
    path("members/<str:member_no>/coupons/", api.CouponsView.as_view(), name="api-coupons"),
    path("mall/items/", api.MallItemsView.as_view(), name="api-mall-items"),
    path("mall/orders/", api.MallOrdersView.as_view(), name="api-mall-orders"),
    path("mall/orders/<str:pickup_code>/fulfil/", api.FulfilView.as_view(), name="api-mall-fulfil"),
    path("sales/", api.SalesView.as_view(), name="api-sales"),
    path("sales/<str:sale_id>/returns/", api.ReturnsView.as_view(), name="api-returns"),
]
