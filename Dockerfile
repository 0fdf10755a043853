# The hub's image: uvicorn serves it, `manage.py run_worker` runs its jobs, `manage.py migrate` prepares
# the database (docker-compose.yml runs each as its own service).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The locked dependencies first (exact versions and hashes: requirements/prod.txt, from pyproject.toml's
# ranges by scripts/lock.py), so that a code change reuses this layer.
COPY requirements/prod.txt ./requirements/prod.txt
RUN pip install --require-hashes -r requirements/prod.txt

# The packages named in pyproject.toml's `packages.find`, and the two top-level modules.
COPY pyproject.toml README.md asgi.py manage.py ./
COPY hub ./hub
COPY store ./store
COPY api ./api
COPY webhook ./webhook
COPY realtime ./realtime
COPY outbound ./outbound
COPY console ./console
# The socket client the console imports (console/views.py serves it from here).
COPY clients/js/hub-client.js ./clients/js/hub-client.js
# The hub alone: everything it needs is installed above.
RUN pip install --no-deps '.[uvicorn]'

# A user of its own; /data holds media files and collected static files (named volumes in compose).
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin hub \
    && mkdir -p /data/media /data/static \
    && chown -R hub:hub /data
USER hub
ENV HUB_DATA_DIR=/data \
    MEDIA_ROOT=/data/media
# Static files (admin, API docs) with gzip copies, served by the hub process (ServeStatic) or by nginx
# from the same files (docker-compose.yml's migrate service collects them into the shared volume).
RUN python manage.py collectstatic --noinput

EXPOSE 8000
CMD ["uvicorn", "asgi:application", "--host", "0.0.0.0", "--port", "8000", "--ws", "websockets", "--ws-max-size", "1048576", "--lifespan", "off", "--no-access-log"]
