"""`manage.py reindex_search` fills the search index of cases written without one (rows older than
the index) and re-keys it after IDENTIFIER_HASH_KEY changes; anonymised cases stay unfindable;
each batch that wrote is on record in the audit log."""

from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from cases.models import Case
from helpline.audit import verify_chain
from helpline.models import AuditEntry
from tests import factories


def refs(client, q):
    response = client.get("/api/v1/cases/", {"q": q})
    assert response.status_code == 200, response.json()
    return {case["reference"] for case in response.json()["results"]}


def reindex(**options) -> str:
    out = StringIO()
    call_command("reindex_search", stdout=out, **options)
    return out.getvalue()


def test_cases_without_an_index_are_found_once_reindexed(api, supervisor, helpline, team):
    old = [
        factories.CaseFactory(helpline=helpline, team=team, child_first_name=name, reporter_phone=phone)
        for name, phone in (("Kamau", "+254712345678"), ("Njeri", ""), ("Otieno", ""))
    ]
    gone = factories.CaseFactory(
        helpline=helpline, team=team, child_first_name="", anonymised_at=timezone.now(), search_tokens=[1, 2]
    )
    client = api(supervisor)
    assert refs(client, "Kamau") == set()

    assert reindex(batch_size=2) == "done: 4 cases re-indexed, 0 unchanged\n"
    assert refs(client, "Kamau") == {old[0].reference}
    assert refs(client, "0712 345 678") == {old[0].reference}
    assert refs(client, old[2].reference) == {old[2].reference}
    assert Case.objects.get(pk=gone.pk).search_tokens == []

    batches = AuditEntry.objects.filter(action="case.search_reindex.batch").order_by("id")
    assert [entry.extra["reindexed"] for entry in batches] == [2, 2]
    assert verify_chain(helpline.pk).ok

    # A second run writes nothing.
    assert reindex() == "done: 0 cases re-indexed, 4 unchanged\n"
    assert batches.count() == 2


def test_a_new_hash_key_needs_a_reindex(api, supervisor, walk_in, settings):
    case = walk_in(child_first_name="Wambui")
    settings.IDENTIFIER_HASH_KEY = "another-identifier-hash-key-of-enough-length"
    client = api(supervisor)
    assert refs(client, "Wambui") == set()  # the stored index is under the old key
    reindex()
    assert refs(client, "Wambui") == {case["reference"]}
