"""The administrators' pages of the console (console/views/administration.py)."""

urlpatterns: list = []
