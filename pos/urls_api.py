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
    path("members/<str:member_no>/coupons/", api.CouponsView.as_view(), name="api-coupons"),
    path("mall/items/", api.MallItemsView.as_view(), name="api-mall-items"),
    path("mall/orders/", api.MallOrdersView.as_view(), name="api-mall-orders"),
    path("mall/orders/<str:pickup_code>/fulfil/", api.FulfilView.as_view(), name="api-mall-fulfil"),
    path("sales/", api.SalesView.as_view(), name="api-sales"),
    path("sales/<str:sale_id>/returns/", api.ReturnsView.as_view(), name="api-returns"),
]
