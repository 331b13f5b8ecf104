FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1

RUN groupadd --system lop && useradd --system --gid lop --home-dir /srv/lop --create-home lop
WORKDIR /srv/lop

COPY pyproject.toml setup.cfg README.md ./
COPY service ./service
COPY rules ./rules
COPY wp_bridge ./wp_bridge
COPY jobs ./jobs
RUN pip install . && rm -rf /srv/lop/service /srv/lop/rules /srv/lop/wp_bridge /srv/lop/jobs

USER lop
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health', timeout=4).status == 200 else 1)"
CMD ["lop-sidecar", "serve", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4"]
