#!/usr/bin/env python3
"""End-to-end test of one drec collecting for several registries, and of traffic classes.

Why this test exists: the `registries` setting keeps each registry's statistics apart (the same
repository name in two registries is two repositories), and traffic classes sort every counted
event by the client's user agent and actor. Unit and API tests feed drec hand-made events; only
real registries and real clients show that the registry name in the route, the stores behind it
and the user agents the tools really send end up where docs/counting.md says.

One drec (config `registries: [r28, r31]`, and one class rule `production` for actor alice
before the built-in rules) gets the notifications of:
  r28        Debian's docker-registry 2.8, anonymous, at {route}/r28
  r28-named  a second 2.8 with htpasswd users alice and bob, also at {route}/r28
  r31        registry 3.1.2 (scripts/build-registry3.sh), anonymous, at {route}/r31
  plain      a 2.8 at the plain route {route} and at {route}/default: the default registry, as
             a single-registry setup has it (each event arrives twice and must count once)
Every registry also notifies a capture server, so the expectations come from what the tools
made the registries send: clients_e2e's model (docs/counting.md) applied to each registry's
captured events, and each event's traffic class from its user agent and actor by the rule table
of docs/counting.md "Traffic classes" (BUILTIN_CLASS_RULES below), never from drec.

r28 and r31 see the same repositories (team/app, lib/base) with different traffic from skopeo,
crane, oras and curl; one captured event of the OCI conformance suite (user agent
`Go-http-client/1.1`) is posted to {route}/r31. Checked: each registry's repositories exactly
(`?registry=`), the merged list and summary, /api/v1/registries, the 404s of unknown registries,
the default registry through the plain route, and per traffic class the all-time, per-tag,
per-day and daily records and drec_events_by_class_total.

Usage: multi_registry_e2e.py --drec PATH --workdir DIR
                             [--store sqlite | --store mongodb --mongodb-uri URI
                               | --store postgresql --postgresql-uri URI]
                             --registry3 PATH --oras PATH --crane PATH [--registry-2.8 PATH]
Only the Python standard library is used (and skopeo, umoci, openssl, curl, setpriv on PATH; the
Go tools come from scripts/build-go-tool.sh). Every process it starts is stopped when it ends.
Exit status 0 when every check passed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
import postgres_cluster
from clients_e2e import USERS, Model, Tools, Version, single_image_layout
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
    parse_time_ms,
)

from drec_harness import (
    COUNTERS,
    TIMES,
    Checks,
    Failure,
    add_drec_options,
    check_drec_options,
    fail,
    prepare_workdir,
)

WORKDIR_MARKER = ".multi_registry_e2e"
DATA = Path(__file__).resolve().parent.parent / "data"
CONFORMANCE_EVENTS = DATA / "registry-3.1" / "conformance.events.json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
EVENTS_TYPE = "application/vnd.docker.distribution.events.v1+json"
REGISTRIES = ("r28", "r31")  # the `registries` setting; "default" is always there
REPOS = ("team/app", "lib/base")  # in both r28 and r31

# docs/counting.md "Traffic classes": the built-in rules, in order, as user agent substrings
# (case ignored); an event no rule matches gets `classes.default`.
BUILTIN_CLASS_RULES = (
    (
        "scanner",
        (
            "trivy",
            "clair",
            "grype",
            "anchore",
            "snyk",
            "twistlock",
            "prisma",
            "aqua",
            "xray",
            "neuvector",
            "harbor-scanner",
        ),
    ),
    ("replication", ("harbor-registry-client", "regclient", "regsync", "dregsy")),
    (
        "ci",
        (
            "buildkit",
            "buildah",
            "kaniko",
            "go-containerregistry",
            "oras/",
            "go-http-client/",
            "curl/",
            "github-actions",
            "gitlab-runner",
            "jenkins",
            "tekton",
        ),
    ),
    ("production", ("containerd/", "cri-o/", "kubelet", "docker/")),
)
DEFAULT_CLASS = "other"
CUSTOM_ACTOR = "alice"  # classes.rules[0]: {class: production, actor: [alice]}, before the above
CLASSES = ("production", "scanner", "replication", "ci", DEFAULT_CLASS)  # every class configured


def drec_config() -> dict:
    """drec's YAML configuration (JSON is YAML); the command line adds listener and store."""
    return {
        "registries": list(REGISTRIES),
        "classes": {"rules": [{"class": "production", "actor": [CUSTOM_ACTOR]}]},
    }


