"""Harness shared by the Python test programs (end to end, API, database wrappers).

Why it exists: those programs each start drec on a loopback port with TLS, ask its API and count
checks the same way; one copy keeps them from drifting apart. Python standard library only; the
programs import it by putting this directory on `sys.path` (nothing is installed).
"""

from __future__ import annotations

import base64
import dataclasses
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import traceback
from pathlib import Path

POLL_S = 0.05
HTTP_TIMEOUT_S = 15.0

# The counters and times every record of the API carries (docs/counting.md), as the tests expect
# them in answers and in docs/openapi.json.
COUNTERS = (
    "numpulls",
    "numpushs",
    "numchecks",
    "numindexpulls",
    "numdeletes",
    "numattachmentpushes",
    "numattachmentpulls",
)
TIMES = ("firstpushed", "lastpushed", "firstpulled", "lastpulled")
# The OpenAPI record schemas, and whether each carries the times besides the counters.
RECORD_SCHEMAS = {
    "Repository": True,
    "RepositoryListItem": True,
    "Tag": True,
    "Digest": True,
    "Actor": True,
    "Class": True,
    "SummaryTotals": True,
    "Day": False,
    "Window": False,
}


class Failure(Exception):
    """A check failed, or the test environment could not be set up."""


def fail(message: str):
    raise Failure(message)


