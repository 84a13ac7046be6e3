#!/usr/bin/env python3
"""End-to-end test of drec against real registries driven by real client tools.

Why this test exists: registry_e2e.py drives the registry with skopeo only, and the counting
rules for attachments, blob deletes and index pullers (docs/counting.md, sections Deletes,
Attachments and Actors) exist because of what oras, cosign and crane send. This program runs
those tools against Debian's docker-registry 2.8 and registry 3.1 and checks drec's API.

For each registry version given it starts one drec and two plain-HTTP loopback registries that
notify it (filesystem storage in the workdir, deletes enabled): `anon` (no authentication) for
the tools and `named` (htpasswd users alice and bob) for the actor scenario. Both also notify a
capture server, so the expectations come from what the tools made the registry send, never from
an earlier run: each tool step states what it must cause in the counting terms of
docs/counting.md (`cosign sign`: one attachment push), the `Model` below applies those rules to
the captured events (so "numpulls" is the image GETs the tools made, whatever they were), and
drec's API must show the model's numbers, times, tags, digests and actors. A fact that fails
means a tool or registry changed; a model mismatch means drec did.

Each scenario has repositories of its own: cosign signs and verifies (sign/app), oras attaches
and discovers an SBOM (attach/app), oras pushes and deletes blobs beside an image whose manifest
it then deletes (blobs/app), bob only pulls an index that alice pushed (index/app), crane pushes,
checks and pulls (crane/app).

Usage: clients_e2e.py --drec PATH --workdir DIR
                      [--store sqlite | --store mongodb --mongodb-uri URI
                        | --store postgresql --postgresql-uri URI]
                      [--registry-2.8 PATH] [--registry-3.1 PATH]
                      --oras PATH --crane PATH --cosign PATH
Only the Python standard library is used (and skopeo, umoci, openssl, setpriv on PATH; the Go
tools come from scripts/build-go-tool.sh). Every process it starts is stopped when it ends.
Exit status 0 when every check passed.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
import registry_e2e
from registry_e2e import (
    CaptureServer,
    Drec,
    Processes,
    Registry,
    bcrypt_hash,
    build_images,
    make_pki,
    parse_time_ms,
    wait_until,
)

from drec_harness import (
    COUNTERS,
    Checks,
    Failure,
    add_drec_options,
    check_drec_options,
    fail,
    prepare_workdir,
)

WORKDIR_MARKER = ".clients_e2e"
TOOL_TIMEOUT_S = 120.0
USERS = {"alice": "alice-secret", "bob": "bob-secret"}
VERIFIES = 2  # cosign verify runs
BLOBS = 2  # blobs pushed and deleted with oras
SBOM_TYPE = "application/vnd.example.sbom+json"
COSIGN_PASSWORD = "clients-e2e-cosign"
# Any connection a tool tries beyond loopback fails at once (Go never proxies loopback).
NO_NETWORK_PROXY = "http://127.0.0.1:9"

INDEX_TYPES = registry_e2e.INDEX_TYPES
MANIFEST_TYPES = INDEX_TYPES | {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
}
# docs/counting.md#attachments: the referrers tag schema and cosign's suffixes.
ATTACHMENT_TAG = re.compile(r"(sha256-[0-9a-f]{64}|sha512-[0-9a-f]{128})(?:\.(?:sig|att|sbom))?")
UNKNOWN_DELETES = "unknown_digest_deletes"  # the model's count of deletes drec must ignore


# ---------------------------------------------------------------------------------------------
# The model: docs/counting.md applied to the events the registry sent


@dataclasses.dataclass
class TagState:
    digest: str
    attachment: bool
    live: bool = True
    counters: Counter = dataclasses.field(default_factory=Counter)


@dataclasses.dataclass
class Model:
    """What drec must show for one repository, from the registry's events in arrival order."""

    counters: Counter = dataclasses.field(default_factory=Counter)
    actors: set[str] = dataclasses.field(default_factory=set)
    actor_counters: dict[str, Counter] = dataclasses.field(default_factory=dict)
    tags: dict[str, TagState] = dataclasses.field(default_factory=dict)
    digest_counters: dict[str, Counter] = dataclasses.field(default_factory=dict)
    unknown_deleted: set[str] = dataclasses.field(default_factory=set)  # blobs, by digest
    times: dict[str, int] = dataclasses.field(default_factory=dict)  # Unix ms

    @staticmethod
    def of(events: list[dict], repo: str) -> Model:
        model, manifests = Model(), set()
        for event in events:
            if event["target"].get("repository") == repo:
                model._apply(event, manifests)
        return model

    def _apply(self, event: dict, manifests: set[str]) -> None:
        target = event["target"]
        action, method = event["action"], event.get("request", {}).get("method", "")
        media_type, tag, digest = target.get("mediaType"), target.get("tag"), target.get("digest")
        actor = event.get("actor", {}).get("name", "")
        if action == "delete":
            self._delete(tag, digest, actor, manifests)
            return
        if action not in ("push", "pull") or media_type not in MANIFEST_TYPES:
            return  # blobs and mounts are ignored
        manifests.add(digest)
        attachment = ATTACHMENT_TAG.fullmatch(tag or "")
        if action == "push":
            if not tag:
                return  # pushed by digest: counts on its digest record only
            counter = "numattachmentpushes" if attachment else "numpushs"
        elif method == "HEAD":
            if attachment:
                return
            counter = "numchecks"
        elif attachment:
            counter = "numattachmentpulls"
        else:
            counter = "numindexpulls" if media_type in INDEX_TYPES else "numpulls"
        self.counters[counter] += 1
        if actor:
            self.actor_counters.setdefault(actor, Counter())[counter] += 1
        if attachment:
            subject = attachment[1].replace("-", ":", 1)
            for d in (digest, subject):
                self.digest_counters.setdefault(d, Counter())[counter] += 1
        elif counter != "numchecks":  # a push, pull or index pull: times and actor list
            if actor:
                self.actors.add(actor)
            kind = "pushed" if counter == "numpushs" else "pulled"
            ms = parse_time_ms(event["timestamp"])
            first, last = f"first{kind}", f"last{kind}"
            self.times[first] = min(self.times.get(first, ms), ms)
            self.times[last] = max(self.times.get(last, ms), ms)
        if tag:
            state = self.tags.setdefault(tag, TagState(digest, bool(attachment)))
            state.digest, state.live = digest, True
            state.counters[counter] += 1

    def _delete(self, tag: str | None, digest: str | None, actor: str, manifests: set[str]):
        if digest and digest not in manifests:
            self.counters[UNKNOWN_DELETES] += 1
            self.unknown_deleted.add(digest)
            return
        if digest:
            self.counters["numdeletes"] += 1
            if actor:
                self.actor_counters.setdefault(actor, Counter())["numdeletes"] += 1
        for name, state in self.tags.items():
            if (digest and state.digest == digest) or name == tag:
                state.live = False

    def flat(self) -> Counter:
        """Counters, and each actor's as `actor.counter`: what a tool step's facts name."""
        flat = Counter(self.counters)
        for actor, counters in self.actor_counters.items():
            flat.update({f"{actor}.{k}": v for k, v in counters.items()})
        return flat