def expected_class(event: dict) -> str:
    """The class docs/counting.md gives the event: the first rule that matches."""
    if event.get("actor", {}).get("name", "") == CUSTOM_ACTOR:  # a glob without `*`: equality
        return "production"
    user_agent = event.get("request", {}).get("useragent", "").lower()
    for name, needles in BUILTIN_CLASS_RULES:
        if any(needle in user_agent for needle in needles):
            return name
    return DEFAULT_CLASS


def utc_day(event: dict) -> str:
    return datetime.fromtimestamp(parse_time_ms(event["timestamp"]) / 1000, UTC).strftime(
        "%Y-%m-%d"
    )


def counters_by(events: list[dict], repo: str, key) -> dict[str, Counter]:
    """The counters of `repo` per `key(event)` (a class, or a class and a day): the model run
    over every event with the actor replaced by the key, so that its per-actor counters (every
    counted action, as the repository's counters) are per key, while deletes still see the
    manifests pushed under other keys."""
    relabelled = [e | {"actor": {"name": key(e)}} for e in events]
    return {k: c for k, c in Model.of(relabelled, repo).actor_counters.items() if any(c.values())}


def counters_of(doc: dict) -> dict:
    return {c: doc.get(c) for c in COUNTERS}


def want_counters(counter: Counter) -> dict:
    return {c: counter[c] for c in COUNTERS}


# ---------------------------------------------------------------------------------------------
# One of drec's registries as clients_e2e sees one registry version


class RegistryApi:
    """drec's API for one registry: every query gets `registry=` (None: no parameter)."""

    def __init__(self, drec: Drec, registry: str | None):
        self.drec = drec
        self.registry = registry

    def path(self, path: str) -> str:
        if self.registry is None:
            return path
        return f"{path}{'&' if '?' in path else '?'}registry={self.registry}"

    def api(self, path: str):
        return self.drec.api(self.path(path))

    def metric(self, name: str, **labels: str) -> float:
        return self.drec.metric(name, **labels)


class View(Version):
    """A registry of drec's: the registry processes notifying it, the events they sent (and any
    posted to drec directly), drec's API answering for it; clients_e2e's steps and model
    comparison (`step`, `expect_model`) work on it unchanged."""

    def __init__(self, name, registries, api: RegistryApi, args, workdir: Path, shared, checks):
        super().__init__(name, "", args, workdir, shared, checks)
        self.registries = registries
        self.drec = api
        self.posted: list[dict] = []

    def events(self) -> list[dict]:
        return super().events() + self.posted

    def repositories(self) -> list[str]:
        """The repositories the events make: those with a counted event."""
        names = {e["target"].get("repository") for e in self.events()}
        return sorted(n for n in names if n and any(Model.of(self.events(), n).counters.values()))

    def totals(self) -> Counter:
        total = Counter()
        for repo in self.repositories():
            total.update(want_counters(Model.of(self.events(), repo).counters))
        return total

    def times(self) -> dict[str, int]:
        """The earliest first and latest last times over the repositories, Unix ms."""
        out: dict[str, int] = {}
        for repo in self.repositories():
            for field, ms in Model.of(self.events(), repo).times.items():
                pick = min if field.startswith("first") else max
                out[field] = pick(out.get(field, ms), ms)
        return out


def times_diff(what: str, doc: dict, want: dict[str, int]) -> list[str]:
    problems = []
    for field in TIMES:
        got, ms = doc.get(field), want.get(field)
        if got is None or ms is None:
            if got != ms:
                problems.append(f"{what}: {field} is {got!r}, expected {ms!r} (ms)")
        elif abs(parse_time_ms(got) - ms) > 1:
            problems.append(f"{what}: {field} is {got}, expected the event's time {ms} ms")
    return problems


# ---------------------------------------------------------------------------------------------
# The run


