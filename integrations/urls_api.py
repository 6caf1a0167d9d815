from django.urls import path

from . import api

urlpatterns = [
    path("events/", api.EventsView.as_view(), name="api-events"),
]
