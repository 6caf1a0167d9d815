"""POS REST API v1 (../shared/spec/pos-api.md). Views translate HTTP to the services and back."""

import uuid

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.services import coupons, mall, scenes
from membership import permissions, selectors
from membership.errors import Invalid, NotFound, PhoneTaken
from membership.services import enrolment, points, staff_signin, stored_value

from . import serializers as s
from .api_support import LookupIPThrottle, LookupThrottle, WriteThrottle, idempotent
from .authentication import issue_token
from .services import sales

ERRORS = {code: OpenApiResponse(s.ErrorResponse) for code in (400, 401, 403, 404, 409, 429)}
Counter = permissions.RolePermission.of(permissions.can_use_counter)
Reader = permissions.RolePermission.of(permissions.can_read_members)
Adjuster = permissions.RolePermission.of(permissions.can_adjust_points)


class CounterAPIView(APIView):
    permission_classes = [IsAuthenticated, Counter]
    throttle_classes = [WriteThrottle]


def summary(member, user):
    return selectors.member_summary(member, reveal_phone=permissions.is_hq(user))


class TokenView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [LookupIPThrottle]

    @extend_schema(request=s.TokenRequest, responses={200: s.TokenResponse, **ERRORS}, auth=[],
                   summary="Get the API token of a staff user")
    def post(self, request):
        data = s.TokenRequest(data=request.data)
        data.is_valid(raise_exception=True)
        # locked out (per account and per address): 429 throttled, see services.staff_signin
        user = staff_signin.sign_in(request, username=data.validated_data["username"],
                                    password=data.validated_data["password"])
        if user is None or not getattr(user, "role", None):
            raise Invalid("Unknown username or wrong password.", field="password")
        return Response({"token": issue_token(user).key})