class Run:
    def __init__(self, args, workdir: Path, checks: Checks):
        self.args = args
        self.workdir = workdir
        self.checks = checks
        self.processes = Processes(workdir)
        self.capture = CaptureServer()
        self.pki = make_pki(workdir / "pki")
        layout = workdir / "oci"
        (workdir / "scratch").mkdir()
        self.tools = Tools(args, workdir)
        self.shared = {
            "tools": self.tools,
            "layout": layout,
            "images": build_images(layout, workdir / "scratch"),
            "single": single_image_layout(layout, "amd64", workdir / "oci-amd64"),
        }
        config = workdir / "drec.yml"
        config.write_text(json.dumps(drec_config(), indent=2))
        self.drec = Drec(args, self.pki, workdir, database_prefix="drec_multi")
        self.drec.argv += ["--config", str(config)]
        self.registries: dict[str, Registry] = {}
        self.views: dict[str, View] = {}
        self.endpoints: dict[str, list[str]] = {}  # registry process: its endpoints to drec

    def start(self) -> None:
        self.drec.start()
        route = f"https://127.0.0.1:{self.drec.port}/events"
        for name, binary, url, users in (
            ("r28", self.args.registry_28, f"{route}/r28", None),
            ("r28-named", self.args.registry_28, f"{route}/r28", USERS),
            ("r31", self.args.registry3, f"{route}/r31", None),
            ("plain", self.args.registry_28, route, None),
        ):
            registry = Registry(name, binary, self.workdir, url, self.capture, users)
            self.endpoints[name] = ["drec"]
            self.registries[name] = registry
        self._add_endpoint(self.registries["plain"], "drec-default", f"{route}/default")
        for registry in self.registries.values():
            registry.start(self.processes, self.pki.ca)

        def view(name, processes, registry_param):
            return View(
                name,
                [self.registries[p] for p in processes],
                RegistryApi(self.drec, registry_param),
                self.args,
                self.workdir,
                self.shared,
                self.checks,
            )

        self.views = {
            "r28": view("r28", ("r28", "r28-named"), "r28"),
            "r31": view("r31", ("r31",), "r31"),
            "default": view("default", ("plain",), "default"),
        }

    def _add_endpoint(self, registry: Registry, name: str, url: str) -> None:
        """A second endpoint to drec (same token, same timeouts) in the registry's config."""
        config = json.loads(registry.config.read_text())
        endpoints = config["notifications"]["endpoints"]
        endpoints.append(endpoints[0] | {"name": name, "url": url})
        registry.config.write_text(json.dumps(config, indent=2))
        self.endpoints[registry.name].append(name)

    def stop(self, show_logs: bool) -> None:
        self.capture.stop()
        self.drec.stop()
        self.processes.stop_all()
        if show_logs:
            for log in ["drec"] + [f"registry-{n}" for n in self.registries]:
                tail = self.drec.log_tail() if log == "drec" else self.processes.log_tail(log)
                if tail:
                    print(f"--- last lines of {log}.log ---\n{tail}")

    def drained(self) -> None:
        for name, registry in self.registries.items():
            for endpoint in ["capture", *self.endpoints[name]]:
                registry.wait_drained(endpoint)

    def delivery_failures(self) -> int:
        return sum(
            r.endpoint_metrics(e)["Failures"] + r.endpoint_metrics(e)["Errors"]
            for n, r in self.registries.items()
            for e in self.endpoints[n]
        )

    def class_metrics(self) -> dict[str, float]:
        return {c: self.drec.metric("drec_events_by_class_total", **{"class": c}) for c in CLASSES}

    # -- tool helpers --

    def curl_get(self, v: View, registry: Registry, repo: str, tag: str, user=None) -> str:
        accept = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST))
        creds = ["-u", f"{user}:{USERS[user]}"] if user else []
        url = f"http://{registry.host}/v2/{repo}/manifests/{tag}"
        return v.tools(
            "curl", "-sS", "-f", "-o", "/dev/null", "-H", f"Accept: {accept}", *creds, url
        )

    def crane_push(self, v: View, registry: Registry, repo: str, tag: str) -> str:
        return v.tools("crane", "push", "--insecure", str(v.single), v.ref(registry, repo, tag))

    def crane_pull(self, v: View, registry: Registry, repo: str, tag: str) -> str:
        tarball = str(self.workdir / "crane.tar")
        return v.tools("crane", "pull", "--insecure", v.ref(registry, repo, tag), tarball)

    def oras_fetch(self, v: View, registry: Registry, repo: str, tag: str) -> str:
        return v.tools("oras", "manifest", "fetch", "--plain-http", v.ref(registry, repo, tag))

    def skopeo_pull(self, v: View, registry: Registry, repo: str, tag: str) -> str:
        destination = self.workdir / "pulled" / registry.name
        destination.mkdir(parents=True, exist_ok=True)
        return v.tools(
            "skopeo",
            "copy",
            "--src-tls-verify=false",
            "docker://" + v.ref(registry, repo, tag),
            f"oci:{destination}:{repo.replace('/', '-')}-{tag}",
        )

    def post(self, path: str, envelope: dict):
        return self.drec.request(
            "POST",
            path,
            headers={"Content-Type": EVENTS_TYPE},
            body=json.dumps(envelope).encode(),
        )


