#!/usr/bin/env python3
"""End-to-end failover of drec's PostgreSQL store: the primary is lost under traffic.

Why this test exists: drec answers a registry `200` only after the events are committed, and
the registry never sends an acknowledged event again. With a synchronous standby a commit is on
both servers, so losing the primary must lose nothing drec acknowledged; the events it could not
commit meanwhile it refuses (`503`), the registry retries them, and the event ids committed with
the statistics keep a retry of an event that did commit from counting twice. drec must notice
the loss (`/readyz` 503), and find the promoted standby by itself through its multi-host URI,
without a restart. Only real servers, a real registry and a real crash show all of that.

The run: a primary and a streaming standby (synchronous_standby_names = the standby,
synchronous_commit on), each a private cluster (tests/support/postgres_cluster.py); drec with
`postgresql://postgres@P1,P2/drec?target_session_attrs=read-write&connect_timeout=2`; Debian's
docker-registry 2.8 (htpasswd users alice and bob) notifying drec and a capture server; skopeo
pushes and pulls, HEADs by tag. A warm-up, checked; then, while a bounded loop keeps pushing,
pulling and checking, the primary is stopped in `immediate` mode (a crash), drec must answer
`/readyz` and `POST /events` with 503, the standby must hold every event drec had acknowledged,
it is promoted, drec must become ready again (same process), traffic continues, and once the
registry has delivered everything drec's API must equal the expectations computed from the
captured events (clients_e2e's `Model`, docs/counting.md) for every repository, tag, digest,
actor and day, while the registry counted failed deliveries (the failover was felt).

Usage: failover_e2e.py --drec PATH --workdir DIR [--registry PATH]
Only the Python standard library is used (and skopeo, umoci, openssl, setpriv and PostgreSQL's
server programs). Every process and server it starts is stopped when it ends. Exit status 0
when every check passed.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
import postgres_cluster
from clients_e2e import MANIFEST_TYPES, Model
from multi_registry_e2e import counters_by, counters_of, times_diff, utc_day, want_counters
from registry_e2e import (
    OCI_INDEX,
    OCI_MANIFEST,
    CaptureServer,
    Drec,
    Processes,
    Registry,
    bcrypt_hash,
    build_images,
    make_pki,
    run,
    wait_until,
)

from drec_harness import COUNTERS, Checks, Failure, fail, prepare_workdir

WORKDIR_MARKER = ".failover_e2e"
STANDBY_NAME = "drec_standby"  # the standby's application_name, and synchronous_standby_names
USERS = {"alice": "alice-secret", "bob": "bob-secret"}
REPOS = ("failover/app", "failover/lib", "failover/tools")
TAGS = ("v1", "v2", "v3")
PROBE_REPO = "failover/probe"  # posted while no primary: must never be stored
EVENTS_TYPE = "application/vnd.docker.distribution.events.v1+json"

BLOCK = 4 * len(REPOS)  # one round: push each repository's tag, pull, HEAD, pull again
WARMUP_OPS = BLOCK
OUTAGE_OPS = 6  # operations while drec has no primary: their events wait in the registry
BACKLOG = 20  # events waiting in the registry for drec before the standby is promoted
AFTER_OPS = 2 * BLOCK  # operations after drec is back
# Bounds of the traffic loop; skopeo against a loopback registry makes about 10 operations a
# second, so the loop must not run out while the outage lasts.
MAX_OPS = 3000
TRAFFIC_LIMIT_S = 600.0
OPS_WAIT_S = 180.0  # bound of each wait for traffic progress
LOST_S = 30.0  # bound for drec to notice the lost primary
RECOVER_S = 60.0  # bound for drec to find the promoted standby
DRAIN_S = 180.0  # bound for the registry to deliver its backlog
SYNC_S = 30.0


# ---------------------------------------------------------------------------------------------
# Traffic: skopeo and HEADs against the registry, in a bounded loop


class Traffic:
    """Operation `i` of a fixed plan, run by the test or by a loop in a thread.

    Each round of BLOCK operations pushes a tag to every repository (alternating images, so
    tags pushed again in later rounds move to the other digest), pulls it, HEADs it and pulls
    it again, as alice or bob. The registry does not depend on drec, so the loop keeps going
    while drec has no database; the events wait in the registry's queue.
    """

    def __init__(self, registry: Registry, layout: Path, images: dict, workdir: Path):
        self.registry = registry
        self.layout = layout
        self.images = images
        self.workdir = workdir
        self.done = 0
        self.error: str | None = None
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    def operation(self, i: int) -> None:
        repo, block = REPOS[i % len(REPOS)], i // BLOCK
        tag = TAGS[block % len(TAGS)]
        image = self.images["amd64" if block % 2 == 0 else "arm64"]
        user = ("alice", "bob")[(i // len(REPOS) + block) % 2]
        step = (i // len(REPOS)) % 4
        if step == 0:
            self._skopeo(
                "copy",
                "--dest-tls-verify=false",
                "--dest-creds",
                f"{user}:{USERS[user]}",
                f"oci:{self.layout}:{image.ref}",
                f"docker://{self.registry.host}/{repo}:{tag}",
            )
        elif step == 2:
            self._head(repo, tag, user)
        else:
            self._skopeo(
                "copy",
                "--src-tls-verify=false",
                "--src-creds",
                f"{user}:{USERS[user]}",
                f"docker://{self.registry.host}/{repo}:{tag}",
                f"oci:{self.workdir / 'pulled'}:{repo.replace('/', '-')}",
            )

    def _skopeo(self, *argv: str) -> None:
        run("skopeo", "--insecure-policy", "--tmpdir", str(self.workdir / "tmp"), *argv)

    def _head(self, repo: str, tag: str, user: str) -> None:
        """A version check: HEAD of the tag (a pull event with method HEAD)."""
        token = base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()
        request = urllib.request.Request(
            f"http://{self.registry.host}/v2/{repo}/manifests/{tag}",
            method="HEAD",
            headers={"Authorization": f"Basic {token}", "Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                status = resp.status
        except urllib.error.HTTPError as e:
            status = e.code
        if status != 200:
            fail(f"HEAD {repo}:{tag}: status {status}")

    def run_ops(self, count: int) -> None:
        for _ in range(count):
            self.operation(self.done)
            self.done += 1

    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        deadline = time.monotonic() + TRAFFIC_LIMIT_S
        while not self.stop_event.is_set() and self.done < MAX_OPS:
            if time.monotonic() > deadline:
                self.error = f"the traffic loop ran out of time ({TRAFFIC_LIMIT_S:.0f} s)"
                return
            try:
                self.operation(self.done)
            except Exception as e:
                self.error = f"operation {self.done}: {e}"
                return
            self.done += 1

    def wait_for(self, ops: int, what: str) -> None:
        """Waits (bounded) until `ops` operations are done in all."""
        wait_until(f"{what} ({ops} operations)", lambda: self.error or self.done >= ops, OPS_WAIT_S)
        if self.error:
            fail(f"traffic failed: {self.error}")

    def finish(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout=150)  # one skopeo run is bounded by 120 s
            if self.thread.is_alive():
                fail("the traffic loop did not stop")
        if self.error:
            fail(f"traffic failed: {self.error}")


# ---------------------------------------------------------------------------------------------
# Expectations from the captured events, and drec's API against them


def counted(events: list[dict]) -> list[dict]:
    """The events docs/counting.md counts in this traffic: manifest pushes and pulls."""
    return [
        e
        for e in events
        if e["action"] in ("push", "pull") and e["target"].get("mediaType") in MANIFEST_TYPES
    ]


def repositories(events: list[dict]) -> list[str]:
    names = {e["target"].get("repository") for e in events}
    return sorted(n for n in names if n and any(Model.of(events, n).counters.values()))


def model_totals(events: list[dict]) -> Counter:
    total = Counter()
    for repo in repositories(events):
        total.update(want_counters(Model.of(events, repo).counters))
    return total


def of_repo(events: list[dict], repo: str, key: str, value: str) -> list[dict]:
    """The events of `repo` whose `key` (a target field, or "actor") is `value`: what one tag,
    digest or actor record folds."""
    return [
        e
        for e in events
        if e["target"].get("repository") == repo
        and (e.get("actor", {}).get("name") if key == "actor" else e["target"].get(key)) == value
    ]


def state_diff(drec: Drec, events: list[dict]) -> list[str]:
    """Every difference between drec's API and the expectations from `events`: the listing,
    and per repository its record, tags, digests, actors and days; the summary."""
    problems = []
    repos = repositories(events)
    listing = drec.api("repositories?limit=100") or {}
    listed = sorted(r.get("repositoryname") for r in listing.get("repositories", []))
    if listed != repos or listing.get("total") != len(repos):
        problems.append(f"listing {listed} (total {listing.get('total')}), expected {repos}")
    for repo in repos:
        problems += repository_diff(drec, events, repo)
    days = sorted({utc_day(e) for e in counted(events)})
    summary = drec.api(f"summary?from={days[0]}&to={days[-1]}") or {}
    totals = summary.get("totals", {})
    if counters_of(totals) != want_counters(model_totals(events)):
        problems.append(f"summary totals {counters_of(totals)}, expected {model_totals(events)}")
    by_day = Counter()
    for repo in repos:
        for day, c in counters_by(events, repo, utc_day).items():
            by_day.update({f"{day} {k}": v for k, v in c.items()})
    for entry in summary.get("days", []):
        want = {k: by_day[f"{entry.get('day')} {k}"] for k in COUNTERS}
        if counters_of(entry) != want:
            problems.append(f"summary day {entry.get('day')}: {counters_of(entry)}, want {want}")
    if [d.get("day") for d in summary.get("days", [])][:1] != days[:1]:
        problems.append(f"summary days {summary.get('days')!r:.200}, expected from {days[0]}")
    return problems


def repository_diff(drec: Drec, events: list[dict], repo: str) -> list[str]:
    model, problems = Model.of(events, repo), []

    def expect(what, got, want):
        if got != want:
            problems.append(f"{repo}: {what} is {got!r}, expected {want!r}")

    doc = drec.api(f"repositories/{repo}")
    if doc is None:
        return [f"{repo}: 404"]
    expect("counters", counters_of(doc), want_counters(model.counters))
    expect("actors", sorted(doc.get("actors") or []), sorted(model.actors))
    expect("tags (live)", doc.get("tags"), sorted(t for t, s in model.tags.items() if s.live))
    problems += times_diff(repo, doc, model.times)

    tags = {t["tag"]: t for t in (drec.api(f"repositories/{repo}/-/tags") or {}).get("tags", [])}
    expect("tag names", sorted(tags), sorted(model.tags))
    for tag, state in model.tags.items():
        entry = tags.get(tag, {})
        expect(f"tag {tag} digest", entry.get("digest"), state.digest)
        expect(f"tag {tag} deleted", entry.get("deleted"), not state.live)
        expect(f"tag {tag} counters", counters_of(entry), want_counters(state.counters))
        tag_times = Model.of(of_repo(events, repo, "tag", tag), repo).times
        problems += times_diff(f"{repo}: tag {tag}", entry, tag_times)

    by_digest = counters_by(events, repo, lambda e: e["target"]["digest"])
    digests = {
        d["digest"]: d
        for d in (drec.api(f"repositories/{repo}/-/digests") or {}).get("digests", [])
    }
    expect("digests", sorted(digests), sorted(by_digest))
    for digest, counters in by_digest.items():
        entry = digests.get(digest, {})
        mine = of_repo(events, repo, "digest", digest)
        expect(f"digest {digest[:19]} counters", counters_of(entry), want_counters(counters))
        expect(f"digest {digest[:19]} deleted", entry.get("deleted"), False)
        expect(
            f"digest {digest[:19]} mediaType",
            entry.get("mediaType"),
            counted(mine)[0]["target"]["mediaType"],
        )
        problems += times_diff(f"{repo}: digest {digest[:19]}", entry, Model.of(mine, repo).times)

    actors = {
        a["actor"]: a for a in (drec.api(f"repositories/{repo}/-/actors") or {}).get("actors", [])
    }
    expect("actor names", sorted(actors), sorted(model.actor_counters))
    for actor, counters in model.actor_counters.items():
        entry = actors.get(actor, {})
        expect(f"actor {actor} counters", counters_of(entry), want_counters(counters))
        actor_times = Model.of(of_repo(events, repo, "actor", actor), repo).times
        problems += times_diff(f"{repo}: actor {actor}", entry, actor_times)

    by_day = counters_by(events, repo, utc_day)
    first, last = min(by_day), max(by_day)
    daily = drec.api(f"repositories/{repo}/-/daily?from={first}&to={last}") or {}
    got = {
        d.get("day"): counters_of(d) for d in daily.get("days", []) if any(counters_of(d).values())
    }
    expect("days", got, {day: want_counters(c) for day, c in by_day.items()})
    return problems


# ---------------------------------------------------------------------------------------------
# The run


class Failover:
    def __init__(self, args, workdir: Path, checks: Checks):
        self.args = args
        self.workdir = workdir
        self.checks = checks
        self.processes = Processes(workdir)
        self.primary = postgres_cluster.Cluster(workdir / "pg", name="primary")
        self.standby = postgres_cluster.Cluster(workdir / "pg", name="standby")
        self.capture: CaptureServer | None = None
        self.drec: Drec | None = None
        self.registry: Registry | None = None
        self.traffic: Traffic | None = None
        self.pid = 0

    # -- servers --

    def start(self) -> None:
        self.primary.init()
        self.primary.start()
        self.primary.create_database("drec")
        self.standby.init_standby_of(self.primary, STANDBY_NAME)
        self.standby.start()
        self.primary.set(synchronous_standby_names=STANDBY_NAME)
        self.primary.reload()
        sql = (
            f"SELECT sync_state FROM pg_stat_replication WHERE application_name = '{STANDBY_NAME}'"
        )
        wait_until(
            "the standby to replicate synchronously",
            lambda: self.primary.psql(sql) == "sync",
            SYNC_S,
        )

        pki = make_pki(self.workdir / "pki")
        layout = self.workdir / "oci"
        (self.workdir / "scratch").mkdir()
        images = build_images(layout, self.workdir / "scratch")
        uri = (
            f"postgresql://postgres@127.0.0.1:{self.primary.port},127.0.0.1:{self.standby.port}"
            "/drec?target_session_attrs=read-write&connect_timeout=2"
        )
        store = argparse.Namespace(
            drec=self.args.drec, store="postgresql", mongodb_uri=None, postgresql_uri=uri
        )
        self.capture = CaptureServer()
        self.drec = Drec(store, pki, self.workdir, database_prefix="drec_failover")
        self.drec.start()
        self.pid = self.drec.proc.pid
        url = f"https://127.0.0.1:{self.drec.port}/events"
        self.registry = Registry(
            "named", self.args.registry, self.workdir, url, self.capture, USERS
        )
        self.registry.start(self.processes, pki.ca)
        self.traffic = Traffic(self.registry, layout, images, self.workdir)

    def stop(self, show_logs: bool) -> None:
        if self.traffic:
            self.traffic.stop_event.set()
            if self.traffic.thread:
                self.traffic.thread.join(timeout=150)
        if self.capture:
            self.capture.stop()
        if self.drec:
            self.drec.stop()
        self.processes.stop_all()
        for cluster in (self.standby, self.primary):
            cluster.stop("fast")
        if show_logs:
            tails = {
                "drec": self.drec.log_tail(60) if self.drec else "",
                "registry-named": self.processes.log_tail("registry-named"),
                "primary": self.primary.log_tail(),
                "standby": self.standby.log_tail(),
            }
            for name, tail in tails.items():
                if tail:
                    print(f"--- last lines of {name}'s log ---\n{tail}")

    # -- helpers --

    def events(self) -> list[dict]:
        return self.registry.captured()

    def drec_metrics(self) -> dict:
        return self.registry.endpoint_metrics("drec")

    def readyz(self) -> int:
        try:
            return self.drec.request("GET", "/readyz", auth=None).status
        except OSError:
            return 0

    def same_process(self) -> None:
        self.drec.check_alive()
        if self.drec.proc.pid != self.pid:
            fail(f"drec is process {self.drec.proc.pid}, it was {self.pid}")

    def drained(self, timeout: float = DRAIN_S) -> None:
        for endpoint in ("capture", "drec"):
            wait_until(
                f"the registry to deliver every event to {endpoint}",
                lambda e=endpoint: self.registry.endpoint_metrics(e)["Pending"] == 0,
                timeout,
            )

    def expect_state(self) -> None:
        """Once the registry has delivered everything (drec acknowledges after the commit),
        drec shows exactly what the captured events make."""
        self.drained()
        if problems := state_diff(self.drec, self.events()):
            fail("drec differs from the captured events:\n" + "\n".join(problems))

    # -- the scenario --

    def run(self) -> None:
        check = self.checks.run
        self.traffic.run_ops(WARMUP_OPS)
        check("warm-up: drec matches the captured events", self.expect_state)
        failures_before = self.registry.delivery_failures()

        self.traffic.start()
        self.traffic.wait_for(WARMUP_OPS + 2, "traffic before the crash")
        self.primary.stop("immediate")
        crash_ops, crashed = self.traffic.done, time.monotonic()

        check("/readyz answers 503 once the primary is lost", self.expect_not_ready)
        check("POST /events answers 503 with Retry-After while no primary", self.probe_refused)
        self.traffic.wait_for(crash_ops + OUTAGE_OPS, "traffic while drec has no primary")
        check(
            f"the registry holds a backlog of at least {BACKLOG} events for drec",
            wait_until,
            "the backlog",
            lambda: self.drec_metrics()["Pending"] >= BACKLOG,
            OPS_WAIT_S,
        )
        check(
            "the registry's deliveries to drec fail meanwhile",
            self.expect_failures,
            failures_before,
        )
        check(
            "the standby holds every event drec acknowledged before the crash (synchronous "
            "replication)",
            self.acknowledged_on_standby,
        )
        acknowledged = self.acknowledged()
        backlog = self.drec_metrics()["Pending"]

        self.standby.promote()
        promoted = time.monotonic()
        check("drec is ready again by itself, the same process", self.expect_ready)
        ready = time.monotonic()
        check(
            "right after the promotion drec's totals hold everything it acknowledged before",
            self.totals_hold,
            acknowledged,
        )
        recovered_ops = self.traffic.done
        self.traffic.wait_for(recovered_ops + AFTER_OPS, "traffic after the promotion")
        check("the traffic loop ended without a client error", self.traffic.finish)

        check(
            "after the failover every repository, tag, digest, actor and day matches the "
            "captured events exactly (nothing lost, nothing counted twice)",
            self.expect_state,
        )
        check(
            "the registry saw failed deliveries (the failover was felt), and drec is the same "
            "process",
            self.felt,
            failures_before,
        )
        check(f"{PROBE_REPO}, refused with 503, was never stored", self.probe_absent)
        metrics = self.drec_metrics()
        print(
            f"note: {crash_ops} operations before the crash, {recovered_ops - crash_ops} while "
            f"failing over, {self.traffic.done - recovered_ops} after; {len(self.events())} "
            f"events ({len(counted(self.events()))} counted), {len(acknowledged)} acknowledged "
            f"before the promotion, a backlog of {backlog}; {metrics['Failures']} failed and "
            f"{metrics['Errors']} timed-out deliveries; promoted {promoted - crashed:.1f} s "
            f"after the crash, ready {ready - promoted:.1f} s later; "
            f"drec_events_duplicate_total {self.drec.metric('drec_events_duplicate_total'):g}",
            flush=True,
        )

    def expect_not_ready(self) -> None:
        wait_until("/readyz 503", lambda: self.readyz() == 503, LOST_S)
        self.same_process()

    def probe_refused(self) -> None:
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        event = {
            "id": str(uuid.uuid4()),
            "timestamp": now,
            "action": "pull",
            "target": {
                "mediaType": OCI_MANIFEST,
                "size": 100,
                "digest": "sha256:" + "0" * 64,
                "repository": PROBE_REPO,
                "tag": "probe",
            },
            "request": {"id": "probe", "addr": "127.0.0.1:1", "method": "GET", "useragent": "e2e"},
            "actor": {},
            "source": {"addr": "127.0.0.1:1"},
        }
        r = self.drec.request(
            "POST",
            "/events",
            headers={"Content-Type": EVENTS_TYPE},
            body=json.dumps({"events": [event]}).encode(),
        )
        r.expect(503)
        retry = r.headers.get("Retry-After", "")
        if not retry.isdigit() or int(retry) < 1:
            fail(f"Retry-After is {retry!r}, expected a number of seconds")

    def expect_failures(self, before: int) -> None:
        wait_until(
            "a failed delivery to drec",
            lambda: self.registry.delivery_failures() > before,
            LOST_S,
        )

    def acknowledged(self) -> list[dict]:
        """The events drec acknowledged: the registry delivers to each endpoint in the same
        order, one at a time, and moves on only after a success, so they are the first
        `Successes` events the capture server received."""
        successes = self.drec_metrics()["Successes"]
        wait_until("the capture server to have them", lambda: len(self.events()) >= successes)
        return self.events()[:successes]

    def acknowledged_on_standby(self) -> None:
        """Read on the hot standby before its promotion (nothing can write there), once it has
        replayed all it received."""
        acknowledged = [e["id"] for e in counted(self.acknowledged())]
        if not acknowledged:
            fail("drec had acknowledged no counted event: the check would prove nothing")
        sql = "SELECT pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn()"
        wait_until("the standby to replay what it received", lambda: self.standby.psql(sql) == "t")
        stored = set(
            self.standby.psql(f'SELECT id FROM "{self.drec.schema}".event_ids', "drec").split()
        )
        if missing := [i for i in acknowledged if i not in stored]:
            fail(
                f"{len(missing)} of {len(acknowledged)} acknowledged event ids are not on the "
                f"standby: {missing[:5]}"
            )

    def expect_ready(self) -> None:
        wait_until("/readyz 200", lambda: self.readyz() == 200, RECOVER_S)
        self.same_process()

    def totals_hold(self, acknowledged: list[dict]) -> None:
        totals = counters_of((self.drec.api("summary") or {}).get("totals", {}))
        want = want_counters(model_totals(acknowledged))
        if less := {k: (totals[k], v) for k, v in want.items() if (totals[k] or 0) < v}:
            fail(f"totals below the acknowledged events' (got, at least): {less}")

    def felt(self, before: int) -> None:
        failures = self.registry.delivery_failures()
        if failures <= before:
            fail(f"the registry counted {failures - before} failed deliveries to drec")
        self.same_process()

    def probe_absent(self) -> None:
        if (doc := self.drec.api(f"repositories/{PROBE_REPO}")) is not None:
            fail(f"it exists: {json.dumps(doc)[:300]}")


# ---------------------------------------------------------------------------------------------


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drec", required=True, help="drec binary")
    p.add_argument("--workdir", required=True, type=Path, help="scratch directory (cleared)")
    p.add_argument(
        "--registry",
        default=shutil.which("docker-registry") or "docker-registry",
        help="registry binary (Debian's docker-registry 2.8)",
    )
    args = p.parse_args()
    args.drec = str(Path(args.drec).resolve())
    return args


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # run `finally`
    args = parse_args()
    started = time.monotonic()
    checks = Checks(indent_details=True)
    failover = None
    try:
        if reason := postgres_cluster.unavailable_reason():
            fail(f"cannot run PostgreSQL: {reason}")
        if not bcrypt_hash("probe"):
            fail("this Python cannot make bcrypt hashes (crypt), which htpasswd users need")
        workdir = prepare_workdir(args.workdir, WORKDIR_MARKER)
        (workdir / "tmp").mkdir()
        failover = Failover(args, workdir, checks)
        failover.start()
        failover.run()
    except Failure as e:
        checks.failed += 1
        print(f"FAIL setup or scenario aborted: {e}", flush=True)
    finally:
        if failover:
            failover.stop(show_logs=checks.failed > 0)
    print(
        f"failover_e2e: {checks.passed} passed, {checks.failed} failed "
        f"in {time.monotonic() - started:.0f} s"
    )
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
