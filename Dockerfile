# One image for web (gunicorn), worker, beat and the one-shot migrate of docker-compose.yml.
# The static files (with their manifest) and the compiled catalogues are built into the image,
# so every container of a release serves the same files; nothing is shared through a volume.
FROM python:3.11-slim
# gunicorn binds loopback unless told: inside the container it listens on the container's interface,
# and what reaches that is the publishing's choice (compose: the host's loopback, for its TLS proxy)
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORTAL_VAR_DIR=/app/var \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus GUNICORN_BIND=0.0.0.0:8000
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN ./scripts/build_assets.sh \
 && useradd --system --home-dir /app portal \
 && mkdir -p /app/var/media /tmp/prometheus \
 && chown -R portal /app/var /tmp/prometheus
USER portal
EXPOSE 8000
CMD ["gunicorn", "-c", "portal/gunicorn_conf.py", "portal.wsgi"]
