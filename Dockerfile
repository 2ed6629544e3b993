# Plexus, one replica: `docker build -t plexus .` then run it with a config mounted at
# /etc/plexus/plexus.yaml (deploy/compose.yaml runs two behind nginx).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/plexus
COPY pyproject.toml README.md ./
COPY src ./src
# Every dependency ships a manylinux wheel: no compiler in the image.
RUN pip install --no-compile . \
    && rm -rf src \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin plexus \
    && mkdir /data \
    && chown plexus /data

USER plexus
ENV PLEXUS_CONFIG=/etc/plexus/plexus.yaml \
    PLEXUS_DATA_DIR=/data
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4000/health', timeout=2)"]
CMD ["plexus", "serve", "--host", "0.0.0.0", "--port", "4000"]
