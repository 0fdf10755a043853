"""System checks: the development secrets must never serve with DEBUG off."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

DEV_VALUES = {
    "DJANGO_SECRET_KEY": ("SECRET_KEY", "DEV_SECRET_KEY"),
    "WHATSAPP_APP_SECRET": ("WHATSAPP_APP_SECRET", "DEV_APP_SECRET"),
    "WHATSAPP_VERIFY_TOKEN": ("WHATSAPP_VERIFY_TOKEN", "DEV_VERIFY_TOKEN"),
}


@register()
def check_dev_secrets(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """hub.E001: a development secret is in use while DEBUG is off."""
    if settings.DEBUG:
        return []
    return [
        Error(
            f"{variable} still has its development value while DJANGO_DEBUG is off.",
            hint=f"Set {variable} in the environment to a secret of your own.",
            id="hub.E001",
        )
        for variable, (setting, dev_setting) in DEV_VALUES.items()
        if getattr(settings, setting) == getattr(settings, dev_setting)
    ]
