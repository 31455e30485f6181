from django import forms
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from ..filters import StrictBooleanField


def optional_bool(request: Request, name: str) -> bool | None:
    """A true/false query parameter; absent means "either"; anything else answers 400."""
    try:
        return StrictBooleanField(required=False).clean(request.query_params.get(name))
    except forms.ValidationError:
        raise ValidationError({name: _("Must be true or false.")}) from None
