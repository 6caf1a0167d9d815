from django.urls import path

from . import views

app_name = "analytics"

urlpatterns = [
    path("", views.index, name="index"),
    path("members/", views.members, name="members"),
    path("sales/", views.sales, name="sales"),
    path("points/", views.points, name="points"),
    path("rfm/", views.rfm, name="rfm"),
    path("rfm/<str:rfm_class>/", views.rfm_members, name="rfm_members"),
    path("campaigns/", views.campaigns, name="campaigns"),
    path("clerks/", views.clerks, name="clerks"),
    path("table/<str:name>/", views.table, name="table"),
    # funnel and product preference
    path("funnel/", views.funnel, name="funnel"),
]
