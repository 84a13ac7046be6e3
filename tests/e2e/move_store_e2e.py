#!/usr/bin/env python3
"""End-to-end test of scripts/move-sqlite-to-postgresql.sh: every number survives the move.

Why this test exists: an operator who outgrows the embedded store moves its statistics to
PostgreSQL (to run several replicas) with that script. What must hold is what the operator sees:
after the move drec on PostgreSQL answers every API query exactly as drec on SQLite did, for
every registry, and a registry's retry of an event applied before the move still counts once
(the event ids moved too). The store contract suite proves both stores answer alike for the same
operations; only a real move of a real drec's file shows that the copy loses nothing (NULL
times, the '' of classes, booleans, the actors array, event ids).

The run, on a PostgreSQL cluster of its own (tests/support/postgres_cluster.py; or the server of
--postgresql-uri / DREC_TEST_POSTGRESQL_URI, in schemas of its own):
  1. drec on SQLite with `registries: [r28]` and a class rule (actor alice: production) gets the
     captured notifications of tests/data (registry 2.8 and 3.1: pushes, pulls, checks, deletes,
     attachments, index pulls, the users alice and bob), the 2.8 ones at /events as captured and
     at /events/r28 three days earlier, the 3.1 ones at /events one day earlier and at
     /events/r28 as captured: two registries, several days, classes and actors.
  2. Every API answer is recorded: /api/v1/registries; per registry the repository list (every
     sort order, and CSV), the summary over the data's days, and per repository the record, its
     tags (attachments included), digests, actors, daily counts (also per class) and classes
     (all time, per tag, per day); the lists and summary across registries.
  3. The script must refuse while drec still has the file open, before the target schemas
     exist, and for a SQLite file at another schema version.
  4. drec starts once on PostgreSQL (creating its schemas) and stops; the script moves; every
     table of both schemas must equal the SQLite file's, row by row (times, booleans, actors,
     event ids and when they were applied, which the API does not show).
  5. drec on PostgreSQL must answer every recorded query identically (a difference is reported
     as `path: before -> after` lines), also after one envelope of each registry, applied before
     the move, is posted again.
  6. A second run of the script into the now non-empty target must be refused, changing nothing.

Usage: move_store_e2e.py --drec PATH --workdir DIR [--postgresql-uri URI] [--script PATH]
Python standard library only (and sqlite3, psql and PostgreSQL's server programs, setpriv).
Every process it starts is stopped when it ends. Exit status 0 when every check passed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
import postgres_cluster

from drec_harness import Checks, Drec, Failure, differences, fail, prepare_workdir

ROOT = Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data"
SCRIPT = ROOT / "scripts" / "move-sqlite-to-postgresql.sh"
WORKDIR_MARKER = ".move_store_e2e"
TOKEN = "move-store-e2e-token"
EVENTS_TYPE = "application/vnd.docker.distribution.events.v1+json"
REGISTRY = "r28"  # the `registries` setting; "default" is always there
REGISTRIES = ("default", REGISTRY)
# An actor whose name needs quoting in every form the move passes it through (CSV, PostgreSQL's
# array literal, JSON): quotes, backslashes, a comma, braces, a space, non-ASCII letters.
ODD_ACTOR = 'robot$ci "x\\y",{z} \\" été'
START_TIMEOUT_S = 60.0
SCRIPT_TIMEOUT_S = 300.0
MAX_DIFF_LINES = 40
SORTS = (
    "repositoryname",
    "-repositoryname",
    "numpulls",
    "-numpulls",
    "numpushs",
    "-numpushs",
    "numchecks",
    "-numchecks",
    "numindexpulls",
    "-numindexpulls",
    "numdeletes",
    "-numdeletes",
    "numattachmentpushes",
    "-numattachmentpushes",
    "numattachmentpulls",
    "-numattachmentpulls",
    "firstpushed",
    "-firstpushed",
    "lastpushed",
    "-lastpushed",
    "firstpulled",
    "-firstpulled",
    "lastpulled",
    "-lastpulled",
)

# Every table the script moves: key columns (the order both stores sort rows in) and the
# booleans (0/1 in SQLite); repositories.actors is a JSON array text in SQLite, text[] in
# PostgreSQL (docs/data-model.md).
TABLES = {
    "repositories": (("repositoryname",), ()),
    "tags": (("repository", "tag"), ("deleted", "attachment")),
    "digests": (("repository", "digest"), ("deleted",)),
    "digest_parents": (("repository", "child", "parent"), ()),
    "actors": (("repository", "actor"), ()),
    "days": (("repository", "day"), ()),
    "total_days": (("day",), ()),
    "classes": (("repository", "class", "tag", "day"), ()),
    "event_ids": (("id",), ()),
}


# ---------------------------------------------------------------------------------------------
# The notifications


def envelopes(version: str) -> list[dict]:
    """Every envelope captured from registry `version`: the single ones (<name>.json) and each
    tool scenario's (<scenario>.events.json, a list), by file name. The index events get the
    `references` a registry configured with `includereferences: true` sends (the capture's
    registries were not), naming the child that child-manifest-pull-by-digest.json pulls, so
    that index links are moved too."""
    directory = DATA / f"registry-{version}"
    out = []
    for path in sorted(directory.glob("*.json")):
        doc = json.loads(path.read_text())
        out.extend(doc if isinstance(doc, list) else [doc])
    if not out:
        fail(f"no captured notifications in {directory}")
    child = json.loads((directory / "child-manifest-pull-by-digest.json").read_text())
    child_target = child["events"][0]["target"]
    reference = {k: child_target[k] for k in ("mediaType", "size", "digest")}
    for envelope in out:
        for event in envelope["events"]:
            target = event["target"]
            if (
                target.get("mediaType", "").endswith("index.v1+json")
                and target.get("repository") == child_target["repository"]
            ):
                target["references"] = [reference]
    return out


def days_earlier(envelope: dict, days: int) -> dict:
    """The envelope with each event's timestamp `days` UTC days earlier (the time of day and its
    precision untouched: only the date of the RFC 3339 text changes)."""
    copy = json.loads(json.dumps(envelope))
    for event in copy["events"]:
        stamp = event["timestamp"]
        day = date.fromisoformat(stamp[:10]) - timedelta(days=days)
        event["timestamp"] = day.isoformat() + stamp[10:]
    return copy


def by_odd_actor(envelope: dict) -> dict:
    """The envelope as if ODD_ACTOR had sent it, under a new event id."""
    copy = json.loads(json.dumps(envelope))
    for event in copy["events"]:
        event["id"] = str(uuid.uuid4())
        event["actor"] = {"name": ODD_ACTOR}
    return copy


def traffic() -> list[tuple[str, dict]]:
    """(route, envelope) pairs: what each registry is sent (module docstring), and to each a
    captured pull of team/app:v1 by ODD_ACTOR."""
    r28, r31 = envelopes("2.8"), envelopes("3.1")
    pull = json.loads((DATA / "registry-2.8" / "manifest-pull-get.json").read_text())
    return (
        [("/events", e) for e in r28]
        + [("/events", days_earlier(e, 1)) for e in r31]
        + [("/events", by_odd_actor(pull))]
        + [(f"/events/{REGISTRY}", days_earlier(e, 3)) for e in r28]
        + [(f"/events/{REGISTRY}", e) for e in r31]
        + [(f"/events/{REGISTRY}", by_odd_actor(pull))]
    )


def post(drec: Drec, route: str, envelope: dict) -> None:
    drec.request(
        "POST", route, headers={"Content-Type": EVENTS_TYPE}, body=json.dumps(envelope).encode()
    ).expect(200)


# ---------------------------------------------------------------------------------------------
# The API answers


def get(drec: Drec, path: str, params: dict | None = None):
    """An answer as recorded: the status and the JSON (or, for CSV, the text)."""
    target = "/api/v1/" + path + ("?" + urlencode(params) if params else "")
    r = drec.request("GET", target)
    if r.content_type.startswith("application/json"):
        return {"status": r.status, "json": json.loads(r.body)}
    return {"status": r.status, "type": r.content_type, "text": r.body.decode(errors="replace")}


def queries(drec: Drec, first_day: str, last_day: str) -> list[tuple[str, dict]]:
    """Every query of module docstring step 2, found by asking drec (the repositories, their
    tags and classes come from the answers)."""
    span = {"from": first_day, "to": last_day}
    out: list[tuple[str, dict]] = [("registries", {})]
    for registry in (None, *REGISTRIES):
        scope = {"registry": registry} if registry else {}
        out += [("repositories", {**scope, "sort": s, "limit": 1000}) for s in SORTS]
        out += [("repositories", {**scope, "format": "csv", "limit": 1000})]
        out += [("summary", {**scope, **span})]
    for registry in REGISTRIES:
        scope = {"registry": registry}
        listed = get(drec, "repositories", {**scope, "limit": 1000})["json"]["repositories"]
        for name in (item["repositoryname"] for item in listed):
            repo = "repositories/" + quote(name, safe="/")
            out += [
                (repo, scope),
                (f"{repo}/-/tags", {**scope, "attachments": "include"}),
                (f"{repo}/-/digests", scope),
                (f"{repo}/-/actors", scope),
                (f"{repo}/-/daily", {**scope, **span}),
                (f"{repo}/-/classes", scope),
                (f"{repo}/-/classes", {**scope, **span}),
            ]
            tags = get(drec, f"{repo}/-/tags", {**scope, "attachments": "include"})["json"]
            for tag in tags["tags"]:
                out.append((f"{repo}/-/classes", {**scope, "tag": tag["tag"]}))
            classes = get(drec, f"{repo}/-/classes", scope)["json"]["classes"]
            for name_of_class in sorted({c["class"] for c in classes}):
                out.append((f"{repo}/-/daily", {**scope, **span, "class": name_of_class}))
    return out


def snapshot(drec: Drec, wanted: list[tuple[str, dict]]) -> dict[str, dict]:
    return {f"{path}?{urlencode(params)}": get(drec, path, params) for path, params in wanted}


def compare(before: dict[str, dict], after: dict[str, dict]) -> None:
    """Fails with `query: path: before -> after` lines where any answer differs."""
    lines = []
    for query, answer in before.items():
        lines += [f"{query}: {d}" for d in differences(answer, after.get(query))]
    if lines:
        shown = "\n".join(lines[:MAX_DIFF_LINES])
        more = len(lines) - MAX_DIFF_LINES
        fail(
            f"{len(lines)} differences in {len(before)} answers (before -> after):\n{shown}"
            + (f"\n... and {more} more" if more > 0 else "")
        )


def check_data_set(before: dict[str, dict], files: list[Path]) -> None:
    """The data holds what the move must carry, or the comparisons prove little: in the answers
    both registries' counters, actors, classes, days, attachments and deleted tags; in every
    SQLite file rows in every table, NULL times, the '' of classes and the actors arrays."""
    problems = []
    registries = before["registries?"]["json"]["registries"]
    if len(registries) != len(REGISTRIES):
        problems.append(f"{len(registries)} registries, expected {len(REGISTRIES)}")
    for registry in registries:
        for field in ("numpushs", "numpulls", "numchecks", "numdeletes", "numattachmentpushes"):
            if not registry.get(field):
                problems.append(f"registry {registry.get('registry')}: no {field}")

    def items(kind: str, field: str, with_params: str = "") -> list[dict]:
        return [
            item
            for query, answer in before.items()
            if f"/-/{kind}?" in query and with_params in query
            for item in answer["json"][field]
        ]

    actors = {a["actor"] for a in items("actors", "actors")}
    classes = {c["class"] for c in items("classes", "classes")}
    days = {c["day"] for c in items("classes", "classes", "from=")}
    tags = items("tags", "tags")
    if not {"alice", "bob", ODD_ACTOR} <= actors:
        problems.append(f"actors {sorted(actors)}, expected alice, bob and {ODD_ACTOR!r}")
    if len(classes) < 3:
        problems.append(f"classes {sorted(classes)}, expected at least three")
    if len(days) < 3:
        problems.append(f"class records of days {sorted(days)}, expected at least three")
    if not any(t.get("attachment") for t in tags):
        problems.append("no attachment tag")
    if not any(t.get("deleted") for t in tags):
        problems.append("no deleted tag")
    for path in files:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for table in TABLES:
                if not db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]:
                    problems.append(f"{path.name}: table {table} is empty")
            for what, sql in (
                ("a NULL time", "SELECT count(*) FROM tags WHERE firstpulled IS NULL"),
                ("an all-time class record", "SELECT count(*) FROM classes WHERE tag || day = ''"),
                ("an actors array", "SELECT count(*) FROM repositories WHERE actors <> '[]'"),
            ):
                if not db.execute(sql).fetchone()[0]:
                    problems.append(f"{path.name}: no {what}")
        finally:
            db.close()
    if problems:
        fail("the data set does not exercise the move: " + "; ".join(problems))


# ---------------------------------------------------------------------------------------------
# The tables


def sqlite_rows(path: Path, table: str) -> list[dict]:
    keys, booleans = TABLES[table]
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        db.row_factory = sqlite3.Row
        rows = db.execute(f"SELECT * FROM {table} ORDER BY {', '.join(keys)}").fetchall()
    finally:
        db.close()
    out = []
    for row in rows:
        record = dict(row)
        for column in booleans:
            record[column] = bool(record[column])
        if table == "repositories":
            record["actors"] = json.loads(record["actors"])
        out.append(record)
    return out


def postgresql_rows(uri: str, schema: str, table: str) -> list[dict]:
    keys = ", ".join(TABLES[table][0])
    quoted = '"' + schema.replace('"', '""') + '"'
    text = postgres_cluster.query(
        uri, f"SELECT coalesce(json_agg(t ORDER BY {keys}), '[]') FROM {quoted}.{table} t"
    )
    return json.loads(text)


def compare_tables(sqlite_file: Path, uri: str, schema: str) -> None:
    lines, counts = [], []
    for table in TABLES:
        want, got = sqlite_rows(sqlite_file, table), postgresql_rows(uri, schema, table)
        counts.append(f"{table} {len(want)}")
        lines += [f"{table}{d}" for d in differences(want, got)]
    if lines:
        fail(
            f"{sqlite_file.name} -> schema {schema}: {len(lines)} differences (SQLite -> "
            f"PostgreSQL):\n" + "\n".join(lines[:MAX_DIFF_LINES])
        )
    print(f"     {sqlite_file.name} -> {schema}: {', '.join(counts)} rows", flush=True)


def total_rows(uri: str, schemas: list[str]) -> int:
    return sum(len(postgresql_rows(uri, s, t)) for s in schemas for t in TABLES)


# ---------------------------------------------------------------------------------------------
# The script


def run_script(args, sqlite_file: Path, uri: str, schema: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["bash", str(args.script), str(sqlite_file), uri, schema],
        check=False,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    print(
        "     $ move-sqlite-to-postgresql.sh "
        f"{sqlite_file.name} URI {schema}: exit {result.returncode}\n"
        + "".join(f"     | {line}\n" for line in result.stdout.splitlines()),
        end="",
        flush=True,
    )
    return result


def expect_refusal(result: subprocess.CompletedProcess, *needles: str) -> None:
    if result.returncode == 0:
        fail("the script moved, expected a refusal")
    output = result.stdout
    missing = [n for n in needles if n not in output]
    if missing:
        fail(f"the refusal does not say {missing}: {output[-1500:]!r}")


def with_user_version(source: Path, target: Path, version: int) -> Path:
    """A copy of the SQLite file at another schema version (PRAGMA user_version)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute(f"PRAGMA user_version = {version}")
        dst.commit()
    finally:
        src.close()
        dst.close()
    return target


