from rest_framework.generics import GenericAPIView

from .contract import refuse_undeclared_query


class APIView(GenericAPIView):
    """The base of every view of the API: after authentication, permissions and throttles, it
    refuses (400) any query parameter, ordering value or body field the operation's schema does not
    declare (helpline.api.contract), before the view looks anything up or writes anything. A typo
    (`{"risk": "high"}` for `risk_level`, `?search=`) is then never an answer that ignored it."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        refuse_undeclared_query(self, request)
        if request.stream is not None and hasattr(self, request.method.lower()):
            # Parsed now, not when the view reads it: the JSON parser names the body's unknown
            # fields (also of an operation that takes no body, which would never read it). A method
            # the view does not have answers 405 whatever the body.
            request.data  # noqa: B018
