from django.urls import path

from . import api

urlpatterns = [
    path("events/", api.EventsView.as_view(), name="api-events"),
    path("webhooks/", api.WebhooksView.as_view(), name="api-webhooks"),
    path("webhooks/<int:pk>/", api.WebhookView.as_view(), name="api-webhook"),
    path("webhooks/<int:pk>/rotate-secret/", api.RotateSecretView.as_view(), name="api-webhook-rotate"),
    path("webhooks/<int:pk>/deliveries/", api.DeliveriesView.as_view(), name="api-webhook-deliveries"),
    path("webhooks/<int:pk>/replay/", api.ReplayView.as_view(), name="api-webhook-replay"),
]
