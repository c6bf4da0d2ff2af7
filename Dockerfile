# The help desk image: web (gunicorn), worker, beat and smtpd all run from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HELPDESK_VAR_DIR=/app/var

RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 helpdesk

WORKDIR /app
COPY pyproject.toml README.md ./
COPY helpdesk ./helpdesk
COPY tickets ./tickets
COPY departments ./departments
COPY knowledge_base ./knowledge_base
COPY automation ./automation
RUN pip install --no-cache-dir .
COPY . .
# collectstatic needs settings but no database or Redis: point them at the compose services.
RUN DATABASE_URL=postgresql://build@postgres/helpdesk REDIS_URL=redis://redis:6379/0 \
    HELPDESK_SECRET_KEY=build-only python manage.py collectstatic --no-input \
    && mkdir -p /app/var && chown -R helpdesk:helpdesk /app/var

USER helpdesk
EXPOSE 8000 2525
CMD ["gunicorn", "helpdesk.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--access-logfile", "-"]