# ---------------------------------------------------------------------------------------------
# Traffic


def traffic_r28(run: Run) -> None:
    """team/app: skopeo and crane push v1 and v2, crane HEADs (a check), crane, oras and curl
    GET (3 pulls); alice (named) pushes v3 with skopeo and GETs it twice with curl, bob once:
    alice's events are `production` by the custom rule, whatever her client. lib/base: a skopeo
    push and pull."""
    v, anon, named = run.views["r28"], run.registries["r28"], run.registries["r28-named"]
    repo, tools = "team/app", run.tools
    v.step("skopeo push v1", repo, lambda: v.skopeo_push(anon, "amd64", repo, "v1"), numpushs=1)
    v.step(
        "crane push v2",
        repo,
        lambda: run.crane_push(v, anon, repo, "v2"),
        numpushs=1,
    )
    v.step(
        "crane digest v1",
        repo,
        lambda: tools("crane", "digest", "--insecure", v.ref(anon, repo, "v1")),
        numchecks=1,
    )
    v.step(
        "crane pull v2",
        repo,
        lambda: run.crane_pull(v, anon, repo, "v2"),
        numpulls=1,
    )
    v.step(
        "oras manifest fetch v1",
        repo,
        lambda: run.oras_fetch(v, anon, repo, "v1"),
        numpulls=1,
    )
    v.step("curl GET v1", repo, lambda: run.curl_get(v, anon, repo, "v1"), numpulls=1)
    v.step(
        "alice: skopeo push v3",
        repo,
        lambda: v.skopeo_push(named, "arm64", repo, "v3", user="alice"),
        numpushs=1,
        alice__numpushs=1,
    )
    for i in (1, 2):
        v.step(
            f"alice: curl GET v3 #{i}",
            repo,
            lambda: run.curl_get(v, named, repo, "v3", user="alice"),
            numpulls=1,
            alice__numpulls=1,
        )
    v.step(
        "bob: curl GET v3",
        repo,
        lambda: run.curl_get(v, named, repo, "v3", user="bob"),
        numpulls=1,
        bob__numpulls=1,
    )
    base = "lib/base"
    v.step(
        "skopeo push lib/base", base, lambda: v.skopeo_push(anon, "arm64", base, "v1"), numpushs=1
    )
    v.step("skopeo pull lib/base", base, lambda: run.skopeo_pull(v, anon, base, "v1"), numpulls=1)


def traffic_r31(run: Run) -> None:
    """team/app: one skopeo push, five pulls (crane twice, oras, curl, skopeo). lib/base: a crane
    push and an oras fetch. Then one captured event of the conformance suite, posted."""
    v, anon = run.views["r31"], run.registries["r31"]
    repo = "team/app"
    v.step("skopeo push v1", repo, lambda: v.skopeo_push(anon, "amd64", repo, "v1"), numpushs=1)
    for i in (1, 2):
        v.step(
            f"crane pull #{i}",
            repo,
            lambda: run.crane_pull(v, anon, repo, "v1"),
            numpulls=1,
        )
    v.step(
        "oras manifest fetch",
        repo,
        lambda: run.oras_fetch(v, anon, repo, "v1"),
        numpulls=1,
    )
    v.step("curl GET", repo, lambda: run.curl_get(v, anon, repo, "v1"), numpulls=1)
    v.step("skopeo pull", repo, lambda: run.skopeo_pull(v, anon, repo, "v1"), numpulls=1)
    base = "lib/base"
    v.step(
        "crane push lib/base",
        base,
        lambda: run.crane_push(v, anon, base, "v1"),
        numpushs=1,
    )
    v.step(
        "oras manifest fetch lib/base",
        base,
        lambda: run.oras_fetch(v, anon, base, "v1"),
        numpulls=1,
    )

    envelope = conformance_pull()

    def posted():
        run.post("/events/r31", envelope).expect(200)
        v.posted += envelope["events"]

    run.checks.run(
        f"POST /events/r31 of the conformance suite's GET of "
        f"{envelope['events'][0]['target']['repository']}: 200",
        posted,
    )


