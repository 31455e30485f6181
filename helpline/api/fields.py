"""Input fields shared by the apps' serializers."""

from django.db import models
from django.db.models import QuerySet
from rest_framework import serializers

from helpline.vocabulary import PolicyAction

from .. import policy


class OwnHelplinePrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """An id of a row of the caller's helpline (`helpline_field` names the row's helpline; "pk" for
    helplines themselves). The row is looked up among the caller's helpline's rows only, so another
    helpline's id answers exactly as an id that does not exist (`does_not_exist`): a different answer
    would confirm the id in another tenant. Platform administrators (no helpline) look in all
    helplines; without a request in the serializer's context, nothing is found."""

    def __init__(self, *, model: type[models.Model], helpline_field: str = "helpline", **kwargs):
        self.model, self.helpline_field = model, helpline_field
        # The declared queryset finds nothing: get_queryset scopes it per request; the schema only
        # reads its model.
        super().__init__(queryset=model._default_manager.none(), **kwargs)

    def get_queryset(self) -> QuerySet:
        user = getattr(self.context.get("request"), "user", None)
        rows = self.model._default_manager.all()
        if user is None or not user.is_authenticated:
            return rows.none()
        if user.helpline_id is None:
            return rows if policy.can(user, PolicyAction.HELPLINE_CREATE) else rows.none()
        return rows.filter(**{self.helpline_field: user.helpline_id})
