"""Filter fields shared by the selectors."""

import django_filters
from django import forms


class StrictBooleanField(forms.NullBooleanField):
    """true/false (or 1/0); anything else is an error, not silently "no filter"."""

    # The default select widget turns unknown strings into None before validation sees them.
    widget = forms.TextInput

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        normalized = str(value).strip().lower()
        if normalized in ("true", "1"):
            return True
        if normalized in ("false", "0"):
            return False
        raise forms.ValidationError("Must be true or false.", code="invalid")

    def validate(self, value):
        pass


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField
