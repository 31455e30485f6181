"""Under the production profile's HTTPS settings, a request that reached the proxy over plain HTTP
is redirected to https and an https one carries HSTS, but /healthz and /readyz answer over plain
HTTP: load balancers and docker-compose's healthcheck probe them so, and a redirect would mark
a healthy server down."""

from __future__ import annotations

import pytest

from config.settings import production

HTTPS_SETTINGS = [
    "SECURE_SSL_REDIRECT",
    "SECURE_REDIRECT_EXEMPT",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
]


@pytest.fixture
def production_https(settings):
    for name in HTTPS_SETTINGS:
        setattr(settings, name, getattr(production, name))
    return settings


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_answer_over_plain_http(production_https, client, path):
    response = client.get(path)

    assert response.status_code == 200, response.content


@pytest.mark.parametrize("path", ["/api/v1/cases/", "/api/schema/", "/admin/", "/healthz/extra"])
def test_everything_else_over_plain_http_is_redirected_to_https(production_https, client, path):
    response = client.get(path)

    assert response.status_code == 301
    assert response["Location"] == f"https://testserver{path}"


def test_https_behind_the_proxy_is_served_with_hsts(production_https, client):
    response = client.get("/healthz", headers={"X-Forwarded-Proto": "https"})

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_a_request_to_the_api_over_https_is_not_redirected(production_https, client):
    response = client.get("/api/v1/cases/", headers={"X-Forwarded-Proto": "https"})

    assert response.status_code == 401
