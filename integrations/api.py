"""The HQ API of events.md: the event feed (and the webhook endpoints). Views translate HTTP to
core.events and back."""

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core import events
from core.errors import Invalid
from membership import permissions
from pos.api_support import LookupThrottle, WriteThrottle

from . import webhooks
from .models import WebhookAttempt, WebhookEndpoint

HQ = permissions.RolePermission.of(permissions.is_hq)
ERROR = inline_serializer("IntegrationError", {"error": serializers.DictField()})
EVENT_FIELDS = {
    "id": serializers.UUIDField(),
    "type": serializers.CharField(),
    "created": serializers.CharField(help_text="ISO 8601 with offset"),
    "api_version": serializers.CharField(),
    "data": serializers.DictField(),
}


class HQView(APIView):
    permission_classes = [IsAuthenticated, HQ]
    throttle_classes = [WriteThrottle]


class EventsView(HQView):
    throttle_classes = [LookupThrottle]

    @extend_schema(
        summary="The event feed, oldest first (HQ)",
        parameters=[
            OpenApiParameter("after", str, description="next_cursor of the previous page; none to start"),
            OpenApiParameter("type", str, description="one event type of the catalogue"),
            OpenApiParameter("limit", int, description="1 to 500 (100)"),
        ],
        responses={
            200: inline_serializer(
                "EventPage",
                {
                    "results": inline_serializer("Event", EVENT_FIELDS, many=True),
                    "next_cursor": serializers.CharField(allow_null=True),
                },
            ),
            **{code: OpenApiResponse(ERROR) for code in (400, 401, 403, 429)},
        },
    )
    def get(self, request):
        params = request.query_params
        page = events.page(
            after=params.get("after") or None, event_type=params.get("type") or None, limit=params.get("limit")
        )
        return Response(page)


def endpoint_body(endpoint, secret: str | None = None) -> dict:
    body = {
        "id": endpoint.pk,
        "url": endpoint.url,
        "events": endpoint.events,
        "description": endpoint.description,
        "active": endpoint.active,
    }
    if secret is not None:
        body["secret"] = secret
    return body


ENDPOINT_FIELDS = {
    "id": serializers.IntegerField(),
    "url": serializers.URLField(),
    "events": serializers.ListField(child=serializers.CharField()),
    "description": serializers.CharField(),
    "active": serializers.BooleanField(),
}
ERRORS = {code: OpenApiResponse(ERROR) for code in (400, 401, 403, 404, 429)}


class WebhooksView(HQView):
    @extend_schema(
        summary="Register a webhook endpoint (HQ); its secret is shown only here",
        request=inline_serializer(
            "WebhookRequest",
            {
                "url": serializers.URLField(),
                "events": serializers.ListField(child=serializers.CharField()),
                "description": serializers.CharField(required=False),
            },
        ),
        responses={
            201: inline_serializer("WebhookCreated", {**ENDPOINT_FIELDS, "secret": serializers.CharField()}),
            **ERRORS,
        },
    )
    def post(self, request):
        data = request.data if isinstance(request.data, dict) else {}
        endpoint, secret = webhooks.register(
            url=str(data.get("url") or ""),
            types=data.get("events"),
            description=str(data.get("description") or ""),
            acting_user=request.user,
        )
        return Response(endpoint_body(endpoint, secret), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Webhook endpoints (HQ; no secrets)",
        responses={200: inline_serializer("WebhookEndpoint", ENDPOINT_FIELDS, many=True), **ERRORS},
    )
    def get(self, request):
        return Response([endpoint_body(e) for e in WebhookEndpoint.objects.all()])


class WebhookView(HQView):
    @extend_schema(summary="Delete a webhook endpoint (HQ)", responses={204: None, **ERRORS})
    def delete(self, request, pk):
        webhooks.endpoint_for(pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class RotateSecretView(HQView):
    @extend_schema(
        summary="A new secret; the old one keeps signing beside it for 24 hours (HQ)",
        request=None,
        responses={200: inline_serializer("WebhookSecret", {"secret": serializers.CharField()}), **ERRORS},
    )
    def post(self, request, pk):
        return Response({"secret": webhooks.rotate_secret(webhooks.endpoint_for(pk))})


class DeliveriesView(HQView):
    @extend_schema(
        summary="Recent delivery attempts of an endpoint (HQ)",
        responses={
            200: inline_serializer(
                "WebhookAttempt",
                {
                    "event_id": serializers.UUIDField(),
                    "type": serializers.CharField(),
                    "attempt": serializers.IntegerField(),
                    "status_code": serializers.IntegerField(allow_null=True),
                    "error": serializers.CharField(),
                    "at": serializers.DateTimeField(),
                    "delivery_status": serializers.CharField(),
                },
                many=True,
            ),
            **ERRORS,
        },
    )
    def get(self, request, pk):
        endpoint = webhooks.endpoint_for(pk)
        tries = (
            WebhookAttempt.objects.filter(delivery__endpoint=endpoint)
            .select_related("delivery")
            .order_by("-at", "-pk")[:200]
        )
        return Response(
            [
                {
                    "event_id": str(t.delivery.event_id),
                    "type": t.delivery.event_type,
                    "attempt": t.number,
                    "status_code": t.status_code,
                    "error": t.error,
                    "at": timezone.localtime(t.at).isoformat(),
                    "delivery_status": t.delivery.status,
                }
                for t in tries
            ]
        )


class ReplayView(HQView):
    @extend_schema(
        summary="Send the endpoint's events since a time again (HQ)",
        request=inline_serializer("WebhookReplay", {"since": serializers.DateTimeField()}),
        responses={202: inline_serializer("WebhookReplayed", {"events": serializers.IntegerField()}), **ERRORS},
    )
    def post(self, request, pk):
        endpoint = webhooks.endpoint_for(pk)
        raw = request.data.get("since") if isinstance(request.data, dict) else None
        since = parse_datetime(str(raw or ""))
        if since is None:
            raise Invalid(_("since is a time, e.g. 2026-12-04T00:00:00+08:00."), field="since")
        if timezone.is_naive(since):
            since = timezone.make_aware(since)
        return Response({"events": webhooks.replay(endpoint, since=since)}, status=status.HTTP_202_ACCEPTED)
