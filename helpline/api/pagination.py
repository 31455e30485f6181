from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import BooleanField, F, Func, OrderBy, Q, Value
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import CursorPagination
from rest_framework.utils.urls import remove_query_param, replace_query_param


class Pagination(CursorPagination):
    """Cursor pagination on every list: stable under inserts, cheap on deep pages of a national queue.
    DRF's cursor positions on the order's first column (plus an offset among equal values), which
    suits the lists ordered by a unique-enough column (an id, a time); lists ordered by columns
    with many equal values (the case queue by risk) use KeysetPagination below."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-id"

    def get_page_size(self, request):
        # DRF reads a page_size that is no positive whole number as "the default": refuse it, as every
        # other bad query parameter is refused, rather than answer a page of another size than asked.
        raw = request.query_params.get(self.page_size_query_param)
        if not raw:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError({self.page_size_query_param: _("A whole number of at least 1.")})
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = (
                    f"Results per page (default {self.page_size}; more than {self.max_page_size} "
                    f"reads {self.max_page_size})."
                )
        return parameters


class OldestFirstPagination(Pagination):
    """For timelines (a case's history), read in the order things happened."""

    ordering = "id"


# --- keyset cursors over a whole sort order ---------------------------------------------------------


@dataclass(frozen=True)
class SortKey:
    """One column of a sort order: a concrete, non-null field of the listed model."""

    field: str
    descending: bool = False

    @classmethod
    def parse(cls, term: str) -> SortKey:
        return cls(term.lstrip("-"), term.startswith("-"))

    def reversed(self) -> SortKey:
        return SortKey(self.field, not self.descending)

    def expression(self) -> OrderBy:
        return F(self.field).desc() if self.descending else F(self.field).asc()


class KeysetOrderingFilter(OrderingFilter):
    """`?ordering=` over named orders: the view's `ordering_keys` maps each accepted term to the sort
    columns it stands for (`"urgency": ("risk_rank", "next_action_due_sort", "created_at")`, a `-`
    on a column for descending); `-term` is the exact reverse. The id ends every order (in the
    direction of the column before it) so that the order is total and a keyset cursor
    (KeysetPagination) has one place for every row. The terms are the view's `ordering_fields`,
    which the schema's enum and the contract's check (helpline.api.contract) read."""

    def get_valid_fields(self, queryset, view, context=None):
        return [(term, term) for term in getattr(view, "ordering_keys", {})]

    def get_keys(self, request, queryset, view) -> tuple[tuple[str, ...], list[SortKey]]:
        """(the terms, the sort columns they make)."""
        terms = tuple(self.get_ordering(request, queryset, view) or ())
        return terms, sort_keys(view.ordering_keys, terms)

    def filter_queryset(self, request, queryset, view):
        _, keys = self.get_keys(request, queryset, view)
        return queryset.order_by(*(key.expression() for key in keys))


def sort_keys(ordering_keys: Mapping[str, Sequence[str]], terms: Sequence[str]) -> list[SortKey]:
    keys: list[SortKey] = []
    for term in terms:
        descending = term.startswith("-")
        for column in ordering_keys[term.lstrip("-")]:
            key = SortKey.parse(column)
            key = key.reversed() if descending else key
            if key.field not in {k.field for k in keys}:
                keys.append(key)
    if "id" not in {k.field for k in keys}:
        keys.append(SortKey("id", keys[-1].descending if keys else False))
    return keys


class _RowComparison(Func):
    """`(a, b, c) > (x, y, z)`: PostgreSQL compares rows column by column, and a B-tree index on
    the same columns (after its equality columns) starts its scan at that row."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, columns: Sequence[F], values: Sequence[Value], operator: str):
        self.operator = operator
        super().__init__(*columns, *values)

    def as_sql(self, compiler, connection, **extra_context):
        parts, params = [], []
        for expression in self.get_source_expressions():
            sql, expression_params = compiler.compile(expression)
            parts.append(sql)
            params.extend(expression_params)
        half = len(parts) // 2
        return f"({', '.join(parts[:half])}) {self.operator} ({', '.join(parts[half:])})", params


@dataclass(frozen=True)
class _Cursor:
    terms: tuple[str, ...]  # the order it was given out for
    values: tuple[Any, ...]  # the sort columns' values of the row it stands at
    backwards: bool = False  # the page before that row (a previous link)
    inclusive: bool = False  # the row itself included (after its page emptied)


class KeysetPagination(Pagination):
    """Keyset ("seek") cursors over the whole sort order, not only its first column as DRF's
    CursorPagination does: a page is `WHERE (sort columns) > (the last row's) ORDER BY ... LIMIT`,
    so an order with many equal leading values (a risk level) still pages without gaps, repeats or
    growing offsets, stays stable under inserts, and walks an index on the same columns a page at
    a time. The order comes from the view's KeysetOrderingFilter (or this class's `ordering`);
    every sort column must be a non-null field (a nullable one is sorted through a generated
    column with a sentinel, as `cases.Case.next_action_due_sort`). Cursors are opaque: base64 of
    the order's terms and the boundary row's values; one that does not decode, or was given out
    for another order, answers 404 as DRF's do. The answer is DRF's: `next`, `previous`,
    `results`."""

    def paginate_queryset(self, queryset, request, view=None):
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.terms, self.keys = self._order(request, queryset, view)
        fields = [_field(queryset.model, key.field) for key in self.keys]
        cursor = self._decode(request, fields)
        keys = [key.reversed() for key in self.keys] if cursor and cursor.backwards else self.keys
        queryset = queryset.order_by(*(key.expression() for key in keys))
        if cursor is not None:
            queryset = queryset.filter(_after(keys, fields, cursor.values, inclusive=cursor.inclusive))
        rows = list(queryset[: self.page_size + 1])
        more = len(rows) > self.page_size
        self.page = rows[: self.page_size]
        if cursor is not None and cursor.backwards:
            self.page.reverse()
            self.has_previous, self.has_next = more, True
        else:
            self.has_previous, self.has_next = cursor is not None, more
        self.cursor = cursor
        return self.page

    def _order(self, request, queryset, view) -> tuple[tuple[str, ...], list[SortKey]]:
        for backend in getattr(view, "filter_backends", ()):
            if isinstance(backend, type) and issubclass(backend, KeysetOrderingFilter):
                return backend().get_keys(request, queryset, view)
        terms = (self.ordering,) if isinstance(self.ordering, str) else tuple(self.ordering)
        return terms, sort_keys({term.lstrip("-"): (term.lstrip("-"),) for term in terms}, terms)

    def get_next_link(self):
        if not self.has_next:
            return None
        if not self.page:  # came backwards and found nothing before: the first page is what follows
            return remove_query_param(self.base_url, self.cursor_query_param)
        return self._link(_Cursor(self.terms, self._values(self.page[-1])))

    def get_previous_link(self):
        if not self.has_previous:
            return None
        if not self.page:  # the rows after the cursor went: the page before it, its row included
            if self.cursor is None:  # the first page has nothing before it
                return None
            return self._link(_Cursor(self.terms, self.cursor.values, backwards=True, inclusive=True))
        return self._link(_Cursor(self.terms, self._values(self.page[0]), backwards=True))

    def _values(self, row) -> tuple[Any, ...]:
        return tuple(getattr(row, _field(type(row), key.field).attname) for key in self.keys)

    def _link(self, cursor: _Cursor) -> str:
        values = [value.isoformat() if isinstance(value, datetime) else value for value in cursor.values]
        payload = [list(cursor.terms), values, int(cursor.backwards), int(cursor.inclusive)]
        token = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
        return replace_query_param(self.base_url, self.cursor_query_param, token.rstrip("="))

    def _decode(self, request, fields: list[models.Field]) -> _Cursor | None:
        token = request.query_params.get(self.cursor_query_param)
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            terms, values, backwards, inclusive = json.loads(raw)
            if tuple(terms) != self.terms or len(values) != len(fields):
                raise ValueError("a cursor of another order")
            if isinstance(backwards, bool) or isinstance(inclusive, bool) or {backwards, inclusive} - {0, 1}:
                raise ValueError("not a cursor")
            parsed = tuple(_parse(field, value) for field, value in zip(fields, values, strict=True))
        # RecursionError: JSON nested deeper than the parser goes (a forged cursor of a few KB).
        except (ValueError, TypeError, DjangoValidationError, OverflowError, RecursionError):
            raise NotFound(self.invalid_cursor_message) from None
        return _Cursor(tuple(terms), parsed, bool(backwards), bool(inclusive))


def _field(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    if not getattr(field, "concrete", False) or field.null:
        raise ImproperlyConfigured(
            f"{model.__name__}.{name} cannot be a keyset column (not a non-null column)."
        )
    return field


def _parse(field: models.Field, value: Any) -> Any:
    kind = field.output_field if isinstance(field, models.GeneratedField) else field
    if isinstance(kind, models.DateTimeField):
        if not isinstance(value, str):
            raise ValueError("not a date-time")
        parsed = parse_datetime(value)
        if parsed is None or parsed.tzinfo is None:
            raise ValueError("not an aware date-time")
        return parsed
    if isinstance(kind, models.IntegerField | models.AutoField | models.ForeignKey):
        if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
            raise ValueError("not a whole number")
        return value
    if not isinstance(value, str):
        raise ValueError("not a text")
    return kind.to_python(value)


def _after(keys: list[SortKey], fields: list[models.Field], values: Sequence[Any], *, inclusive: bool) -> Q:
    """Rows after `values` in the order of `keys`: one row comparison when every column runs the same
    way (an index range), else the lexicographic OR of column comparisons."""
    typed = [
        Value(value, output_field=field.output_field if isinstance(field, models.GeneratedField) else field)
        for field, value in zip(fields, values, strict=True)
    ]
    if len({key.descending for key in keys}) == 1:
        operator = ("<" if keys[0].descending else ">") + ("=" if inclusive else "")
        return Q(_RowComparison([F(key.field) for key in keys], typed, operator))
    after = Q(pk__in=[])
    for i, key in enumerate(keys):
        equal = Q(**{keys[j].field: values[j] for j in range(i)})
        after |= equal & Q(**{f"{key.field}__{'lt' if key.descending else 'gt'}": values[i]})
    if inclusive:
        after |= Q(**{key.field: value for key, value in zip(keys, values, strict=True)})
    return after
