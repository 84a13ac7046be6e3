#!/usr/bin/env python3
"""The registry client (src/registry_client/) against real CNCF Distribution 2.8 registries.

Why this test exists: `drec retention apply` deletes manifests through this client, so what it
believes about tags, digests, pagination, authentication and errors must hold against the real
registry, not a model of it. This program starts three Debian `docker-registry` processes on
loopback and pushes images into them with skopeo:

* `tls`: HTTPS with a self-signed certificate (the client's ca_file), htpasswd basic auth,
  deletes enabled; tags that page with `?n=2`;
* `nodelete`: plain HTTP, anonymous, deletes disabled (the 405 answer);
* `paging`: registry 3.x (scripts/build-registry3.sh) where built, plain HTTP: 2.8 ignores
  tags/list's `?n=`, 3.x pages with `Link: <...>; rel="next"`, which the client must follow;
* `token`: plain HTTP with `auth: token` and a token server in this program that signs RS256
  JWTs with the `openssl` CLI (x5c header, its self-signed certificate as rootcertbundle), so
  the Docker token flow runs for real;

then runs the GoogleTest cases RegistryClientRealTest.* of drec_integration_tests (which skip
when run without this program) with the set-up described in a JSON file, and finally checks
what the token server saw: one token per scope, i.e. the client cached them.

Usage: registry_client_test.py --tests PATH/drec_integration_tests --workdir DIR
                              [--registry3 PATH]
Exits 77 when docker-registry, skopeo, umoci or openssl is missing or this Python cannot make
bcrypt hashes. Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
import registry_e2e  # Processes, wait_until

import oci_images
from drec_harness import Failure, fail, free_port, prepare_workdir

SKIP = 77
USER, PASSWORD = "retention", "s3cret-pass"
TOKEN_USER, TOKEN_PASSWORD = "robot", "t0ken-pass"
SERVICE, ISSUER = "drec-test-registry", "drec-test-issuer"
TOKEN_LIFETIME_S = 300
WORKDIR_MARKER = ".registry_client_test"
GTEST_TIMEOUT_S = 300.0


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """A Docker token service: GET /token?service=&scope= with basic credentials answers a JWT
    granting what the scope asks for. Counts the tokens it issues per scope."""

    def __init__(self, key: Path, cert_der: bytes):
        self.key = key
        self.x5c = base64.b64encode(cert_der).decode()
        self.issued: dict[str, int] = {}
        self.refused = 0
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.handle(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def handle(self, request) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
        expected = "Basic " + base64.b64encode(f"{TOKEN_USER}:{TOKEN_PASSWORD}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            with self.lock:
                self.refused += 1
            request.send_response(401)
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        scopes = " ".join(query.get("scope", [])).split()
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": TOKEN_USER,
            "aud": query.get("service", [""])[0],
            "exp": now + TOKEN_LIFETIME_S,
            "nbf": now - 5,
            "iat": now,
            "jti": hashlib.sha256(os.urandom(16)).hexdigest(),
            "access": access,
        }
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        signing_input = (
            f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        )
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(),
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
        with self.lock:
            key = " ".join(scopes)
            self.issued[key] = self.issued.get(key, 0) + 1
        body = json.dumps(
            {"token": f"{signing_input}.{b64url(signature)}", "expires_in": TOKEN_LIFETIME_S}
        ).encode()
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def start(self):
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def self_signed(directory: Path, name: str, san: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    oci_images.run(
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", f"/CN={name}", "-addext", f"subjectAltName={san}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-keyout", str(key), "-out", str(cert),
    )  # fmt: skip
    return key, cert


def write_registry_config(directory: Path, port: int, extra: dict, delete: bool) -> Path:
    directory.mkdir()
    config = {
        "version": "0.1",
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(directory / "storage")},
            "delete": {"enabled": delete},
        },
        "http": {"addr": f"127.0.0.1:{port}"},
    } | extra
    path = directory / "config.yml"
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    return path


def start_registry(processes, name: str, binary: str, config: Path, url: str, ca) -> None:
    """Starts it and waits for /v2/; REGISTRY_* variables would override the configuration,
    and 3.x would export traces over OTLP unless told not to."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "OTEL_"))}
    env["OTEL_TRACES_EXPORTER"] = "none"
    processes.start(name, [binary, "serve", str(config)], env=env)
    context = ssl.create_default_context(cafile=str(ca)) if ca else None

    def ready():
        processes.check_alive(name)
        try:
            urllib.request.urlopen(f"{url}/v2/", timeout=2, context=context).close()
        except urllib.error.HTTPError as e:
            return e.code == 401
        except OSError:
            return False
        return True

    registry_e2e.wait_until(f"registry {name} at {url}", ready)


