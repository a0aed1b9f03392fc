"""Starts a real Podium server for the suite and always stops it.

The server listens on a free 127.0.0.1 port with a fresh data directory and writes its
log to a file, so a failing test can show the server's side of the story. `stop()`
sends SIGTERM and, when the process has not exited within the grace period, SIGKILL.
Servers still running when the interpreter exits are killed by an atexit hook.

The store is the embedded SQLite in the data directory, or, when PODIUM_SDK_DATABASE_URL
names a PostgreSQL server (scripts/test starts a throwaway one), a new empty database on
it for each server (made and dropped with psql), passed as PODIUM_DATABASE_URL.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

_running: set[subprocess.Popen] = set()


@atexit.register
def _kill_leftovers() -> None:
    # Last resort when the session dies without running fixture finalizers.
    for proc in list(_running):
        if proc.poll() is None:
            proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def podium_bin() -> Path:
    """$PODIUM_BIN, else target/debug/podium of the repository."""
    return Path(os.environ.get("PODIUM_BIN") or REPO_ROOT / "target" / "debug" / "podium").resolve()


def free_port() -> int:
    """A port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_databases = 0


def _psql(url: str, sql: str) -> None:
    # -X: no ~/.psqlrc; the statement fails the call when it fails.
    try:
        result = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except FileNotFoundError:
        raise RuntimeError("psql is not installed (PODIUM_SDK_DATABASE_URL needs it)") from None
    if result.returncode != 0:
        raise RuntimeError(f"psql failed ({sql}): {result.stderr.strip()}")


def _create_database(server_url: str) -> tuple[str, str]:
    """A new, empty database on the PostgreSQL server `server_url` names (whose own
    database is only used to connect): its name and its URL."""
    global _databases
    _databases += 1
    name = f"podium_sdk_py_{os.getpid()}_{_databases}"
    _psql(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _psql(server_url, f"CREATE DATABASE {name}")
    parts = urllib.parse.urlsplit(server_url)
    return name, urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def _drop_database(server_url: str, name: str) -> None:
    try:
        _psql(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"could not drop the test database {name}: {e}")


def _die_with_parent() -> None:
    # Linux only: the server gets SIGTERM if the test process dies without cleanup
    # (e.g. SIGKILL), so no orphan keeps a port or a data directory busy.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _health(url: str) -> bool:
    # No proxy: the check must reach the local server directly.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/health", timeout=2) as res:
            return res.status == 200 and json.loads(res.read()).get("healthy") is True
    except (OSError, ValueError, urllib.error.URLError):
        return False


@dataclass
class PodiumServer:
    proc: subprocess.Popen
    port: int
    root: Path
    data_dir: Path
    log_path: Path
    # The PostgreSQL database made for this server, if any, and the URL of the
    # PostgreSQL server it is on (PODIUM_SDK_DATABASE_URL).
    database: str = ""
    database_server_url: str = field(default="", repr=False)
    # The first admin application's access key, configured for this run.
    key_id: str = ""
    key_secret: str = field(default="", repr=False)
    stop_timeout: float = 10.0
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after `stop_timeout` seconds. Returns the exit code."""
        if not self._stopped:
            self._stopped = True
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
            _running.discard(self.proc)
            if not os.environ.get("PODIUM_SDK_KEEP_DATA"):
                shutil.rmtree(self.root, ignore_errors=True)
                if self.database:
                    _drop_database(self.database_server_url, self.database)
        return self.proc.returncode


def start_podium(
    start_timeout: float = 30.0, attempts: int = 3, extra_env: dict[str, str] | None = None
) -> PodiumServer:
    """Starts a server; `extra_env` adds settings (e.g. PODIUM_TOKEN_TTL_SECONDS)."""
    bin_path = podium_bin()
    if not bin_path.is_file():
        raise RuntimeError(f"Podium binary not found at {bin_path} (set PODIUM_BIN)")
    root = Path(tempfile.mkdtemp(prefix="podium-sdk-py-"))
    data_dir = root / "data"
    # PODIUM_SDK_LOG_DIR keeps the log after the run (the temp directory is removed).
    log_dir = Path(os.environ.get("PODIUM_SDK_LOG_DIR") or root)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"podium-py-{os.getpid()}.log"

    env = dict(os.environ)
    # Settings from the environment (PODIUM_CONFIG, PODIUM_LISTEN, ...) could move the
    # server elsewhere or change its security: the suite runs it on defaults and flags.
    # Only the log settings pass through, for debugging.
    for key in list(env):
        if key.upper().startswith("PODIUM_") and key not in ("PODIUM_LOG_LEVEL", "PODIUM_LOG_FORMAT"):
            del env[key]
    # The server's HTTP tasks call the test's local HTTP server: never through a proxy.
    for key in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(key, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["NO_COLOR"] = "1"  # plain log lines in failure reports
    # Security is on, as by default; the first admin application gets a key made for
    # this run, which the suite's SDK clients and workers use.
    key_id = f"py-admin-{secrets.token_hex(6)}"
    key_secret = secrets.token_hex(32)
    env["PODIUM_ADMIN_KEY_ID"] = key_id
    env["PODIUM_ADMIN_KEY_SECRET"] = key_secret
    # HTTP tasks may not reach loopback by default; the suite's echo server runs on
    # 127.0.0.1, so this run allows that address (Podium's own port stays refused).
    env["PODIUM_HTTP_TASK_ALLOW"] = "127.0.0.1"
    # PostgreSQL when the run asks for it: a database of its own for this server (the
    # data directory still holds the server's key files).
    database = ""
    pg_server_url = os.environ.get("PODIUM_SDK_DATABASE_URL", "")
    if pg_server_url:
        database, env["PODIUM_DATABASE_URL"] = _create_database(pg_server_url)
    env.update(extra_env or {})

    last_error = "not started"
    for attempt in range(1, attempts + 1):
        port = free_port()
        with open(log_path, "ab") as log:
            log.write(f"--- attempt {attempt}: port {port}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                [str(bin_path), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=_die_with_parent,
            )
        _running.add(proc)
        server = PodiumServer(
            proc=proc,
            port=port,
            root=root,
            data_dir=data_dir,
            log_path=log_path,
            database=database,
            database_server_url=pg_server_url,
            key_id=key_id,
            key_secret=key_secret,
        )
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if _health(server.url):
                return server
            time.sleep(0.1)
        code = proc.poll()
        died_early = code is not None
        # Only the process goes; the directory serves the next attempt.
        if code is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        _running.discard(proc)
        last_error = (
            f"Podium did not become healthy on {server.url} (attempt {attempt}, exit {code}):\n"
            f"{server.log_tail(40)}"
        )
        # A port taken between probing and binding makes the server exit: try another.
        if not died_early:
            break
    shutil.rmtree(root, ignore_errors=True)
    if database:
        _drop_database(pg_server_url, database)
    raise RuntimeError(last_error)
