"""The supervisors' oversight pages of the console (console/views/oversight.py)."""

from django.urls import path

from .views import oversight

urlpatterns = [
    path("audit/", oversight.AuditView.as_view(), name="oversight-audit"),
    path("audit/export/", oversight.AuditExportView.as_view(), name="oversight-audit-export"),
    path("audit/verify/", oversight.AuditVerifyView.as_view(), name="oversight-audit-verify"),
    path("break-glass/", oversight.BreakGlassView.as_view(), name="oversight-break-glass"),
    path(
        "break-glass/<int:grant_id>/review/",
        oversight.BreakGlassReviewView.as_view(),
        name="oversight-break-glass-review",
    ),
    path("restricted/", oversight.RestrictedView.as_view(), name="oversight-restricted"),
    path("cases/<int:case_id>/access/", oversight.CaseAccessView.as_view(), name="oversight-case-access"),
    path("workload/", oversight.WorkloadView.as_view(), name="oversight-workload"),
    path("webhooks/", oversight.WebhookChangesView.as_view(), name="oversight-webhooks"),
    path(
        "agencies/<int:agency_id>/webhook/approve/",
        oversight.WebhookApproveView.as_view(),
        name="oversight-webhook-approve",
    ),
]
