from django.urls import path

from . import links, views

urlpatterns = [
    path("cases/", views.CaseListView.as_view(), name="case-list"),
    path("cases/<int:case_id>/", views.CaseDetailView.as_view(), name="case-detail"),
    path("cases/<int:case_id>/transitions/", views.CaseTransitionView.as_view(), name="case-transitions"),
    path("cases/<int:case_id>/transfer/", views.CaseTransferView.as_view(), name="case-transfer"),
    path("cases/<int:case_id>/notes/", views.CaseNotesView.as_view(), name="case-notes"),
    path("cases/<int:case_id>/history/", views.CaseHistoryView.as_view(), name="case-history"),
    path("cases/<int:case_id>/links/", links.CaseLinksView.as_view(), name="case-links"),
    path("cases/<int:case_id>/merge/", links.CaseMergeView.as_view(), name="case-merge"),
    path("cases/<int:case_id>/access/", views.CaseAccessView.as_view(), name="case-access"),
    path("cases/<int:case_id>/break-glass/", views.CaseBreakGlassView.as_view(), name="case-break-glass"),
    path("case-links/<int:link_id>/", links.CaseLinkDetailView.as_view(), name="case-link-detail"),
    path("break-glass/", views.BreakGlassListView.as_view(), name="break-glass-list"),
    path(
        "break-glass/<int:grant_id>/review/", views.BreakGlassReviewView.as_view(), name="break-glass-review"
    ),
    path("contacts/", views.ContactListView.as_view(), name="contact-list"),
    path("contacts/<int:contact_id>/", views.ContactDetailView.as_view(), name="contact-detail"),
    path("contacts/<int:contact_id>/attach/", views.ContactAttachView.as_view(), name="contact-attach"),
    path("escalations/", views.EscalationListView.as_view(), name="escalation-list"),
    path(
        "escalations/<int:escalation_id>/acknowledge/",
        views.EscalationAcknowledgeView.as_view(),
        name="escalation-acknowledge",
    ),
    path("categories/", views.CategoryListView.as_view(), name="category-list"),
]
