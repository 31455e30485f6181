"""The administrators' pages of the console (console/views/administration.py: people and teams;
configuration.py: canned replies, agencies, languages and web chat; numbers.py: numbers and voice
routes; on_call.py: the on-call rota)."""

from django.urls import path

from .views import administration as admin
from .views import configuration, numbers, on_call

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
    path("canned-replies/", configuration.CannedRepliesView.as_view(), name="admin-canned-replies"),
    path(
        "canned-replies/<int:reply_id>/",
        configuration.CannedReplyView.as_view(),
        name="admin-canned-reply",
    ),
    path("agencies/", configuration.AgenciesView.as_view(), name="admin-agencies"),
    path("agencies/<int:agency_id>/", configuration.AgencyView.as_view(), name="admin-agency"),
    path("helplines/", configuration.HelplinesView.as_view(), name="admin-helplines"),
    path(
        "helplines/<int:helpline_id>/languages/",
        configuration.HelplineLanguagesView.as_view(),
        name="admin-helpline-languages",
    ),
    path(
        "helplines/<int:helpline_id>/chat/",
        configuration.HelplineChatView.as_view(),
        name="admin-helpline-chat",
    ),
    path("numbers/", numbers.NumbersView.as_view(), name="admin-numbers"),
    path("numbers/<int:number_id>/", numbers.NumberView.as_view(), name="admin-number"),
    path(
        "numbers/<int:number_id>/remove/",
        numbers.NumberRemoveView.as_view(),
        name="admin-number-remove",
    ),
    path("voice-routes/", numbers.VoiceRoutesView.as_view(), name="admin-voice-routes"),
    path(
        "voice-routes/<int:voice_route_id>/",
        numbers.VoiceRouteView.as_view(),
        name="admin-voice-route",
    ),
    path(
        "voice-routes/<int:voice_route_id>/remove/",
        numbers.VoiceRouteRemoveView.as_view(),
        name="admin-voice-route-remove",
    ),
    path("on-call/", on_call.OnCallView.as_view(), name="admin-on-call"),
]
