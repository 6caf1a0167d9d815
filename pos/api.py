"""POS REST API v1 (../shared/spec/pos-api.md). Views translate HTTP to the services and back."""

import uuid

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns import selectors as campaign_selectors
from campaigns.services import mall, scenes
from core.errors import Invalid, NotFound, PhoneTaken
from membership import permissions, selectors
from membership.identity import mask_phone
from membership.services import accounts, cards, enrolment, points, staff_signin, stored_value
from membership.services.common import MemberRef

from . import serializers as s
from .api_support import LookupIPThrottle, LookupThrottle, WriteThrottle, idempotent
from .authentication import issue_token
from .services import sales

ERRORS = {code: OpenApiResponse(s.ErrorResponse) for code in (400, 401, 403, 404, 409, 429)}
Counter = permissions.RolePermission.of(permissions.can_use_counter)
Reader = permissions.RolePermission.of(permissions.can_read_members)
Adjuster = permissions.RolePermission.of(permissions.can_adjust_points)
Manager = permissions.RolePermission.of(permissions.can_manage_members)


class CounterAPIView(APIView):
    permission_classes = [IsAuthenticated, Counter]
    throttle_classes = [WriteThrottle]


def summary(member, user):
    return s.MemberSummary(selectors.member_summary(member, reveal_phone=permissions.is_hq(user))).data


# keys a sale request gained with the member price, left out of its digest at their defaults, so that a
# till that sends `amount` (and retries a sale recorded before them) is answered exactly as before
SALE_DIGEST_DEFAULTS = {"list_amount": None, "best_price": False, "occurred_at": None}


def sale_digest(v: dict) -> str:
    data = {
        k: v[k] for k in sorted(v) if k != "pin" and not (k in SALE_DIGEST_DEFAULTS and v[k] == SALE_DIGEST_DEFAULTS[k])
    }
    data["lines"] = [
        {k: x for k, x in ln.items() if not (k == "discountable" and x is True)} for ln in data.get("lines", [])
    ]
    return sales.request_hash(data)


class TokenView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [LookupIPThrottle]

    @extend_schema(
        request=s.TokenRequest,
        responses={200: s.TokenResponse, **ERRORS},
        auth=[],
        summary="Get the API token of a staff user",
    )
    def post(self, request):
        data = s.TokenRequest(data=request.data)
        data.is_valid(raise_exception=True)
        # locked out (per account and address, per address, per account): 429 throttled, see staff_signin
        user = staff_signin.sign_in(
            request, username=data.validated_data["username"], password=data.validated_data["password"]
        )
        if user is None or not getattr(user, "role", None):
            raise Invalid("Unknown username or wrong password.", field="password")
        return Response(s.TokenResponse({"token": issue_token(user).key}).data)