def free_port() -> int:
    """A loopback port for a child process that cannot bind port 0 and report it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def differences(expected, actual, path: str = "") -> list[str]:
    """Where two JSON values differ, as `path: expected -> actual` lines.

    Strict: equal values of equal types only (1 is not true, 1.0 is not 1), a missing key is not
    null, a list is not a tuple; lists of different lengths are reported item by item.
    """
    if isinstance(expected, dict) and isinstance(actual, dict):
        return [
            line
            for key in sorted(expected.keys() | actual.keys())
            for line in differences(
                expected.get(key, "<missing>"), actual.get(key, "<missing>"), f"{path}/{key}"
            )
        ]
    if isinstance(expected, (list, tuple)) and type(expected) is type(actual):
        lines = [
            line
            for i, (e, a) in enumerate(zip(expected, actual, strict=False))
            for line in differences(e, a, f"{path}/{i}")
        ]
        if len(expected) != len(actual):
            lines.append(f"{path or '/'}: {len(expected)} items -> {len(actual)} items")
            for i in range(len(actual), len(expected)):
                lines.append(f"{path}/{i}: {repr(expected[i])[:200]} -> <missing>")
            for i in range(len(expected), len(actual)):
                lines.append(f"{path}/{i}: <not expected> -> {repr(actual[i])[:200]}")
        return lines
    if expected == actual and type(expected) is type(actual):
        return []
    return [f"{path or '/'}: {repr(expected)[:200]} -> {repr(actual)[:200]}"]


class Checks:
    """Counts checks; a failed check is reported and the run goes on.

    `indent_details` prints the failure under the check's name (multi-line reports read better);
    `catch_unexpected` also counts any other exception (a bug in the test, an unexpected answer
    shape) as a failed check with its traceback, instead of letting it end the run.
    """

    def __init__(self, *, indent_details: bool = False, catch_unexpected: bool = False):
        self.indent_details = indent_details
        self.catch_unexpected = catch_unexpected
        self.passed = 0
        self.failed = 0

    def run(self, name: str, fn, *args) -> None:
        try:
            fn(*args)
        except Failure as e:
            self.failed += 1
            if self.indent_details:
                details = str(e).replace("\n", "\n     ")
                print(f"FAIL {name}\n     {details}", flush=True)
            else:
                print(f"FAIL {name}: {e}", flush=True)
        except Exception:
            if not self.catch_unexpected:
                raise
            self.failed += 1
            print(f"FAIL {name}: unexpected error\n{traceback.format_exc()}", flush=True)
        else:
            self.passed += 1
            print(f"ok   {name}", flush=True)


def add_drec_options(p) -> None:
    """The command-line options every drec test program takes (checked by `check_drec_options`)."""
    p.add_argument("--drec", required=True, help="drec binary")
    p.add_argument("--store", choices=("sqlite", "mongodb", "postgresql"), default="sqlite")
    p.add_argument("--mongodb-uri", help="MongoDB URI, with --store mongodb")
    p.add_argument("--postgresql-uri", help="PostgreSQL URI (libpq), with --store postgresql")
    p.add_argument("--workdir", required=True, type=Path, help="scratch directory (cleared)")


def check_drec_options(p, args) -> None:
    if args.store == "mongodb" and not args.mongodb_uri:
        p.error("--store mongodb needs --mongodb-uri")
    if args.store == "postgresql" and not args.postgresql_uri:
        p.error("--store postgresql needs --postgresql-uri")


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 15 s; nothing if it has already."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def prepare_workdir(path: Path, marker: str) -> Path:
    """Starts from an empty directory, but only deletes one this test (`marker`) created before."""
    if path.exists() and any(path.iterdir()):
        if not (path / marker).exists():
            fail(f"{path} is not empty and was not made by this test; refusing to clear it")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / marker).touch()
    return path.resolve()


@dataclasses.dataclass
class Response:
    method: str
    target: str
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def json(self):
        if not self.content_type.startswith("application/json"):
            fail(
                f"{self.method} {self.target}: status {self.status}, content type "
                f"{self.content_type!r}, not JSON: {self.body[:200]!r}"
            )
        return json.loads(self.body)

    def expect(self, status: int) -> Response:
        if self.status != status:
            fail(
                f"{self.method} {self.target}: expected status {status}, got {self.status}: "
                f"{self.body[:300]!r}"
            )
        return self


class LoopbackHttps(http.client.HTTPSConnection):
    """Connects to 127.0.0.1 but verifies the certificate for `localhost`."""

    def __init__(self, port: int, context: ssl.SSLContext):
        super().__init__("localhost", port, context=context, timeout=HTTP_TIMEOUT_S)
        self._tls = context

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), HTTP_TIMEOUT_S)
        # http.client sends headers and body in two writes: without this, Nagle's algorithm
        # meets the server's delayed ACK and every POST waits about 40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._tls.wrap_socket(sock, server_hostname="localhost")


class Drec:
    """The drec process under test on a free loopback port with TLS, and HTTPS requests to it.

    `tls_args` are drec's certificate options and `cafile` what verifies the certificate: a CA
    the caller made, or the certificate drec generates (read once it exists, since drec writes
    it at start-up). A MongoDB store gets a database of its own per run (`database`), and a
    PostgreSQL store a schema of its own (`schema`; other registries get `<schema>@<registry>`),
    named after `database_prefix`, because the server outlives the workdir. `basic`
    ("user:password") enables basic authentication besides the bearer token.
    """

    def __init__(
        self,
        binary: str,
        workdir: Path,
        *,
        store: str,
        mongodb_uri: str | None,
        database_prefix: str,
        token: str,
        tls_args: list[str],
        cafile: Path,
        start_timeout: float,
        basic: str | None = None,
        extra_args: tuple[str, ...] = (),
        postgresql_uri: str | None = None,
    ):
        self.port = free_port()
        self.log = workdir / "drec.log"
        self.token = token
        self.basic = basic
        self.cafile = cafile
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self.tls: ssl.SSLContext | None = None
        self.database = None
        self.schema = None
        store_args = [
            "--storage-backend",
            "sqlite",
            "--storage-sqlite-path",
            str(workdir / "drec.db"),
        ]
        if store == "mongodb":
            self.database = f"{database_prefix}_{os.getpid()}_{int(time.time())}"
            store_args = [
                "--storage-backend",
                "mongodb",
                "--storage-mongodb-uri",
                mongodb_uri,
                "--storage-mongodb-database",
                self.database,
            ]
        elif store == "postgresql":
            self.schema = f"{database_prefix}_{os.getpid()}_{int(time.time())}"
            store_args = [
                "--storage-backend",
                "postgresql",
                "--storage-postgresql-uri",
                postgresql_uri,
                "--storage-postgresql-schema",
                self.schema,
            ]
        self.argv = [
            binary,
            "--server-address",
            "127.0.0.1",
            "--server-port",
            str(self.port),
            *tls_args,
            *store_args,
            "--auth-tokens",
            token,
            *(["--auth-basic", basic] if basic else []),
            *extra_args,
        ]

    def start(self) -> None:
        """Starts drec (again, after `kill9`) and waits until /readyz answers 200.

        setpriv (util-linux), where present, gives drec a parent-death signal, so even a SIGKILL
        of the test (a ctest timeout) leaves no drec behind.
        """
        prefix = ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                prefix + self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + self.start_timeout
        last_error = "no answer"
        while True:
            self.check_alive()
            if self.tls is None and self.cafile.exists() and self.cafile.stat().st_size > 0:
                try:
                    self.tls = ssl.create_default_context(cafile=str(self.cafile))
                except ssl.SSLError as e:  # the file may be half written
                    last_error = str(e)
            if self.tls is not None:
                try:
                    if self.request("GET", "/readyz", auth=None).status == 200:
                        return
                    last_error = "/readyz not 200"
                except OSError as e:
                    last_error = str(e)
            if time.monotonic() > deadline:
                fail(
                    f"drec not ready after {self.start_timeout:.0f} s ({last_error}):\n"
                    f"{self.log_tail()}"
                )
            time.sleep(POLL_S)

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            fail(f"drec exited with {self.proc.returncode}:\n{self.log_tail()}")

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)

    def log_tail(self, lines: int = 30) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def auth_header(self, auth) -> dict:
        """`auth`: None, "bearer" (the token), "basic" (`basic`) or a raw Authorization value."""
        if auth is None:
            return {}
        if auth == "bearer":
            return {"Authorization": f"Bearer {self.token}"}
        if auth == "basic":
            pair = base64.b64encode(self.basic.encode()).decode()
            return {"Authorization": f"Basic {pair}"}
        return {"Authorization": auth}

    def request(
        self, method: str, target: str, *, auth="bearer", headers=None, body: bytes | None = None
    ) -> Response:
        conn = LoopbackHttps(self.port, self.tls)
        try:
            all_headers = {**self.auth_header(auth), **(headers or {})}
            conn.request(method, target, body=body, headers=all_headers)
            resp = conn.getresponse()
            return Response(method, target, resp.status, resp.headers, resp.read())
        finally:
            conn.close()
