"""A fake Twilio REST API for tests: a real HTTP server on a spare 127.0.0.1 port, in a thread,
answering the Messages create endpoint the way Twilio does. Each request takes the next answer of
its plan ("ok", an HTTP status such as 500/429/400, or "timeout": answer too late), "ok" once the
plan is used up; every request is recorded, and `accepted` lists the messages Twilio would send."""

import json
import re
import threading
import time
import uuid
from base64 import b64decode
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

MESSAGES = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages\.json$")
ERRORS = {
    400: (21211, "The 'To' number is not a valid phone number."),
    401: (20003, "Authentication Error - invalid username"),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


class FakeTwilio:
    def __init__(self, *, slow_seconds: float = 2.0):
        self.plan: list = []
        self.requests: list[dict] = []
        self.accepted: list[dict] = []
        self.slow_seconds = slow_seconds
        self.delay = 0.0  # seconds before every answer
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                fake._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "FakeTwilio":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, handler, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _handle(self, handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
        auth = handler.headers.get("Authorization", "")
        user = b64decode(auth.split(" ", 1)[1]).decode() if auth.startswith("Basic ") else ""
        match = MESSAGES.match(handler.path)
        with self._lock:
            action = self.plan.pop(0) if self.plan else "ok"
            self.requests.append({"path": handler.path, "form": form, "auth": user, "action": action})
        if self.delay:
            time.sleep(self.delay)
        if match is None:
            return self._answer(handler, 404, {"code": 20404, "message": "Not found", "status": 404})
        if action == "timeout":
            # Too late for the client, which has given up; nothing was accepted.
            time.sleep(self.slow_seconds)
            return self._answer(handler, 503, {"code": 20503, "message": "late", "status": 503})
        if action != "ok":
            code, text = ERRORS.get(action, (20500, "Error"))
            return self._answer(
                handler,
                action,
                {
                    "code": code,
                    "message": text,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}",
                    "status": action,
                },
            )
        sid = "SM" + uuid.uuid4().hex
        account = match.group(1)
        message = {
            "account_sid": account,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": "Wed, 25 Nov 2026 03:00:00 +0000",
            "date_sent": None,
            "date_updated": "Wed, 25 Nov 2026 03:00:00 +0000",
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From", ""),
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"},
            "to": form.get("To", ""),
            "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
        }
        with self._lock:
            self.accepted.append(message)
        self._answer(handler, 201, message)