def conformance_pull() -> dict:
    """The envelope of tests/data/registry-3.1/conformance.events.json holding the suite's
    first GET of a manifest by tag (user agent Go-http-client/1.1)."""
    for envelope in json.loads(CONFORMANCE_EVENTS.read_text()):
        event = envelope["events"][0]
        target = event["target"]
        if (
            len(envelope["events"]) == 1
            and event["action"] == "pull"
            and event["request"]["method"] == "GET"
            and target.get("tag")
            and target.get("mediaType") == OCI_MANIFEST
        ):
            return envelope
    raise Failure(f"{CONFORMANCE_EVENTS} holds no envelope of one GET of a manifest by tag")


def traffic_default(run: Run) -> None:
    """The single-registry setup: a skopeo push and pull on the registry at the plain route."""
    v, plain, repo = run.views["default"], run.registries["plain"], "legacy/app"
    v.step("skopeo push", repo, lambda: v.skopeo_push(plain, "amd64", repo, "v1"), numpushs=1)
    v.step("skopeo pull", repo, lambda: run.skopeo_pull(v, plain, repo, "v1"), numpulls=1)


# ---------------------------------------------------------------------------------------------
# Checks


def check_registries(run: Run) -> None:
    """Each registry's repositories exactly as its own events say, and named after it."""
    for name, v in run.views.items():
        for repo in v.repositories():
            v.check(
                f"{repo}?registry={name}: drec matches the registry's events", v.expect_model, repo
            )

            def named(v=v, repo=repo, name=name):
                doc = v.drec.api(f"repositories/{repo}") or {}
                if (doc.get("registry"), doc.get("repositoryname")) != (name, repo):
                    got = (doc.get("registry"), doc.get("repositoryname"))
                    fail(f"registry and repositoryname {got}")

            v.check(f"{repo}?registry={name}: the record names registry {name}", named)
    for repo in REPOS:
        for name in REGISTRIES:
            if repo not in run.views[name].repositories():
                run.checks.run(f"{name} saw {repo}", fail, f"no counted event of {repo} in {name}")
    # Different traffic, so a store mixed up between r28 and r31 cannot go unseen.

    def different():
        a, b = (Model.of(run.views[n].events(), "team/app").counters for n in REGISTRIES)
        if a == b:
            fail(f"r28 and r31 sent the same counts for team/app: {dict(a)}")

    run.checks.run("r28 and r31 saw different traffic on team/app", different)

    implicit = View(
        "default (no ?registry)",
        run.views["default"].registries,
        RegistryApi(run.drec, None),
        run.args,
        run.workdir,
        run.shared,
        run.checks,
    )
    for repo in run.views["default"].repositories():
        implicit.check(
            f"{repo} without ?registry: the default registry's", implicit.expect_model, repo
        )


