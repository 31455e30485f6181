from django.urls import path

from . import access, contacts, escalations, links, views

urlpatterns = [
    path("cases/", views.CaseListView.as_view(), name="case-list"),
    path("cases/<int:case_id>/", views.CaseDetailView.as_view(), name="case-detail"),
    path("cases/<int:case_id>/transitions/", views.CaseTransitionView.as_view(), name="case-transitions"),
    path("cases/<int:case_id>/transfer/", views.CaseTransferView.as_view(), name="case-transfer"),
    path("cases/<int:case_id>/notes/", views.CaseNotesView.as_view(), name="case-notes"),
    path("cases/<int:case_id>/history/", views.CaseHistoryView.as_view(), name="case-history"),
    path("cases/<int:case_id>/links/", links.CaseLinksView.as_view(), name="case-links"),
    path("cases/<int:case_id>/merge/", links.CaseMergeView.as_view(), name="case-merge"),
    path("cases/<int:case_id>/access/", access.CaseAccessView.as_view(), name="case-access"),
    path("cases/<int:case_id>/break-glass/", access.CaseBreakGlassView.as_view(), name="case-break-glass"),
    path("case-links/<int:link_id>/", links.CaseLinkDetailView.as_view(), name="case-link-detail"),
    path("break-glass/", access.BreakGlassListView.as_view(), name="break-glass-list"),
    path(
        "break-glass/<int:grant_id>/review/", access.BreakGlassReviewView.as_view(), name="break-glass-review"
    ),
    path("contacts/", contacts.ContactListView.as_view(), name="contact-list"),
    path("contacts/<int:contact_id>/", contacts.ContactDetailView.as_view(), name="contact-detail"),
    path("contacts/<int:contact_id>/attach/", contacts.ContactAttachView.as_view(), name="contact-attach"),
    path("escalations/", escalations.EscalationListView.as_view(), name="escalation-list"),
    path(
        "escalations/<int:escalation_id>/acknowledge/",
        escalations.EscalationAcknowledgeView.as_view(),
        name="escalation-acknowledge",
    ),
    path("categories/", escalations.CategoryListView.as_view(), name="category-list"),
]
