#!/usr/bin/env python3
"""End-to-end test of `drec migrate`: every number survives a copy between any two stores.

Why this test exists: an operator who outgrows the embedded store copies its statistics to
PostgreSQL (several replicas) or MongoDB (other tools read it) with `drec migrate`, and may come
back. What must hold is what the operator sees: after each copy drec on the target answers every
API query exactly as drec on the source did, for every registry; a registry's retry of an event
applied before the copy still counts once (the event ids are copied too); a copy interrupted
half way finishes when run again, identical; a finished copy run again changes nothing; a target
that holds other statistics is refused. The store contract suite proves the stores answer alike
for the same operations; only real copies of a real drec's data show that nothing is lost on the
way (unset times, the '' of classes, booleans, the actors array, event ids and when they were
applied).

The run, on a PostgreSQL cluster of its own (tests/support/postgres_cluster.py; or the server of
--postgresql-uri / DREC_TEST_POSTGRESQL_URI, in schemas of its own) and the MongoDB server of
--mongodb-uri (tests/with_ferretdb.py starts FerretDB):
  1. drec on SQLite with `registries: [r28]` and a class rule (actor alice: production) gets the
     captured notifications of tests/data (registry 2.8 and 3.1: pushes, pulls, checks, deletes,
     attachments, index pulls, the users alice and bob), the 2.8 ones at /events as captured and
     at /events/r28 three days earlier, the 3.1 ones at /events one day earlier and at
     /events/r28 as captured: two registries, several days, classes and actors.
  2. Every API answer is recorded: /api/v1/registries; per registry the repository list (every
     sort order, and CSV), the summary over the data's days, and per repository the record, its
     tags (attachments included), digests, actors, daily counts (also per class) and classes
     (all time, per tag, per day); the lists and summary across registries.
  3. SQLite -> PostgreSQL, while drec still runs on SQLite: one row per chunk, killed (SIGKILL)
     after its first progress line; the checkpoint must say unfinished. drec on SQLite stops; the
     same command again must continue and finish; every table of both schemas must equal the
     SQLite files', row by row; a third run must say it finished before and change nothing.
  4. drec on PostgreSQL must answer every recorded query identically (a difference is reported
     as `path: before -> after` lines), also after one envelope of each registry, applied before
     the copy, is posted again.
  5. PostgreSQL -> MongoDB, killed after its first chunk and run again (MongoDB has no
     transactions: the chunk and its checkpoint are written one after the other), then drec on
     MongoDB answers identically, also after the envelopes are posted again. While that drec runs,
     drec migrate refuses MongoDB as a source (the collection set's writer lease).
  6. MongoDB -> a new SQLite file: every table equals the first SQLite file's, row by row, and
     drec on it answers identically, also after the envelopes are posted again.
  7. Refusals, exit status 1 and nothing changed: into a SQLite store where drec already took
     events; into the MongoDB store (which holds PostgreSQL's copy) from SQLite. Bad usage
     (no --to, a missing config file) exits 2.

Usage: migrate_e2e.py --drec PATH --workdir DIR --mongodb-uri URI [--postgresql-uri URI]
Python standard library only (and PostgreSQL's server programs, setpriv).
Every process it starts is stopped when it ends. Exit status 0 when every check passed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
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
WORKDIR_MARKER = ".migrate_e2e"
TOKEN = "migrate-e2e-token"
EVENTS_TYPE = "application/vnd.docker.distribution.events.v1+json"
REGISTRY = "r28"  # the `registries` setting; "default" is always there
REGISTRIES = ("default", REGISTRY)
# An actor whose name needs quoting in every form a copy passes it through (SQLite's JSON text,
# PostgreSQL's array, BSON): quotes, backslashes, a comma, braces, a space, non-ASCII letters.
ODD_ACTOR = 'robot$ci "x\\y",{z} \\" été'
START_TIMEOUT_S = 60.0
MIGRATE_TIMEOUT_S = 300.0
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

# Every table drec migrate copies: key columns (the order both stores sort rows in) and the
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
    that index links are copied too."""
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
    """The data holds what the copy must carry, or the comparisons prove little: in the answers
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
        fail("the data set does not exercise the copy: " + "; ".join(problems))


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
# drec migrate

PROGRESS_LINE = re.compile(r"rows \(\d+%\)")


def write_config(path: Path, storage: dict) -> Path:
    """A config file of one store, with the registries of the run (JSON, which YAML reads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"storage": storage, "registries": [REGISTRY]}, indent=2) + "\n")
    return path