def check_merged(run: Run) -> None:
    drec, views = run.drec, run.views
    expected = {(name, repo) for name, v in views.items() for repo in v.repositories()}

    def listing(query: str, want: set[tuple[str, str]]):
        doc = drec.api("repositories" + query) or {}
        items = doc.get("repositories", [])
        got = sorted((i.get("registry"), i.get("repositoryname")) for i in items)
        if got != sorted(want) or doc.get("total") != len(want):
            fail(f"listed {got} (total {doc.get('total')}), expected {sorted(want)}")
        problems = []
        for item in items:
            model = Model.of(views[item["registry"]].events(), item["repositoryname"])
            if counters_of(item) != want_counters(model.counters):
                problems.append(f"{item['registry']}/{item['repositoryname']}: {counters_of(item)}")
            problems += times_diff(
                f"{item['registry']}/{item['repositoryname']}", item, model.times
            )
        if problems:
            fail("items differ from the model:\n" + "\n".join(problems))

    run.checks.run(
        "GET /repositories spans every registry: team/app and lib/base twice (r28, r31), "
        "legacy/app once (default), counters and times of each registry's model",
        listing,
        "",
        expected,
    )
    for name in (*REGISTRIES, "default"):
        run.checks.run(
            f"GET /repositories?registry={name} lists only {name}'s",
            listing,
            f"?registry={name}",
            {e for e in expected if e[0] == name},
        )

    def summary():
        doc = (drec.api("summary") or {}).get("totals", {})
        want = sum((v.totals() for v in views.values()), Counter())
        if counters_of(doc) != want_counters(want) or doc.get("repositories") != len(expected):
            fail(
                f"totals {counters_of(doc)}, {doc.get('repositories')} repositories; expected "
                f"{want_counters(want)}, {len(expected)} (the sum of every registry's model)"
            )
        times = {}
        for v in views.values():
            for field, ms in v.times().items():
                pick = min if field.startswith("first") else max
                times[field] = pick(times.get(field, ms), ms)
        if problems := times_diff("summary", doc, times):
            fail("\n".join(problems))

    run.checks.run("GET /summary totals are the sum of both registries' models", summary)

    def one_summary(name):
        doc = (drec.api(f"summary?registry={name}") or {}).get("totals", {})
        v = views[name]
        if counters_of(doc) != want_counters(v.totals()):
            fail(f"totals {counters_of(doc)}, expected {want_counters(v.totals())}")

    for name in REGISTRIES:
        run.checks.run(f"GET /summary?registry={name} is {name}'s model", one_summary, name)

    def registries():
        got = {r.get("registry"): r for r in (drec.api("registries") or {}).get("registries", [])}
        if sorted(got) != sorted(views):
            fail(f"registries {sorted(got)}, expected {sorted(views)}")
        for name, v in views.items():
            want = want_counters(v.totals()) | {"repositories": len(v.repositories())}
            entry = counters_of(got[name]) | {"repositories": got[name].get("repositories")}
            if entry != want:
                fail(f"{name}: {entry}, expected {want}")

    run.checks.run("GET /registries lists default, r28, r31 with their totals", registries)

    def not_found():
        problems = []
        if (r := drec.request("GET", "/api/v1/repositories/team/app")).status != 404:
            problems.append(f"GET /repositories/team/app (default saw nothing): {r.status}")
        for path in (
            "/api/v1/repositories?registry=nope",
            "/api/v1/repositories/team/app?registry=nope",
            "/api/v1/repositories/team/app/-/classes?registry=nope",
            "/api/v1/summary?registry=nope",
        ):
            if (r := drec.request("GET", path)).status != 404:
                problems.append(f"GET {path}: {r.status}")
        envelope = conformance_pull()
        if (r := run.post("/events/nope", envelope)).status != 404:
            problems.append(f"POST /events/nope: {r.status}")
        if problems:
            fail("expected 404:\n" + "\n".join(problems))

    run.checks.run(
        "404: team/app without ?registry (default has none), ?registry=nope, POST /events/nope",
        not_found,
    )

    if run.args.store == "sqlite":

        def files():
            missing = [
                n
                for n in ("drec.db", "drec@r28.db", "drec@r31.db")
                if not (run.workdir / n).exists()
            ]
            if missing:
                fail(f"no {missing} beside storage.sqlite.path")

        run.checks.run("SQLite: drec@r28.db and drec@r31.db beside drec.db", files)
    elif run.args.store == "postgresql":
        run.checks.run(
            "PostgreSQL: schemas S, S@r28 and S@r31, each with its registry's repositories",
            postgresql_schemas,
            run,
        )


def postgresql_schemas(run: Run) -> None:
    """A schema per registry (`<schema>@<registry>`, the default registry's plain), and each
    one's repositories table holds exactly that registry's repositories: the stores are apart
    in the database, not only in the API's answers."""
    schema = run.drec.schema
    like = schema.replace("_", r"\_") + "%"
    got = postgres_cluster.query(
        run.args.postgresql_uri,
        f"SELECT nspname FROM pg_namespace WHERE nspname LIKE '{like}' ORDER BY 1",
    ).splitlines()
    schemas = {"default": schema} | {r: f"{schema}@{r}" for r in REGISTRIES}
    if got != sorted(schemas.values()):
        fail(f"schemas {got}, expected {sorted(schemas.values())}")
    problems = []
    for registry, name in schemas.items():
        listed = postgres_cluster.query(
            run.args.postgresql_uri,
            f'SELECT repositoryname FROM "{name}".repositories ORDER BY 1',
        ).splitlines()
        want = run.views[registry].repositories()
        if listed != want:
            problems.append(f"{name}.repositories holds {listed}, expected {want}")
    if problems:
        fail("\n".join(problems))


def check_user_agents(run: Run) -> None:
    """What the rule table makes of the real clients' user agents (a change of a tool shows
    here, not as a drec failure): skopeo other, crane/oras/curl ci, alice production."""
    want = {"skopeo/": DEFAULT_CLASS, "crane/": "ci", "oras/": "ci", "curl/": "ci"}

    def classes():
        seen, problems = Counter(), []
        for v in run.views.values():
            for event in v.events():
                user_agent = event.get("request", {}).get("useragent", "")
                actor = event.get("actor", {}).get("name", "")
                cls = expected_class(event)
                for prefix, wanted in want.items():
                    if user_agent.startswith(prefix):
                        seen[prefix] += 1
                        expect = "production" if actor == CUSTOM_ACTOR else wanted
                        if cls != expect:
                            problems.append(f"{user_agent!r} ({actor or 'anonymous'}): {cls}")
        if missing := [p for p in want if not seen[p]]:
            problems.append(f"no event with a user agent starting {missing}")
        if problems:
            fail("\n".join(problems))

    run.checks.run(
        "the clients' user agents: skopeo other, crane/oras/curl ci, alice's production", classes
    )