def skopeo(*argv: str, workdir: Path) -> str:
    return oci_images.run(
        "skopeo", "--insecure-policy", "--tmpdir", str(workdir / "tmp"), *argv, capture=True
    )


def push(layout: Path, ref: str, host: str, repo: str, tag: str, creds: str | None, workdir):
    skopeo(
        "copy", *(["--all"] if ref == "multi" else []), "--dest-tls-verify=false",
        *(["--dest-creds", creds] if creds else []),
        f"oci:{layout}:{ref}", f"docker://{host}/{repo}:{tag}", workdir=workdir,
    )  # fmt: skip


def raw_digest(host: str, repo: str, tag: str, creds: str | None, workdir: Path) -> str:
    """sha256 of the manifest bytes as the registry serves them (what HEAD must report)."""
    proc = subprocess.run(
        ["skopeo", "--insecure-policy", "inspect", "--raw", "--tls-verify=false",
         *(["--creds", creds] if creds else []), f"docker://{host}/{repo}:{tag}"],
        capture_output=True, check=False, timeout=120,
    )  # fmt: skip
    if proc.returncode != 0:
        fail(f"skopeo inspect --raw {repo}:{tag}: {proc.stderr.decode(errors='replace')}")
    return "sha256:" + hashlib.sha256(proc.stdout).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", required=True, help="the drec_integration_tests binary")
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument(
        "--registry3",
        default=str(
            Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
            / "drec/registry3/registry"
        ),
        help="registry 3.x (scripts/build-registry3.sh) for the pagination case; 2.8 does not "
        "page tags/list; without it that case skips",
    )
    args = parser.parse_args()
    registry3 = args.registry3 if Path(args.registry3).is_file() else None
    if not registry3:
        print(f"note: no registry 3.x at {args.registry3}: the real pagination case skips")

    missing = [t for t in ("docker-registry", "skopeo", "umoci", "openssl") if not shutil.which(t)]
    if missing:
        print(f"skipped: {', '.join(missing)} not installed (scripts/install-deps.sh)")
        return SKIP
    if not oci_images.bcrypt_hash("probe"):
        print("skipped: this Python cannot make bcrypt hashes for the registry's htpasswd")
        return SKIP

    workdir = prepare_workdir(args.workdir.resolve(), WORKDIR_MARKER)
    (workdir / WORKDIR_MARKER).touch()
    (workdir / "tmp").mkdir()
    processes = registry_e2e.Processes(workdir)
    token_server = None
    silent = socket.socket()  # listens but never answers: the timeout case
    try:
        tls_key, tls_cert = self_signed(workdir, "registry-tls", "IP:127.0.0.1")
        signer_key, signer_cert = self_signed(workdir, "token-signer", "DNS:token-signer")
        signer_der = subprocess.run(
            ["openssl", "x509", "-in", str(signer_cert), "-outform", "DER"],
            capture_output=True, check=True, timeout=30,
        ).stdout  # fmt: skip
        token_server = TokenServer(signer_key, signer_der)
        token_server.start()

        ports = {name: free_port() for name in ("tls", "nodelete", "paging", "token", "closed")}
        hosts = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
        htpasswd = workdir / "htpasswd"
        htpasswd.write_text(f"{USER}:{oci_images.bcrypt_hash(PASSWORD)}\n")
        configs = {
            "tls": write_registry_config(
                workdir / "tls",
                ports["tls"],
                {
                    "auth": {"htpasswd": {"realm": "drec-test", "path": str(htpasswd)}},
                    "http": {
                        "addr": hosts["tls"],
                        "tls": {"certificate": str(tls_cert), "key": str(tls_key)},
                    },
                },
                delete=True,
            ),
            "nodelete": write_registry_config(workdir / "nodelete", ports["nodelete"], {}, False),
            **(
                {"paging": write_registry_config(workdir / "paging", ports["paging"], {}, True)}
                if registry3
                else {}
            ),
            "token": write_registry_config(
                workdir / "token",
                ports["token"],
                {
                    "auth": {
                        "token": {
                            "realm": token_server.url,
                            "service": SERVICE,
                            "issuer": ISSUER,
                            "rootcertbundle": str(signer_cert),
                        }
                    }
                },
                delete=True,
            ),
        }
        urls = {
            "tls": f"https://{hosts['tls']}",
            "nodelete": f"http://{hosts['nodelete']}",
            "token": f"http://{hosts['token']}",
        } | ({"paging": f"http://{hosts['paging']}"} if registry3 else {})
        for name, config in configs.items():
            binary = registry3 if name == "paging" else "docker-registry"
            ca = tls_cert if name == "tls" else None
            start_registry(processes, name, binary, config, urls[name], ca)

        layout = workdir / "layout"
        images = oci_images.build_images(layout, workdir)
        creds = {
            "tls": f"{USER}:{PASSWORD}",
            "nodelete": None,
            "paging": None,
            "token": f"{TOKEN_USER}:{TOKEN_PASSWORD}",
        }
        pushes = {
            "tls": [
                ("team/app", "amd64", ["a1", "a2"]),
                ("team/app", "arm64", ["b1"]),
                ("team/app", "multi", ["multi"]),
                ("team/gone", "amd64", ["x1", "x2"]),
                ("team/gone", "arm64", ["y1"]),
            ],
            "nodelete": [("team/app", "amd64", ["a1"])],
            "paging": [
                ("team/app", "amd64", ["a1", "a2"]),
                ("team/app", "arm64", ["b1"]),
                ("team/app", "multi", ["multi"]),
            ],
            "token": [("team/app", "amd64", ["a1", "a2"]), ("team/app", "arm64", ["b1"])],
        }
        digests: dict[str, dict[str, str]] = {}
        for name, items in pushes.items():
            if name not in urls:
                continue
            for repo, ref, tags in items:
                for tag in tags:
                    push(layout, ref, hosts[name], repo, tag, creds[name], workdir)
                    digest = raw_digest(hosts[name], repo, tag, creds[name], workdir)
                    if digest != images[ref].digest:
                        fail(
                            f"{name} {repo}:{tag} serves {digest}, the layout has "
                            f"{images[ref].digest}"
                        )
                    digests.setdefault(name, {})[f"{repo}:{tag}"] = digest

        # The pagination case proves something only if the registry pages: it must answer ?n=2
        # with a Link to the next page. 2.8 ignores `n` (one page); 3.x pages.
        if "paging" in urls:
            with urllib.request.urlopen(
                f"{urls['paging']}/v2/team/app/tags/list?n=2", timeout=10
            ) as response:
                if 'rel="next"' not in (response.headers.get("Link") or ""):
                    fail("registry 3.x did not page tags/list?n=2 with a Link header")

        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        token_server.issued.clear()
        fixture = {
            "tls_url": urls["tls"],
            "ca_file": str(tls_cert),
            "user": USER,
            "password": PASSWORD,
            "nodelete_url": urls["nodelete"],
            "paging_url": urls.get("paging", ""),
            "token_url": urls["token"],
            "token_user": TOKEN_USER,
            "token_password": TOKEN_PASSWORD,
            "closed_url": f"http://{hosts['closed']}",
            "silent_url": f"http://127.0.0.1:{silent.getsockname()[1]}",
            "amd64": images["amd64"].digest,
            "arm64": images["arm64"].digest,
            "multi": images["multi"].digest,
            "multi_children": images["multi"].children,
        }
        fixture_path = workdir / "fixture.json"
        fixture_path.write_text(json.dumps(fixture, indent=2))
        env = dict(os.environ, DREC_TEST_REGISTRY_FIXTURE=str(fixture_path))
        rc = processes.run_foreground(
            "gtest",
            [args.tests, "--gtest_filter=RegistryClientRealTest.*", "--gtest_brief=0"],
            env,
            GTEST_TIMEOUT_S,
        )
        if rc != 0:
            fail(f"RegistryClientRealTest exited {rc}")
        with token_server.lock:
            issued = dict(token_server.issued)
        print(f"token server: tokens issued per scope: {issued}; refused: {token_server.refused}")
        if not issued or any(count != 1 for count in issued.values()):
            fail(f"the client should fetch one token per scope and reuse it: {issued}")
        if token_server.refused < 1:
            fail("the wrong-password case never reached the token server")
        print("registry client: every check passed")
        return 0
    except Failure as e:
        print(f"FAILED: {e}", file=sys.stderr)
        for name in ("tls", "nodelete", "paging", "token"):
            if name in processes.running:
                print(f"--- {name} log ---\n{processes.log_tail(name)}", file=sys.stderr)
        return 1
    finally:
        silent.close()
        processes.stop_all()
        if token_server:
            token_server.stop()


if __name__ == "__main__":
    sys.exit(main())