def run_migrate(args, source: Path, target: Path, *extra: str) -> subprocess.CompletedProcess:
    argv = [args.drec, "migrate", "--from", str(source), "--to", str(target), *extra]
    result = subprocess.run(
        argv,
        check=False,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=MIGRATE_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    shown = " ".join(a if a != args.drec else "drec" for a in argv[1:])
    print(
        f"     $ drec {shown}: exit {result.returncode}\n"
        + "".join(f"     | {line}\n" for line in result.stdout.splitlines()[-12:]),
        end="",
        flush=True,
    )
    return result


def migrated(args, source: Path, target: Path, *needles: str) -> str:
    result = run_migrate(args, source, target)
    if result.returncode != 0:
        fail(f"drec migrate failed (exit {result.returncode})")
    missing = [n for n in needles if n not in result.stdout]
    if missing:
        fail(f"drec migrate's output does not say {missing}")
    return result.stdout


def expect_refusal(result: subprocess.CompletedProcess, status: int, *needles: str) -> None:
    if result.returncode != status:
        fail(f"drec migrate exited {result.returncode}, expected {status}")
    missing = [n for n in needles if n not in result.stdout]
    if missing:
        fail(f"the refusal does not say {missing}: {result.stdout[-1500:]!r}")


def interrupted_migrate(args, source: Path, target: Path) -> str:
    """Runs drec migrate one row per chunk and kills it (SIGKILL) at its first progress line;
    returns what it printed."""
    argv = [args.drec, "migrate", "--from", str(source), "--to", str(target), "--chunk-size", "1"]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL
    )
    lines = []
    try:
        for line in proc.stdout:  # ends when the process does
            lines.append(line.rstrip("\n"))
            if PROGRESS_LINE.search(line):
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
    print("".join(f"     | {line}\n" for line in lines[-6:]), end="", flush=True)
    if not any(PROGRESS_LINE.search(line) for line in lines):
        fail(f"drec migrate printed no progress line (exit {proc.returncode})")
    return "\n".join(lines)


def checkpoint_of(uri: str, schema: str) -> dict:
    quoted = '"' + schema.replace('"', '""') + '"'
    return json.loads(
        postgres_cluster.query(uri, f"SELECT checkpoint FROM {quoted}.drec_migration")
    )


def compare_sqlite_files(want_file: Path, got_file: Path) -> None:
    lines, counts = [], []
    for table in TABLES:
        want, got = sqlite_rows(want_file, table), sqlite_rows(got_file, table)
        counts.append(f"{table} {len(want)}")
        lines += [f"{table}{d}" for d in differences(want, got)]
    if lines:
        fail(
            f"{want_file} -> {got_file}: {len(lines)} differences:\n"
            + "\n".join(lines[:MAX_DIFF_LINES])
        )
    print(f"     {got_file.name}: {', '.join(counts)} rows", flush=True)


def sqlite_total_rows(files: list[Path]) -> int:
    return sum(len(sqlite_rows(f, t)) for f in files for t in TABLES)


# ---------------------------------------------------------------------------------------------
# The run