def check_classes(run: Run) -> None:
    for name in REGISTRIES:
        v = run.views[name]
        for repo in v.repositories():
            v.check(
                f"{repo}/-/classes?registry={name}: per class as the model", class_diff, v, repo
            )

    v = run.views["r28"]

    def alice_production():
        by_class = counters_by(v.events(), "team/app", expected_class)
        doc = v.drec.api("repositories/team/app/-/classes") or {}
        production = next((c for c in doc.get("classes", []) if c.get("class") == "production"), {})
        want = {"numpushs": 1, "numpulls": 2}
        if {k: production.get(k) for k in want} != want or want_counters(
            by_class.get("production", Counter())
        ) != counters_of(production):
            fail(f"production is {production}, expected alice's push and two pulls {want}")

    v.check(
        "team/app: alice's skopeo push and curl pulls are production (rule 0)", alice_production
    )

    conformance = conformance_pull()["events"][0]["target"]["repository"]

    def conformance_ci():
        doc = run.views["r31"].drec.api(f"repositories/{conformance}/-/classes") or {}
        got = [(c.get("class"), c.get("numpulls")) for c in doc.get("classes", [])]
        if got != [("ci", 1)]:
            fail(f"classes {got}, expected [('ci', 1)] (user agent Go-http-client/1.1)")

    run.checks.run(f"[r31] {conformance}: the conformance suite's GET is ci", conformance_ci)

    for tag in ("v1", "v3"):
        v.check(f"team/app/-/classes?tag={tag}&registry=r28", tag_class_diff, v, "team/app", tag)
    v.check("team/app/-/classes?from=&to=&registry=r28 per day", day_class_diff, v, "team/app")
    v.check("team/app/-/daily?class=ci&registry=r28", daily_ci_diff, v, "team/app")


def class_diff(v: View, repo: str) -> None:
    events = v.events()
    want = counters_by(events, repo, expected_class)
    doc = v.drec.api(f"repositories/{repo}/-/classes") or {}
    got = {c.get("class"): c for c in doc.get("classes", [])}
    problems = []
    if sorted(got) != sorted(want):
        problems.append(f"classes {sorted(got)}, expected {sorted(want)}")
    for cls, counters in want.items():
        entry = got.get(cls, {})
        if counters_of(entry) != want_counters(counters):
            problems.append(f"{cls}: {counters_of(entry)}, expected {want_counters(counters)}")
        times = Model.of([e for e in events if expected_class(e) == cls], repo).times
        problems += times_diff(cls, entry, times)
    if problems:
        fail("\n".join(problems))


def tag_class_diff(v: View, repo: str, tag: str) -> None:
    """Per class, the events naming `tag` (a pull by digest is not attributed here)."""
    want = {}
    for cls in CLASSES:
        model = Model.of([e for e in v.events() if expected_class(e) == cls], repo)
        if tag in model.tags and any(model.tags[tag].counters.values()):
            want[cls] = model.tags[tag].counters
    doc = v.drec.api(f"repositories/{repo}/-/classes?tag={tag}") or {}
    got = {c.get("class"): c for c in doc.get("classes", [])}
    problems = []
    if sorted(got) != sorted(want):
        problems.append(f"classes {sorted(got)}, expected {sorted(want)}")
    for cls, counters in want.items():
        entry = got.get(cls, {})
        if entry.get("tag") != tag:
            problems.append(f"{cls}: tag {entry.get('tag')!r}")
        if counters_of(entry) != want_counters(counters):
            problems.append(f"{cls}: {counters_of(entry)}, expected {want_counters(counters)}")
    if problems:
        fail("\n".join(problems))


def day_range(v: View) -> tuple[str, str]:
    days = sorted({utc_day(e) for e in v.events()})
    return days[0], days[-1]


