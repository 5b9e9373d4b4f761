# The salespulse command (worker, demo producer, replay) for docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    SALESPULSE_DATA_DIR=/var/lib/salespulse
WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams ./streams
RUN pip install . \
    && useradd --system --create-home salespulse \
    && mkdir -p /var/lib/salespulse && chown salespulse /var/lib/salespulse
USER salespulse
EXPOSE 6066
ENTRYPOINT ["salespulse"]
CMD ["worker", "--web-host", "0.0.0.0"]
