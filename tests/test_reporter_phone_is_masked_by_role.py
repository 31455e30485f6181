"""Operators see a reporter's phone number masked unless granted the permission to see it."""

from django.contrib.auth.models import Permission


def test_operator_sees_the_last_three_digits_supervisor_sees_all(api, operator, supervisor, walk_in):
    case = walk_in(reporter_phone="+254 712 345 678")
    assert case["reporter_phone"] == "**********678"
    assert api(supervisor).get(f"/api/v1/cases/{case['id']}/").json()["reporter_phone"] == "+254712345678"
    assert api(operator).get(f"/api/v1/cases/{case['id']}/").json()["reporter_phone"] == "**********678"


def test_lists_carry_no_reporter_details(api, operator, supervisor, walk_in):
    walk_in(reporter_phone="+254 712 345 678", reporter_name="Amina")
    for user in (operator, supervisor):
        listed = api(user).get("/api/v1/cases/").json()["results"][0]
        assert "reporter_phone" not in listed and "reporter_name" not in listed
        assert "345" not in str(listed) and "Amina" not in str(listed)


def test_permission_lets_an_operator_see_the_number(api, operator, walk_in):
    case = walk_in(reporter_phone="+254712345678")
    operator.user_permissions.add(Permission.objects.get(codename="view_reporter_phone"))
    assert api(operator).get(f"/api/v1/cases/{case['id']}/").json()["reporter_phone"] == "+254712345678"


def test_no_number_shows_empty(api, operator, walk_in):
    assert walk_in()["reporter_phone"] == ""