def day_class_diff(v: View, repo: str) -> None:
    first, last = day_range(v)
    want = counters_by(v.events(), repo, lambda e: f"{expected_class(e)} {utc_day(e)}")
    doc = v.drec.api(f"repositories/{repo}/-/classes?from={first}&to={last}") or {}
    got = {f"{c.get('class')} {c.get('day')}": counters_of(c) for c in doc.get("classes", [])}
    want = {k: want_counters(c) for k, c in want.items()}
    if got != want:
        fail(f"per class and day {got}, expected {want}")


def daily_ci_diff(v: View, repo: str) -> None:
    first, last = day_range(v)
    by_day = counters_by(v.events(), repo, lambda e: f"{expected_class(e)} {utc_day(e)}")
    doc = v.drec.api(f"repositories/{repo}/-/daily?class=ci&from={first}&to={last}") or {}
    days = doc.get("days", [])
    if doc.get("class") != "ci" or not days or days[0].get("day") != first:
        fail(f"answer {json.dumps(doc)[:300]}, expected class ci from {first}")
    problems = []
    for day in days:
        want = want_counters(by_day.get(f"ci {day.get('day')}", Counter()))
        if counters_of(day) != want:
            problems.append(f"{day.get('day')}: {counters_of(day)}, expected {want}")
    if not any(counters_of(d)["numpulls"] for d in days):
        problems.append("no ci pull on any day")
    if problems:
        fail("\n".join(problems))


def check_class_metric(run: Run, before: dict[str, float], failures_before: int) -> None:
    """drec_events_by_class_total counts every counted event as delivered: the default
    registry's events arrive at two routes, so twice (the store counts them once)."""
    want = Counter()
    for v in run.views.values():
        deliveries = {p.name: len(run.endpoints[p.name]) for p in v.registries}
        for repo in v.repositories():
            for registry in v.registries:
                events = registry.captured()
                for cls, counted in counters_by(events, repo, expected_class).items():
                    want[cls] += sum(counted.values()) * deliveries[registry.name]
            for cls, counted in counters_by(v.posted, repo, expected_class).items():
                want[cls] += sum(counted.values())

    def metric():
        run.drained()
        got = {c: run.class_metrics()[c] - before[c] for c in CLASSES}
        retried = run.delivery_failures() > failures_before  # a retry counts again
        bad = {
            c: (got[c], want[c])
            for c in CLASSES
            if got[c] < want[c] or (got[c] > want[c] and not retried)
        }
        if bad:
            fail(f"rose by (got, expected): {bad}")

    run.checks.run(
        "drec_events_by_class_total rose by each class's counted events, as delivered: "
        + ", ".join(f"{c} {want[c]}" for c in CLASSES),
        metric,
    )


# ---------------------------------------------------------------------------------------------


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_drec_options(p)
    p.add_argument(
        "--registry-2.8",
        dest="registry_28",
        default=shutil.which("docker-registry") or "docker-registry",
        help="registry 2.8 binary (Debian's docker-registry)",
    )
    p.add_argument("--registry3", required=True, help="registry 3.x (scripts/build-registry3.sh)")
    for tool in ("oras", "crane"):
        p.add_argument(f"--{tool}", required=True, help=f"{tool} (scripts/build-go-tool.sh)")
    args = p.parse_args()
    check_drec_options(p, args)
    args.cosign = "cosign"  # clients_e2e.Tools knows it; this test does not run it
    args.drec = str(Path(args.drec).resolve())
    return args


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # run `finally`
    args = parse_args()
    started = time.monotonic()
    checks = Checks(indent_details=True)
    run = None
    try:
        workdir = prepare_workdir(args.workdir, WORKDIR_MARKER)
        if not bcrypt_hash("probe"):
            fail("this Python cannot make bcrypt hashes (crypt), which htpasswd users need")
        run = Run(args, workdir, checks)
        run.start()
        before, failures_before = run.class_metrics(), run.delivery_failures()
        for traffic in (traffic_r28, traffic_r31, traffic_default):
            try:
                traffic(run)
            except Failure as e:
                checks.failed += 1
                print(f"FAIL {traffic.__name__} aborted: {e}", flush=True)
        run.checks.run("every registry delivered every event", run.drained)
        check_registries(run)
        check_merged(run)
        check_user_agents(run)
        check_classes(run)
        check_class_metric(run, before, failures_before)
    except Failure as e:
        checks.failed += 1
        print(f"FAIL setup: {e}", flush=True)
    finally:
        if run:
            run.stop(show_logs=checks.failed > 0)
    print(
        f"multi_registry_e2e: {checks.passed} passed, {checks.failed} failed "
        f"in {time.monotonic() - started:.0f} s"
    )
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
