#!/usr/bin/env python3
"""Runs a test command against a FerretDB server of its own.

    with_ferretdb.py --ferretdb BIN -- COMMAND ARGS...   ({uri} in ARGS becomes the server's URI)

The Python suites (end to end, API) take a MongoDB URI; this starts FerretDB on a free
loopback port with its embedded SQLite backend in a temporary directory, runs the command,
and stops the server whatever happens. With DREC_TEST_MONGODB_URI set, that server is used
instead and nothing is started.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))
from drec_harness import free_port


def wait_listening(port: int, server: subprocess.Popen, deadline_s: float = 20.0) -> None:
    """Polls the port until FerretDB accepts connections (bounded): the command never races it."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"ferretdb exited with {server.returncode} at start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("ferretdb did not listen within 20 s")


def start_ferretdb(
    binary: str, state: Path, log, wrapper: tuple[str, ...] = ()
) -> tuple[subprocess.Popen, str]:
    """FerretDB on a free loopback port, its SQLite backend in `state`, its output to `log`.

    Returns the server and its URI once it listens; stops it and raises when it does not within
    the bound. `wrapper` goes before the binary (e.g. setpriv for a parent-death signal).
    """
    port = free_port()
    server = subprocess.Popen(
        [
            *wrapper,
            binary,
            "--handler=sqlite",
            f"--sqlite-url=file:{state}/",
            f"--listen-addr=127.0.0.1:{port}",
            f"--state-dir={state}",
            "--telemetry=disable",
            "--debug-addr=-",
            "--log-level=WARN",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_listening(port, server)
    except RuntimeError:
        server.kill()
        server.wait()
        raise
    return server, f"mongodb://127.0.0.1:{port}/"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ferretdb", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    external = os.environ.get("DREC_TEST_MONGODB_URI")
    if external:
        return subprocess.call([a.replace("{uri}", external) for a in command])
    if not os.access(args.ferretdb, os.X_OK):
        print(
            f"with_ferretdb: no FerretDB at {args.ferretdb} (scripts/build-ferretdb.sh builds it)",
            file=sys.stderr,
        )
        return 1
    with (
        tempfile.TemporaryDirectory(prefix="drec-ferretdb-") as state,
        open(os.path.join(state, "ferretdb.log"), "w") as log,
    ):
        server, uri = start_ferretdb(args.ferretdb, Path(state), log)
        try:
            return subprocess.call([a.replace("{uri}", uri) for a in command])
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


if __name__ == "__main__":
    sys.exit(main())