# ---------------------------------------------------------------------------------------------
# The run


def new_drec(args, workdir: Path, store: str, uri: str | None) -> Drec:
    return Drec(
        args.drec,
        workdir,
        store=store,
        mongodb_uri=None,
        postgresql_uri=uri,
        database_prefix="drec_move",
        token=TOKEN,
        tls_args=["--server-ssl-generated-dir", str(workdir / "tls")],
        cafile=workdir / "tls" / "cert.pem",
        start_timeout=START_TIMEOUT_S,
        extra_args=(
            "--registries",
            REGISTRY,
            "--classes-rules",
            "0.class=production,0.actor=alice",
        ),
    )


def run(args, workdir: Path, uri: str, checks: Checks, started: list[Drec]) -> None:
    sqlite_drec = new_drec(args, workdir, "sqlite", None)
    pg_drec = new_drec(args, workdir, "postgresql", uri)
    started += [sqlite_drec, pg_drec]
    sqlite_file = workdir / "drec.db"
    schema = pg_drec.schema
    schemas = [schema, f"{schema}@{REGISTRY}"]
    files = [sqlite_file, workdir / f"drec@{REGISTRY}.db"]

    sqlite_drec.start()
    sent = traffic()
    for route, envelope in sent:
        post(sqlite_drec, route, envelope)
    days = sorted(e["timestamp"][:10] for _, envelope in sent for e in envelope["events"])
    wanted = queries(sqlite_drec, days[0], days[-1])
    before = snapshot(sqlite_drec, wanted)
    print(f"     {len(sent)} envelopes posted, {len(before)} answers recorded", flush=True)
    checks.run(
        "the data set exercises every table and kind of value", check_data_set, before, files
    )

    checks.run(
        "refused while drec still has the SQLite file open",
        lambda: expect_refusal(run_script(args, sqlite_file, uri, schema), "stop drec"),
    )
    sqlite_drec.stop()
    checks.run(
        "refused before drec made the target schemas",
        lambda: expect_refusal(run_script(args, sqlite_file, uri, schema), "does not exist"),
    )
    old = with_user_version(sqlite_file, workdir / "old" / "drec.db", 3)
    checks.run(
        "refused for a SQLite file at another schema version",
        lambda: expect_refusal(run_script(args, old, uri, schema), "version", "older"),
    )

    pg_drec.start()  # creates and migrates both schemas
    pg_drec.stop()
    if total_rows(uri, schemas):
        fail("drec on PostgreSQL wrote rows before the move")

    def moved():
        result = run_script(args, sqlite_file, uri, schema)
        if result.returncode != 0:
            fail(f"the script failed (exit {result.returncode})")
        reported = {tuple(line.split()[:2]) for line in result.stdout.splitlines()}
        missing = [f"{s} {t}" for s in schemas for t in TABLES if (s, t) not in reported]
        if missing:
            fail(f"the script's report (rows per schema and table) lacks {missing}")

    checks.run("the script moves both registries", moved)
    for sqlite_path, target in zip(files, schemas, strict=True):
        checks.run(
            f"{sqlite_path.name} -> {target}: every table row by row",
            compare_tables,
            sqlite_path,
            uri,
            target,
        )

    pg_drec.start()
    checks.run(
        f"drec on PostgreSQL answers all {len(before)} queries as drec on SQLite did",
        lambda: compare(before, snapshot(pg_drec, wanted)),
    )

    def retried():
        for route in ("/events", f"/events/{REGISTRY}"):
            post(pg_drec, route, next(e for r, e in sent if r == route and is_pull(e)))
        compare(before, snapshot(pg_drec, wanted))

    checks.run(
        "an envelope applied before the move, posted again to each registry, counts once",
        retried,
    )
    pg_drec.stop()

    rows = total_rows(uri, schemas)

    def refused_again():
        expect_refusal(run_script(args, sqlite_file, uri, schema), "is not empty")
        if total_rows(uri, schemas) != rows:
            fail("the refused run changed the target")

    checks.run("a second run into the now non-empty target is refused", refused_again)


