from django.urls import path

from . import views, voice_views

urlpatterns = [
    path("callbacks/", voice_views.CallbackListView.as_view(), name="callback-list"),
    path("callbacks/<int:callback_id>/done/", voice_views.CallbackDoneView.as_view(), name="callback-done"),
    path("cases/<int:case_id>/messages/", views.CaseMessagesView.as_view(), name="case-messages"),
]
