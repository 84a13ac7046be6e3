"""A real CNCF Distribution registry for the Python test programs, and what they need around it.

Why it exists: several end-to-end tests (registry statistics, retention, backfill) start Debian's
`docker-registry` 2.8 (or a 3.x `registry`) on a loopback port with filesystem storage, let it
notify drec with a static Authorization header, check its htpasswd users, read its delivery
counters, stop it and run its garbage collection; one copy keeps their set-ups from drifting
apart. Python standard library only; programs import it by putting this directory on `sys.path`
(as for drec_harness.py).

* `make_pki`: a throw-away CA and a certificate for 127.0.0.1/localhost (the registry is Go: it
  trusts drec through SSL_CERT_FILE=ca and needs the IP in the SAN).
* `Registry`: one registry process: config (storage, delete enabled or not, notifications,
  htpasswd, log format and access log for log readers), start/stop, its `/debug/vars` delivery
  counters, `garbage_collect`, plain-HTTP requests to it.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from drec_harness import Failure, free_port, stop_process
from oci_images import bcrypt_hash, run

POLL_S = 0.05
WAIT_S = 20.0


def wait_until(what: str, probe, timeout: float = WAIT_S):
    """Polls `probe` until it returns a truthy value, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_S)


@dataclasses.dataclass
class Pki:
    ca: Path
    cert: Path
    key: Path


