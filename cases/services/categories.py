"""Contact categories: the default list a helpline starts with, and the check of a case's codes."""

from pathlib import Path

import yaml
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from helpline.models import Helpline

from ..models import Category

DEFAULT_CATEGORIES_FILE = Path(__file__).parent.parent / "data" / "contact-categories.yaml"


def category_defaults_install(*, helpline: Helpline) -> int:
    """Loads the default category list into a helpline (idempotent); returns how many were added."""
    data = yaml.safe_load(DEFAULT_CATEGORIES_FILE.read_text())
    rows, order = [], 0
    for top in data["categories"]:
        order += 1
        rows.append(Category(helpline=helpline, code=top["code"], label=top["label"], sort_order=order))
        for sub in top.get("subcategories") or []:
            order += 1
            rows.append(
                Category(
                    helpline=helpline,
                    code=sub["code"],
                    label=sub["label"],
                    parent_code=top["code"],
                    sort_order=order,
                )
            )
    created = Category.objects.bulk_create(rows, ignore_conflicts=True)
    return len([c for c in created if c.pk])


def validate_categories(helpline_id: int, codes: list[str]) -> None:
    known = set(
        Category.objects.filter(helpline_id=helpline_id, code__in=codes, is_hidden=False).values_list(
            "code", flat=True
        )
    )
    unknown = sorted(set(codes) - known)
    if unknown:
        raise ValidationError(
            {
                "categories": _("Unknown categories for this helpline: %(codes)s.")
                % {"codes": ", ".join(unknown)}
            }
        )
