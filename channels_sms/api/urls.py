from django.urls import path

from . import views

urlpatterns = [
    path("cases/<int:case_id>/messages/", views.CaseMessagesView.as_view(), name="case-messages"),
]
