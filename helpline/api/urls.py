from django.urls import path

from . import administration, audit, labels, teams, views

urlpatterns = [
    path("auth/token/", views.TokenLoginView.as_view(), name="auth-token"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/tokens/", views.TokenListView.as_view(), name="auth-token-list"),
    path("auth/tokens/<str:token_id>/", views.TokenDetailView.as_view(), name="auth-token-detail"),
    path("auth/me/", views.MeView.as_view(), name="auth-me"),
    path("auth/security-events/", views.SecurityEventListView.as_view(), name="auth-security-events"),
    path("auth/password/", views.PasswordSetView.as_view(), name="auth-password"),
    path("auth/totp/", views.TotpEnrolView.as_view(), name="auth-totp"),
    path("auth/totp/confirm/", views.TotpConfirmView.as_view(), name="auth-totp-confirm"),
    path("users/", administration.UserListView.as_view(), name="user-list"),
    path("users/<int:user_id>/", administration.UserDetailView.as_view(), name="user-detail"),
    path("users/<int:user_id>/totp/", administration.UserTotpView.as_view(), name="user-totp"),
    path(
        "users/<int:user_id>/password-link/",
        administration.UserPasswordLinkView.as_view(),
        name="user-password-link",
    ),
    path("users/<int:user_id>/activity/", audit.UserActivityView.as_view(), name="user-activity"),
    path("audit/", audit.AuditListView.as_view(), name="audit-list"),
    path("audit/export/", audit.AuditExportView.as_view(), name="audit-export"),
    path("audit/verify/", audit.AuditVerifyView.as_view(), name="audit-verify"),
    path("helplines/", administration.HelplineListView.as_view(), name="helpline-list"),
    path("helplines/<int:helpline_id>/", administration.HelplineDetailView.as_view(), name="helpline-detail"),
    path("teams/", teams.TeamListView.as_view(), name="team-list"),
    path("teams/<int:team_id>/", teams.TeamDetailView.as_view(), name="team-detail"),
    path("vocabularies/", labels.VocabularyListView.as_view(), name="vocabulary-list"),
]
