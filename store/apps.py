"""The store app keeps the original `whatsapp` label: table names and admin URLs stay as they were."""

from django.apps import AppConfig


class StoreConfig(AppConfig):
    name = "store"
    label = "whatsapp"
    verbose_name = "WhatsApp"
    default_auto_field = "django.db.models.BigAutoField"