# ---------------------------------------------------------------------------------------------
# The tools


class Tools:
    """oras, crane, cosign and skopeo, run in a home of their own (no configuration, credentials
    or caches of the user's; cosign's TUF cache an empty directory) with no network beyond
    loopback."""

    def __init__(self, args, workdir: Path):
        self.paths = {"oras": args.oras, "crane": args.crane, "cosign": args.cosign}
        self.cwd = workdir / "tools"
        home = self.cwd / "home"
        home.mkdir(parents=True)
        self.tmp = workdir / "tmp"
        self.tmp.mkdir()
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OCI_", "COSIGN_", "SIGSTORE_", "REGISTRY_"))
            and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
        }
        self.env |= {
            "HOME": str(home),
            "DOCKER_CONFIG": str(home / "docker"),
            "TUF_ROOT": str(home / "sigstore"),
            "COSIGN_PASSWORD": COSIGN_PASSWORD,
            "HTTP_PROXY": NO_NETWORK_PROXY,
            "HTTPS_PROXY": NO_NETWORK_PROXY,
            "NO_PROXY": "127.0.0.1,localhost",
        }

    def __call__(self, name: str, *argv: str) -> str:
        """Runs a tool that must succeed (killed on timeout or when this program ends); its
        stdout."""
        command = ["setpriv", "--pdeathsig", "KILL", self.paths.get(name, name), *argv]
        if name == "skopeo":
            command[4:4] = ["--insecure-policy", "--tmpdir", str(self.tmp)]
        shown = f"{name} {' '.join(argv)}"
        try:
            proc = subprocess.run(
                command,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=TOOL_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise Failure(f"{shown} did not finish in {TOOL_TIMEOUT_S:.0f} s") from None
        if proc.returncode != 0:
            raise Failure(f"{shown} exited {proc.returncode}:\n{proc.stderr}{proc.stdout}")
        return proc.stdout


def single_image_layout(layout: Path, ref: str, destination: Path) -> Path:
    """A copy of the OCI layout holding only `ref`: crane pushes a layout of one image."""
    shutil.copytree(layout, destination)
    index = json.loads((destination / "index.json").read_text())
    index["manifests"] = [
        d
        for d in index["manifests"]
        if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref
    ]
    (destination / "index.json").write_text(json.dumps(index))
    return destination


# ---------------------------------------------------------------------------------------------
# One registry version: drec, the registries, the steps and the comparison with drec's API


class Version:
    def __init__(self, version: str, binary: str, args, workdir: Path, shared: dict, checks):
        self.version = version
        self.binary = binary
        self.args = args
        self.workdir = workdir
        self.tools: Tools = shared["tools"]
        self.images = shared["images"]
        self.layout: Path = shared["layout"]
        self.single: Path = shared["single"]
        self.checks = checks
        self.processes = Processes(workdir)
        self.capture: CaptureServer | None = None
        self.drec: Drec | None = None
        self.registries: list[Registry] = []

    # -- processes --

    def start(self) -> None:
        pki = make_pki(self.workdir / "pki")
        self.capture = CaptureServer()
        prefix = "drec_clients_" + self.version.replace(".", "")
        self.drec = Drec(self.args, pki, self.workdir, database_prefix=prefix)
        self.drec.start()
        url = f"https://127.0.0.1:{self.drec.port}/events"
        for name, users in (("anon", None), ("named", USERS)):
            registry = Registry(name, self.binary, self.workdir, url, self.capture, users)
            registry.start(self.processes, pki.ca)
            self.registries.append(registry)

    def stop(self, show_logs: bool) -> None:
        if self.capture:
            self.capture.stop()
        if self.drec:
            self.drec.stop()
        self.processes.stop_all()
        if show_logs:
            for log in ("drec", "registry-anon", "registry-named"):
                if tail := self.processes.log_tail(log):
                    print(f"--- [{self.version}] last lines of {log}.log ---\n{tail}")

    @property
    def anon(self) -> Registry:
        return self.registries[0]

    @property
    def named(self) -> Registry:
        return self.registries[1]

    def check(self, name: str, fn, *args) -> None:
        self.checks.run(f"[{self.version}] {name}", fn, *args)

    # -- events and the model --

    def events(self) -> list[dict]:
        return [e for r in self.registries for e in r.captured()]

    def model(self, repo: str) -> Model:
        return Model.of(self.events(), repo)

    def step(self, what: str, repo: str, action, **facts: int):
        """Runs a tool `action`, then checks what the registry's events of `repo` show it did,
        as changes of the model's counters (`facts`: `numpushs=1`, `bob__numpulls=0` for an
        actor's). Waits (bounded) for the events, and once everything is delivered checks
        again; returns the action's result."""
        facts = {k.replace("__", "."): v for k, v in facts.items()}
        before = self.model(repo).flat()
        result = action()

        def changes() -> dict[str, int]:
            after = self.model(repo).flat()
            return {k: after[k] - before[k] for k in facts}

        def verify():
            with_timeout = None
            try:
                wait_until(f"the events of {what}", lambda: changes() == facts)
            except Failure as e:
                with_timeout = e
            for registry in self.registries:
                registry.wait_drained("capture")
            got = changes()
            if got != facts:
                fail(
                    f"{with_timeout or 'after delivery'}: the registry's events show {got}, "
                    f"expected {facts} (did the tool or the registry change?)"
                )

        self.check(f"{what}: the registry's events show {fmt(facts)}", verify)
        return result

    # -- drec against the model --

    def diff(self, repo: str) -> list[str]:
        """Every difference between drec's API and the model of `repo`."""
        model, api, problems = self.model(repo), self.drec.api, []

        def expect(what, got, want):
            if got != want:
                problems.append(f"{repo}: {what} is {got!r}, expected {want!r}")

        doc = api(f"repositories/{repo}")
        if doc is None:
            return [f"{repo}: 404"]
        for counter in COUNTERS:
            expect(counter, doc.get(counter), model.counters[counter])
        expect("actors", sorted(doc.get("actors") or []), sorted(model.actors))
        images = {t: s for t, s in model.tags.items() if not s.attachment}
        attachments = {t: s for t, s in model.tags.items() if s.attachment}
        expect("tags (live)", doc.get("tags"), sorted(t for t, s in images.items() if s.live))
        for field in ("firstpushed", "lastpushed", "firstpulled", "lastpulled"):
            got, want = doc.get(field), model.times.get(field)
            if want is None or got is None:
                expect(field, got, want)
            elif abs(parse_time_ms(got) - want) > 1:
                problems.append(f"{repo}: {field} is {got}, expected the event's time {want} ms")
        for query, want in (
            ("", images),
            ("?attachments=only", attachments),
            ("?attachments=include", model.tags),
        ):
            listed = api(f"repositories/{repo}/-/tags{query}") or {}
            entries = {t["tag"]: t for t in listed.get("tags", [])}
            expect(f"/-/tags{query} names", sorted(entries), sorted(want))
            for tag, state in want.items():
                entry = entries.get(tag, {})
                expect(f"tag {tag} attachment", entry.get("attachment"), state.attachment)
                expect(f"tag {tag} digest", entry.get("digest"), state.digest)
                expect(f"tag {tag} deleted", entry.get("deleted"), not state.live)
                if state.attachment:  # by tag only, so no by-digest attribution to model
                    for counter in ("numattachmentpushes", "numattachmentpulls"):
                        expect(f"tag {tag} {counter}", entry.get(counter), state.counters[counter])
        digests = {
            d["digest"]: d for d in (api(f"repositories/{repo}/-/digests") or {}).get("digests", [])
        }
        for digest, counters in model.digest_counters.items():
            for counter in ("numattachmentpushes", "numattachmentpulls"):
                got = digests.get(digest, {}).get(counter)
                expect(f"digest {digest[:19]} {counter}", got, counters[counter])
        for digest in sorted(model.unknown_deleted & digests.keys()):
            problems.append(f"{repo}: the deleted blob {digest[:19]} has a digest record")
        actors = {
            a["actor"]: a for a in (api(f"repositories/{repo}/-/actors") or {}).get("actors", [])
        }
        expect("/-/actors names", sorted(actors), sorted(model.actor_counters))
        for actor, counters in model.actor_counters.items():
            for counter in COUNTERS:
                got = actors.get(actor, {}).get(counter)
                expect(f"actor {actor} {counter}", got, counters[counter])
        return problems

    def expect_model(self, repo: str) -> None:
        """drec shows the model of `repo` (waited for, bounded), and still does once both
        registries delivered everything to it (nothing counted late or twice)."""
        problems = []

        def matches():
            nonlocal problems
            problems = self.diff(repo)
            return not problems

        try:
            wait_until(f"drec's statistics of {repo} to match the registry's events", matches)
        except Failure as e:
            raise Failure(f"{e}:\n" + "\n".join(problems)) from None
        for registry in self.registries:
            registry.wait_drained("drec")
        if problems := self.diff(repo):
            raise Failure("after delivery finished:\n" + "\n".join(problems))

    def unknown_delete_metric(self) -> float:
        return self.drec.metric("drec_events_ignored_total", reason="unknown_digest_delete")

    def expect_metric(self, want: float) -> None:
        """drec_events_ignored_total{reason="unknown_digest_delete"} is `want`, once delivered."""
        with_timeout = None
        try:
            wait_until("the metric", lambda: self.unknown_delete_metric() == want)
        except Failure as e:
            with_timeout = e
        for registry in self.registries:
            registry.wait_drained("drec")
        if (got := self.unknown_delete_metric()) != want:
            fail(f"{with_timeout or 'after delivery'}: it is {got:g}, expected {want:g}")

    # -- helpers for the scenarios --

    def ref(self, registry: Registry, repo: str, ref: str) -> str:
        return f"{registry.host}/{repo}{'@' if ref.startswith('sha256:') else ':'}{ref}"

    def skopeo_push(self, registry: Registry, image: str, repo: str, tag: str, user=None):
        creds = ["--dest-creds", f"{user}:{USERS[user]}"] if user else []
        return self.tools(
            "skopeo",
            "copy",
            *(["--all"] if self.images[image].index else []),
            "--dest-tls-verify=false",
            *creds,
            f"oci:{self.layout}:{image}",
            "docker://" + self.ref(registry, repo, tag),
        )

    def api_entry(self, path: str, key: str, name: str, field: str) -> dict | None:
        """The entry of list `field` of an API resource whose `key` is `name`."""
        entries = (self.drec.api(path) or {}).get(field, [])
        return next((e for e in entries if e.get(key) == name), None)


def fmt(values: dict) -> str:
    return ", ".join(f"{k} {'+' if v > 0 else ''}{v}" for k, v in values.items())


# ---------------------------------------------------------------------------------------------
# Scenarios


def scenario_cosign(v: Version) -> None:
    """crane pushes an image, cosign signs it by digest (local key, no transparency log) and
    verifies it VERIFIES times: one attachment push, VERIFIES attachment pulls, and the image's
    own push and pull (cosign sign GETs it) alone on the repository's counters and times."""
    repo, anon = "sign/app", v.anon
    pushed = v.step(
        "crane push of an OCI layout",
        repo,
        lambda: v.tools("crane", "push", "--insecure", str(v.single), v.ref(anon, repo, "v1")),
        numpushs=1,
    )
    digest = pushed.strip().rpartition("@")[2]
    if not digest.startswith("sha256:"):
        fail(f"crane push printed {pushed!r}, not a reference by digest")
    insecure = ["--allow-insecure-registry", "--allow-http-registry"]
    signed = v.ref(anon, repo, digest)
    sign = ["sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", *insecure, signed]
    verify = ["verify", "--key", "cosign.pub", "--insecure-ignore-tlog", *insecure, signed]
    v.step(
        "cosign sign --key (no tlog)",
        repo,
        lambda: v.tools("cosign", *sign),
        numattachmentpushes=1,
        numpushs=0,
    )
    for i in range(VERIFIES):
        out = v.step(
            f"cosign verify #{i + 1}",
            repo,
            lambda: v.tools("cosign", *verify),
            numattachmentpulls=1,
        )
        verified = json.loads(out)
        if len(verified) != 1:
            fail(f"cosign verify verified {len(verified)} signatures, expected 1")
    v.check(f"{repo}: drec matches the registry's events", v.expect_model, repo)

    sig = f"sha256-{digest[7:]}.sig"

    def signature_counts():
        doc = v.drec.api(f"repositories/{repo}")
        want = {"numattachmentpushes": 1, "numattachmentpulls": VERIFIES, "numpushs": 1}
        got = {k: doc.get(k) for k in want}
        if got != want:
            fail(f"repository counters {got}, expected {want}")
        if sig in doc.get("tags", []):
            fail(f"{sig} is in the repository's tags {doc['tags']}")
        if v.api_entry(f"repositories/{repo}/-/tags", "tag", sig, "tags"):
            fail(f"{sig} is listed by /-/tags")
        entry = v.api_entry(f"repositories/{repo}/-/tags?attachments=only", "tag", sig, "tags")
        if not entry or entry.get("attachment") is not True:
            fail(f"/-/tags?attachments=only: {sig} is {entry}, expected attachment: true")
        subject = v.api_entry(f"repositories/{repo}/-/digests", "digest", digest, "digests")
        if (subject or {}).get("numattachmentpushes") != 1:
            fail(f"the subject's digest record is {subject}, expected numattachmentpushes 1")

    v.check(
        f"{repo}: numattachmentpushes 1, numattachmentpulls {VERIFIES}, numpushs 1; {sig} only "
        "in ?attachments=only (attachment: true); the subject digest's numattachmentpushes 1",
        signature_counts,
    )


def scenario_oras_attach(v: Version) -> None:
    """oras attaches an SBOM (the SBOM manifest by digest, then the fallback index tagged
    sha256-<subject hex>) and discovers it (a GET of that index by tag)."""
    repo, anon, image = "attach/app", v.anon, v.images["amd64"]
    v.step("skopeo push", repo, lambda: v.skopeo_push(anon, "amd64", repo, "v1"), numpushs=1)
    (v.tools.cwd / "sbom.json").write_text('{"sbom": "drec clients e2e", "packages": []}\n')
    subject = v.ref(anon, repo, "v1")
    attached = v.step(
        "oras attach of an SBOM",
        repo,
        lambda: v.tools(
            "oras",
            "attach",
            "--plain-http",
            "--format",
            "json",
            "--artifact-type",
            SBOM_TYPE,
            subject,
            f"sbom.json:{SBOM_TYPE}",
        ),
        numattachmentpushes=1,
        numpushs=0,
    )
    sbom = json.loads(attached)["digest"]
    discovered = v.step(
        "oras discover",
        repo,
        lambda: v.tools("oras", "discover", "--plain-http", "--format", "json", subject),
        numattachmentpulls=1,
        numindexpulls=0,
    )
    listed = json.loads(discovered)
    referrers = listed.get("referrers", listed.get("manifests")) or []
    if [r.get("digest") for r in referrers] != [sbom]:
        fail(f"oras discover listed {referrers}, expected the SBOM {sbom}")
    v.check(f"{repo}: drec matches the registry's events", v.expect_model, repo)

    tag = f"sha256-{image.digest[7:]}"

    def index_tag():
        doc = v.drec.api(f"repositories/{repo}")
        listed = v.api_entry(f"repositories/{repo}/-/tags", "tag", tag, "tags")
        if tag in doc.get("tags", []) or listed:
            fail(f"{tag} is among the image tags")
        entry = v.api_entry(f"repositories/{repo}/-/tags?attachments=only", "tag", tag, "tags")
        want = {"attachment": True, "numattachmentpushes": 1, "numattachmentpulls": 1}
        if not entry or {k: entry.get(k) for k in want} != want:
            fail(f"/-/tags?attachments=only: {tag} is {entry}, expected {want}")
        if doc.get("numindexpulls") != 0:
            fail(f"numindexpulls is {doc.get('numindexpulls')}, expected 0")

    v.check(
        f"{repo}: the sha256-<subject> index is an attachment (1 push, 1 pull), numindexpulls 0",
        index_tag,
    )


def scenario_blob_delete(v: Version) -> None:
    """oras pushes and deletes BLOBS blobs in a repository holding an image: the deletes look
    like manifest deletes by digest but count nothing; then the manifest's delete counts."""
    repo, anon = "blobs/app", v.anon
    v.step("skopeo push", repo, lambda: v.skopeo_push(anon, "arm64", repo, "v1"), numpushs=1)
    metric_before = v.unknown_delete_metric()
    for i in range(BLOBS):
        name, blob = f"blob-{i}.bin", f"drec clients e2e blob {i} for {v.version}\n".encode()
        (v.tools.cwd / name).write_bytes(blob)
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        out = v.tools("oras", "blob", "push", "--plain-http", f"{anon.host}/{repo}", name)
        if digest not in out:
            fail(f"oras blob push did not print the blob's digest {digest}: {out!r}")
        v.step(
            f"oras blob delete #{i + 1}",
            repo,
            lambda d=digest: v.tools(
                "oras", "blob", "delete", "--plain-http", "--force", v.ref(anon, repo, d)
            ),
            numdeletes=0,
            **{UNKNOWN_DELETES: 1},
        )
    v.check(f"{repo}: blob deletes count nothing (drec matches the model)", v.expect_model, repo)
    v.check(
        f"drec_events_ignored_total{{reason=unknown_digest_delete}} rose by {BLOBS}",
        v.expect_metric,
        metric_before + BLOBS,
    )
    image = v.images["arm64"].digest
    v.step(
        "oras manifest delete by digest",
        repo,
        lambda: v.tools(
            "oras", "manifest", "delete", "--plain-http", "--force", v.ref(anon, repo, image)
        ),
        numdeletes=1,
        **{UNKNOWN_DELETES: 0},
    )
    v.check(f"{repo}: the manifest delete counts (drec matches the model)", v.expect_model, repo)

    def one_delete():
        doc = v.drec.api(f"repositories/{repo}")
        if (doc.get("numdeletes"), doc.get("tags")) != (1, []):
            fail(f"numdeletes {doc.get('numdeletes')}, tags {doc.get('tags')}; expected 1, []")
        v.expect_metric(metric_before + BLOBS)

    v.check(f"{repo}: numdeletes 1, v1 no longer live, the metric unchanged", one_delete)


def scenario_index_puller(v: Version) -> None:
    """alice pushes a multi-arch index; bob only GETs it (skopeo inspect --raw): an index pull
    is his only counted action, and it puts him in the repository's actor list."""
    repo, named = "index/app", v.named
    v.step(
        "alice: skopeo copy --all of an index",
        repo,
        lambda: v.skopeo_push(named, "multi", repo, "latest", user="alice"),
        numpushs=1,
        alice__numpushs=1,
    )
    bob_facts = {f"bob__{c}": 0 for c in COUNTERS} | {"bob__numindexpulls": 1}
    raw = v.step(
        "bob: skopeo inspect --raw of the index",
        repo,
        lambda: v.tools(
            "skopeo",
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            f"bob:{USERS['bob']}",
            "docker://" + v.ref(named, repo, "latest"),
        ),
        **bob_facts,
    )
    if json.loads(raw).get("mediaType") not in INDEX_TYPES:
        fail(f"skopeo inspect --raw returned no index: {raw[:200]}")
    v.check(f"{repo}: drec matches the registry's events", v.expect_model, repo)

    def bob_listed():
        doc = v.drec.api(f"repositories/{repo}")
        if "bob" not in (doc.get("actors") or []):
            fail(f"bob is not in the repository's actors {doc.get('actors')}")
        entry = v.api_entry(f"repositories/{repo}/-/actors", "actor", "bob", "actors")
        want = dict.fromkeys(COUNTERS, 0) | {"numindexpulls": 1}
        if not entry or {c: entry.get(c) for c in COUNTERS} != want:
            fail(f"/-/actors: bob is {entry}, expected {want}")

    v.check(f"{repo}: bob (index pull only) is in actors and in /-/actors", bob_listed)


def scenario_crane(v: Version) -> None:
    """crane appends a layer to an empty base (a push), `crane digest` HEADs the tag (a check),
    `crane pull` GETs it (a pull)."""
    repo, anon = "crane/app", v.anon
    layer = v.tools.cwd / f"layer-{v.version}.tar"
    content = v.tools.cwd / "crane.txt"
    content.write_text(f"drec clients e2e crane layer for {v.version}\n")
    with tarfile.open(layer, "w") as tar:
        tar.add(content, arcname="drec-crane.txt")
    tagged = v.ref(anon, repo, "v1")
    pushed = v.step(
        "crane append",
        repo,
        lambda: v.tools("crane", "append", "--insecure", "-f", str(layer), "-t", tagged),
        numpushs=1,
    )
    digest = v.step(
        "crane digest", repo, lambda: v.tools("crane", "digest", "--insecure", tagged), numchecks=1
    )
    if digest.strip() != pushed.strip().rpartition("@")[2]:
        fail(f"crane digest says {digest.strip()}, crane append pushed {pushed.strip()}")
    v.step(
        "crane pull",
        repo,
        lambda: v.tools("crane", "pull", "--insecure", tagged, str(v.workdir / "crane.tar")),
        numpulls=1,
    )
    v.check(f"{repo}: drec matches the registry's events", v.expect_model, repo)

    def counts():
        doc = v.drec.api(f"repositories/{repo}")
        got = {c: doc.get(c) for c in ("numpushs", "numchecks", "numpulls")}
        if got != {"numpushs": 1, "numchecks": 1, "numpulls": 1}:
            fail(f"counters {got}, expected numpushs 1, numchecks 1, numpulls 1")

    v.check(f"{repo}: crane digest counts numchecks 1, crane pull numpulls 1", counts)


SCENARIOS = (
    scenario_cosign,
    scenario_oras_attach,
    scenario_blob_delete,
    scenario_index_puller,
    scenario_crane,
)


# ---------------------------------------------------------------------------------------------


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_drec_options(p)
    for version in ("2.8", "3.1"):
        p.add_argument(
            f"--registry-{version}",
            dest=f"registry_{version.replace('.', '')}",
            help=f"registry {version} binary (docker-registry, or scripts/build-registry3.sh's)",
        )
    for tool in ("oras", "crane", "cosign"):
        p.add_argument(f"--{tool}", required=True, help=f"{tool} (scripts/build-go-tool.sh)")
    args = p.parse_args()
    check_drec_options(p, args)
    args.versions = {
        v: getattr(args, f"registry_{v.replace('.', '')}")
        for v in ("2.8", "3.1")
        if getattr(args, f"registry_{v.replace('.', '')}")
    }
    if not args.versions:
        p.error("give --registry-2.8, --registry-3.1 or both")
    args.drec = str(Path(args.drec).resolve())
    return args


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # run `finally`
    args = parse_args()
    checks = Checks(indent_details=True)
    try:
        workdir = prepare_workdir(args.workdir, WORKDIR_MARKER)
        if not bcrypt_hash("probe"):
            fail("this Python cannot make bcrypt hashes (crypt), which htpasswd users need")
        layout = workdir / "oci"
        (workdir / "scratch").mkdir()
        tools = Tools(args, workdir)
        shared = {
            "tools": tools,
            "layout": layout,
            "images": build_images(layout, workdir / "scratch"),
            "single": single_image_layout(layout, "amd64", workdir / "oci-amd64"),
        }
        tools("cosign", "generate-key-pair")
    except Failure as e:
        print(f"clients_e2e: setup failed: {e}", flush=True)
        return 2
    for version, binary in args.versions.items():
        started, failed_before = time.monotonic(), checks.failed
        (workdir / version).mkdir()
        v = Version(version, binary, args, workdir / version, shared, checks)
        try:
            v.start()
            for scenario in SCENARIOS:
                try:
                    scenario(v)
                except Failure as e:
                    checks.failed += 1
                    print(f"FAIL [{version}] {scenario.__name__} aborted: {e}", flush=True)
        except Failure as e:
            checks.failed += 1
            print(f"FAIL [{version}] setup: {e}", flush=True)
        finally:
            v.stop(show_logs=checks.failed > failed_before)
        print(f"[{version}] done in {time.monotonic() - started:.0f} s", flush=True)
    print(f"clients_e2e: {checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
