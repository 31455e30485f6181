from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination


class Pagination(CursorPagination):
    """Cursor pagination everywhere: stable under inserts, cheap on deep pages of a national queue."""

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
            raise ValidationError({self.page_size_query_param: "A whole number of at least 1."})
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