def make_pki(directory: Path) -> Pki:
    """A throw-away CA and a server certificate for 127.0.0.1/localhost (openssl CLI)."""
    directory.mkdir()
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    cert, key, csr = directory / "server.pem", directory / "server.key", directory / "server.csr"
    ext = directory / "server.ext"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run(
        "openssl",
        "req",
        "-x509",
        *ec,
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-days",
        "2",
        "-subj",
        "/CN=drec e2e test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    run("openssl", "req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    run(
        "openssl",
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        str(ext),
        "-out",
        str(cert),
    )
    return Pki(ca, cert, key)


def notification_endpoint(
    name: str,
    url: str,
    *,
    token: str | None = None,
    timeout_ms: int = 1000,
    threshold: int = 3,
    backoff_ms: int = 100,
) -> dict:
    """One `notifications.endpoints` item; `token` becomes a static bearer Authorization header."""
    endpoint = {
        "name": name,
        "url": url,
        "timeout": f"{timeout_ms}ms",
        "threshold": threshold,
        "backoff": f"{backoff_ms}ms",
    }
    if token:
        endpoint["headers"] = {"Authorization": [f"Bearer {token}"]}
    return endpoint


class Registry:
    """One registry process on a free loopback port, plain HTTP, filesystem storage.

    `endpoints` are `notification_endpoint` items; `users` ({name: password}) turn on htpasswd
    authentication; `delete_enabled` is `storage.delete.enabled`; `log_formatter` (text, json)
    and `accesslog` are for tests that read the registry's log. `configure` rewrites the config
    (between a `stop` and a `start`, on the same storage and port).
    """

    def __init__(
        self,
        binary: str,
        workdir: Path,
        *,
        endpoints: list[dict] | None = None,
        users: dict[str, str] | None = None,
        delete_enabled: bool = True,
        log_formatter: str = "text",
        accesslog: bool = False,
        ca: Path | None = None,
    ):
        self.binary = binary
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage = self.workdir / "storage"
        self.port, self.debug_port = free_port(), free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.log = self.workdir / "registry.log"
        self.ca = ca
        self.proc: subprocess.Popen | None = None
        self.users = users
        self.config = self.workdir / "config.yml"
        self.configure(
            endpoints=endpoints,
            users=users,
            delete_enabled=delete_enabled,
            log_formatter=log_formatter,
            accesslog=accesslog,
        )

    def configure(
        self,
        *,
        endpoints: list[dict] | None = None,
        users: dict[str, str] | None = None,
        delete_enabled: bool = True,
        log_formatter: str = "text",
        accesslog: bool = False,
    ) -> None:
        """Writes the configuration; JSON is YAML, and 2.8 and 3.x read the same keys here."""
        self.users = users
        config = {
            "version": "0.1",
            "log": {
                "level": "info" if accesslog else "warn",
                "formatter": log_formatter,
                "accesslog": {"disabled": not accesslog},
            },
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage)},
                "delete": {"enabled": delete_enabled},
            },
            "http": {"addr": self.host, "debug": {"addr": f"127.0.0.1:{self.debug_port}"}},
        }
        if endpoints:
            config["notifications"] = {"endpoints": endpoints}
        if users:
            htpasswd = self.workdir / "htpasswd"
            hashes = {u: bcrypt_hash(p) for u, p in users.items()}
            if not all(hashes.values()):
                raise Failure("this Python cannot make bcrypt hashes for htpasswd users")
            htpasswd.write_text("".join(f"{u}:{h}\n" for u, h in hashes.items()))
            config["auth"] = {"htpasswd": {"realm": "drec-e2e", "path": str(htpasswd)}}
        self.config.write_text(json.dumps(config, indent=2))

    def _env(self) -> dict[str, str]:
        """REGISTRY_* variables would override the config, and 3.x would export traces over
        OTLP unless told not to; SSL_CERT_FILE makes it trust drec's certificate."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "OTEL_"))}
        env["OTEL_TRACES_EXPORTER"] = "none"
        if self.ca:
            env["SSL_CERT_FILE"] = str(self.ca)
        return env

    def start(self) -> None:
        """Starts it and waits until /v2/ answers (401 counts: it is up, with users).

        setpriv (util-linux), where present, gives it a parent-death signal, so even a SIGKILL
        of the test (a ctest timeout) leaves no registry behind.
        """
        prefix = ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [*prefix, self.binary, "serve", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._env(),
            )

        def ready():
            if self.proc.poll() is not None:
                raise Failure(f"registry exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                urllib.request.urlopen(f"{self.url}/v2/", timeout=2).close()
            except urllib.error.HTTPError as e:
                return e.code == 401
            except OSError:
                return False
            return True

        wait_until(f"registry {self.host} /v2/", ready)

    def stop(self) -> None:
        """SIGTERM (then SIGKILL); the registry drops events it has not delivered yet, so call
        `wait_drained` first where they matter."""
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def log_tail(self, lines: int = 30) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def garbage_collect(self, *, delete_untagged: bool = False) -> str:
        """`registry garbage-collect` on the stopped registry's storage; returns its output."""
        if self.proc is not None:
            raise Failure("garbage-collect needs the registry stopped")
        argv = [self.binary, "garbage-collect", str(self.config)]
        if delete_untagged:
            argv.append("--delete-untagged")
        proc = subprocess.run(
            argv, check=False, capture_output=True, text=True, timeout=120, env=self._env()
        )
        if proc.returncode != 0:
            raise Failure(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr}")
        return proc.stdout + proc.stderr

    def blob_path(self, digest: str) -> Path:
        """Where filesystem storage keeps a blob's data (2.x and 3.x layout)."""
        algorithm, hex_digest = digest.split(":", 1)
        return (
            self.storage
            / "docker/registry/v2/blobs"
            / algorithm
            / hex_digest[:2]
            / hex_digest
            / "data"
        )

    def endpoint_metrics(self, endpoint: str) -> dict:
        """The registry's own delivery counters (expvar): Pending, Events, Successes, Errors..."""
        url = f"http://127.0.0.1:{self.debug_port}/debug/vars"
        with urllib.request.urlopen(url, timeout=5) as resp:
            endpoints = json.load(resp)["registry"]["notifications"]["endpoints"] or []
        for e in endpoints:
            if e["name"] == endpoint:
                return e["Metrics"]
        raise Failure(f"registry {self.host} has no notification endpoint {endpoint!r}")

    def wait_drained(self, endpoint: str, timeout: float = WAIT_S) -> None:
        wait_until(
            f"registry {self.host} to deliver every event to {endpoint}",
            lambda: self.endpoint_metrics(endpoint)["Pending"] == 0,
            timeout,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        user: str | None = None,
        accept: str | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """A plain-HTTP request as `user` (basic auth with its password from `users`):
        status, headers, body; error statuses are returned, not raised."""
        headers = {"Accept": accept} if accept else {}
        if user:
            pair = f"{user}:{self.users[user]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        request = urllib.request.Request(self.url + path, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()
