# Production image: the API (gunicorn), Celery worker and beat all run from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=config.settings.production
WORKDIR /app

COPY pyproject.toml constraints.txt ./
RUN pip install --no-cache-dir -c constraints.txt . && useradd --system --uid 10001 lifeline
COPY . .
# The translation catalogues compiled to .mo (docs/languages.md).
RUN python -m config.catalogues --force
# Placeholder secrets: collectstatic needs settings to load, and encrypts nothing (the image
# carries no secret; the container gets the real ones from its environment).
RUN SECRET_KEY=build FIELD_ENCRYPTION_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= IDENTIFIER_HASH_KEY=build-only-placeholder-not-a-secret-000 \
    DATABASE_URL=postgres://build/none REDIS_URL=redis://build python manage.py collectstatic --noinput

# The spool of inbound webhooks while the database is away (docs/spool.md) and the encrypted
# exports (docs/reports.md): volumes in
# docker-compose.yml, created owned by the user the processes run as.
RUN mkdir -p /var/lib/lifeline/spool /var/lib/lifeline/exports && chown -R lifeline /var/lib/lifeline

USER lifeline
EXPOSE 8000
CMD ["gunicorn", "--config", "python:config.gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "30", "--access-logfile", "-"]
