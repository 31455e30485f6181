"""Whom a partner-agency user works for is kept by the referrals app (`AgencyMembership`), not by
a column of helpline's users: the users API still takes and shows `agency` as before, the person's
audit entries still record it, and the database still refuses an agency user without an agency,
a staff member with one, or an agency of another helpline (a deferred trigger, checked at commit).
The migrations move existing users' agencies into memberships and back."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from helpline.models import AuditEntry, Role, User
from referrals.models import AgencyMembership

from .factories import AgencyFactory, HelplineFactory, OperatorFactory


def _check_now() -> None:
    """What the commit would check, checked now (the test's transaction never commits)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS agency_user_has_agency IMMEDIATE")


def test_an_agency_user_is_created_moved_and_made_staff_through_the_users_api(api, admin_user):
    client = api(admin_user)
    police = AgencyFactory(helpline=admin_user.helpline, code="police")
    health = AgencyFactory(helpline=admin_user.helpline, code="health")

    created = client.post(
        "/api/v1/users/", {"username": "officer1", "role": "agency", "agency": police.pk}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["agency"] == "police"
    user = User.objects.get(username="officer1")
    assert AgencyMembership.objects.get(user=user).agency == police
    entry = AuditEntry.objects.get(action="user.create", object_id=str(user.pk))
    assert entry.changes["agency"] == {"before": None, "after": police.pk}

    listed = client.get("/api/v1/users/").json()["results"]
    assert {row["username"]: row["agency"] for row in listed}["officer1"] == "police"
    assert {row["username"]: row["agency"] for row in listed}[admin_user.username] is None

    moved = client.patch(f"/api/v1/users/{user.pk}/", {"agency": health.pk}, format="json")
    assert moved.status_code == 200, moved.json()
    assert moved.json()["agency"] == "health"
    assert AgencyMembership.objects.get(user=user).agency == health
    update = AuditEntry.objects.filter(action="user.update", object_id=str(user.pk)).latest("id")
    assert update.changes == {"agency": {"before": police.pk, "after": health.pk}}

    # Staff now: the role alone is refused (they would still work for the agency), with the agency
    # cleared it is taken, and the membership goes.
    refused = client.patch(f"/api/v1/users/{user.pk}/", {"role": "operator"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["attr"] == "agency"
    assert AgencyMembership.objects.get(user=user).agency == health
    staff = client.patch(f"/api/v1/users/{user.pk}/", {"role": "operator", "agency": None}, format="json")
    assert staff.status_code == 200, staff.json()
    assert staff.json()["agency"] is None
    assert not AgencyMembership.objects.filter(user=user).exists()
    update = AuditEntry.objects.filter(action="user.update", object_id=str(user.pk)).latest("id")
    assert update.changes["agency"] == {"before": health.pk, "after": None}
    assert update.changes["role"] == {"before": "agency", "after": "operator"}


def test_staff_cannot_be_given_an_agency(api, admin_user, operator):
    police = AgencyFactory(helpline=admin_user.helpline)
    response = api(admin_user).patch(f"/api/v1/users/{operator.pk}/", {"agency": police.pk}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "agency"
    assert not AgencyMembership.objects.filter(user=operator).exists()


def test_the_database_refuses_an_agency_user_without_an_agency(helpline):
    with pytest.raises(IntegrityError, match="works for no agency"), transaction.atomic():
        User.objects.create(username="loose", role=Role.AGENCY, helpline=helpline)
        _check_now()


def test_the_database_refuses_an_agency_for_staff(helpline):
    operator = OperatorFactory(helpline=helpline)
    with pytest.raises(IntegrityError, match="without the agency role"), transaction.atomic():
        AgencyMembership.objects.create(user=operator, agency=AgencyFactory(helpline=helpline))
        _check_now()


def test_the_database_refuses_an_agency_of_another_helpline(agency_user):
    elsewhere = AgencyFactory(helpline=HelplineFactory(code="ELSE"))
    with pytest.raises(IntegrityError, match="another helpline"), transaction.atomic():
        AgencyMembership.objects.filter(user=agency_user).update(agency=elsewhere)
        _check_now()


def test_the_database_refuses_taking_the_agency_from_an_agency_user(agency_user):
    with pytest.raises(IntegrityError, match="works for no agency"), transaction.atomic():
        AgencyMembership.objects.filter(user=agency_user).delete()
        _check_now()


def test_the_database_refuses_a_role_change_that_leaves_an_agency(agency_user):
    with pytest.raises(IntegrityError, match="without the agency role"), transaction.atomic():
        User.objects.filter(pk=agency_user.pk).update(role=Role.OPERATOR)
        _check_now()


@pytest.mark.migration_history
@pytest.mark.django_db(transaction=True)
def test_the_migrations_move_agencies_into_memberships_and_back():
    helpline = HelplineFactory(code="MIG")
    police = AgencyFactory(helpline=helpline, code="police")
    executor = MigrationExecutor(connection)
    before = [("helpline", "0006_set_password_links"), ("referrals", "0006_agency_webhook_changes")]
    try:
        executor.migrate(before)
        with connection.cursor() as cursor:
            # As the release before stored them: the agency in a column of the user.
            cursor.execute(
                "INSERT INTO helpline_user (password, is_superuser, username, first_name, last_name,"
                " email, is_staff, is_active, date_joined, role, helpline_id, agency_id)"
                " VALUES ('!', false, 'officer1', '', '', '', false, true, now(), 'agency', %s, %s)"
                " RETURNING id",
                [helpline.pk, police.pk],
            )
            (officer,) = cursor.fetchone()
            cursor.execute(
                "INSERT INTO helpline_user (password, is_superuser, username, first_name, last_name,"
                " email, is_staff, is_active, date_joined, role, helpline_id)"
                " VALUES ('!', false, 'operator1', '', '', '', false, true, now(), 'operator', %s)",
                [helpline.pk],
            )
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
        assert list(AgencyMembership.objects.values_list("user_id", "agency_id")) == [(officer, police.pk)]

        executor = MigrationExecutor(connection)
        executor.migrate(before)
        with connection.cursor() as cursor:
            cursor.execute("SELECT username, agency_id FROM helpline_user ORDER BY username")
            assert cursor.fetchall() == [("officer1", police.pk), ("operator1", None)]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert User.objects.get(username="officer1").agency_membership.agency == police
