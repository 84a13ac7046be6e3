#!/usr/bin/env python3
"""Checks deploy/systemd/drec.service, the unit docs/systemd.md installs drec with.

Why this test exists: a unit file is easy to break without noticing (a key in the wrong section
is only a warning, a sandbox option can make drec's start fail, an Environment= name drec does not
know is silently useless). This program
1. runs `systemd-analyze verify` on a copy of the unit whose ExecStart points at the built drec
   (verify insists that the binary exists) and fails on any message it prints;
2. runs `systemd-analyze security --offline=true` on it, prints the exposure score and fails
   above MAX_EXPOSURE (the unit scores 1.1 "OK" with systemd 252);
3. checks the directives the deployment relies on (system user, StateDirectory, the sandbox,
   restart policy, SIGHUP reload, a stop timeout longer than drec's 10 s drain, stderr logging);
4. runs drec the way the unit does (its ExecStart arguments and Environment= lines, with
   /var/lib/drec and /etc/drec moved into a scratch directory) on a loopback port until /readyz
   answers, checks that the database and the generated certificate land in the state directory,
   rotates the token in the config file and sends SIGHUP (ExecReload): the new token must be
   accepted and the old one refused by the same process; then SIGTERM (KillSignal) and a clean
   exit within TimeoutStopSec.

The sandbox itself is exercised by systemd_service_test.py, which boots systemd in a container
(PID 1 here is not systemd).

Usage: systemd_unit_test.py --drec PATH --workdir DIR [--unit deploy/systemd/drec.service]
Exit status 0 when every check passed, 77 when systemd-analyze is missing.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
from drec_harness import POLL_S, Checks, Failure, LoopbackHttps, fail, free_port, prepare_workdir

ROOT = Path(__file__).resolve().parents[2]
# Exposure score (0 safest .. 10) above which the hardening counts as broken.
MAX_EXPOSURE = 1.5
START_TIMEOUT_S = 30.0
TOKEN = "systemd-unit-test-token"


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file as lists of (key, value), in order (keys may repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        if current is None or "=" not in line:
            fail(f"{path}: unexpected line {raw!r}")
        key, value = line.split("=", 1)
        current.append((key.strip(), value.strip()))
    return sections


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in section if k == key]


def one(section: list[tuple[str, str]], key: str) -> str:
    found = values(section, key)
    if len(found) != 1:
        fail(f"expected one {key}=, found {found}")
    return found[0]


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min)?", value)
    if not match:
        fail(f"unexpected time span {value!r}")
    return int(match.group(1)) * (60 if match.group(2) == "min" else 1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drec", required=True, help="drec binary")
    p.add_argument("--workdir", required=True, type=Path, help="scratch directory (cleared)")
    p.add_argument("--unit", type=Path, default=ROOT / "deploy/systemd/drec.service")
    args = p.parse_args()
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        print("SKIP: systemd-analyze not installed (Debian package systemd)")
        return 77
    workdir = prepare_workdir(args.workdir, ".systemd-unit-test")
    drec = str(Path(args.drec).resolve())
    unit = parse_unit(args.unit)
    service = unit.get("Service", [])
    exec_start = shlex.split(one(service, "ExecStart"))
    # A copy that names the built binary, for verify; same file name (the unit's name matters).
    copy = workdir / "unit" / args.unit.name
    copy.parent.mkdir()
    copy.write_text(args.unit.read_text().replace(exec_start[0], drec))
    checks = Checks()

    def verify():
        run = subprocess.run(
            [analyze, "verify", str(copy)], check=False, capture_output=True, text=True, timeout=60
        )
        output = (run.stdout + run.stderr).strip()
        if run.returncode != 0 or output:
            fail(f"systemd-analyze verify: exit {run.returncode}:\n{output}")

    def security():
        run = subprocess.run(
            [analyze, "security", "--offline=true", str(copy)],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        match = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", run.stdout)
        if not match:
            fail(
                f"no exposure level in systemd-analyze security's output:\n{run.stdout}{run.stderr}"
            )
        score = float(match.group(1))
        print(f"     systemd-analyze security: exposure {score} {match.group(2)}")
        if score > MAX_EXPOSURE:
            weak = [line for line in run.stdout.splitlines() if line.startswith("✗")]
            fail(f"exposure {score} > {MAX_EXPOSURE}:\n" + "\n".join(weak))

    def directives():
        expected = {
            "User": "drec",
            "StateDirectory": "drec",
            "WorkingDirectory": "/var/lib/drec",
            "ProtectSystem": "strict",
            "ProtectHome": "yes",
            "PrivateTmp": "yes",
            "NoNewPrivileges": "yes",
            "CapabilityBoundingSet": "",
            "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
            "MemoryDenyWriteExecute": "yes",
            "LockPersonality": "yes",
            "Restart": "on-failure",
            "ExecReload": "/bin/kill -HUP $MAINPID",
            "KillSignal": "SIGTERM",
        }
        wrong = [
            f"{key}={values(service, key)} (expected {value!r})"
            for key, value in expected.items()
            if values(service, key) != [value]
        ]
        if "@system-service" not in values(service, "SystemCallFilter"):
            wrong.append("SystemCallFilter lacks @system-service")
        # Logs: stderr, and systemd's default for it is the journal; nothing may redirect them.
        for key in ("StandardOutput", "StandardError"):
            if values(service, key) not in ([], ["journal"]):
                wrong.append(f"{key}={values(service, key)}: logs must go to the journal")
        # drec gives requests 10 s on SIGTERM, then commits its queue.
        if seconds(one(service, "TimeoutStopSec")) < 20:
            wrong.append("TimeoutStopSec shorter than drec's 10 s drain plus a final commit")
        if exec_start[1:] != ["--config", "/etc/drec/config.yml"]:
            wrong.append(f"ExecStart arguments {exec_start[1:]}")
        if wrong:
            fail("; ".join(wrong))

    def run_like_the_unit():
        state = workdir / "var-lib-drec"
        etc = workdir / "etc-drec"
        state.mkdir()
        etc.mkdir()
        port = free_port()
        config = f"server:\n  address: 127.0.0.1\n  port: {port}\nauth:\n  tokens: [{TOKEN}]\n"
        (etc / "config.yml").write_text(config)

        def moved(text: str) -> str:
            return text.replace("/var/lib/drec", str(state)).replace("/etc/drec", str(etc))

        env = {k: v for k, v in os.environ.items() if not k.startswith("DREC_")}
        for assignment in values(service, "Environment"):
            key, value = assignment.split("=", 1)
            env[key] = moved(value)
        argv = [drec, *(moved(a) for a in exec_start[1:])]
        cwd = moved(one(service, "WorkingDirectory"))
        log = workdir / "drec.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            cert = state / "tls" / "cert.pem"

            def get(path: str, token: str | None = None) -> int:
                conn = LoopbackHttps(port, ssl.create_default_context(cafile=str(cert)))
                try:
                    conn.request(
                        "GET", path, headers={"Authorization": f"Bearer {token}"} if token else {}
                    )
                    resp = conn.getresponse()
                    resp.read()
                    return resp.status
                finally:
                    conn.close()

            def wait_ready(what: str) -> None:
                deadline = time.monotonic() + START_TIMEOUT_S
                last = "no answer"
                while time.monotonic() < deadline:
                    if proc.poll() is not None:
                        fail(
                            f"drec exited with {proc.returncode} {what}:\n{log.read_text()[-2000:]}"
                        )
                    if cert.exists() and cert.stat().st_size > 0:
                        try:
                            if get("/readyz") == 200:
                                return
                            last = "/readyz not 200"
                        except (OSError, ValueError) as e:
                            last = str(e)
                    time.sleep(POLL_S)
                fail(f"drec not ready {what} within {START_TIMEOUT_S:.0f} s ({last})")

            wait_ready("after start")
            if not (state / "drec.db").exists():
                fail(f"no database at {state / 'drec.db'}: Environment= did not reach drec")
            api = "/api/v1/repositories"
            if get(api, TOKEN) != 200:
                fail(f"GET {api} with the config file's token refused")
            # ExecReload: a token rotated in /etc/drec/config.yml applies without a restart.
            rotated = TOKEN + "-rotated"
            (etc / "config.yml").write_text(config.replace(TOKEN, rotated))
            proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + START_TIMEOUT_S
            while get(api, rotated) != 200:
                if proc.poll() is not None:
                    fail(f"drec exited on SIGHUP:\n{log.read_text()[-2000:]}")
                if time.monotonic() > deadline:
                    fail(f"the rotated token not accepted after SIGHUP:\n{log.read_text()[-2000:]}")
                time.sleep(POLL_S)
            if get(api, TOKEN) != 401:
                fail("the old token still accepted after the reload")
            wait_ready("after SIGHUP (ExecReload)")
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=seconds(one(service, "TimeoutStopSec")))
            except subprocess.TimeoutExpired:
                fail("drec did not stop within TimeoutStopSec after SIGTERM")
            if code != 0:
                fail(f"drec exited with {code} on SIGTERM:\n{log.read_text()[-2000:]}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)

    checks.run("systemd-analyze verify", verify)
    checks.run("systemd-analyze security", security)
    checks.run("directives", directives)
    checks.run("drec runs as the unit starts it, reloads, stops", run_like_the_unit)
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAIL {e}")
        sys.exit(1)