def is_pull(envelope: dict) -> bool:
    """A counted event: a GET of a manifest by tag."""
    event = envelope["events"][0]
    return (
        event["action"] == "pull"
        and event.get("request", {}).get("method") == "GET"
        and bool(event["target"].get("tag"))
        and "manifest" in event["target"].get("mediaType", "")
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drec", required=True, help="drec binary")
    p.add_argument("--workdir", required=True, type=Path, help="scratch directory (cleared)")
    p.add_argument(
        "--postgresql-uri",
        default=os.environ.get("DREC_TEST_POSTGRESQL_URI"),
        help="a PostgreSQL server to use (schemas of this run); default: a private cluster",
    )
    p.add_argument("--script", type=Path, default=SCRIPT, help="the move script")
    args = p.parse_args()
    for tool in ("sqlite3", "psql"):
        if not shutil.which(tool):
            print(f"move_store_e2e: {tool} not found (scripts/install-deps.sh --for test)")
            return 1

    started_at = time.monotonic()
    checks = Checks(indent_details=True, catch_unexpected=True)
    cluster = None
    started: list[Drec] = []
    setup_error = None
    # The cluster's directory must be reachable by the server's user (postgres, under root).
    base = tempfile.TemporaryDirectory(prefix="drec-move-postgres-")
    try:
        workdir = prepare_workdir(args.workdir, WORKDIR_MARKER)
        uri = args.postgresql_uri
        if not uri:
            reason = postgres_cluster.unavailable_reason()
            if reason:
                fail(f"cannot run a PostgreSQL server: {reason}")
            cluster = postgres_cluster.Cluster(Path(base.name), durable=False)
            cluster.init()
            cluster.start()
            uri = cluster.create_database("drec")
        run(args, workdir, uri, checks, started)
    except Failure as e:
        setup_error = str(e)
    finally:
        for drec in started:
            drec.stop()
        if cluster is not None:
            cluster.stop("fast")
        base.cleanup()
    if setup_error:
        print(f"FAIL setup: {setup_error}")
        checks.failed += 1
    if checks.failed and started:
        print(f"--- last lines of {started[0].log} ---\n{started[0].log_tail()}")
    if cluster is None and len(started) > 1:
        print(f"note: PostgreSQL schemas {started[1].schema}[@{REGISTRY}] were left for inspection")
    print(
        f"move_store_e2e: {checks.passed} passed, {checks.failed} failed "
        f"in {time.monotonic() - started_at:.0f} s"
    )
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
