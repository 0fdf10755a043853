"""The Django project: settings, URLs and ASGI wiring of the hub."""
