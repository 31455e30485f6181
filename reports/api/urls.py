from django.urls import path

from . import exports, views

urlpatterns = [
    path("reports/contacts/", views.ContactReportView.as_view(), name="report-contacts"),
    path("reports/cases/", views.CaseReportView.as_view(), name="report-cases"),
    path("reports/chi/", views.ChiReportView.as_view(), name="report-chi"),
    path("exports/", exports.ExportListView.as_view(), name="export-list"),
    path("exports/dictionary/", exports.ExportDictionaryView.as_view(), name="export-dictionary"),
    path("exports/<int:export_id>/", exports.ExportDetailView.as_view(), name="export-detail"),
    path("exports/<int:export_id>/file/", exports.ExportFileView.as_view(), name="export-file"),
    path("exports/<int:export_id>/review/", exports.ExportReviewView.as_view(), name="export-review"),
]