class MembersView(CounterAPIView):
    @extend_schema(request=s.EnrolRequest, responses={201: s.MemberSummary, **ERRORS}, summary="Enrol a member",
                   examples=[OpenApiExample("enrol", request_only=True, value={
                       "phone": "13800138000", "name": "张三", "gender": "F", "birthday": "1990-05-20",
                       "marketing_consent": True})])
    @idempotent
    def post(self, request):
        data = s.EnrolRequest(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            member = enrolment.enrol(phone=v["phone"], name=v["name"], gender=v["gender"], birthday=v["birthday"],
                                     card_no=v["card_no"] or None, referral_code=v["referral_code"] or None,
                                     marketing_consent=v["marketing_consent"], store=request.user.store,
                                     acting_user=request.user)
        except PhoneTaken as exc:
            exc.context.pop("member", None)
            raise
        scenes.on_enrolled(member.pk)  # welcome benefits at once (idempotent with the enrolment event)
        member = enrolment.get_member(member.member_no)
        return Response(summary(member, request.user), status=status.HTTP_201_CREATED)


class LookupView(CounterAPIView):
    permission_classes = [IsAuthenticated, Reader]
    throttle_classes = [LookupThrottle, LookupIPThrottle]

    @extend_schema(parameters=[OpenApiParameter("q", str, required=True,
                                                description="phone, card number or member QR token")],
                   responses={200: s.MemberSummary, **ERRORS}, summary="Find a member")
    def get(self, request):
        q = request.query_params.get("q", "")
        if not q.strip():
            raise Invalid("Give a phone, a card number or a member QR token.", field="q")
        return Response(summary(selectors.find_member(q), request.user))


class MemberView(CounterAPIView):
    permission_classes = [IsAuthenticated, Reader]
    throttle_classes = [LookupThrottle, LookupIPThrottle]

    @extend_schema(responses={200: s.MemberSummary, **ERRORS}, summary="Member summary")
    def get(self, request, member_no):
        return Response(summary(selectors.member_by_no_or_card(member_no), request.user))


class LedgerView(ListAPIView):
    permission_classes = [IsAuthenticated, Reader]
    throttle_classes = [LookupThrottle]
    serializer_class = s.LedgerEntry

    def get_queryset(self):
        return selectors.points_history(selectors.member_by_no_or_card(self.kwargs["member_no"]))

    @extend_schema(summary="Points ledger, newest first", responses={200: s.LedgerEntry(many=True), **ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AdjustView(CounterAPIView):
    permission_classes = [IsAuthenticated, Adjuster]

    @extend_schema(request=s.AdjustRequest, responses={201: s.LedgerEntry, **ERRORS},
                   summary="Adjust points by hand (managers)")
    @idempotent
    def post(self, request, member_no):
        data = s.AdjustRequest(data=request.data)
        data.is_valid(raise_exception=True)
        member = selectors.member_by_no_or_card(member_no)
        entry = points.adjust(member=member, points=data.validated_data["points"],
                              reason=data.validated_data["reason"], acting_user=request.user)
        return Response(s.LedgerEntry(entry).data, status=status.HTTP_201_CREATED)


class SalesView(CounterAPIView):
    @extend_schema(request=s.SaleRequest, responses={201: s.SaleResponse, 200: s.SaleResponse, **ERRORS},
                   summary="Record a sale", examples=[OpenApiExample("sale", request_only=True, value={
                       "receipt_no": "R0001", "member": "6200000000000005", "amount": "300.00",
                       "lines": [{"sku": "A1", "category": "food", "qty": 2, "amount": "300.00"}],
                       "pay_points": 100, "pay_stored_value": "0.00", "coupon_code": None})])
    @idempotent
    def post(self, request):
        data = s.SaleRequest(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        member = None
        if v["member"]:
            try:
                member = selectors.member_by_no_or_card(v["member"], ref_only=True)
            except NotFound as exc:
                raise Invalid("Unknown member or card.", field="member") from exc
        outcome = sales.record_sale(
            store=request.user.store, clerk=request.user, receipt_no=v["receipt_no"], amount=v["amount"],
            member=member, lines=v["lines"], pay_points=v["pay_points"], pay_stored_value=v["pay_stored_value"],
            coupon_code=v["coupon_code"] or None, pin=v["pin"] or None,
            digest=sales.request_hash({k: v[k] for k in sorted(v) if k != "pin"}))
        return Response(outcome.body, status=status.HTTP_200_OK if outcome.replayed else status.HTTP_201_CREATED)


class ReturnsView(CounterAPIView):
    @extend_schema(request=s.ReturnRequest, responses={201: s.ReturnResponse, 200: s.ReturnResponse, **ERRORS},
                   summary="Record a return against a sale")
    @idempotent
    def post(self, request, sale_id):
        data = s.ReturnRequest(data=request.data)
        data.is_valid(raise_exception=True)
        sale = sales.get_sale(sale_id)
        outcome = sales.record_return(sale=sale, store=request.user.store, clerk=request.user,
                                      receipt_no=data.validated_data["receipt_no"],
                                      amount=data.validated_data["amount"],
                                      digest=sales.request_hash({"sale": sale.pk, **data.validated_data}))
        return Response(outcome.body, status=status.HTTP_200_OK if outcome.replayed else status.HTTP_201_CREATED)


class TopUpView(CounterAPIView):
    @extend_schema(request=s.TopUpRequest, responses={201: s.TopUpResponse, **ERRORS},
                   summary="Top up stored value")
    @idempotent
    def post(self, request, member_no):
        data = s.TopUpRequest(data=request.data)
        data.is_valid(raise_exception=True)
        member = selectors.member_by_no_or_card(member_no)
        key = request.headers.get("Idempotency-Key")
        result = stored_value.top_up(member=member, amount=data.validated_data["amount"],
                                     plan_code=data.validated_data["plan"] or None, store=request.user.store,
                                     acting_user=request.user,
                                     idempotency_key=f"api:{request.user.pk}:{key}" if key else None)
        body = {k: f"{getattr(result, k):.2f}" for k in ("principal_added", "bonus_added", "principal", "bonus")}
        return Response(body, status=status.HTTP_201_CREATED)



class CouponsView(ListAPIView):
    permission_classes = [IsAuthenticated, Reader]
    throttle_classes = [LookupThrottle]
    serializer_class = s.CouponOut

    def get_queryset(self):
        return coupons.member_coupons(selectors.member_by_no_or_card(self.kwargs["member_no"]))

    @extend_schema(summary="The member's coupons with their status", responses={200: s.CouponOut(many=True), **ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MallItemsView(ListAPIView):
    permission_classes = [IsAuthenticated, Reader]
    serializer_class = s.MallItemOut

    def get_queryset(self):
        return mall.on_sale()

    @extend_schema(summary="Points-mall items on sale", responses={200: s.MallItemOut(many=True), **ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MallOrdersView(CounterAPIView):
    @extend_schema(request=s.MallOrderRequest, responses={201: s.MallOrderOut, **ERRORS},
                   summary="Redeem points for a mall item")
    @idempotent
    def post(self, request):
        data = s.MallOrderRequest(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        member = selectors.member_by_no_or_card(v["member"])
        key = request.headers.get("Idempotency-Key") or uuid.uuid4().hex
        order = mall.order(member=member, item=mall.item_by_code(v["item"]), qty=v["qty"],
                           idempotency_key=f"api:{request.user.pk}:{key}")
        member.refresh_from_db(fields=["points_balance"])
        return Response({"order_no": order.order_no, "pickup_code": order.pickup_code,
                         "points_spent": order.points_spent, "points_balance": member.points_balance},
                        status=status.HTTP_201_CREATED)


class FulfilView(CounterAPIView):
    @extend_schema(request=None, responses={200: s.FulfilOut, **ERRORS}, summary="Hand over a mall order")
    @idempotent
    def post(self, request, pickup_code):
        order = mall.fulfil(pickup_code=pickup_code, clerk=request.user)
        return Response(s.FulfilOut(order).data)
