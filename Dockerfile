# One image recipe for all five services; the build argument SERVICE names the one to run.
# Built from the repository root so the shared contracts and runtime come along:
#   docker build --build-arg SERVICE=capture -t approval-archive/capture:0.1.0 .
# SERVICE is one of capture, validation, classification, storage, query (the stages below).
# The image holds contracts/, services/ and archivectl/ only — never samples/, bench/ or tests/, which
# .dockerignore also keeps out of the build context. The five images share every layer but the last.
ARG SERVICE

FROM python:3.11-slim AS runtime
# ffmpeg: validation decodes audio and video through to the end (USAB-OPENS, formats/media.py). In the
# shared runtime, so the five images keep sharing every layer but the last.
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml ./
COPY contracts ./contracts
COPY services ./services
COPY archivectl ./archivectl
RUN pip install --no-cache-dir .
USER 10001
ENV AA_LOG_LEVEL=INFO

# One stage per service: its ports (the metrics port of services/common/metrics.py) and its command.
FROM runtime AS service-capture
EXPOSE 9101
CMD ["python", "-m", "services.capture"]

FROM runtime AS service-validation
EXPOSE 9102
CMD ["python", "-m", "services.validation"]

FROM runtime AS service-classification
EXPOSE 9103
CMD ["python", "-m", "services.classification"]

FROM runtime AS service-storage
EXPOSE 9104
CMD ["python", "-m", "services.storage"]

# The HTTP API and dashboard (8700) and metrics (9105); the archivectl Jobs of deploy/k8s run this image too.
FROM runtime AS service-query
ENV AA_QUERY_HOST=0.0.0.0 AA_QUERY_PORT=8700
EXPOSE 8700 9105
HEALTHCHECK CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8700/healthz', timeout=3)" || exit 1
CMD ["python", "-m", "services.query"]

# An empty or unknown SERVICE fails here: there is no stage of that name.
FROM service-${SERVICE}
