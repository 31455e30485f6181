"""A fake Twilio REST API for tests: a real HTTP server on a spare 127.0.0.1 port, in a thread,
answering the way Twilio does: Messages create, and the IncomingPhoneNumbers list (paged) and update
for the numbers a test seeds (`add_number`). Each request takes the next answer of its plan ("ok",
an HTTP status such as 500/429/400, or "timeout": answer too late), "ok" once the plan is used up;
every request is recorded, `accepted` lists the messages Twilio would send, and `numbers` holds the
phone numbers as Twilio would answer them."""

import json
import re
import threading
import time
import uuid
from base64 import b64decode
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCOUNT_PATH = r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})"
MESSAGES = re.compile(ACCOUNT_PATH + r"/Messages\.json$")
NUMBERS = re.compile(ACCOUNT_PATH + r"/IncomingPhoneNumbers\.json$")
NUMBER = re.compile(ACCOUNT_PATH + r"/IncomingPhoneNumbers/(PN[0-9a-fA-F]{32})\.json$")
DATE = "Wed, 25 Nov 2026 03:00:00 +0000"
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
        self.numbers: dict[str, dict] = {}  # IncomingPhoneNumbers by sid, in the order added
        self.page_size = 50  # the most numbers one list page holds (Twilio's default page size)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                fake._handle(self)

            def do_GET(self):
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

    def add_number(self, account: str, phone_number: str, **fields) -> dict:
        """Seeds one of the account's IncomingPhoneNumbers, Twilio's shape; `fields` sets any of it
        (sms_url, voice_url, voice_application_sid, ...). Returns the stored resource."""
        sid = "PN" + uuid.uuid4().hex
        uri = f"/2010-04-01/Accounts/{account}/IncomingPhoneNumbers"
        number = {
            "account_sid": account,
            "address_requirements": "none",
            "address_sid": None,
            "api_version": "2010-04-01",
            "beta": False,
            "bundle_sid": None,
            "capabilities": {"fax": False, "mms": True, "sms": True, "voice": True},
            "date_created": DATE,
            "date_updated": DATE,
            "emergency_address_sid": None,
            "emergency_address_status": "unregistered",
            "emergency_status": "Active",
            "friendly_name": phone_number,
            "identity_sid": None,
            "origin": "twilio",
            "phone_number": phone_number,
            "sid": sid,
            "sms_application_sid": "",
            "sms_fallback_method": "POST",
            "sms_fallback_url": "",
            "sms_method": "POST",
            "sms_url": "",
            "status": "in-use",
            "status_callback": "",
            "status_callback_method": "POST",
            "subresource_uris": {"assigned_add_ons": f"{uri}/{sid}/AssignedAddOns.json"},
            "trunk_sid": None,
            "type": "local",
            "uri": f"{uri}/{sid}.json",
            "voice_application_sid": "",
            "voice_caller_id_lookup": False,
            "voice_fallback_method": "POST",
            "voice_fallback_url": "",
            "voice_method": "POST",
            "voice_receive_mode": "voice",
            "voice_url": "",
        }
        number.update(fields)
        with self._lock:
            self.numbers[sid] = number
        return number

    def number(self, phone_number: str) -> dict:
        """The seeded number as it stands now (a copy)."""
        with self._lock:
            return next(dict(n) for n in self.numbers.values() if n["phone_number"] == phone_number)

    @property
    def number_updates(self) -> list[dict]:
        """The recorded update requests (POSTs to one IncomingPhoneNumber), in order."""
        return [r for r in self.requests if r["method"] == "POST" and NUMBER.match(r["path"])]

    def _answer(self, handler, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _handle(self, handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode()
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        auth = handler.headers.get("Authorization", "")
        user = b64decode(auth.split(" ", 1)[1]).decode() if auth.startswith("Basic ") else ""
        path, _, query = handler.path.partition("?")
        route = self._route(handler.command, path)
        with self._lock:
            action = self.plan.pop(0) if self.plan else "ok"
            self.requests.append(
                {
                    "method": handler.command,
                    "path": handler.path,
                    "form": form,
                    "auth": user,
                    "action": action,
                }
            )
        if self.delay:
            time.sleep(self.delay)
        if route is None:
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
        answer, match = route
        answer(handler, match, form=form, raw=raw, query=query)

    def _route(self, method: str, path: str):
        for verb, pattern, answer in (
            ("POST", MESSAGES, self._message_create),
            ("GET", NUMBERS, self._numbers_list),
            ("POST", NUMBER, self._number_update),
        ):
            match = pattern.match(path)
            if method == verb and match is not None:
                return answer, match
        return None

    def _message_create(self, handler, match, *, form: dict, **_) -> None:
        sid = "SM" + uuid.uuid4().hex
        account = match.group(1)
        message = {
            "account_sid": account,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": DATE,
            "date_sent": None,
            "date_updated": DATE,
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

    def _numbers_list(self, handler, match, *, query: str, **_) -> None:
        """One page of the account's numbers, Twilio's 2010 list shape: the records under
        `incoming_phone_numbers`, and `next_page_uri` naming the next page (null on the last)."""
        account = match.group(1)
        params = {k: v[0] for k, v in parse_qs(query).items()}
        size = max(1, min(int(params.get("PageSize", 50)), self.page_size))
        page = int(params.get("Page", 0))
        with self._lock:
            records = [dict(n) for n in self.numbers.values() if n["account_sid"] == account]
        chunk = records[page * size : (page + 1) * size]
        base = f"/2010-04-01/Accounts/{account}/IncomingPhoneNumbers.json"

        def uri(number: int, token: str = "") -> str:
            return f"{base}?PageSize={size}&Page={number}" + (f"&PageToken={token}" if token else "")

        more = (page + 1) * size < len(records)
        self._answer(
            handler,
            200,
            {
                "end": page * size + max(len(chunk) - 1, 0),
                "first_page_uri": uri(0),
                "incoming_phone_numbers": chunk,
                "next_page_uri": uri(page + 1, "PA" + chunk[-1]["sid"]) if more else None,
                "page": page,
                "page_size": size,
                "previous_page_uri": uri(page - 1) if page else None,
                "start": page * size,
                "uri": uri(page),
            },
        )

    def _number_update(self, handler, match, *, raw: str, **_) -> None:
        """Applies the form's parameters (SmsUrl -> sms_url, ...) that name a field of the number;
        an empty value clears it, as at Twilio."""
        account, sid = match.group(1), match.group(2)
        with self._lock:
            number = self.numbers.get(sid)
            if number is None or number["account_sid"] != account:
                number = None
            else:
                for name, values in parse_qs(raw, keep_blank_values=True).items():
                    field = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
                    if field in number and field not in ("sid", "account_sid", "uri"):
                        number[field] = values[0]
                number["date_updated"] = "Wed, 25 Nov 2026 03:05:00 +0000"
                number = dict(number)
        if number is None:
            return self._answer(
                handler,
                404,
                {
                    "code": 20404,
                    "message": f"The requested resource {handler.path} was not found",
                    "status": 404,
                },
            )
        self._answer(handler, 200, number)
