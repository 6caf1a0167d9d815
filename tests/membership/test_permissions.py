"""Role rules: one module answers them, the admin and the pages obey."""

import pytest

from membership import permissions
from membership.models import Role, Store, User

pytestmark = pytest.mark.django_db


def test_predicates_per_role(demo_staff):
    admin, manager, clerk = demo_staff["admin"], demo_staff["manager1"], demo_staff["clerk1"]
    assert [permissions.is_hq(u) for u in (admin, manager, clerk)] == [True, False, False]
    assert [permissions.can_configure(u) for u in (admin, manager, clerk)] == [True, False, False]
    assert [permissions.can_adjust_points(u) for u in (admin, manager, clerk)] == [True, True, False]
    assert [permissions.can_view_reports(u) for u in (admin, manager, clerk)] == [True, True, False]
    # the superuser demo admin has no store, so it does not work a counter
    assert [permissions.can_use_counter(u) for u in (admin, manager, clerk)] == [False, True, True]


def test_report_stores_are_own_store_for_a_manager_and_all_for_hq(demo_staff):
    assert set(permissions.report_stores(demo_staff["admin"]).values_list("code", flat=True)) == {"HQ", "S001", "S002"}
    assert list(permissions.report_stores(demo_staff["manager1"]).values_list("code", flat=True)) == ["S001"]
    assert not permissions.report_stores(demo_staff["clerk1"]).exists()


def test_a_clerk_acts_only_for_their_own_store(demo_staff):
    s001, s002 = Store.objects.get(code="S001"), Store.objects.get(code="S002")
    assert permissions.may_act_for_store(demo_staff["clerk1"], s001)
    assert not permissions.may_act_for_store(demo_staff["clerk1"], s002)
    assert permissions.may_act_for_store(demo_staff["clerk2"], s002.pk)


def test_inactive_and_anonymous_users_have_no_rights(demo_staff):
    from django.contrib.auth.models import AnonymousUser

    manager = demo_staff["manager1"]
    manager.is_active = False
    manager.save()
    for user in (manager, AnonymousUser()):
        assert not permissions.can_use_counter(user)
        assert not permissions.can_view_reports(user)
        assert not permissions.can_configure(user)


def test_admin_access_follows_the_role(demo_staff):
    assert demo_staff["admin"].is_staff
    assert not demo_staff["manager1"].is_staff and not demo_staff["clerk1"].is_staff
    hq = User.objects.create_user("hq2", password="pw-hq2-long-enough", role=Role.HQ)
    assert hq.is_staff and hq.has_perm("membership.change_store")
    assert not demo_staff["manager1"].has_perm("membership.change_store")


def test_a_session_signed_in_before_the_role_backend_stays_valid_and_reaches_admin(client):
    """Sessions written before RoleBackend name ModelBackend: they must stay signed in, and a
    non-superuser HQ operator must still reach and edit admin's models through the role."""
    hq = User.objects.create_user("hq3", password="pw-hq3-long-enough", role=Role.HQ)
    assert not hq.is_superuser
    client.force_login(hq, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/membership/store/").status_code == 200
    assert client.get("/admin/membership/store/add/").status_code == 200
    assert hq.has_module_perms("campaigns")


def test_clerk_and_manager_are_kept_out_of_admin(signed_in):
    for username in ("clerk1", "manager1"):
        response = signed_in(username).get("/admin/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_hq_operator_reaches_admin_pages(signed_in):
    client = signed_in("admin")
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/membership/store/").status_code == 200
    assert client.get("/admin/django_celery_beat/periodictask/").status_code == 200


def test_store_is_required_below_hq(demo_staff):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("nostore", password="x-long-password", role=Role.CLERK)


def test_role_required_redirects_anonymous_and_forbids_wrong_role(rf, demo_staff):
    from django.contrib.auth.models import AnonymousUser
    from django.core.exceptions import PermissionDenied
    from django.http import HttpResponse

    view = permissions.role_required(permissions.can_view_reports)(lambda request: HttpResponse("ok"))
    request = rf.get("/reports/")
    request.user = AnonymousUser()
    assert view(request).status_code == 302
    request.user = demo_staff["clerk1"]
    with pytest.raises(PermissionDenied):
        view(request)
    request.user = demo_staff["manager1"]
    assert view(request).content == b"ok"
