#!/usr/bin/env python3
"""Starts deploy/systemd/drec.service under a real systemd and checks the service it makes.

Why this test exists: systemd_unit_test.py checks the unit offline, but a sandbox option can
still break the service only when systemd applies it (a mount namespace drec cannot write in, a
system call the filter kills, a user namespace that hides a file). The test machines' PID 1 is
not systemd, so this program runs one: a container (podman, runc) of drec's image with Debian's
systemd added and the unit installed the way docs/systemd.md says (systemd-sysusers, /etc/drec
root:drec 0640, `systemctl enable drec`), booted with /sbin/init. Then it checks:

* the service is active and drec answers /readyz over HTTPS (through a port published on
  127.0.0.1) with the token of /etc/drec/config.yml;
* the sandbox is really applied to drec's process: the drec user (not root), no capabilities
  (effective and bounding set), no_new_privs, a seccomp filter, / read-only, /var/lib/drec
  writable and holding drec.db, a private user namespace (PrivateUsers);
* its log lines are in the journal (`journalctl -u drec`);
* `systemctl reload drec` (ExecReload, SIGHUP) applies a token rotated in the config file: the
  new one is accepted, the old one refused, by the same process;
* Restart=on-failure: after a SIGKILL systemd starts drec again (a new pid, ready again);
* `systemctl stop drec` stops it cleanly (drec's "stopped" line in the journal).

The image (`localhost/drec-systemd:test-<hash>`) is built once per drec image and unit; the
container is removed at the end, also on failure.

Usage: systemd_service_test.py --workdir DIR [--image IMAGE] [--source DIR]
Exit status 0 when every check passed; 77 when podman cannot run containers here.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import ssl
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
import podman as podman_support

from drec_harness import POLL_S, Checks, Failure, LoopbackHttps, fail, free_port, prepare_workdir

ROOT = Path(__file__).resolve().parents[2]
UNIT_DIR = ROOT / "deploy/systemd"
TIMEOUT_S = 90.0
TOKEN = "systemd-service-test-token"
# drec's image with systemd, the unit installed as docs/systemd.md says. procps: /bin/kill for
# ExecReload (every standard Debian has it; the slim image does not).
CONTAINERFILE = """\
FROM {image}
USER root
RUN apt-get update \\
    && apt-get install -y --no-install-recommends systemd systemd-sysv procps \\
    && rm -rf /var/lib/apt/lists/* \\
    && userdel drec
COPY drec.sysusers.conf /usr/lib/sysusers.d/drec.conf
COPY drec.service /etc/systemd/system/drec.service
RUN systemd-sysusers \\
    && install -d -m 0750 -g drec /etc/drec \\
    && printf 'server:\\n  address: 0.0.0.0\\nauth:\\n  tokens: [{token}]\\n' \\
       > /etc/drec/config.yml \\
    && chgrp drec /etc/drec/config.yml && chmod 0640 /etc/drec/config.yml \\
    && systemctl enable drec
WORKDIR /
ENTRYPOINT ["/sbin/init"]
STOPSIGNAL SIGRTMIN+3
"""


def expect(condition: bool, message: str) -> None:
    if not condition:
        fail(message)


def ensure_systemd_image(podman, drec_image: str, workdir: Path) -> str:
    context = workdir / "image"
    context.mkdir()
    for name in ("drec.service", "drec.sysusers.conf"):
        shutil.copy2(UNIT_DIR / name, context / name)
    (context / "Containerfile").write_text(CONTAINERFILE.format(image=drec_image, token=TOKEN))
    digest = hashlib.sha256(podman.image_id(drec_image).encode())
    for path in sorted(context.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    image = f"localhost/drec-systemd:test-{digest.hexdigest()[:12]}"
    with podman_support.cache_lock("drec-systemd-image"):
        if not podman.exists(image):
            podman_support.log(f"building {image}")
            podman.run(
                "build", "--network=host", "--pull=never", "-t", image, str(context),
                timeout=1800,
            )  # fmt: skip
    return image


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", required=True, type=Path, help="scratch directory (cleared)")
    p.add_argument("--image", help="drec's image (default: build or find it from --source)")
    p.add_argument("--source", type=Path, default=ROOT, help="checkout drec's image is built from")
    args = p.parse_args()
    workdir = prepare_workdir(args.workdir, ".systemd-service-test")
    try:
        podman = podman_support.podman_or_skip(workdir / "podman")
        drec_image = args.image or podman_support.ensure_drec_image(podman, args.source)
        podman_support.probe(podman, drec_image)
    except podman_support.Unavailable as e:
        print(f"SKIP: {e}")
        return 77
    image = ensure_systemd_image(podman, drec_image, workdir)
    name = f"drec-systemd-test-{os.getpid()}"
    port = free_port()
    checks = Checks(indent_details=True)

    def sh(command: str, check: bool = True) -> str:
        result = podman.run("exec", name, "sh", "-c", command, check=False)
        if check and result.returncode != 0:
            fail(f"{command}: exit {result.returncode}: {result.stdout}{result.stderr}")
        return result.stdout.strip()

    def journal() -> str:
        return sh("journalctl -u drec --no-pager -o cat", check=False)

    def main_pid() -> str:
        return sh("systemctl show -p MainPID --value drec")

    tls: dict[str, ssl.SSLContext] = {}

    def get(path: str, token: str | None = None) -> int:
        if "ctx" not in tls:
            cafile = workdir / "cert.pem"
            cafile.write_text(sh("cat /var/lib/drec/tls/cert.pem"))
            tls["ctx"] = ssl.create_default_context(cafile=str(cafile))
        conn = LoopbackHttps(port, tls["ctx"])
        try:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()

    def wait_ready(what: str, not_pid: str | None = None) -> str:
        deadline = time.monotonic() + TIMEOUT_S
        last = "no answer"
        while time.monotonic() < deadline:
            state = sh("systemctl is-active drec", check=False)
            pid = main_pid() if state == "active" else "0"
            if state == "active" and pid not in ("0", not_pid):
                try:
                    if get("/readyz") == 200:
                        return pid
                    last = "/readyz not 200"
                except (OSError, ssl.SSLError, Failure) as e:
                    last = str(e)
            else:
                last = f"drec.service {state}, pid {pid}"
            time.sleep(POLL_S * 4)
        fail(f"{what}: not ready in {TIMEOUT_S:.0f} s ({last}):\n{journal()[-3000:]}")

    try:
        podman.run(
            "run", "-d", "--name", name, "--systemd=always",
            "-p", f"127.0.0.1:{port}:8443", image,
        )  # fmt: skip
        state: dict[str, str] = {}

        def started():
            deadline = time.monotonic() + TIMEOUT_S
            while sh("systemctl is-system-running", check=False) not in ("running", "degraded"):
                expect(time.monotonic() < deadline, "systemd did not finish booting")
                time.sleep(POLL_S * 4)
            state["pid"] = wait_ready("after boot")
            expect(get("/api/v1/repositories", TOKEN) == 200, "the config file's token refused")

        def sandbox():
            pid = state["pid"]
            status = sh(f"cat /proc/{pid}/status")
            fields = dict(
                line.split(":", 1) for line in status.splitlines() if ":" in line
            )  # fmt: skip
            uid = sh("id -u drec")
            expect(fields["Uid"].split()[0] == uid != "0", f"drec runs as {fields['Uid']}")
            expect(int(fields["CapEff"].strip(), 16) == 0, f"CapEff {fields['CapEff']}")
            expect(int(fields["CapBnd"].strip(), 16) == 0, f"CapBnd {fields['CapBnd']}")
            expect(fields["NoNewPrivs"].strip() == "1", "no_new_privs not set")
            expect(fields["Seccomp"].strip() == "2", f"no seccomp filter: {fields['Seccomp']}")
            mounts = {}
            for line in sh(f"cat /proc/{pid}/mountinfo").splitlines():
                parts = line.split()
                mounts[parts[4]] = parts[5].split(",")
            expect("ro" in mounts.get("/", []), f"/ is not read-only: {mounts.get('/')}")
            expect("rw" in mounts.get("/var/lib/drec", []), "/var/lib/drec not writable")
            expect("ro" in mounts.get("/home", ["ro"]), "/home writable (ProtectHome)")
            expect(sh("test -f /var/lib/drec/drec.db && echo yes") == "yes", "no drec.db")
            # PrivateUsers: a user namespace mapping only root and drec's own user.
            uid_map = sh(f"cat /proc/{pid}/uid_map").split("\n")
            expect(len(uid_map) == 2, f"uid_map {uid_map}")

        def journal_lines():
            expect("listening on https://0.0.0.0:8443" in journal(), f"journal:\n{journal()}")

        def reload():
            pid = main_pid()
            rotated = TOKEN + "-rotated"
            sh(f"sed -i 's/{TOKEN}/{rotated}/' /etc/drec/config.yml")
            sh("systemctl reload drec")
            deadline = time.monotonic() + TIMEOUT_S
            while True:
                try:
                    if get("/api/v1/repositories", rotated) == 200:
                        break
                    last = "rotated token refused"
                except OSError as e:
                    last = str(e)
                expect(time.monotonic() < deadline, f"{last}:\n{journal()[-2000:]}")
                time.sleep(POLL_S)
            expect(get("/api/v1/repositories", TOKEN) == 401, "old token still accepted")
            expect(main_pid() == pid, "reload restarted drec")

        def restart_on_failure():
            pid = main_pid()
            sh("systemctl kill -s KILL drec")
            new = wait_ready("after SIGKILL", not_pid=pid)
            expect(new != pid, "same pid after SIGKILL")

        def stop():
            sh("systemctl stop drec")
            expect(sh("systemctl is-active drec", check=False) == "inactive", "still active")
            expect(re.search(r"stopped in \d+ ms", journal()), f"no clean stop:\n{journal()}")

        checks.run("systemd starts drec.service; ready over HTTPS with the config's token", started)
        if checks.failed == 0:
            checks.run("sandbox applied: user, capabilities, seccomp, read-only /", sandbox)
            checks.run("drec's log lines in the journal", journal_lines)
            checks.run("systemctl reload: a rotated token applies, same process", reload)
            checks.run("Restart=on-failure: started again after SIGKILL", restart_on_failure)
            checks.run("systemctl stop: clean stop", stop)
    finally:
        # --volumes: the image's VOLUME /var/lib/drec became an anonymous volume.
        podman.run("rm", "--force", "--volumes", "--time", "10", name, check=False)
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAIL {e}")
        sys.exit(1)