class MembersView(CounterAPIView):
    @extend_schema(
        request=s.EnrolRequest,
        responses={201: s.MemberSummary, **ERRORS},
        summary="Enrol a member",
        examples=[
            OpenApiExample(
                "enrol",
                request_only=True,
                value={
                    "phone": "13800138000",
                    "name": "张三",
                    "gender": "F",
                    "birthday": "1990-05-20",
                    "marketing_consent": True,
                },
            )
        ],
    )
    @idempotent
    def post(self, request):
        data = s.EnrolRequest(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            member = enrolment.enrol(
                phone=v["phone"],
                name=v["name"],
                gender=v["gender"],
                birthday=v["birthday"],
                card_no=v["card_no"] or None,
                referral_code=v["referral_code"] or None,
                marketing_consent=v["marketing_consent"],
                store=request.user.store,
                acting_user=request.user,
            )
        except PhoneTaken as exc:
            exc.context.pop("member", None)
            raise
        scenes.on_enrolled(member.pk)  # welcome benefits at once (idempotent with the enrolment event)
        member = enrolment.get_member(member.member_no)
        return Response(summary(member, request.user), status=status.HTTP_201_CREATED)


class LookupView(CounterAPIView):
    permission_classes = [IsAuthenticated, Reader]
    throttle_classes = [LookupThrottle, LookupIPThrottle]

    @extend_schema(
        parameters=[OpenApiParameter("q", str, required=True, description="phone, card number or member QR token")],
        responses={200: s.MemberSummary, **ERRORS},
        summary="Find a member",
    )
    def get(self, request):
        q = request.query_params.get("q", "")
        if not q.strip():
            raise Invalid(_("Give a phone, a card number or a member QR token."), field="q")
        return Response(selectors.lookup_summary(q, reveal_phone=permissions.is_hq(request.user)))


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

    @extend_schema(
        request=s.AdjustRequest, responses={201: s.LedgerEntry, **ERRORS}, summary="Adjust points by hand (managers)"
    )
    @idempotent
    def post(self, request, member_no):
        data = s.AdjustRequest(data=request.data)
        data.is_valid(raise_exception=True)
        member = selectors.member_by_no_or_card(member_no)
        entry = points.adjust(
            member=member,
            points=data.validated_data["points"],
            reason=data.validated_data["reason"],
            acting_user=request.user,
        )
        return Response(s.LedgerEntry(entry).data, status=status.HTTP_201_CREATED)


class SalesView(CounterAPIView):
    @extend_schema(
        request=s.SaleRequest,
        responses={201: s.SaleResponse, 200: s.SaleResponse, **ERRORS},
        summary="Record a sale",
        examples=[
            OpenApiExample(
                "sale",
                request_only=True,
                value={
                    "receipt_no": "R0001",
                    "member": "6200000000000005",
                    "amount": "300.00",
                    "lines": [{"sku": "A1", "category": "food", "qty": 2, "amount": "300.00"}],
                    "pay_points": 100,
                    "pay_stored_value": "0.00",
                    "coupon_code": None,
                },
            ),
            OpenApiExample(
                "member price",
                request_only=True,
                value={
                    "receipt_no": "R0002",
                    "member": "6200000000000005",
                    "list_amount": "300.00",
                    "lines": [
                        {"sku": "A1", "qty": 1, "amount": "250.00"},
                        {"sku": "CIG", "category": "tobacco", "amount": "50.00", "discountable": False},
                    ],
                    "coupon_code": "ABCD2345EF",
                    "best_price": True,
                },
            ),
        ],
    )
    @idempotent
    def post(self, request):
        data = s.SaleRequest(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            outcome = self.record(request, v)
        except NotFound as exc:
            if exc.field != "member":
                raise
            raise Invalid("Unknown member or card.", field="member") from exc
        # the body is SaleResponse's shape already (sales.sale_body): no serializer instance per sale; a
        # replay puts its keys back in SaleResponse's order, as the first answer had them (jsonb keeps its own)
        if outcome.replayed:
            return Response({k: outcome.body[k] for k in s.SaleResponse._declared_fields if k in outcome.body})
        return Response(outcome.body, status=status.HTTP_201_CREATED)

    @staticmethod
    def record(request, v):
        """The sale; the member the till named is found by the sale's lock (MemberRef: one statement)."""
        return sales.record_sale(
            store=request.user.store,
            clerk=request.user,
            receipt_no=v["receipt_no"],
            amount=v["amount"],
            list_amount=v["list_amount"],
            member=MemberRef(v["member"]) if v["member"] else None,
            lines=v["lines"],
            pay_points=v["pay_points"],
            pay_stored_value=v["pay_stored_value"],
            coupon_code=v["coupon_code"] or None,
            best_price=v["best_price"],
            pin=v["pin"] or None,
            digest=sale_digest(v),
            occurred_at=v["occurred_at"],
        )


class ReturnsView(CounterAPIView):
    @extend_schema(
        request=s.ReturnRequest,
        responses={201: s.ReturnResponse, 200: s.ReturnResponse, **ERRORS},
        summary="Record a return against a sale",
    )
    @idempotent
    def post(self, request, sale_id):
        data = s.ReturnRequest(data=request.data)
        data.is_valid(raise_exception=True)
        v = {k: x for k, x in data.validated_data.items() if not (k == "occurred_at" and x is None)}
        sale = sales.get_sale(sale_id)
        outcome = sales.record_return(
            sale=sale,
            store=request.user.store,
            clerk=request.user,
            receipt_no=v["receipt_no"],
            amount=v["amount"],
            digest=sales.request_hash({"sale": sale.pk, **v}),
            occurred_at=v.get("occurred_at"),
        )
        return Response(
            s.ReturnResponse(outcome.body).data,
            status=status.HTTP_200_OK if outcome.replayed else status.HTTP_201_CREATED,
        )


class TopUpView(CounterAPIView):
    @extend_schema(request=s.TopUpRequest, responses={201: s.TopUpResponse, **ERRORS}, summary="Top up stored value")
    @idempotent
    def post(self, request, member_no):
        data = s.TopUpRequest(data=request.data)
        data.is_valid(raise_exception=True)
        member = selectors.member_by_no_or_card(member_no)
        key = request.headers.get("Idempotency-Key")
        result = stored_value.top_up(
            member=member,
            amount=data.validated_data["amount"],
            plan_code=data.validated_data["plan"] or None,
            store=request.user.store,
            acting_user=request.user,
            idempotency_key=f"api:{request.user.pk}:{key}" if key else None,
        )
        return Response(s.TopUpResponse(result).data, status=status.HTTP_201_CREATED)


class CouponsView(ListAPIView):
    permission_classes = [IsAuthenticated, Reader]
    throttle_classes = [LookupThrottle]
    serializer_class = s.CouponOut

    def get_queryset(self):
        return campaign_selectors.member_coupons(selectors.member_by_no_or_card(self.kwargs["member_no"]))

    @extend_schema(summary="The member's coupons with their status", responses={200: s.CouponOut(many=True), **ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MallItemsView(ListAPIView):
    permission_classes = [IsAuthenticated, Reader]
    serializer_class = s.MallItemOut

    def get_queryset(self):
        return campaign_selectors.mall_items_on_sale()

    @extend_schema(summary="Points-mall items on sale", responses={200: s.MallItemOut(many=True), **ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MallOrdersView(CounterAPIView):
    @extend_schema(
        request=s.MallOrderRequest, responses={201: s.MallOrderOut, **ERRORS}, summary="Redeem points for a mall item"
    )
    @idempotent
    def post(self, request):
        data = s.MallOrderRequest(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        member = selectors.member_by_no_or_card(v["member"])
        key = request.headers.get("Idempotency-Key") or uuid.uuid4().hex
        order = mall.order(
            member=member,
            item=mall.item_by_code(v["item"]),
            qty=v["qty"],
            idempotency_key=f"api:{request.user.pk}:{key}",
        )
        member.refresh_from_db(fields=["points_balance"])
        return Response(
            s.MallOrderOut(
                {
                    "order_no": order.order_no,
                    "pickup_code": order.pickup_code,
                    "points_spent": order.points_spent,
                    "points_balance": member.points_balance,
                }
            ).data,
            status=status.HTTP_201_CREATED,
        )


class FulfilView(CounterAPIView):
    @extend_schema(request=None, responses={200: s.FulfilOut, **ERRORS}, summary="Hand over a mall order")
    @idempotent
    def post(self, request, pickup_code):
        order = mall.fulfil(pickup_code=pickup_code, clerk=request.user)
        return Response(s.FulfilOut(order).data)


# ---------------------------------------------------------------------------------------
# The store desk (pos-api.md, "The store desk"): clerk and manager; merge, close and refund managers
# only. The services record each change in the audit log with the operator.
# ---------------------------------------------------------------------------------------


def code_sent(sent):
    return s.CodeSentOut({"phone": mask_phone(sent.phone), "resend_in": sent.resend_in}).data


class CardsView(CounterAPIView):
    @extend_schema(
        request=s.CardRequest,
        responses={201: s.CardOut, **ERRORS},
        summary="Bind a physical card from stock to a member",
    )
    @idempotent
    def post(self, request, member_no):
        data = s.CardRequest(data=request.data)
        data.is_valid(raise_exception=True)
        member = selectors.member_by_no_or_card(member_no)
        card = cards.bind(member=member, number=data.validated_data["card_no"], acting_user=request.user)
        return Response(s.CardOut(card).data, status=status.HTTP_201_CREATED)


class LostCardView(CounterAPIView):
    @extend_schema(
        request=s.LostCardRequest,
        responses={201: s.CardOut, **ERRORS},
        summary="Report a card lost: block it and issue a replacement",
    )
    @idempotent
    def post(self, request, member_no, card_no):
        data = s.LostCardRequest(data=request.data)
        data.is_valid(raise_exception=True)
        member = selectors.member_by_no_or_card(member_no)
        card = cards.report_lost(
            member=member,
            card_no=card_no,
            replacement_card_no=data.validated_data["replacement_card_no"] or None,
            acting_user=request.user,
        )
        return Response(s.CardOut(card).data, status=status.HTTP_201_CREATED)


class PhoneCodeView(CounterAPIView):
    @extend_schema(
        request=s.PhoneCodeRequest,
        responses={200: s.CodeSentOut, **ERRORS},
        summary="Send a one-time code to the member's new phone",
    )
    @idempotent
    def post(self, request, member_no):
        data = s.PhoneCodeRequest(data=request.data)
        data.is_valid(raise_exception=True)
        member = selectors.member_by_no_or_card(member_no)
        return Response(code_sent(accounts.send_phone_change_code(member=member, phone=data.validated_data["phone"])))


class PhoneView(CounterAPIView):
    @extend_schema(
        request=s.PhoneChangeRequest,
        responses={200: s.MemberSummary, **ERRORS},
        summary="Change the member's phone (code to the new phone; a manager may omit it)",
    )
    @idempotent
    def post(self, request, member_no):
        data = s.PhoneChangeRequest(data=request.data)
        data.is_valid(raise_exception=True)
        member = selectors.member_by_no_or_card(member_no)
        accounts.change_phone(
            member=member,
            phone=data.validated_data["phone"],
            code=data.validated_data["code"],
            acting_user=request.user,
        )
        return Response(summary(enrolment.get_member(member.member_no), request.user))


class PinCodeView(CounterAPIView):
    @extend_schema(
        request=None,
        responses={200: s.CodeSentOut, **ERRORS},
        summary="Send a one-time code to the member's phone for setting the PIN",
    )
    @idempotent
    def post(self, request, member_no):
        member = selectors.member_by_no_or_card(member_no)
        return Response(code_sent(accounts.send_pin_code(member=member)))


class PinView(CounterAPIView):
    @extend_schema(
        request=s.PinRequest,
        responses={204: None, **ERRORS},
        summary="Set or reset the stored-value PIN (code to the member's phone; a manager may omit it)",
    )
    @idempotent
    def put(self, request, member_no):
        data = s.PinRequest(data=request.data)
        data.is_valid(raise_exception=True)
        member = selectors.member_by_no_or_card(member_no)
        accounts.set_pin(
            member=member, pin=data.validated_data["pin"], code=data.validated_data["code"], acting_user=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MergeView(CounterAPIView):
    permission_classes = [IsAuthenticated, Manager]

    @extend_schema(
        request=s.MergeRequest,
        responses={200: s.MemberSummary, **ERRORS},
        summary="Merge another account of the member into this one (managers)",
    )
    @idempotent
    def post(self, request, member_no):
        data = s.MergeRequest(data=request.data)
        data.is_valid(raise_exception=True)
        target = selectors.member_by_no_or_card(member_no)
        try:
            source = selectors.member_by_no_or_card(data.validated_data["from"])
        except NotFound as exc:
            raise Invalid("Unknown member or card.", field="from") from exc
        enrolment.merge(source=source, target=target, acting_user=request.user, reason=data.validated_data["reason"])
        return Response(summary(enrolment.get_member(target.member_no), request.user))


class CloseView(CounterAPIView):
    permission_classes = [IsAuthenticated, Manager]

    @extend_schema(
        request=s.CloseRequest,
        responses={200: s.CloseOut, **ERRORS},
        summary="Close a membership at the member's request (managers)",
    )
    @idempotent
    def post(self, request, member_no):
        data = s.CloseRequest(data=request.data)
        data.is_valid(raise_exception=True)
        member = enrolment.close(
            member=selectors.member_by_no_or_card(member_no),
            reason=data.validated_data["reason"],
            acting_user=request.user,
        )
        return Response(s.CloseOut(member).data)


class TopUpRefundView(CounterAPIView):
    permission_classes = [IsAuthenticated, Manager]

    @extend_schema(
        request=None,
        responses={201: s.TopUpRefundOut, **ERRORS},
        summary="Refund a top-up: principal returned, its bonus removed (managers)",
    )
    @idempotent
    def post(self, request, topup_id):
        entry = stored_value.refund_top_up(
            topup=stored_value.topup_entry(topup_id), acting_user=request.user, store=request.user.store
        )
        return Response(s.TopUpRefundOut(entry).data, status=status.HTTP_201_CREATED)
