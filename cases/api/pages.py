"""The cases app's lists, one cursor page at a time."""

from helpline.api.base import APIView


class PaginatedView(APIView):
    """Renders a queryset one cursor page at a time.

    Views read through selectors only; `queryset` is set to an empty one so that anything reaching
    for `get_queryset()` instead fails closed (and the schema generator knows the model)."""

    def paginated(self, queryset, serializer_class, *, on_page=None):
        page = self.paginate_queryset(queryset)
        if on_page is not None:
            on_page(page)
        data = serializer_class(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)
