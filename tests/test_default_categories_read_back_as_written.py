"""Every label of the default category list reads back exactly as written in the YAML file (an
unquoted comma once cut "Child, early or forced marriage" to "Child"), and a helpline created now
gets them so; the migration corrects the label helplines were given before."""

import re

import pytest
import yaml
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from cases.models import Category
from cases.services.categories import DEFAULT_CATEGORIES_FILE

from .factories import HelplineFactory

# `{code: x, label: Y}` (subcategories) and `- code: x` followed by `label: Y` (top level).
FLOW = re.compile(r"code: ([a-z0-9_]+), label: (\"[^\"]*\"|[^}]*)\}")
BLOCK = re.compile(r"^\s*- code: ([a-z0-9_]+)\s*\n\s*label: (.*)$", re.MULTILINE)


def written_labels() -> dict[str, str]:
    """{code: label} as the file's text has them (quotes removed), without a YAML parser."""
    text = DEFAULT_CATEGORIES_FILE.read_text()
    found = FLOW.findall(text) + BLOCK.findall(text)
    return {code: label.strip().strip('"') for code, label in found}


def parsed_labels() -> dict[str, str]:
    data = yaml.safe_load(DEFAULT_CATEGORIES_FILE.read_text())
    labels = {}
    for top in data["categories"]:
        labels[top["code"]] = top["label"]
        for sub in top.get("subcategories") or []:
            labels[sub["code"]] = sub["label"]
    return labels


def test_every_label_parses_as_it_is_written():
    written, parsed = written_labels(), parsed_labels()
    assert len(written) > 30 and written.keys() == parsed.keys()
    assert parsed == written
    assert parsed["child_marriage"] == "Child, early or forced marriage"


@pytest.mark.django_db
def test_a_new_helpline_gets_every_label_whole():
    helpline = HelplineFactory(code="NEW")
    stored = dict(Category.objects.filter(helpline=helpline).values_list("code", "label"))
    assert stored == written_labels()


@pytest.mark.django_db(transaction=True)
def test_the_migration_corrects_the_cut_label_and_only_that():
    helpline = HelplineFactory(code="OLD")
    Category.objects.filter(helpline=helpline, code="child_marriage").update(label="Child")
    Category.objects.filter(helpline=helpline, code="bullying").update(label="Our own word")
    executor = MigrationExecutor(connection)
    executor.migrate([("cases", "0011_escalation_stored_late")])
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    labels = dict(Category.objects.filter(helpline=helpline).values_list("code", "label"))
    assert labels["child_marriage"] == "Child, early or forced marriage"
    assert labels["bullying"] == "Our own word"  # a helpline's own label is left alone
