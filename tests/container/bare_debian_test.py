#!/usr/bin/env python3
"""The README's two commands on a bare Debian 12, as a new user runs them.

A minimal Debian 12 root file system (debootstrap --variant=minbase, cached outside the clone in
${XDG_CACHE_HOME:-~/.cache}/drec/bookworm-rootfs) is imported into podman as a local image. In a
container from it, with nothing installed but git:

  1. `git clone` of this checkout (mounted read-only; the clone's HEAD must be the checkout's);
  2. `scripts/run.sh --server-port P` until https://127.0.0.1:P/readyz answers 200 with the
     certificate drec generated in the clone, then SIGTERM: drec must exit 0;
  3. `DREC_TEST_SCOPE=quick scripts/test.sh`: the package install, Go toolchain fetch, registry 3
     and FerretDB builds, the optimised build and all its tests except this one, which must pass
     (the registry 3, MongoDB and browser suites included, so none was skipped for a missing tool).

The container shares the host's network (the machine's package registries and loopback only)
and the host's local certificate authorities (/usr/local/share/ca-certificates, read-only).
It is removed at the end, also on failure or interruption. Without root, podman, runc or
debootstrap, or where podman cannot start a container, the test says why and exits 77 (skipped).

  python3 tests/container/bare_debian_test.py --source . --workdir /tmp/drec-container
"""

import argparse
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
from podman import (
    SKIP,
    Unavailable,
    ensure_bare_image,
    podman_or_skip,
    tail,
)

IMAGE = "localhost/drec-bookworm:minbase"


