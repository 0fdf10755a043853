"""URL map of the hub (docs/rest.md)."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from api import api
from webhook.views import webhook

urlpatterns = [
    # The site root is the console (which sends anonymous visitors to the login page first).
    path("", RedirectView.as_view(pattern_name="console:index"), name="home"),
    path("admin/", admin.site.urls),
    path("api/whatsapp/webhook/", webhook, name="whatsapp-webhook"),
    path("api/", api.urls),
    path("console/", include("console.urls")),
]
