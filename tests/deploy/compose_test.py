#!/usr/bin/env python3
"""Brings up the compose stacks of deploy/compose with podman-compose and checks that drec counts.

Why this test exists: a compose file can be valid and still not work: the registry may not
resolve or trust drec, the token may not reach both sides, a store variant may point at the
wrong host. For each variant (compose.yaml alone: SQLite; with compose.postgresql.yaml; with
compose.mongodb.yaml) this program copies the files into a scratch directory with an .env (a
token, a password, free loopback ports), makes drec's certificate with deploy/compose/make-cert.sh,
runs `podman-compose up -d`, waits for drec's /readyz and the registry's /v2/, pushes a tiny image
into the registry with skopeo and pulls its manifest, and asserts through drec's API that the
push and the pull were counted, in the variant's store; then `podman-compose down -v` and the
project's network are removed (also on failure).

Stand-in images: no container registry is reachable here, so the images the compose files name
(docker.io/library/registry:2, docker.io/library/postgres:15, ghcr.io/ferretdb/ferretdb:1.24)
are built locally from Debian 12 packages and the FerretDB binary of scripts/build-ferretdb.sh
(tests/deploy/stand-ins/README.md says how each mirrors the original). An image of that name
without the stand-in label (a real one) is used as it is. drec's own image comes from the
repository's Dockerfile (tests/support/podman.py).

Usage: compose_test.py --workdir DIR [--variants sqlite,postgresql,mongodb] [--image IMAGE]
                       [--ferretdb PATH] [--source DIR]
Exit status 0 when every check passed; 77 when podman, podman-compose or skopeo cannot run here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
import podman as podman_support

from drec_harness import POLL_S, Checks, Failure, LoopbackHttps, fail, free_port, prepare_workdir

ROOT = Path(__file__).resolve().parents[2]
STAND_INS = Path(__file__).resolve().parent / "stand-ins"
COMPOSE = ROOT / "deploy/compose"
LABEL = "org.drec.stand-in"
IMAGES = {
    "registry": "docker.io/library/registry:2",
    "postgres": "docker.io/library/postgres:15",
    "ferretdb": "ghcr.io/ferretdb/ferretdb:1.24",
}
VARIANTS = {
    "sqlite": ([], ["registry"], "drec.db"),
    "postgresql": (["compose.postgresql.yaml"], ["registry", "postgres"], "postgresql"),
    "mongodb": (["compose.mongodb.yaml"], ["registry", "ferretdb"], "mongodb"),
}
READY_TIMEOUT_S = 180.0
COUNT_TIMEOUT_S = 60.0
REPOSITORY = "compose/probe"


def expect(condition: bool, message: str) -> None:
    if not condition:
        fail(message)


def ensure_stand_in(podman, name: str, ferretdb: Path | None, workdir: Path) -> str:
    """IMAGES[name], built from stand-ins/<name> unless storage has it (same build files)."""
    image = IMAGES[name]
    context = workdir / f"stand-in-{name}"
    shutil.rmtree(context, ignore_errors=True)
    shutil.copytree(STAND_INS / name, context)
    if name == "ferretdb":
        if ferretdb is None or not ferretdb.is_file():
            fail("no FerretDB binary (scripts/build-ferretdb.sh; --ferretdb)")
        shutil.copy2(ferretdb, context / "ferretdb")
    digest = hashlib.sha256()
    for path in sorted(context.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(podman.image_id(podman_support.DEBIAN_SLIM_IMAGE).encode())
    wanted = digest.hexdigest()[:16]
    with podman_support.cache_lock(f"stand-in-{name}"):
        if podman.exists(image):
            labels = (
                json.loads(
                    podman.run("image", "inspect", "--format", "{{json .Labels}}", image).stdout
                )
                or {}
            )
            if LABEL not in labels:
                podman_support.log(f"{image} is not a stand-in: used as it is")
                return image
            if labels[LABEL] == wanted:
                return image
        podman_support.log(f"building the stand-in {image}")
        podman.run(
            "build", "--network=host", "--pull=never", "--label", f"{LABEL}={wanted}",
            "-t", image, str(context), timeout=1800,
        )  # fmt: skip
    return image


def tiny_image(podman, workdir: Path) -> str:
    """A one-file image in local storage, for skopeo to push (containers-storage:)."""
    image = "localhost/drec-compose-probe:1"
    if not podman.exists(image):
        root = workdir / "probe-root"
        root.mkdir()
        (root / "hello.txt").write_text("drec compose test\n")
        tar = workdir / "probe.tar"
        subprocess.run(["tar", "-C", str(root), "-cf", str(tar), "."], check=True)
        podman.run("import", str(tar), image)
    return image


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", required=True, type=Path, help="scratch directory (cleared)")
    p.add_argument("--variants", default="sqlite,postgresql,mongodb")
    p.add_argument("--image", help="drec's image (default: build or find it from --source)")
    p.add_argument("--source", type=Path, default=ROOT, help="checkout drec's image is built from")
    p.add_argument("--ferretdb", default="", help="FerretDB binary for the MongoDB variant")
    args = p.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    unknown = set(variants) - VARIANTS.keys()
    if unknown:
        p.error(f"unknown variants {sorted(unknown)}")
    workdir = prepare_workdir(args.workdir, ".compose-test")
    try:
        podman = podman_support.podman_or_skip(
            workdir / "podman", tools=("podman-compose", "skopeo", "openssl")
        )
        image = args.image or podman_support.ensure_drec_image(podman, args.source)
        podman_support.probe(podman, image)
    except podman_support.Unavailable as e:
        print(f"SKIP: {e}")
        return 77
    # podman-compose runs plain `podman`: the runtime goes into the containers.conf it reads.
    conf = podman.workdir / "containers.conf"
    conf.write_text(podman_support.CONTAINERS_CONF + 'runtime = "runc"\n')
    env = dict(podman.env)
    probe_image = tiny_image(podman, workdir)
    checks = Checks(indent_details=True)

    for variant in variants:
        extra_files, stand_ins, store_word = VARIANTS[variant]

        def run_variant(variant=variant, extra_files=extra_files, stand_ins=stand_ins,
                        store_word=store_word):  # fmt: skip
            for name in stand_ins:
                ensure_stand_in(
                    podman, name, Path(args.ferretdb) if args.ferretdb else None, workdir
                )
            directory = workdir / f"compose-{variant}"
            shutil.copytree(COMPOSE, directory, ignore=shutil.ignore_patterns("tls", ".env"))
            subprocess.run([str(directory / "make-cert.sh")], check=True, timeout=60)
            token = hashlib.sha256(os.urandom(16)).hexdigest()[:48]
            drec_port, registry_port = free_port(), free_port()
            (directory / ".env").write_text(
                f"DREC_TOKEN={token}\nPOSTGRES_PASSWORD={token[:24]}\nDREC_IMAGE={image}\n"
                f"DREC_PORT={drec_port}\nREGISTRY_PORT={registry_port}\n"
            )
            project = f"drec-compose-{variant}-{os.getpid()}"
            compose = ["podman-compose", "--no-ansi", "-p", project, "-f", "compose.yaml"]
            for f in extra_files:
                compose += ["-f", f]
            log = directory / "compose.log"

            def compose_run(*cmd: str, check: bool = True, timeout: int = 600):
                with open(log, "a") as out:
                    out.write(f"$ {' '.join(compose + list(cmd))}\n")
                    out.flush()
                    result = subprocess.run(
                        compose + list(cmd), cwd=directory, env=env, stdout=out,
                        stderr=subprocess.STDOUT, timeout=timeout, check=False,
                    )  # fmt: skip
                if check and result.returncode != 0:
                    fail(
                        f"{' '.join(cmd)} failed ({result.returncode}):\n{podman_support.tail(log)}"
                    )

            def logs(service: str) -> str:
                result = podman.run("logs", f"{project}_{service}_1", check=False)
                return (result.stdout + result.stderr)[-3000:]

            tls = ssl.create_default_context(cafile=str(directory / "tls/drec.crt"))

            def api(path: str, *, auth: bool = True):
                conn = LoopbackHttps(drec_port, tls)
                try:
                    headers = {"Authorization": f"Bearer {token}"} if auth else {}
                    conn.request("GET", path, headers=headers)
                    resp = conn.getresponse()
                    return resp.status, resp.read()
                finally:
                    conn.close()

            try:
                compose_run("up", "-d")
                deadline = time.monotonic() + READY_TIMEOUT_S
                drec_ready = registry_ready = False
                last = "no answer"
                while not (drec_ready and registry_ready):
                    if time.monotonic() > deadline:
                        fail(f"not ready in {READY_TIMEOUT_S:.0f} s ({last}); drec:\n"
                             f"{logs('drec')}\nregistry:\n{logs('registry')}")  # fmt: skip
                    try:
                        drec_ready = drec_ready or api("/readyz", auth=False)[0] == 200
                    except (OSError, ssl.SSLError) as e:
                        last = f"drec: {e}"
                    try:
                        with urllib.request.urlopen(
                            f"http://127.0.0.1:{registry_port}/v2/", timeout=5
                        ) as resp:
                            registry_ready = resp.status == 200
                    except OSError as e:
                        last = f"registry: {e}"
                    time.sleep(POLL_S * 4)
                store_log = logs("drec")
                expect(f"store: {store_word}" in store_log or
                       (store_word == "drec.db" and "drec.db" in store_log),
                       f"drec is not on the {variant} store:\n{store_log}")  # fmt: skip
                destination = f"docker://127.0.0.1:{registry_port}/{REPOSITORY}:v1"
                for cmd in (
                    ["skopeo", "copy", "--dest-tls-verify=false",
                     f"containers-storage:{probe_image}", destination],
                    ["skopeo", "inspect", "--tls-verify=false", "--raw", destination],
                ):  # fmt: skip
                    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                                            check=False, env=env)  # fmt: skip
                    expect(result.returncode == 0, f"{' '.join(cmd[:2])}: {result.stderr}")
                # The registry notifies asynchronously: poll drec until both are counted.
                deadline = time.monotonic() + COUNT_TIMEOUT_S
                record = {}
                while time.monotonic() < deadline:
                    status, body = api(f"/api/v1/repositories/{REPOSITORY}")
                    if status == 200:
                        record = json.loads(body)
                        if record["numpushs"] >= 1 and record["numpulls"] >= 1:
                            break
                    time.sleep(POLL_S * 4)
                expect(record.get("numpushs") == 1 and record.get("numpulls") == 1,
                       f"expected one push and one pull of {REPOSITORY}, drec has {record};"
                       f" registry:\n{logs('registry')}")  # fmt: skip
                expect(record["tags"] == ["v1"], f"tags {record['tags']}")
                status, _ = api(f"/api/v1/repositories/{REPOSITORY}", auth=False)
                expect(status == 401, f"the API without the token: {status}")
            finally:
                compose_run("down", "-v", check=False)
                podman.run("network", "rm", "--force", f"{project}_default", check=False)
                left = podman.run(
                    "ps", "-a", "--filter", f"label=io.podman.compose.project={project}",
                    "--format", "{{.Names}}", check=False,
                ).stdout.split()  # fmt: skip
                for name in left:
                    podman.run("rm", "--force", name, check=False)
                volumes = podman.run(
                    "volume", "ls", "--filter", f"label=io.podman.compose.project={project}",
                    "--format", "{{.Name}}", check=False,
                ).stdout.split()  # fmt: skip
                for name in volumes:
                    podman.run("volume", "rm", "--force", name, check=False)

        checks.run(f"{variant}: registry push and pull counted by drec", run_variant)
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAIL {e}")
        sys.exit(1)
