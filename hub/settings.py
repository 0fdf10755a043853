"""Settings read from the environment (README, "Configuration"); none set means the embedded demo."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url

from hub.env import env_bool, env_float, env_host_ports, env_int, env_list, env_optional, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
HUB_DATA_DIR = Path(env_str("HUB_DATA_DIR", str(BASE_DIR / "var"))).resolve()

# Development values: refused by the `hub.E001` system check whenever DEBUG is off.
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"
DEV_APP_SECRET = "dev-app-secret"
DEV_VERIFY_TOKEN = "dev-verify-token"

DATABASE_URL = env_optional("DATABASE_URL")
EMBEDDED = DATABASE_URL is None
DEBUG = env_bool("DJANGO_DEBUG", default=EMBEDDED)

SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

WHATSAPP_APP_SECRET = env_str("WHATSAPP_APP_SECRET", DEV_APP_SECRET)
WHATSAPP_VERIFY_TOKEN = env_str("WHATSAPP_VERIFY_TOKEN", DEV_VERIFY_TOKEN)
WHATSAPP_ACCESS_TOKEN = env_optional("WHATSAPP_ACCESS_TOKEN")
WHATSAPP_PHONE_NUMBER_ID = env_optional("WHATSAPP_PHONE_NUMBER_ID")
WHATSAPP_GRAPH_URL = env_str("WHATSAPP_GRAPH_URL", "https://graph.facebook.com").rstrip("/")
WHATSAPP_API_VERSION = env_str("WHATSAPP_API_VERSION", "v24.0")
# The WhatsApp Business Account whose templates `manage.py sync_templates` fetches (docs/team-inbox.md).
WHATSAPP_BUSINESS_ACCOUNT_ID = env_optional("WHATSAPP_BUSINESS_ACCOUNT_ID")

# Meta batches up to 3 MB per POST; anything over this is refused with 413 before it is read.
WEBHOOK_MAX_BODY_BYTES = env_int("HUB_WEBHOOK_MAX_BODY_BYTES", 4 * 1024 * 1024)
# Verified webhook POSTs one process holds waiting for their transaction; past either bound it answers
# 503 with Retry-After (Meta redelivers).
HUB_WEBHOOK_QUEUE_MAX = env_int("HUB_WEBHOOK_QUEUE_MAX", 512)
HUB_WEBHOOK_QUEUE_MAX_BYTES = env_int("HUB_WEBHOOK_QUEUE_MAX_BYTES", 64 * 1024 * 1024)
# Other requests (REST) keep a modest limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

HUB_WORKER = env_str("HUB_WORKER", "inprocess")
# On SIGTERM: seconds answering /api/ready/ with 503 before closing sockets, then at most this long
# for requests in flight (hub/lifecycle.py).
HUB_DRAIN_SECONDS = env_float("HUB_DRAIN_SECONDS", 3.0)
HUB_SHUTDOWN_GRACE_SECONDS = env_float("HUB_SHUTDOWN_GRACE_SECONDS", 20.0)
# How long an agent stays "viewing" or "typing" after its last refresh (docs/team-inbox.md).
HUB_PRESENCE_TTL_SECONDS = env_float("HUB_PRESENCE_TTL_SECONDS", 30.0)
# `round_robin`: a new or reopened conversation goes to the online agent with the fewest open ones.
HUB_AUTO_ASSIGN = env_str("HUB_AUTO_ASSIGN", "").strip().lower()
# How often each process re-checks the credentials of its live sockets (realtime/credentials.py): a
# revoked or expired token, a deactivated user or an ended session closes its sockets within this.
HUB_SOCKET_RECHECK_SECONDS = env_float("HUB_SOCKET_RECHECK_SECONDS", 15.0)
# Auto-replies (outbound/autoreply.py); each text unset means that rule is off.
HUB_AUTOREPLY_FIRST_CONTACT = env_optional("HUB_AUTOREPLY_FIRST_CONTACT")
HUB_AUTOREPLY_OUT_OF_HOURS = env_optional("HUB_AUTOREPLY_OUT_OF_HOURS")
HUB_AUTOREPLY_CALL = env_optional("HUB_AUTOREPLY_CALL")
# e.g. "mon-fri 09:00-17:00, sat 10:00-13:00"; unset means always open (no out-of-hours replies).
HUB_BUSINESS_HOURS = env_optional("HUB_BUSINESS_HOURS")
HUB_BUSINESS_TIMEZONE = env_str("HUB_BUSINESS_TIMEZONE", "UTC")
HUB_EVENT_RETENTION_DAYS = env_int("HUB_EVENT_RETENTION_DAYS", 7)
# Raw webhook bodies recorded longer ago than this go with `manage.py prune_webhooks`.
HUB_WEBHOOK_RETENTION_DAYS = env_int("HUB_WEBHOOK_RETENTION_DAYS", 30)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # ServeStatic's system checks; its middleware below serves /static/.
    "servestatic",
    # Login throttling (django-axes): failed admin logins per user name and address, lifted in the admin.
    "axes",
    # With ninja installed as an app, /api/docs/ uses the Swagger UI copy django-ninja ships, not a CDN.
    "ninja",
    "channels",
    "hub",
    "store",
    "webhook",
    "realtime",
    "outbound",
    "console",
]

MIDDLEWARE = [
    "hub.observability.RequestIdMiddleware",
    # Probes come by pod IP: health and readiness answer whatever the Host header says.
    "api.probes.probe_host_middleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files from the hub process itself, under daphne and uvicorn alike (settings below).
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: answers 429 to a login attempt while its user name and address are locked.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Counts failures and refuses locked-out attempts before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Wrong passwords in a row, for one user name from one address, before that pair is locked out; an
# admin lifts a lockout by deleting its row under "Access attempts" (or `manage.py axes_reset`).
AXES_FAILURE_LIMIT = env_int("HUB_LOGIN_FAILURE_LIMIT", 5)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Hours until a lockout lifts by itself.
AXES_COOLOFF_TIME = env_float("HUB_LOGIN_LOCKOUT_HOURS", 1.0)
AXES_RESET_ON_SUCCESS = True

ROOT_URLCONF = "hub.urls"
ASGI_APPLICATION = "hub.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database(url: str | None) -> dict[str, Any]:
    if url is None:
        HUB_DATA_DIR.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{HUB_DATA_DIR / 'hub.sqlite3'}"
    config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=0))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Writers take the lock up front (no "database is locked" on upgrade) and readers never block them.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        # A file, not memory, so that server processes started by tests share the test database; one per
        # test run, so that two runs on one machine do not clobber each other.
        config["TEST"] = {"NAME": str(HUB_DATA_DIR / f"test-hub-{os.getpid()}.sqlite3")}
    elif config["ENGINE"] == "django.db.backends.postgresql":
        # Under ASGI a persistent connection per thread leaks (Django ticket 33497): use psycopg's pool.
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "pool": {
                "min_size": env_int("HUB_DB_POOL_MIN", 2),
                "max_size": env_int("HUB_DB_POOL_MAX", 10),
                "timeout": env_int("HUB_DB_POOL_TIMEOUT", 10),
            },
            "connect_timeout": 5,
        }
        if test_name := env_optional("HUB_TEST_DATABASE_NAME"):
            config["TEST"] = {"NAME": test_name}
    return config


DATABASES = {"default": _database(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_optional("REDIS_URL")
# Redis Sentinel (docs/reliability.md, "Redis Sentinel"): when set, the layer asks these Sentinels for
# the primary named REDIS_SENTINEL_MASTER, and asks again whenever a connection to it drops, so a
# failover costs the seconds Sentinel takes to promote a replica. REDIS_URL is then not read.
REDIS_SENTINELS = env_host_ports("REDIS_SENTINELS", 26379)
# The layer carries only news of committed events: each server process's fan-out (realtime/fanout.py)
# joins `inbox` with one channel, dispatches in seq order, and reads anything lost from the HubEvent
# log, so a dropped or delayed layer message costs latency, never an event.
if REDIS_URL is None and not REDIS_SENTINELS:
    # One process. capacity: a burst of 1,000 batches may wait for the fan-out before group_send drops
    # (the fan-out then reads them from the log); expiry: a message unread for 60 s also drops the
    # channel from its groups, which the fan-out re-joins every 60 s (group_expiry then never matters).
    CHANNEL_LAYERS: dict[str, Any] = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 1000, "expiry": 60, "group_expiry": 86400},
        }
    }
else:
    # Redis pub/sub, measured against RedisChannelLayer with bench/layer_choice.py (5,000 one-event
    # batches to `inbox`, 2 receiving processes, one Redis, 2 shared cores; two runs):
    #   pubsub: 2,000-3,700 publishes/s, 3,400-7,200 deliveries/s, p50 4-6 ms, p99 170-560 ms
    #   core:     380 publishes/s,         650-700 deliveries/s,   p50 0.8-1.3 s (receivers fall behind)
    #   with 8 concurrent publishers: pubsub 1,550-3,400/s, p50 36-53 ms; core 680-850/s, p50 1.8-4.1 s
    # Pub/sub also suits the fan-out's shape: nothing is queued in Redis for a process that died (its
    # subscription ends with its connection), where the list-based layer keeps filling a dead member's
    # list until group_expiry. It has no capacity, expiry or group_expiry settings: the bounds live in
    # the fan-out (1,000 frames per socket, 10,000 batches per process), a message sent while Redis is
    # unreachable is lost and read back from the log, and redis-py re-subscribes after a reconnect.
    # Pub/sub channel names ignore Redis's database number, so the prefix carries it: two hubs on one
    # Redis server stay apart when their REDIS_URLs name different databases.
    # Redis Cluster is not supported: channels-redis has no cluster client (its list-based layer's Lua
    # scripts touch keys in many hash slots; this layer would hold one node and follow none of its
    # failovers). Sentinel gives the failover; one primary carries the fan-out (docs/performance.md).
    _redis_host: str | dict[str, Any]
    if REDIS_SENTINELS:
        _redis_db = str(env_int("REDIS_SENTINEL_DB", 0))
        _redis_host = {
            "sentinels": REDIS_SENTINELS,
            "master_name": env_str("REDIS_SENTINEL_MASTER", "mymaster"),
            "db": int(_redis_db),
        }
        if password := env_optional("REDIS_PASSWORD"):
            _redis_host["password"] = password
        if sentinel_password := env_optional("REDIS_SENTINEL_PASSWORD"):
            _redis_host["sentinel_kwargs"] = {"password": sentinel_password}
    else:
        _redis_host = REDIS_URL or ""
        _redis_db = urlsplit(_redis_host).path.strip("/") or "0"
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [_redis_host], "prefix": f"hub{_redis_db}"},
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = HUB_DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # collectstatic also writes gzip copies, which ServeStatic sends to clients that accept them.
    "staticfiles": {"BACKEND": "servestatic.storage.CompressedStaticFilesStorage"},
}
# ServeStatic serves what `collectstatic` put in STATIC_ROOT (the image collects at build); before
# anything is collected (a fresh clone, the tests), and always under DEBUG, it serves the apps' own files.
_STATIC_COLLECTED = (STATIC_ROOT / "admin").is_dir()
SERVESTATIC_USE_FINDERS = DEBUG or not _STATIC_COLLECTED
SERVESTATIC_USE_STATIC_ROOT = _STATIC_COLLECTED
# Files served at the site root: the favicon browsers ask for on every page.
SERVESTATIC_ROOT = Path(__file__).resolve().parent / "root"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(HUB_DATA_DIR / "media")))

LOGIN_URL = "/admin/login/"

# Production hardening; `manage.py check --deploy` is clean when DEBUG is off.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^api/health/$", r"^api/ready/$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = 0 if DEBUG else env_int("DJANGO_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "hub.observability.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "hub.observability.JsonFormatter"},
        "plain": {
            "()": "hub.observability.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env_str("HUB_LOG_FORMAT", "plain" if DEBUG else "json"),
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("HUB_LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's request log (django.request) is the one line per 4xx and 5xx, under every server:
        # without this, Django's own debug-only handler prints each a second time, unformatted.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # Daphne's access log would print `?token=` query strings; the hub logs requests itself.
        "django.channels.server": {"level": "WARNING"},
        # Uvicorn logs each socket's path and query (`"WebSocket /ws/...?token=..." [accepted]`) at INFO
        # through its own handlers, even with --no-access-log: its loggers write through the hub's
        # redacting handler instead. Their levels stay uvicorn's (--log-level). The settings load when
        # uvicorn imports the application, before it serves a connection.
        "uvicorn": {"handlers": ["console"], "propagate": False},
        "uvicorn.error": {"handlers": [], "propagate": True},
        "uvicorn.access": {"handlers": ["console"], "propagate": False},
        # httpx and httpcore log every request at INFO (a line per Graph API call): only warnings stay.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # django-axes announces itself at INFO in every process; its lockouts come at WARNING.
        "axes.apps": {"level": "WARNING"},
    },
}
