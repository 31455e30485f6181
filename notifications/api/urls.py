from django.urls import path

from . import views

urlpatterns = [
    path("notifications/", views.NotificationListView.as_view(), name="notification-list"),
    path("notifications/unread-count/", views.UnreadCountView.as_view(), name="notification-unread-count"),
    path("notifications/read-all/", views.NotificationReadAllView.as_view(), name="notification-read-all"),
    path("notifications/stream/", views.NotificationStreamView.as_view(), name="notification-stream"),
    path("notifications/preferences/", views.PreferencesView.as_view(), name="notification-preferences"),
    path(
        "notifications/requirements/",
        views.RequirementsView.as_view(),
        name="notification-requirements",
    ),
    path("notifications/on-call/", views.OnCallView.as_view(), name="notification-on-call"),
    path(
        "notifications/<int:notification_id>/read/",
        views.NotificationReadView.as_view(),
        name="notification-read",
    ),
]
