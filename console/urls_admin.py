"""The administrators' pages of the console (console/views/administration.py)."""

from django.urls import path

from .views import administration as admin

urlpatterns = [
    path("people/", admin.UsersView.as_view(), name="admin-users"),
    path("people/<int:user_id>/", admin.UserView.as_view(), name="admin-user"),
    path(
        "people/<int:user_id>/password-link/",
        admin.UserPasswordLinkView.as_view(),
        name="admin-user-password-link",
    ),
    path(
        "people/<int:user_id>/second-factor/",
        admin.UserSecondFactorView.as_view(),
        name="admin-user-second-factor",
    ),
    path("teams/", admin.TeamsView.as_view(), name="admin-teams"),
    path("teams/<int:team_id>/", admin.TeamView.as_view(), name="admin-team"),
    path("canned-replies/", admin.CannedRepliesView.as_view(), name="admin-canned-replies"),
    path("canned-replies/<int:reply_id>/", admin.CannedReplyView.as_view(), name="admin-canned-reply"),
    path("agencies/", admin.AgenciesView.as_view(), name="admin-agencies"),
    path("agencies/<int:agency_id>/", admin.AgencyView.as_view(), name="admin-agency"),
    path("helplines/", admin.HelplinesView.as_view(), name="admin-helplines"),
    path(
        "helplines/<int:helpline_id>/languages/",
        admin.HelplineLanguagesView.as_view(),
        name="admin-helpline-languages",
    ),
    path("helplines/<int:helpline_id>/chat/", admin.HelplineChatView.as_view(), name="admin-helpline-chat"),
]
