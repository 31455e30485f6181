from django.urls import path

from . import views

urlpatterns = [
    path("agencies/", views.AgencyListView.as_view(), name="agency-list"),
    path("agencies/<int:agency_id>/", views.AgencyDetailView.as_view(), name="agency-detail"),
    path(
        "agencies/<int:agency_id>/webhook/approve/",
        views.AgencyWebhookApproveView.as_view(),
        name="agency-webhook-approve",
    ),
    path("cases/<int:case_id>/consent/", views.CaseConsentView.as_view(), name="case-consent"),
    path("cases/<int:case_id>/referrals/", views.CaseReferralsView.as_view(), name="case-referrals"),
    path("referrals/", views.ReferralListView.as_view(), name="referral-list"),
    path("referrals/<int:referral_id>/", views.ReferralDetailView.as_view(), name="referral-detail"),
    path("referrals/<int:referral_id>/accept/", views.ReferralAcceptView.as_view(), name="referral-accept"),
    path("referrals/<int:referral_id>/reject/", views.ReferralRejectView.as_view(), name="referral-reject"),
    path(
        "referrals/<int:referral_id>/complete/",
        views.ReferralCompleteView.as_view(),
        name="referral-complete",
    ),
    path(
        "referrals/<int:referral_id>/withdraw/",
        views.ReferralWithdrawView.as_view(),
        name="referral-withdraw",
    ),
    path(
        "referrals/<int:referral_id>/approve/", views.ReferralApproveView.as_view(), name="referral-approve"
    ),
    path("referrals/<int:referral_id>/resend/", views.ReferralResendView.as_view(), name="referral-resend"),
    path(
        "referrals/<int:referral_id>/updates/", views.ReferralUpdatesView.as_view(), name="referral-updates"
    ),
    path(
        "referrals/<int:referral_id>/deliveries/",
        views.ReferralDeliveriesView.as_view(),
        name="referral-deliveries",
    ),
]
