"""Private PostgreSQL clusters for the tests: initdb, start, stop, a streaming standby, promote.

Why it exists: the PostgreSQL store's suites (store contract, API, end to end, replicas,
failover) each need a server of their own, never the system cluster. A cluster lives in a
directory the test owns, listens on a free loopback port and on a Unix socket in that directory,
and is stopped by the test that started it. The server refuses to run as root, so under root the
cluster's files belong to the `postgres` user (Debian's package creates it) and every server
program runs through `runuser`. Python standard library only.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from drec_harness import fail, free_port

SERVER_USER = "postgres"


def bindir() -> Path:
    """The newest PostgreSQL server binaries (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    fail("no PostgreSQL server binaries (apt-get install postgresql)")
    return Path()  # unreachable


def unavailable_reason() -> str | None:
    """Why this machine cannot run a private cluster, or None when it can."""
    try:
        bindir()
    except Exception as e:
        return str(e)
    if not shutil.which("setpriv"):
        return "no setpriv (util-linux), which starts the server"
    if os.geteuid() == 0 and not _has_user(SERVER_USER):
        return f"running as root, and there is no user {SERVER_USER} to run the server as"
    return None


def available() -> bool:
    return unavailable_reason() is None


def query(uri: str, sql: str) -> str:
    """Runs SQL on the server a libpq URI names (any cluster, also one the test did not start);
    returns the unaligned, tuples-only output."""
    psql = bindir() / "psql"
    result = subprocess.run(
        [str(psql), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", uri, "-c", sql],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        fail(f"psql {uri}: {sql[:200]!r} failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout.strip()


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _reachable_by_others(path: Path) -> bool:
    """Whether a user other than the owner can reach files below `path` (x on every ancestor)."""
    for directory in [path, *path.parents]:
        try:
            if not directory.stat().st_mode & 0o001:
                return False
        except FileNotFoundError:
            continue
    return True


def server_directory(base: Path) -> Path:
    """Where the server's files go: `base`, unless the test runs as root in a directory the
    server user cannot reach (a clone under /root, say); then a directory of the same name in the
    system's temporary directory, which the caller removes as it would `base`."""
    base = base.resolve()
    if os.geteuid() != 0 or _reachable_by_others(base.parent):
        return base
    digest = hashlib.sha1(str(base).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"drec-pg-{digest}"


class Cluster:
    """One PostgreSQL server: its data directory, socket directory and port under `base`.

    `durable=False` turns fsync off, for suites that never crash the server (the store contract);
    crash and failover tests keep the defaults. `tcp=False` listens on the Unix socket alone, for
    a server whose address must be known before it starts (`port` then only names the socket).
    """

    def __init__(
        self,
        base: Path,
        *,
        name: str = "pg",
        durable: bool = True,
        tcp: bool = True,
        port: int | None = None,
    ):
        self.base = server_directory(Path(base))
        self.name = name
        self.data = self.base / name
        self.socket_dir = self.base / f"{name}-socket"
        self.log = self.base / f"{name}.log"
        self.port = port or free_port()
        self.tcp = tcp
        self.durable = durable
        self._bin = bindir()
        self._postmaster: subprocess.Popen | None = None

    # The server programs run as the postgres user when the test runs as root.
    def _run(
        self, *argv: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        command = [str(self._bin / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        result = subprocess.run(
            command, check=False, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            fail(f"{' '.join(argv[:2])} failed ({result.returncode}): {result.stderr[-2000:]}")
        return result

    def _own(self, *paths: Path) -> None:
        if os.geteuid() != 0:
            return
        user = pwd.getpwnam(SERVER_USER)
        for path in paths:
            os.chown(path, user.pw_uid, user.pw_gid)

    def _forget_earlier_run(self) -> None:
        """Removes this cluster's files left by an earlier run (a directory in the temporary
        directory outlives the workdir that a test clears)."""
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        for path in (self.data, self.socket_dir):
            shutil.rmtree(path, ignore_errors=True)
        self.log.unlink(missing_ok=True)

    def _prepare_dirs(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        # The server user must reach its files through the test's directory.
        os.chmod(self.base, 0o755)
        self.socket_dir.mkdir(exist_ok=True)
        self.log.touch()
        self._own(self.socket_dir, self.log)

    def _settings(self) -> list[str]:
        lines = [
            f"port = {self.port}",
            f"listen_addresses = '{'127.0.0.1' if self.tcp else ''}'",
            f"unix_socket_directories = '{self.socket_dir}'",
            "max_connections = 200",
            "shared_buffers = 32MB",
            "log_min_messages = warning",
        ]
        if not self.durable:
            lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        return lines

    def _append_conf(self, lines: list[str]) -> None:
        conf = self.data / "postgresql.auto.conf"
        with open(conf, "a") as f:
            f.write("\n".join(lines) + "\n")

    def init(self) -> Cluster:
        """initdb: trust authentication on loopback and the socket, bytewise (C) collation."""
        self._forget_earlier_run()
        self._prepare_dirs()
        self.data.mkdir(mode=0o700)
        self._own(self.data)
        extra = [] if self.durable else ["--no-sync"]
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            *extra,
        )
        self._append_conf(self._settings())
        return self

    def init_standby_of(self, primary: Cluster, application_name: str) -> Cluster:
        """pg_basebackup of `primary`, streaming from it as `application_name`."""
        self._forget_earlier_run()
        self._prepare_dirs()
        self.data.mkdir(mode=0o700)
        self._own(self.data)
        self._run(
            "pg_basebackup",
            "-D",
            str(self.data),
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-X",
            "stream",
            "-R",
            "-c",
            "fast",
        )
        self._append_conf(
            [
                *self._settings(),
                # Promoted, it must not wait for a standby of its own that does not exist.
                "synchronous_standby_names = ''",
                f"primary_conninfo = 'host=127.0.0.1 port={primary.port} user=postgres "
                f"application_name={application_name}'",
            ]
        )
        return self

    def set(self, **settings: str) -> None:
        """Adds settings (ALTER SYSTEM style, in postgresql.auto.conf); a reload applies them."""
        self._append_conf([f"{key} = '{value}'" for key, value in settings.items()])

    def start(self, timeout: float = 60, *, detached: bool = False) -> None:
        """Starts the postmaster and waits (bounded) until it accepts connections: `ready`, or
        `standby` for a hot standby, in postmaster.pid (what `pg_ctl start -w` waits for).

        `detached` leaves it running after this process ends (pg_ctl), for a ctest fixture whose
        cleanup step stops it; otherwise it dies with the test.
        """
        if detached:
            self._run(
                "pg_ctl",
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            )
            return
        if self._postmaster is not None and self._postmaster.poll() is None:
            fail(f"{self.name}: already running")
        user = []
        if os.geteuid() == 0:
            user = ["--reuid", SERVER_USER, "--regid", SERVER_USER, "--init-groups"]
        with open(self.log, "ab") as log:
            self._postmaster = subprocess.Popen(
                [
                    "setpriv",
                    *user,
                    "--pdeathsig",
                    "INT",
                    str(self._bin / "postgres"),
                    "-D",
                    str(self.data),
                ],
                cwd=self.base,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while self._status() not in ("ready", "standby"):
            if self._postmaster.poll() is not None:
                fail(
                    f"{self.name}: postgres exited with {self._postmaster.returncode} at start-up:"
                    f"\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                fail(f"{self.name}: not ready within {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.05)

    def _status(self) -> str:
        """The status line of postmaster.pid, when it is our postmaster's (not a stale file)."""
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return ""
        if len(lines) < 8 or lines[0].strip() != str(self._postmaster.pid):
            return ""
        return lines[7].strip()

    def running(self) -> bool:
        return self._postmaster is not None and self._postmaster.poll() is None

    def stop(self, mode: str = "fast") -> None:
        """Stops the server; mode `immediate` is a crash (no checkpoint), as a lost machine."""
        if (self.data / "postmaster.pid").exists():
            self._run(
                "pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False
            )
        if self._postmaster is not None:
            try:
                self._postmaster.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._postmaster.kill()
                self._postmaster.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def reload(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "reload")

    def promote(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "promote")

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Runs SQL through the Unix socket; returns the unaligned, tuples-only output."""
        result = self._run(
            "psql",
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.socket_dir),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-c",
            sql,
        )
        return result.stdout.strip()

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return self.uri(name)

    def uri(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (
                self._run(
                    "pg_isready", "-h", str(self.socket_dir), "-p", str(self.port), check=False
                ).returncode
                == 0
            ):
                return
            time.sleep(0.1)
        fail(f"PostgreSQL on port {self.port} not ready within {timeout:.0f} s")
