"""The HQ API of events.md: the event feed (and the webhook endpoints). Views translate HTTP to
core.events and back."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core import events
from membership import permissions
from pos.api_support import LookupThrottle

HQ = permissions.RolePermission.of(permissions.is_hq)
ERROR = inline_serializer("IntegrationError", {"error": serializers.DictField()})
EVENT_FIELDS = {
    "id": serializers.UUIDField(),
    "type": serializers.CharField(),
    "created": serializers.CharField(help_text="ISO 8601 with offset"),
    "api_version": serializers.CharField(),
    "data": serializers.DictField(),
}


class EventsView(APIView):
    permission_classes = [IsAuthenticated, HQ]
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
