from django.urls import include, path

from .views import agency, auth, queue, supervision, workspace

app_name = "console"

urlpatterns = [
    path("", auth.HomeView.as_view(), name="home"),
    path("sign-in/", auth.SignInView.as_view(), name="sign-in"),
    path("sign-out/", auth.SignOutView.as_view(), name="sign-out"),
    path("language/", auth.LanguageView.as_view(), name="language"),
    path("account/", auth.AccountView.as_view(), name="account"),
    path("password/", auth.PasswordView.as_view(), name="password"),
    path("queue/", queue.QueueView.as_view(), name="queue"),
    path("queue/rows/", queue.QueueRowsView.as_view(), name="queue-rows"),
    path("chats/", queue.ChatsView.as_view(), name="chats"),
    path("chats/rows/", queue.ChatRowsView.as_view(), name="chat-rows"),
    path("search/", queue.SearchView.as_view(), name="search"),
    path("callbacks/", queue.CallbacksView.as_view(), name="callbacks"),
    path("notifications/", queue.NotificationsView.as_view(), name="notifications"),
    path("cases/<int:case_id>/", workspace.CaseView.as_view(), name="case"),
    path("cases/<int:case_id>/conversation/", workspace.ConversationView.as_view(), name="conversation"),
    path("cases/<int:case_id>/dismiss/", workspace.DismissView.as_view(), name="dismiss"),
    path("cases/<int:case_id>/transition/", workspace.TransitionView.as_view(), name="transition"),
    path("cases/<int:case_id>/details/", workspace.DetailsView.as_view(), name="details"),
    path("cases/<int:case_id>/notes/", workspace.NoteView.as_view(), name="note"),
    path("cases/<int:case_id>/reply/", workspace.ReplyView.as_view(), name="reply"),
    path("cases/<int:case_id>/consent/", workspace.ConsentView.as_view(), name="consent"),
    path("cases/<int:case_id>/refer/", workspace.ReferView.as_view(), name="refer"),
    path("cases/<int:case_id>/contacts/<int:contact_id>/", workspace.ContactView.as_view(), name="contact"),
    path("cases/<int:case_id>/transfer/", workspace.TransferView.as_view(), name="transfer"),
    path("cases/<int:case_id>/links/", workspace.LinkView.as_view(), name="link"),
    path("callbacks/<int:callback_id>/done/", queue.CallbackDoneView.as_view(), name="callback-done"),
    path("notifications/rows/", queue.NotificationRowsView.as_view(), name="notification-rows"),
    path("cases/<int:case_id>/history/", supervision.HistoryView.as_view(), name="history"),
    path("dashboard/", supervision.DashboardView.as_view(), name="dashboard"),
    path("dashboard/figures/", supervision.DashboardFiguresView.as_view(), name="dashboard-figures"),
    path("escalations/", supervision.EscalationsView.as_view(), name="escalations"),
    path(
        "escalations/<int:escalation_id>/acknowledge/",
        supervision.AcknowledgeView.as_view(),
        name="acknowledge",
    ),
    path("referrals/", agency.InboxView.as_view(), name="inbox"),
    path("referrals/<int:referral_id>/", agency.ReferralView.as_view(), name="referral"),
    path("admin/", include("console.urls_admin")),
    path("oversight/", include("console.urls_oversight")),
]