def new_drec(args, workdir: Path, store: str, uri: str | None = None) -> Drec:
    workdir.mkdir(parents=True, exist_ok=True)
    return Drec(
        args.drec,
        workdir,
        store=store,
        mongodb_uri=uri if store == "mongodb" else None,
        postgresql_uri=uri if store == "postgresql" else None,
        database_prefix="drec_migrate",
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


def registry_files(directory: Path) -> list[Path]:
    return [directory / "drec.db", directory / f"drec@{REGISTRY}.db"]


def run(args, workdir: Path, uri: str, checks: Checks, started: list[Drec]) -> None:
    sqlite_drec = new_drec(args, workdir, "sqlite")
    pg_drec = new_drec(args, workdir / "postgresql", "postgresql", uri)
    mongo_drec = new_drec(args, workdir / "mongodb", "mongodb", args.mongodb_uri)
    back_drec = new_drec(args, workdir / "back", "sqlite")
    started += [sqlite_drec, pg_drec, mongo_drec, back_drec]
    schema = pg_drec.schema
    schemas = [schema, f"{schema}@{REGISTRY}"]
    files = registry_files(workdir)
    back_files = registry_files(workdir / "back")
    configs = workdir / "configs"
    sqlite_yml = write_config(
        configs / "sqlite.yml", {"backend": "sqlite", "sqlite": {"path": str(files[0])}}
    )
    pg_yml = write_config(
        configs / "postgresql.yml",
        {"backend": "postgresql", "postgresql": {"uri": uri, "schema": schema}},
    )
    mongo_yml = write_config(
        configs / "mongodb.yml",
        {
            "backend": "mongodb",
            "mongodb": {"uri": args.mongodb_uri, "database": mongo_drec.database},
        },
    )
    back_yml = write_config(
        configs / "back.yml", {"backend": "sqlite", "sqlite": {"path": str(back_files[0])}}
    )

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
        "bad usage exits 2: no --to, a missing config file",
        lambda: (
            expect_refusal(
                subprocess.run(
                    [args.drec, "migrate", "--from", str(sqlite_yml)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    check=False,
                    timeout=MIGRATE_TIMEOUT_S,
                ),
                2,
                "--to",
            ),
            expect_refusal(
                run_migrate(args, sqlite_yml, configs / "missing.yml"), 2, "missing.yml"
            ),
        ),
    )

    def interrupted():
        interrupted_migrate(args, sqlite_yml, pg_yml)
        checkpoint = checkpoint_of(uri, schema)
        if checkpoint["done"] or checkpoint["rows"] < 1:
            fail(f"the killed copy's checkpoint is {checkpoint}, expected some rows, unfinished")
        print(f"     checkpoint after the kill: {checkpoint['table']}, {checkpoint['rows']} rows")

    checks.run(
        "SQLite -> PostgreSQL while drec runs, killed after its first chunk: unfinished",
        interrupted,
    )
    sqlite_drec.stop()
    checks.run(
        "the same command again continues and finishes",
        lambda: migrated(args, sqlite_yml, pg_yml, "(continuing)", "done:"),
    )
    for sqlite_path, target in zip(files, schemas, strict=True):
        checks.run(
            f"{sqlite_path.name} -> {target}: every table row by row",
            compare_tables,
            sqlite_path,
            uri,
            target,
        )
    rows = total_rows(uri, schemas)

    def finished_before():
        migrated(args, sqlite_yml, pg_yml, "finished before", "nothing changed")
        if total_rows(uri, schemas) != rows:
            fail("running the finished migration again changed the target")

    checks.run("a finished migration run again changes nothing", finished_before)

    def answers_alike(drec: Drec):
        drec.start()
        try:
            compare(before, snapshot(drec, wanted))
        finally:
            drec.stop()

    def retried_counts_once(drec: Drec):
        drec.start()
        try:
            for route in ("/events", f"/events/{REGISTRY}"):
                post(drec, route, next(e for r, e in sent if r == route and is_pull(e)))
            compare(before, snapshot(drec, wanted))
        finally:
            drec.stop()

    checks.run(
        f"drec on PostgreSQL answers all {len(before)} queries as drec on SQLite did",
        answers_alike,
        pg_drec,
    )
    checks.run(
        "on PostgreSQL, an envelope applied before the copy, posted again to each registry, "
        "counts once",
        retried_counts_once,
        pg_drec,
    )

    checks.run(
        "PostgreSQL -> MongoDB, killed after its first chunk, then run again: continues, finishes",
        lambda: (
            interrupted_migrate(args, pg_yml, mongo_yml),
            migrated(args, pg_yml, mongo_yml, "(continuing)", "done:"),
        ),
    )
    checks.run(
        f"drec on MongoDB answers all {len(before)} queries as drec on SQLite did, also after "
        "the envelopes are posted again",
        retried_counts_once,
        mongo_drec,
    )

    def refused_while_drec_runs():
        unused = write_config(
            configs / "unused.yml",
            {"backend": "sqlite", "sqlite": {"path": str(workdir / "unused" / "drec.db")}},
        )
        mongo_drec.start()
        try:
            expect_refusal(run_migrate(args, mongo_yml, unused), 1, "written by another drec")
        finally:
            mongo_drec.stop()

    checks.run(
        "MongoDB as the source is refused while drec runs on it (its writer lease)",
        refused_while_drec_runs,
    )
    checks.run("MongoDB -> a new SQLite file", lambda: migrated(args, mongo_yml, back_yml, "done:"))
    for original, copy in zip(files, back_files, strict=True):
        checks.run(
            f"{copy.name} after SQLite -> PostgreSQL -> MongoDB -> SQLite: every table row by row",
            compare_sqlite_files,
            original,
            copy,
        )
    checks.run(
        f"drec on the new SQLite file answers all {len(before)} queries alike, also after the "
        "envelopes are posted again",
        retried_counts_once,
        back_drec,
    )

    def refused_holding_statistics():
        other_drec = new_drec(args, workdir / "other", "sqlite")
        started.append(other_drec)
        other_drec.start()
        for route, envelope in sent:
            if route == "/events":
                post(other_drec, route, envelope)
        other_drec.stop()
        other_files = registry_files(workdir / "other")
        other_yml = write_config(
            configs / "other.yml", {"backend": "sqlite", "sqlite": {"path": str(other_files[0])}}
        )
        held = sqlite_total_rows(other_files)
        expect_refusal(run_migrate(args, pg_yml, other_yml), 1, "already holds statistics")
        if sqlite_total_rows(other_files) != held:
            fail("the refused migration changed the target")

    checks.run(
        "a target where drec already took events is refused, unchanged", refused_holding_statistics
    )
    checks.run(
        "a target holding another source's copy is refused",
        lambda: expect_refusal(
            run_migrate(args, sqlite_yml, mongo_yml), 1, "already holds a copy of postgresql"
        ),
    )


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
    p.add_argument("--mongodb-uri", required=True, help="a MongoDB server (databases of this run)")
    p.add_argument(
        "--postgresql-uri",
        default=os.environ.get("DREC_TEST_POSTGRESQL_URI"),
        help="a PostgreSQL server to use (schemas of this run); default: a private cluster",
    )
    args = p.parse_args()

    started_at = time.monotonic()
    checks = Checks(indent_details=True, catch_unexpected=True)
    cluster = None
    started: list[Drec] = []
    setup_error = None
    # The cluster's directory must be reachable by the server's user (postgres, under root).
    base = tempfile.TemporaryDirectory(prefix="drec-migrate-postgres-")
    try:
        workdir = prepare_workdir(args.workdir, WORKDIR_MARKER)
        uri = args.postgresql_uri
        if not uri:
            reason = postgres_cluster.unavailable_reason()
            if reason:
                print(f"migrate_e2e: skipped: cannot run a PostgreSQL server: {reason}")
                return 77
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
    if checks.failed:
        for drec in started:
            print(f"--- last lines of {drec.log} ---\n{drec.log_tail()}")
    print(
        f"migrate_e2e: {checks.passed} passed, {checks.failed} failed "
        f"in {time.monotonic() - started_at:.0f} s"
    )
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