def log(message):
    print(f"[container-test {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readyz(port, cafile=None):
    context = (
        ssl.create_default_context(cafile=cafile) if cafile else ssl._create_unverified_context()
    )
    with urllib.request.urlopen(
        f"https://127.0.0.1:{port}/readyz", context=context, timeout=5
    ) as r:
        return r.status


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", required=True, help="the checkout to clone")
    parser.add_argument("--workdir", required=True, help="logs and podman configuration")
    parser.add_argument("--run-timeout", type=int, default=2400, help="seconds for run.sh to serve")
    parser.add_argument("--test-timeout", type=int, default=4800, help="seconds for test.sh")
    args = parser.parse_args()
    source = Path(args.source).resolve()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    # ctest's timeout and ^C end the test through `finally`, so the container goes too.
    def interrupted(signum, _frame):
        raise SystemExit(f"interrupted by signal {signum}")

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, interrupted)

    try:
        podman = podman_or_skip(workdir, tools=("git",))
    except Unavailable as why:
        log(f"SKIPPED: {why}")
        return SKIP

    head = subprocess.run(
        ["git", "-C", str(source), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    if dirty:
        log(f"note: uncommitted changes in {source} are not in the clone (it tests {head[:12]})")
    # A worktree's .git is a file naming the repository's own .git: mount both, at their paths.
    common = Path(
        subprocess.run(
            ["git", "-C", str(source), "rev-parse", "--path-format=absolute", "--git-common-dir"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    mounts = ["-v", f"{source}:{source}:ro"]
    if source not in common.parents:
        mounts += ["-v", f"{common}:{common}:ro"]
    # The machine's own certificate authorities (a TLS-inspecting proxy's, a company's), as its
    # administrator would install them on any new machine: once the ca-certificates package is
    # installed, they are in the container's trust store too, and the registries are reachable.
    local_cas = Path("/usr/local/share/ca-certificates")
    if any(local_cas.glob("**/*.crt")):
        mounts += ["-v", f"{local_cas}:{local_cas}:ro"]

    started = time.monotonic()
    timings = {}
    assert ensure_bare_image(podman) == IMAGE
    probe = podman.run("run", "--rm", "--network=host", IMAGE, "true", check=False)
    if probe.returncode != 0:
        log(f"SKIPPED: podman cannot start a container here:\n{probe.stderr}")
        return SKIP
    timings["image"] = time.monotonic() - started

    name = f"drec-bare-{os.getpid()}-{int(time.time())}"
    run_process = None
    try:
        podman.run(
            "run", "-d", "--name", name, "--network=host", *mounts, IMAGE, "sleep", "infinity"
        )

        def exec_logged(step, script, logfile, timeout, env=()):
            log(f"{step}: {script}  (log {logfile})")
            t0 = time.monotonic()
            env_args = [a for k, v in env for a in ("-e", f"{k}={v}")]
            with open(logfile, "w") as out:
                result = podman.run(
                    "exec",
                    *env_args,
                    name,
                    "bash",
                    "-c",
                    script,
                    check=False,
                    capture=False,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                )
            timings[step] = time.monotonic() - t0
            assert result.returncode == 0, (
                f"{step} failed ({result.returncode}), last lines of {logfile}:\n{tail(logfile)}"
            )
            log(f"{step}: done in {timings[step]:.0f} s")

        # What a new user does first: git, then the clone (only the checkout is mounted).
        exec_logged(
            "git",
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
            "apt-get install -y -qq --no-install-recommends git >/dev/null",
            workdir / "git.log",
            900,
        )
        exec_logged(
            "clone",
            f"git clone -q {source} /root/drec && git -C /root/drec log -1 --format=%H",
            workdir / "clone.log",
            600,
        )
        cloned = (workdir / "clone.log").read_text().split()[-1]
        assert cloned == head, f"the clone is at {cloned}, the checkout at {head}"

        # 1. scripts/run.sh serves.
        port = free_port()
        run_log = workdir / "run.log"
        log(f"run.sh: scripts/run.sh --server-port {port}  (log {run_log})")
        t0 = time.monotonic()
        with open(run_log, "w") as out:
            run_process = subprocess.Popen(
                podman.cmd(
                    "exec",
                    name,
                    "bash",
                    "-c",
                    f"cd /root/drec && echo $$ >/tmp/run.pid && "
                    f"exec scripts/run.sh --server-port {port}",
                ),
                env=podman.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        status = None
        while time.monotonic() - t0 < args.run_timeout:
            if run_process.poll() is not None:
                raise AssertionError(
                    f"run.sh ended ({run_process.returncode}) before serving:\n{tail(run_log)}"
                )
            try:
                status = readyz(port)
                break
            except OSError:
                time.sleep(2)  # polling interval while it installs and builds
        timings["run.sh until ready"] = time.monotonic() - t0
        assert status == 200, f"no answer on /readyz within {args.run_timeout} s:\n{tail(run_log)}"
        cert = workdir / "drec-cert.pem"
        cert.write_text(podman.run("exec", name, "cat", "/root/drec/drec-data/tls/cert.pem").stdout)
        assert readyz(port, cafile=str(cert)) == 200  # the clone's own drec, by its certificate
        log(f"run.sh: /readyz answered 200 after {timings['run.sh until ready']:.0f} s")
        podman.run("exec", name, "bash", "-c", "kill -TERM $(cat /tmp/run.pid)")
        rc = run_process.wait(timeout=120)
        run_process = None
        assert rc == 0, f"drec exited {rc} on SIGTERM:\n{tail(run_log)}"

        # 2. scripts/test.sh, the optimised build's tests (this one excluded: no recursion).
        test_log = workdir / "test.log"
        exec_logged(
            "test.sh",
            "cd /root/drec && scripts/test.sh",
            test_log,
            args.test_timeout,
            env=[("DREC_TEST_SCOPE", "quick")],
        )
        text = test_log.read_text(errors="replace")
        assert "100% tests passed" in text, f"ctest did not pass everything:\n{tail(test_log)}"
        for test in (
            "e2e_registry_sqlite",
            "e2e_registry3_sqlite",
            "e2e_registry_mongodb",
            "api_sqlite",
            "api_mongodb",
            "browser_dashboard",
        ):
            assert re.search(rf"Test +#\d+: {test} \.+ +Passed", text), (
                f"{test} did not pass (or did not run):\n{tail(test_log)}"
            )
        assert "container_bare_debian" not in text, "test.sh ran the container test inside itself"
        go = podman.run(
            "exec", name, "bash", "-c", "ls -d /root/.cache/drec/go-*/bin/go", check=False
        ).stdout.strip()
        assert go, "test.sh did not fetch a Go toolchain (bare Debian 12 has none new enough)"
        log(f"test.sh fetched {go}")
    finally:
        if run_process is not None:
            run_process.kill()
            run_process.wait()
        podman.run("rm", "-f", "-t", "0", name, check=False)
        log("container removed")
        log(
            "timings: "
            + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
            + f"; total {time.monotonic() - started:.0f} s"
        )
    log("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
