from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DRFJSONParser

from .contract import refuse_unknown_fields


class JSONParser(DRFJSONParser):
    """DRF's JSON parser, also refusing absurdly nested documents with a 400 instead of crashing
    (the standard library raises RecursionError, which DRF does not catch), and a body with fields
    its operation's schema does not declare (helpline.api.contract), whichever view reads it."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON parse error - the document is nested too deeply.")) from None
        except ParseError as error:
            # DRF's own sentence is not translated; the parser's reason after it stays as written.
            reason = str(error.detail).removeprefix("JSON parse error - ")
            raise ParseError(_("JSON parse error - %(reason)s") % {"reason": reason}) from None
        context = parser_context or {}
        request = context.get("request")
        if request is not None:
            refuse_unknown_fields(context.get("view"), request.method, data)
        return data
