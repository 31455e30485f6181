"""The web servers log every request (`--access-logfile -`), but a search's text is a child's or a
reporter's name or number: the access log line of `GET /api/v1/cases/?q=...` written with our
gunicorn settings (config/gunicorn.py) carries the path, never the query string nor the referring
console page's address."""

import datetime
import gc
import logging

from gunicorn.app.base import Application
from gunicorn.config import Config
from gunicorn.glogging import Logger


class _Response:
    status = "200 OK"
    sent = 512
    headers: list = []


def _access_line(uri: str, referer: str) -> str:
    # Loaded as `gunicorn -c python:config.gunicorn` loads it.
    cfg = Config()
    holder = type(
        "Holder", (), {"cfg": cfg, "get_config_from_module_name": Application.get_config_from_module_name}
    )
    Application.load_config_from_module_name_or_filename(holder(), "python:config.gunicorn")
    gc.enable()  # the module stops collection for the server's master; not for this test process
    cfg.set("accesslog", "-")
    logger = Logger(cfg)
    lines: list[str] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger.access_log.addHandler(_Keep())
    path, _, query = uri.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": uri,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": referer,
        "HTTP_USER_AGENT": "console",
    }
    logger.access(_Response(), environ, environ, datetime.timedelta(milliseconds=12))
    return lines[-1]


def test_a_search_by_name_or_number_is_logged_without_its_text():
    line = _access_line(
        "/api/v1/cases/?q=Sarangerel%20Bold&ordering=urgency",
        "https://console.example/search?q=%2B97699112233",
    )

    assert "/api/v1/cases/" in line and "200" in line
    assert "Sarangerel" not in line and "q=" not in line and "97699112233" not in line
