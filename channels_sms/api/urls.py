from django.urls import path

from . import canned_reply_views, chat_views, contacter_views, number_views, views, voice_views

urlpatterns = [
    path("callbacks/", voice_views.CallbackListView.as_view(), name="callback-list"),
    path("callbacks/<int:callback_id>/done/", voice_views.CallbackDoneView.as_view(), name="callback-done"),
    path("canned-replies/", canned_reply_views.CannedReplyListView.as_view(), name="canned-reply-list"),
    path(
        "canned-replies/<int:reply_id>/",
        canned_reply_views.CannedReplyDetailView.as_view(),
        name="canned-reply-detail",
    ),
    path("chat/sessions/", chat_views.ChatSessionCreateView.as_view(), name="chat-sessions"),
    path(
        "chat/sessions/<str:session_id>/messages/",
        chat_views.ChatMessagesView.as_view(),
        name="chat-session-messages",
    ),
    path(
        "chat/sessions/<str:session_id>/end/",
        chat_views.ChatSessionEndView.as_view(),
        name="chat-session-end",
    ),
    path("phone-numbers/", number_views.PhoneNumberListView.as_view(), name="phone-number-list"),
    path(
        "phone-numbers/<int:phone_number_id>/",
        number_views.PhoneNumberDetailView.as_view(),
        name="phone-number-detail",
    ),
    path("voice-routes/", number_views.VoiceRouteListView.as_view(), name="voice-route-list"),
    path(
        "voice-routes/<int:voice_route_id>/",
        number_views.VoiceRouteDetailView.as_view(),
        name="voice-route-detail",
    ),
    path("cases/<int:case_id>/messages/", views.CaseMessagesView.as_view(), name="case-messages"),
    path(
        "contacters/<str:identifier_hash>/",
        contacter_views.ContacterProfileView.as_view(),
        name="contacter-profile",
    ),
    path(
        "contacters/<str:identifier_hash>/flag/",
        contacter_views.ContacterFlagView.as_view(),
        name="contacter-flag",
    ),
]
