from django.urls import path

from . import views

urlpatterns = [
    path("reports/contacts/", views.ContactReportView.as_view(), name="report-contacts"),
    path("reports/cases/", views.CaseReportView.as_view(), name="report-cases"),
    path("reports/chi/", views.ChiReportView.as_view(), name="report-chi"),
]
