"""URLs of the agent console, mounted at /console/."""

from __future__ import annotations

from django.urls import path

from console import views

app_name = "console"

urlpatterns = [
    path("", views.console_page, name="index"),
    path("assets/<str:name>", views.asset, name="asset"),
]
