"""The supervisors' oversight pages of the console (console/views/oversight.py)."""

urlpatterns: list = []
