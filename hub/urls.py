"""URL map of the hub (docs/rest.md)."""

from django.contrib import admin
from django.urls import include, path

from api import api
from webhook.views import webhook

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/whatsapp/webhook/", webhook, name="whatsapp-webhook"),
    path("api/", api.urls),
    path("console/", include("console.urls")),
]
