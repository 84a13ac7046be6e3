#!/usr/bin/env python3
"""End-to-end test of what drec does with hostile content: names, numbers, CSV cells, HEAD, flags.

Why this test exists: a registry only sends what its grammar allows, but anyone with a token can
post anything, and other tools write into the same store. Each check below is a finding of
issue 11 that the real process got wrong, and fails on a drec without its fix:
  1. Names beyond the registry's limits were cut at 1024 bytes: distinct long names merged, and a
     cut inside a UTF-8 character made every API page with it invalid JSON. Now events with a
     repository name, tag or actor the registry's grammar or limits refuse are acknowledged and
     ignored by reason (drec_events_ignored_total), the valid events beside them count, and
     every page is strict UTF-8 JSON.
  2. One number beyond 64 bits anywhere in an envelope made the whole envelope 400, which a
     registry retries forever. Now it is 200, and the envelope's events count.
  3. A repository name that begins like a spreadsheet formula (written by another tool, or kept
     from before names were checked) was exported as is by ?format=csv; now as text ('=...).
  4. HEAD on the dashboard's files answered Content-Length: 0; now the GET answer's length.
  5. `--auth-tokens ,` was reported as a missing config file; now as the empty token it is.

Usage: hostile_content_e2e.py --drec PATH --workdir DIR
Python standard library only (and setpriv on PATH where present). drec is stopped in `finally`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
from drec_harness import Checks, Drec, Failure, fail, prepare_workdir

WORKDIR_MARKER = ".hostile-content-e2e"
TOKEN = "hostile-content-token"
START_TIMEOUT_S = 30.0
EVENTS_V1 = "application/vnd.docker.distribution.events.v1+json"
IMAGE = "application/vnd.oci.image.manifest.v1+json"
DIGEST = "sha256:" + "ab" * 32
STAMP = "2026-12-01T18:51:52.446411192Z"


def event(repo: str, *, tag: str = "v1", actor: str = "", size: object = 345) -> dict:
    """A pull by tag of an image manifest, shaped as registry 2.8 sends it (tests/data)."""
    return {
        "id": str(uuid.uuid4()),
        "timestamp": STAMP,
        "action": "pull",
        "target": {
            "mediaType": IMAGE,
            "size": size,
            "digest": DIGEST,
            "length": 345,
            "repository": repo,
            "tag": tag,
        },
        "request": {"id": str(uuid.uuid4()), "method": "GET", "useragent": "skopeo/1.9.3"},
        "actor": {"name": actor} if actor else {},
        "source": {"addr": "vm:5000", "instanceID": str(uuid.uuid4())},
    }


def post(drec: Drec, body: bytes):
    return drec.request("POST", "/events", headers={"Content-Type": EVENTS_V1}, body=body)


def ignored(drec: Drec) -> dict[str, int]:
    text = drec.request("GET", "/metrics", auth=None).expect(200).body.decode()
    return {
        m.group(1): int(float(m.group(2)))
        for m in re.finditer(r'^drec_events_ignored_total\{reason="([a-z_]+)"\} (\S+)$', text, re.M)
    }


def strict_json(drec: Drec, target: str):
    """The answer's body as JSON, after checking that it is UTF-8 (Python's json alone is lax)."""
    response = drec.request("GET", target).expect(200)
    try:
        text = response.body.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        fail(f"{target}: not UTF-8 ({e})")
    return json.loads(text)


def check_names(drec: Drec) -> None:
    long_a = "r" * 1100 + "a"
    long_b = "r" * 1100 + "b"
    # Cut at 1024 bytes, this actor would end inside the two-byte character at bytes 1023-1024.
    actor_cut_inside = "x" * 1023 + "\u00e9" * 40
    before = ignored(drec)
    envelope = {
        "events": [
            event("names/ok", actor="alice"),
            event(long_a),
            event(long_b),
            event("r" * 256),
            event("Names/Upper"),
            event("names/tag", tag="t" * 129),
            event("names/actor", actor=actor_cut_inside),
            event("names/limits", tag="t" * 128, actor="y" * 1024),
        ]
    }
    r = post(drec, json.dumps(envelope).encode()).expect(200)
    answer = r.json
    if answer != {"events": 8, "ignored": 6}:
        fail(f"ingest answer {answer}, expected 8 events of which 6 ignored")
    after = ignored(drec)
    grown = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    grown = {k: v for k, v in grown.items() if v}
    # Repositories: both long names, the 256-byte one and the upper-case one.
    expected = {"invalid_repository": 4, "invalid_tag": 1, "invalid_actor": 1}
    if grown != expected:
        fail(f"ignored events by reason grew by {grown}, expected {expected}")
    listed = strict_json(drec, "/api/v1/repositories?limit=1000")
    names = sorted(item["repositoryname"] for item in listed["repositories"])
    if names != ["names/limits", "names/ok"]:
        fail(f"repositories listed {[n[:40] for n in names]}, expected names/limits and names/ok")
    tags = strict_json(drec, "/api/v1/repositories/names/limits/-/tags")
    if [t["tag"] for t in tags["tags"]] != ["t" * 128]:
        fail("the 128-byte tag (the registry's limit) was not kept whole")
    actors = strict_json(drec, "/api/v1/repositories/names/limits/-/actors")
    if [a["actor"] for a in actors["actors"]] != ["y" * 1024]:
        fail("the 1024-byte actor (drec's limit) was not kept whole")
    strict_json(drec, "/api/v1/summary")


def check_numbers(drec: Drec) -> None:
    for number in ("99999999999999999999", "1e999", "-123456789012345678901234567890"):
        repo = f"numbers/n{len(number)}"
        body = json.dumps({"events": [event(repo, size=0), event(repo)]})
        body = body.replace('"size": 0', f'"size": {number}', 1)
        r = post(drec, body.encode())
        if r.status != 200:
            fail(f"an envelope with size {number} answered {r.status}: {r.body[:200]!r}")
        got = strict_json(drec, f"/api/v1/repositories/{repo}")["numpulls"]
        if got != 2:
            fail(f"{repo}: numpulls {got} after an envelope of 2 pulls with size {number}")
    # A malformed number is still no JSON: 400, and nothing of that body counts.
    r = post(
        drec, json.dumps({"events": [event("numbers/bad")]}).replace("345", "0345", 1).encode()
    )
    if r.status != 400:
        fail(f"a malformed number answered {r.status}, expected 400")


def check_head(drec: Drec) -> None:
    page = drec.request("GET", "/").expect(200)
    assets = sorted(set(re.findall(r'(?:src|href)="(/[^"]+)"', page.body.decode())))
    if not assets:
        fail("the dashboard page names no files")
    for target in ["/", *assets]:
        got = drec.request("GET", target, auth=None).expect(200)
        head = drec.request("HEAD", target, auth=None).expect(200)
        length = head.headers.get("Content-Length")
        if length != str(len(got.body)) or not got.body:
            fail(f"HEAD {target}: Content-Length {length}, GET body {len(got.body)} bytes")


def check_csv(drec: Drec, db: Path) -> None:
    formulas = ['=HYPERLINK("http://evil.example","x")', "@SUM(1+1)", "+1", "-2"]
    drec.stop()
    with sqlite3.connect(db) as conn:
        for name in formulas:
            conn.execute("INSERT INTO repositories (repositoryname) VALUES (?)", (name,))
    drec.start()
    response = drec.request("GET", "/api/v1/repositories?format=csv&limit=1000").expect(200)
    rows = list(csv.reader(io.StringIO(response.body.decode(), newline="")))
    cells = {row[0] for row in rows[1:]}
    for name in formulas:
        if "'" + name not in cells:
            fail(
                f"CSV cell for {name!r} is not neutralised; cells: {sorted(c[:40] for c in cells)}"
            )
    if any(cell[:1] in "=+-@" for cell in cells):
        fail(f"a CSV cell begins like a formula: {sorted(cells)}")


def check_flag(binary: str) -> None:
    run = subprocess.run(
        [binary, "--auth-tokens", ",", "--check-config"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    wanted = "auth.tokens: entry 1 is empty (from --auth-tokens)"
    if run.returncode != 2 or wanted not in run.stderr:
        fail(f"--auth-tokens ',': exit {run.returncode}, stderr {run.stderr.strip()!r}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drec", required=True, help="drec binary")
    p.add_argument("--workdir", required=True, type=Path, help="scratch directory (cleared)")
    args = p.parse_args()
    started_at = time.monotonic()
    checks = Checks(indent_details=True, catch_unexpected=True)
    drec = None
    setup_error = None
    try:
        workdir = prepare_workdir(args.workdir, WORKDIR_MARKER)
        drec = Drec(
            args.drec,
            workdir,
            store="sqlite",
            mongodb_uri=None,
            database_prefix="drec_hostile",
            token=TOKEN,
            tls_args=["--server-ssl-generated-dir", str(workdir / "tls")],
            cafile=workdir / "tls" / "cert.pem",
            start_timeout=START_TIMEOUT_S,
        )
        drec.start()
        checks.run(
            "names beyond the registry's limits are ignored by reason, never cut", check_names, drec
        )
        checks.run("numbers beyond 64 bits cost no envelope", check_numbers, drec)
        checks.run("HEAD on the dashboard carries the GET length", check_head, drec)
        checks.run(
            "CSV cells that begin like formulas are text", check_csv, drec, workdir / "drec.db"
        )
        checks.run("--auth-tokens ',' names the empty token", check_flag, args.drec)
    except Failure as e:
        setup_error = str(e)
    finally:
        if drec is not None:
            drec.stop()
    if setup_error:
        print(f"FAIL setup: {setup_error}")
        checks.failed += 1
    if checks.failed and drec is not None:
        print(f"--- last lines of {drec.log} ---\n{drec.log_tail()}")
    print(
        f"hostile_content_e2e: {checks.passed} passed, {checks.failed} failed "
        f"in {time.monotonic() - started_at:.0f} s"
    )
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
