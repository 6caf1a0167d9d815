"""Webhooks in admin: the endpoints (registered through the API, which shows the secret once), their
delivery log with every attempt, and sending again."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.errors import Invalid

from . import webhooks
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


class EndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "events", "description", "active"]

    def clean_events(self):
        try:
            return webhooks._check_events(self.cleaned_data["events"])
        except Invalid as invalid:
            raise forms.ValidationError(invalid.message) from None

    def clean_url(self):
        try:
            webhooks.destination(self.cleaned_data["url"])
        except webhooks.Refused as refused:
            raise forms.ValidationError(str(refused)) from None
        return self.cleaned_data["url"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["url", "events", "active", "failing_since", "disabled_at", "disabled_reason"]
    list_filter = ["active"]
    readonly_fields = ["created_at", "created_by", "failing_since", "disabled_at", "disabled_reason"]

    def has_add_permission(self, request):
        return False  # POST /api/v1/webhooks/ makes one and shows its secret (docs/integration.md)

    def changelist_view(self, request, extra_context=None):
        disabled = WebhookEndpoint.objects.filter(active=False, disabled_at__isnull=False)
        for endpoint in disabled:
            messages.warning(
                request,
                _("%(url)s was disabled: %(reason)s") % {"url": endpoint.url, "reason": endpoint.disabled_reason},
            )
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        if obj.active and "active" in form.changed_data:
            obj.failing_since, obj.disabled_at, obj.disabled_reason = None, None, ""
        super().save_model(request, obj, form, change)


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["number", "at", "status_code", "error", "duration_ms"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event_type", "event_id", "endpoint", "status", "attempts", "next_attempt_at", "delivered_at"]
    list_filter = ["status", "event_type", "endpoint"]
    search_fields = ["event_id"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    inlines = [AttemptInline]
    actions = ["send_again"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Send again now"))
    def send_again(self, request, queryset):
        count = queryset.update(status=WebhookDelivery.Status.PENDING, next_attempt_at=timezone.now())
        webhooks._queue_due()
        self.message_user(request, ngettext("%d delivery queued.", "%d deliveries queued.", count) % count)
