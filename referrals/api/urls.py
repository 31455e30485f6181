from django.urls import path

from . import views

urlpatterns = [
    path("agencies/", views.AgencyListView.as_view(), name="agency-list"),
    path("agencies/<int:agency_id>/", views.AgencyDetailView.as_view(), name="agency-detail"),
]
