from rest_framework.pagination import CursorPagination


class Pagination(CursorPagination):
    """Cursor pagination everywhere: stable under inserts, cheap on deep pages of a national queue."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-id"


class OldestFirstPagination(Pagination):
    """For timelines (a case's history), read in the order things happened."""

    ordering = "id"
