#!/usr/bin/env python3
"""End-to-end test of `drec retention plan` and `drec retention apply` through the real parts.

Why this test exists: retention deletes images. What must hold can only be seen with a real
registry: a manifest is deleted by digest, which removes every tag pointing at it; the children
of a multi-arch index carry no tag; the registry's own delete notifications must flow back into
drec; `registry garbage-collect` must then free exactly the deleted images' blobs; and a registry
that is down, refuses the credentials (401) or has deletes disabled (405) must stop apply with a
clear message and no damage beyond what the report lists (issue 12, points 2 to 5).

The run (Debian's `docker-registry` 2.8 with `storage.delete.enabled: true`, skopeo, drec on
SQLite with TLS and a token, all on loopback):

  1. Images are written as an OCI layout directly (small random gzip layers, two platforms and an
     OCI index of both) and pushed with skopeo while the registry notifies nobody: drec's
     history is then exactly the one fed in step 2, with past timestamps that a real registry
     cannot produce. The registry's digests are read back and must equal the layout's.
  2. drec gets that history as real notification shapes (the captured 2.8 envelopes of
     tests/data/registry-2.8 with id, timestamps, repository, tag, digest changed): `ci/app`
     first observed 200 days before the evaluation time AT, tags pulled 2 to 160 days before it,
     an index pulled 20 days before, a tag moved 30 days before (its old manifest is untagged),
     a tag the registry moved without drec seeing it (the plan must go by the registry);
     `edge/app` first observed 5 days before AT; `other/tool`, which no rule matches.
  3. The registry is restarted notifying drec (Authorization header); one tag is pulled with
     skopeo for real (a pull "now", shortly before AT).
  4. The policy's plan (JSON and table, `--at AT`) must give every tag the decision the model
     below says (keep, delete, unknown, held) and exactly the model's deletions; GET
     /api/v1/retention/plan gives the same deletions where drec serves it.
  5. apply without --yes deletes nothing; apply against a closed port, with a wrong password
     (401) and against the registry with deletes disabled (405) fails clearly and deletes
     nothing; max_deletions 1 plans one deletion and holds the rest, and applying it deletes
     exactly that one; apply --yes then deletes the rest. The registry serves exactly the
     complement of the plan (tags/list, HEAD by digest), drec shows the registry's delete
     events, and after `docker-registry garbage-collect` the deleted images' blobs are gone from
     the storage directory while every kept image's blobs remain and are served.

The expected decisions are the scenario's own model (SCENARIO below, with the reason of each),
never copied from a run.

Usage: retention_e2e.py --drec PATH --workdir DIR [--registry BINARY]
Python standard library only. Exit 0 when every check passed, 1 when one failed, 2 when the set-up
failed, 77 when docker-registry or skopeo is missing.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
from drec_harness import Checks, Drec, Failure, fail, free_port, prepare_workdir
from oci_images import bcrypt_hash, run
from registry_harness import Registry, make_pki, notification_endpoint, wait_until

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATES = ROOT / "tests" / "data" / "registry-2.8"
WORKDIR_MARKER = ".retention_e2e"
TOKEN = "retention-e2e-token-0123456789"
EVENTS_TYPE = "application/vnd.docker.distribution.events.v1+json"
USER, PASSWORD = "admin", "admin-secret"
COMMAND_TIMEOUT_S = 120.0
WAIT_S = 20.0
DAY_MS = 86_400_000
HOUR_MS = 3_600_000

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ACCEPT = f"{OCI_MANIFEST}, {OCI_INDEX}"
DECISIONS = ("keep", "delete", "unknown", "held")


def iso(ms: int) -> str:
    """Unix milliseconds as RFC 3339 UTC with milliseconds, as drec writes times."""
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def iso_nanos(ms: int) -> str:
    """The registry's own timestamp format (nanoseconds)."""
    return iso(ms)[:-1] + "000000Z"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------
# Images: an OCI layout written directly


@dataclasses.dataclass
class Image:
    name: str  # the ref name in the layout
    digest: str
    size: int
    media_type: str
    blobs: list[str]  # config and layer digests (images), nothing of its own (index)
    children: list[str] = dataclasses.field(default_factory=list)  # child manifest digests


class Layout:
    """An OCI image layout: each image a random gzip layer and a config; indexes of images."""

    def __init__(self, path: Path):
        self.path = path
        (path / "blobs" / "sha256").mkdir(parents=True)
        (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        self.refs: list[dict] = []
        self.images: dict[str, Image] = {}

    def _blob(self, data: bytes) -> str:
        digest = sha256(data)
        (self.path / "blobs" / "sha256" / digest[7:]).write_bytes(data)
        return digest

    def _ref(self, image: Image) -> None:
        self.refs.append(
            {
                "mediaType": image.media_type,
                "digest": image.digest,
                "size": image.size,
                "annotations": {"org.opencontainers.image.ref.name": image.name},
            }
        )
        (self.path / "index.json").write_text(
            json.dumps({"schemaVersion": 2, "manifests": self.refs})
        )

    def image(self, name: str, arch: str = "amd64") -> Image:
        content = os.urandom(2048)
        tar = io.BytesIO()
        with tarfile.open(fileobj=tar, mode="w", format=tarfile.USTAR_FORMAT) as archive:
            info = tarfile.TarInfo(f"drec-retention-{name}.bin")
            info.size, info.mtime = len(content), 0
            archive.addfile(info, io.BytesIO(content))
        layer = gzip.compress(tar.getvalue(), mtime=0)
        layer_digest = self._blob(layer)
        config = json.dumps(
            {
                "architecture": arch,
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [sha256(tar.getvalue())]},
                "config": {},
            }
        ).encode()
        config_digest = self._blob(config)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
                "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": len(layer)}],
            }
        ).encode()
        image = Image(
            name, self._blob(manifest), len(manifest), OCI_MANIFEST, [config_digest, layer_digest]
        )
        self.images[name] = image
        self._ref(image)
        return image

    def index(self, name: str, children: dict[str, Image]) -> Image:
        """An OCI index of `children` ({arch: image}); the children need no ref of their own."""
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": child.media_type,
                        "digest": child.digest,
                        "size": child.size,
                        "platform": {"architecture": arch, "os": "linux"},
                    }
                    for arch, child in children.items()
                ],
            }
        ).encode()
        image = Image(
            name,
            self._blob(body),
            len(body),
            OCI_INDEX,
            [],
            [c.digest for c in children.values()],
        )
        self.images[name] = image
        self._ref(image)
        return image


# ---------------------------------------------------------------------------------------------
# The scenario and its model
#
# Times are days before AT, the evaluation time given to --at (an hour after the test started,
# so every real event falls before it). The policy (POLICY_RULES) has two rules:
#   ci:   repositories ci/**, tags matching ^(v.*|build-.*|multi-.*|nightly)$, keep the 5 most
#         recently pulled, those pulled within 90d, and v*; untagged manifests older than 14d go.
#   edge: repositories edge/*, keep those pulled within 90d.
# No rule matches other/tool.

REAL_PULL = "real"  # a pull made with skopeo during the test, shortly before AT


@dataclasses.dataclass
class TagCase:
    repository: str
    tag: str
    image: str  # Image name in the layout
    pushed: float  # days before AT of the (injected) push
    pulls: tuple = ()  # days before AT of injected pulls, or REAL_PULL
    decision: str = "keep"  # what the plan must say
    why: str = ""
    # The image drec was told the tag points at, when the registry moved the tag unseen.
    drec_image: str | None = None

    @property
    def seen_image(self) -> str:
        return self.drec_image or self.image


SCENARIO = [
    # ci/app: first observed 200 days before AT (its first event), so "not pulled within 90d"
    # can be decided there. Pull ranking (most recent first): build-7 (real), nightly 2d,
    # build-5 10d, multi-1 20d, build-6 100d | build-1 150d, build-2 151d, build-3 160d.
    TagCase("ci/app", "v1.0", "A", 200, (), "keep", "kept by tags v*"),
    TagCase("ci/app", "build-1", "A", 200, (150,), "held", "not kept, but shares A with v1.0"),
    TagCase("ci/app", "build-2", "A", 200, (151,), "held", "not kept, but shares A with v1.0"),
    TagCase("ci/app", "build-3", "B", 190, (160,), "delete", "last pulled 160d ago, rank 8"),
    TagCase("ci/app", "build-4", "B", 190, (), "delete", "never pulled; shares B with build-3"),
    TagCase("ci/app", "build-5", "C", 200, (10,), "keep", "pulled within 90d"),
    TagCase("ci/app", "build-6", "D", 200, (100,), "keep", "5th most recently pulled"),
    TagCase("ci/app", "build-7", "G", 200, (REAL_PULL,), "keep", "pulled just now (skopeo)"),
    TagCase("ci/app", "build-8", "H", 200, (), "delete", "never pulled in 200 days"),
    TagCase("ci/app", "multi-1", "M", 200, (20,), "keep", "index pulled 20d ago"),
    TagCase("ci/app", "nightly", "Y", 30, (2,), "keep", "pulled within 90d; moved from X"),
    TagCase("ci/app", "stable", "F", 200, (), "keep", "no rule governs the tag"),
    # drec saw build-9 pushed at I; the registry moved it to A without notifying drec. The plan
    # must go by the registry: build-9 is on A, which v1.0 keeps; I is untagged and old.
    TagCase("ci/app", "build-9", "A", 200, (), "held", "on A in the registry", drec_image="I"),
    # edge/app: first observed 5 days before AT: "not pulled within 90d" is unknown there.
    TagCase("edge/app", "t-old", "E1", 5, (), "unknown", "observed 5d < 90d"),
    TagCase("edge/app", "t-pulled", "E2", 5, (1,), "keep", "pulled within 90d"),
    # other/tool: no rule matches the repository; never touched.
    TagCase("other/tool", "1.0", "O1", 200, (), "keep", "no rule matches the repository"),
    TagCase("other/tool", "2.0", "O2", 200, (), "keep", "no rule matches the repository"),
]
# `nightly` pointed at X (pushed 60 days before AT) before Y: X is untagged and older than 14d.
MOVED_TAG = ("ci/app", "nightly", "X", 60)
# The untagged children of index M: pushed 200 days before AT, kept because M is kept.
INDEX_CHILDREN = {"amd64": "M-amd64", "arm64": "M-arm64"}
UNTAGGED_DELETED = {"ci/app": ["X", "I"]}
OBSERVED_SINCE = {"ci/app": 200, "edge/app": 5, "other/tool": 200}  # days before AT
GOVERNED_REPOSITORIES = ("ci/app", "edge/app")

POLICY_RULES = [
    {
        "name": "ci",
        "repositories": "ci/**",
        "tags": {"regex": "^(v.*|build-.*|multi-.*|nightly)$"},
        "keep": {"most_recently_pulled": 5, "pulled_within": "90d", "tags": ["v*"]},
        "untagged_older_than": "14d",
    },
    {"name": "edge", "repositories": "edge/*", "keep": {"pulled_within": "90d"}},
]
LARGE_LIMITS = {"max_deletions": 100, "max_share": 1.0, "max_per_repository": 50}


class Model:
    """The expected plan and registry contents, from SCENARIO and the layout's digests."""

    def __init__(self, images: dict[str, Image]):
        self.images = images
        self.tags = {(c.repository, c.tag): c for c in SCENARIO}

    def digest(self, name: str) -> str:
        return self.images[name].digest

    def deletions(self) -> dict[tuple[str, str], list[str]]:
        """(repository, digest) -> sorted deleted tags: every manifest whose tags are all
        `delete`, and the untagged manifests that go."""
        by_manifest: dict[tuple[str, str], list[TagCase]] = {}
        for case in SCENARIO:
            by_manifest.setdefault((case.repository, case.image), []).append(case)
        result = {}
        for (repository, image), cases in by_manifest.items():
            if all(c.decision == "delete" for c in cases):
                result[(repository, self.digest(image))] = sorted(c.tag for c in cases)
        for repository, names in UNTAGGED_DELETED.items():
            for name in names:
                result[(repository, self.digest(name))] = []
        return result

    def surviving_tags(self, deleted: set[tuple[str, str]]) -> dict[str, dict[str, str]]:
        """repository -> {tag: digest} the registry serves once `deleted` manifests are gone."""
        result: dict[str, dict[str, str]] = {}
        for case in SCENARIO:
            digest = self.digest(case.image)
            if (case.repository, digest) not in deleted:
                result.setdefault(case.repository, {})[case.tag] = digest
        return result

    def all_manifests(self) -> dict[tuple[str, str], str]:
        """(repository, digest) -> image name of every manifest pushed."""
        result = {(c.repository, self.digest(c.image)): c.image for c in SCENARIO}
        result[(MOVED_TAG[0], self.digest(MOVED_TAG[2]))] = MOVED_TAG[2]
        for case in SCENARIO:
            result[(case.repository, self.digest(case.seen_image))] = case.seen_image
        for child in INDEX_CHILDREN.values():
            result[("ci/app", self.digest(child))] = child
        return result

    def blobs_of(self, names) -> set[str]:
        return {blob for name in names for blob in self.images[name].blobs}


# ---------------------------------------------------------------------------------------------
# The test context


class Context:
    def __init__(self, args, workdir: Path):
        self.args = args
        self.workdir = workdir
        self.checks = Checks(indent_details=True, catch_unexpected=True)
        started = time.time_ns() // 1_000_000
        self.at_ms = (started // 1000) * 1000 + HOUR_MS
        self.at = iso(self.at_ms)
        self.pki = make_pki(workdir / "pki")
        self.users = {USER: PASSWORD} if bcrypt_hash("probe") else None
        if self.users is None:
            print("note: this Python cannot make bcrypt hashes: the registry is anonymous and the")
            print("      401 case is skipped")
        self.layout = Layout(workdir / "oci")
        self.model: Model | None = None
        self.drec = Drec(
            args.drec,
            workdir,
            store="sqlite",
            mongodb_uri=None,
            database_prefix="drec_retention",
            token=TOKEN,
            tls_args=[
                "--server-ssl-cert",
                str(self.pki.cert),
                "--server-ssl-cert-key",
                str(self.pki.key),
            ],
            cafile=self.pki.ca,
            start_timeout=WAIT_S,
            extra_args=self.policy_setting(),
        )
        self.drec_config = workdir / "drec.yml"
        self.drec_config.write_text(
            json.dumps(
                {"storage": {"backend": "sqlite", "sqlite": {"path": str(workdir / "drec.db")}}}
            )
        )
        self.registry = Registry(args.registry, workdir / "registry", ca=self.pki.ca)
        self.notifying = False
        self.password_file = workdir / "registry-password"
        self.password_file.write_text(PASSWORD + "\n")
        self.templates = {
            name: json.loads((TEMPLATES / f"{name}.json").read_text())["events"][0]
            for name in ("manifest-push-tagged", "manifest-pull-get", "index-pull-get")
        }

    def policy_setting(self) -> tuple[str, ...]:
        """drec serves the plan of `retention.policy_file` at /api/v1/retention/plan (read at
        each request): the main policy, written later. Only where this drec has the setting."""
        result = subprocess.run(
            [self.args.drec, "--help"], check=False, capture_output=True, text=True, timeout=30
        )
        if "--retention-policy-file" not in result.stdout + result.stderr:
            print("note: this drec has no --retention-policy-file; the API plan is not checked")
            return ()
        return ("--retention-policy-file", str(self.workdir / "policy-main.yml"))

    # -- set-up --

    def configure_registry(self, *, notify: bool, delete_enabled: bool = True) -> None:
        endpoints = []
        if notify:
            endpoints.append(
                notification_endpoint(
                    "drec", f"https://127.0.0.1:{self.drec.port}/events", token=TOKEN
                )
            )
        self.registry.configure(
            endpoints=endpoints, users=self.users, delete_enabled=delete_enabled
        )
        self.notifying = notify

    def restart_registry(self, *, notify: bool = True, delete_enabled: bool = True) -> None:
        if self.registry.proc is not None:
            if self.notifying:
                self.registry.wait_drained("drec")
            self.registry.stop()
        self.configure_registry(notify=notify, delete_enabled=delete_enabled)
        self.registry.start()

    def build_images(self) -> None:
        for name in ("A", "B", "C", "D", "G", "H", "F", "I", "X", "Y", "E1", "E2", "O1", "O2"):
            self.layout.image(name)
        children = {arch: self.layout.image(name, arch) for arch, name in INDEX_CHILDREN.items()}
        self.layout.index("M", children)
        self.model = Model(self.layout.images)

    def skopeo(self, *argv: str, capture: bool = False) -> str:
        return run(
            "skopeo",
            "--insecure-policy",
            "--tmpdir",
            str(self.workdir / "tmp"),
            *argv,
            capture=capture,
        )

    def creds(self, flag: str) -> list[str]:
        return [flag, f"{USER}:{PASSWORD}"] if self.users else []

    def push(self, repository: str, tag: str, image: Image) -> None:
        self.skopeo(
            "copy",
            *(["--all"] if image.children else []),
            "--dest-tls-verify=false",
            *self.creds("--dest-creds"),
            f"oci:{self.layout.path}:{image.name}",
            f"docker://{self.registry.host}/{repository}:{tag}",
        )

    def push_all(self) -> None:
        """Everything, while the registry notifies nobody; `nightly` first at X, then at Y."""
        repository, tag, old, _ = MOVED_TAG
        self.push(repository, tag, self.layout.images[old])
        for case in SCENARIO:
            if case.drec_image:  # where the tag was before the unseen move
                self.push(case.repository, case.tag, self.layout.images[case.drec_image])
        for case in SCENARIO:
            self.push(case.repository, case.tag, self.layout.images[case.image])
        for case in SCENARIO:
            got = self.registry_digest(case.repository, case.tag)
            if got != self.model.digest(case.image):
                fail(
                    f"the registry serves {case.repository}:{case.tag} as {got}, the layout "
                    f"has {self.model.digest(case.image)} (skopeo changed the manifest?)"
                )
        raw = self.skopeo(
            "inspect",
            "--raw",
            "--tls-verify=false",
            *self.creds("--creds"),
            f"docker://{self.registry.host}/ci/app:multi-1",
            capture=True,
        )
        if sha256(raw.encode()) != self.model.digest("M"):
            fail("skopeo inspect --raw of ci/app:multi-1 does not hash to the layout's index")

    # -- history --

    def _event(self, template: str, *, repository, image: Image, tag, method, at_ms, actor):
        event = copy.deepcopy(self.templates[template])
        event["id"] = str(uuid.uuid4())
        event["timestamp"] = iso_nanos(at_ms)
        target = event["target"]
        target.update(
            mediaType=image.media_type,
            size=image.size,
            length=image.size,
            digest=image.digest,
            repository=repository,
            url=f"{self.registry.url}/v2/{repository}/manifests/{image.digest}",
        )
        if tag:
            target["tag"] = tag
        else:
            target.pop("tag", None)
        event["request"].update(
            id=str(uuid.uuid4()), host=self.registry.host, method=method, useragent="skopeo/1.9.3"
        )
        event["actor"] = {"name": actor} if actor else {}
        return event

    def push_event(self, repository, image: Image, tag, at_ms):
        return self._event(
            "manifest-push-tagged",
            repository=repository,
            image=image,
            tag=tag,
            method="PUT",
            at_ms=at_ms,
            actor="ci-bot",
        )

    def pull_event(self, repository, image: Image, tag, at_ms):
        template = "index-pull-get" if image.children else "manifest-pull-get"
        return self._event(
            template,
            repository=repository,
            image=image,
            tag=tag,
            method="GET",
            at_ms=at_ms,
            actor="deployer",
        )

    def history(self) -> list[dict]:
        """The notifications drec would have got for SCENARIO, with their past timestamps.

        Events of one day are spread by seconds so each has its own time; a multi-arch push
        sends the children by digest first, a multi-arch pull GETs the index, then a child.
        """
        images = self.layout.images
        events = []
        seq = 0

        def at(days: float) -> int:
            nonlocal seq
            seq += 1
            return self.at_ms - int(days * DAY_MS) + seq * 1000

        repository, tag, old, days = MOVED_TAG
        events.append(self.push_event(repository, images[old], tag, at(days)))
        for case in SCENARIO:
            image = images[case.seen_image]
            when = at(case.pushed)
            for child in image.children:
                child_image = next(i for i in images.values() if i.digest == child)
                events.append(self.push_event(case.repository, child_image, "", when))
            events.append(self.push_event(case.repository, image, case.tag, when))
        for case in SCENARIO:
            image = images[case.seen_image]
            for days in case.pulls:
                if days == REAL_PULL:
                    continue
                when = at(days)
                events.append(self.pull_event(case.repository, image, case.tag, when))
                if image.children:
                    child = images[INDEX_CHILDREN["amd64"]]
                    events.append(self.pull_event(case.repository, child, "", when))
        return events

    def feed_history(self) -> None:
        for event in self.history():
            body = json.dumps({"events": [event]}).encode()
            r = self.drec.request(
                "POST", "/events", headers={"Content-Type": EVENTS_TYPE}, body=body
            )
            if r.status != 200:
                fail(f"POST /events: status {r.status}: {r.body[:200]!r}")

    def real_pulls(self) -> None:
        """The pulls marked REAL_PULL, with skopeo through the notifying registry."""
        for case in SCENARIO:
            if REAL_PULL in case.pulls:
                self.skopeo(
                    "copy",
                    "--src-tls-verify=false",
                    *self.creds("--src-creds"),
                    f"docker://{self.registry.host}/{case.repository}:{case.tag}",
                    f"oci:{self.workdir / 'pulled'}:{case.tag}",
                )
        self.registry.wait_drained("drec")

    # -- drec and the registry as they are --

    def api(self, path: str):
        r = self.drec.request("GET", "/api/v1/" + path)
        if r.status == 404:
            return None
        if r.status != 200:
            fail(f"GET /api/v1/{path}: status {r.status}: {r.body[:200]!r}")
        return json.loads(r.body)

    def registry_digest(self, repository: str, reference: str) -> str | None:
        """The registry's digest for a tag or digest (HEAD), None when it answers 404."""
        status, headers, _ = self.registry.request(
            "HEAD", f"/v2/{repository}/manifests/{reference}", user=self.user(), accept=ACCEPT
        )
        if status == 404:
            return None
        if status != 200:
            fail(f"HEAD /v2/{repository}/manifests/{reference}: status {status}")
        return headers.get("Docker-Content-Digest")

    def user(self) -> str | None:
        return USER if self.users else None

    def registry_state(self) -> dict:
        """What the registry serves: each repository's tags with their digests (tags/list and a
        HEAD of each), and which pushed manifests a HEAD by digest finds."""
        tags: dict[str, dict[str, str]] = {}
        for repository in sorted({c.repository for c in SCENARIO}):
            status, _, body = self.registry.request(
                "GET", f"/v2/{repository}/tags/list", user=self.user()
            )
            if status == 404:
                continue
            if status != 200:
                fail(f"GET /v2/{repository}/tags/list: status {status}")
            names = json.loads(body).get("tags") or []
            tags[repository] = {t: self.registry_digest(repository, t) for t in sorted(names)}
        manifests = {
            f"{repository}@{name}": self.registry_digest(repository, digest) is not None
            for (repository, digest), name in sorted(self.model.all_manifests().items())
        }
        return {"tags": tags, "manifests": manifests}

    def expected_registry_state(self, deleted: set[tuple[str, str]]) -> dict:
        return {
            "tags": self.model.surviving_tags(deleted),
            "manifests": {
                f"{repository}@{name}": (repository, digest) not in deleted
                for (repository, digest), name in sorted(self.model.all_manifests().items())
            },
        }

    def expect_registry(self, deleted: set[tuple[str, str]], what: str) -> None:
        want, got = self.expected_registry_state(deleted), self.registry_state()
        if want != got:
            lines = [
                f"{k}: expected {want[part].get(k)!r}, registry has {got[part].get(k)!r}"
                for part in ("tags", "manifests")
                for k in sorted(want[part].keys() | got[part].keys())
                if want[part].get(k) != got[part].get(k)
            ]
            fail(f"the registry does not serve {what}:\n" + "\n".join(lines))

    # -- drec retention --

    def policy(self, name: str, *, url: str | None = None, password: str | None = None, **limits):
        """A policy file: the rules, the registry (`url`, default the running one), limits."""
        registry = {"name": "default", "url": url or self.registry.url, "timeout": "5s"}
        if self.users:
            password_file = self.password_file
            if password is not None:
                password_file = self.workdir / f"password-{name}"
                password_file.write_text(password + "\n")
            registry |= {"username": USER, "password_file": str(password_file)}
        document = {
            "registry": registry,
            "limits": {**LARGE_LIMITS, **limits},
            "rules": POLICY_RULES,
        }
        path = self.workdir / f"policy-{name}.yml"
        path.write_text(json.dumps(document, indent=2) + "\n")  # JSON is YAML
        return path

    def retention(self, *argv: str) -> subprocess.CompletedProcess:
        """`drec retention ...` with drec's config file; prints the command and its output."""
        command = [self.args.drec, "retention", argv[0], str(self.drec_config), *argv[1:]]
        try:
            result = subprocess.run(
                command,
                check=False,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT_S,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            fail(f"{' '.join(command)} did not finish in {COMMAND_TIMEOUT_S:.0f} s")
        shown = " ".join(a.replace(str(self.workdir) + "/", "") for a in command[1:])
        print(f"     $ drec {shown}: exit {result.returncode}", flush=True)
        for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
            lines = text.splitlines()
            for line in lines[:40]:
                print(f"     {name} | {line}")
            if len(lines) > 40:
                print(f"     {name} | ... {len(lines) - 40} more lines")
        return result

    def plan(self, policy: Path) -> dict:
        result = self.retention(
            "plan", "--policy", str(policy), "--at", self.at, "--format", "json"
        )
        if result.returncode != 0:
            fail(f"drec retention plan exited {result.returncode}")
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError as e:
            fail(f"drec retention plan --format json printed no JSON ({e})")

    def drec_repository(self, name: str) -> dict:
        return {
            "repository": self.api(f"repositories/{name}") or {},
            "tags": {
                t["tag"]: t for t in (self.api(f"repositories/{name}/-/tags") or {}).get("tags", [])
            },
            "digests": {
                d["digest"]: d
                for d in (self.api(f"repositories/{name}/-/digests") or {}).get("digests", [])
            },
        }


# ---------------------------------------------------------------------------------------------
# Checks of a plan


def plan_tags(plan: dict) -> dict[tuple[str, str], dict]:
    return {
        (repository["repository"], tag["tag"]): tag
        for repository in plan.get("repositories", [])
        for tag in repository.get("tags", [])
    }


def plan_deletions(plan: dict) -> dict[tuple[str, str], list[str]]:
    return {(d["repository"], d["digest"]): sorted(d.get("tags") or []) for d in plan["deletions"]}


def describe(ctx: Context, deletions: dict[tuple[str, str], list[str]]) -> list[str]:
    names = {d: n for (_, d), n in ctx.model.all_manifests().items()}
    return [f"{r}@{names.get(d, d)} {tags}" for (r, d), tags in sorted(deletions.items())]


def check_decisions(ctx: Context, plan: dict) -> None:
    """Every tag of the scenario has the model's decision, digest and rule; nothing else is in
    the plan; other/tool, which no rule matches, has no tag other than kept."""
    tags = plan_tags(plan)
    problems = []
    for case in SCENARIO:
        entry = tags.get((case.repository, case.tag))
        if entry is None:
            if case.repository in GOVERNED_REPOSITORIES:
                problems.append(f"{case.repository}:{case.tag}: missing from the plan")
            continue
        if entry.get("decision") != case.decision:
            problems.append(
                f"{case.repository}:{case.tag}: {entry.get('decision')!r} "
                f"({entry.get('reason')!r}), expected {case.decision!r} ({case.why})"
            )
        if entry.get("digest") != ctx.model.digest(case.image):
            problems.append(f"{case.repository}:{case.tag}: digest {entry.get('digest')}")
        if case.decision == "delete" and entry.get("rule") != "ci":
            problems.append(f"{case.repository}:{case.tag}: rule {entry.get('rule')!r}")
    odd = sorted(f"{r}:{t}" for (r, t), e in tags.items() if e.get("decision") not in DECISIONS)
    if odd:
        problems.append(f"decisions outside {DECISIONS}: {odd}")
    unexpected = sorted(set(tags) - {(c.repository, c.tag) for c in SCENARIO})
    if unexpected:
        problems.append(f"tags the scenario does not have: {unexpected}")
    if problems:
        fail("\n".join(problems))


def check_deletions(ctx: Context, plan: dict, expected: dict) -> None:
    got = plan_deletions(plan)
    if got != expected:
        fail(
            "deletions differ from the model\n expected: "
            + "; ".join(describe(ctx, expected))
            + "\n got:      "
            + "; ".join(describe(ctx, got))
        )
    rules = {d.get("rule") for d in plan["deletions"]}
    if rules != {"ci"}:
        fail(f"deletions name the rules {rules}, expected only ci")


def check_plan_header(ctx: Context, plan: dict) -> None:
    """`at`, registry, checked_against_registry, observation starts, summary."""
    problems = []
    if plan.get("at") != ctx.at:
        problems.append(f"at: {plan.get('at')!r}, expected {ctx.at!r}")
    if plan.get("registry") != "default":
        problems.append(f"registry: {plan.get('registry')!r}")
    if plan.get("checked_against_registry") is not True:
        problems.append(f"checked_against_registry: {plan.get('checked_against_registry')!r}")
    for repository in plan.get("repositories", []):
        name = repository.get("repository")
        if name in OBSERVED_SINCE:
            # The first event of the repository is its first push, `seq` seconds after the day.
            since = repository.get("observedsince")
            days = OBSERVED_SINCE[name]
            lower = ctx.at_ms - days * DAY_MS
            if not isinstance(since, str) or not lower <= parse_ms(since) <= lower + 3600_000:
                problems.append(f"{name}: observedsince {since!r}, expected {iso(lower)} + s")
    summary = plan.get("summary", {})
    want = {
        "unknown": sum(c.decision == "unknown" for c in SCENARIO),
        "delete_tags": sum(c.decision == "delete" for c in SCENARIO),
        "delete_manifests": len(ctx.model.deletions()),
        "held_by_limits": 0,
    }
    for key, value in want.items():
        if summary.get(key) != value:
            problems.append(f"summary.{key}: {summary.get(key)!r}, expected {value}")
    if problems:
        fail("\n".join(problems))


def check_untagged(ctx: Context, plan: dict) -> None:
    """X and I (untagged, pushed 60d and 200d ago) are deletes; the index children (untagged,
    pushed 200d ago) are kept."""
    manifests = {
        (r["repository"], m.get("digest")): m
        for r in plan.get("repositories", [])
        for m in r.get("manifests", [])
    }
    problems = []
    for repository, names in UNTAGGED_DELETED.items():
        for name in names:
            entry = manifests.get((repository, ctx.model.digest(name)))
            if entry is None or entry.get("decision") != "delete" or entry.get("tags"):
                problems.append(f"untagged {name}: {entry!r}, expected a delete")
    for child in INDEX_CHILDREN.values():
        entry = manifests.get(("ci/app", ctx.model.digest(child)))
        if entry is not None and entry.get("decision") not in ("keep", None):
            problems.append(f"index child {child}: {entry!r}, expected kept")
    if problems:
        fail("\n".join(problems))


def parse_ms(text: str) -> int:
    m = re.fullmatch(r"(.{19})(?:\.(\d+))?Z", text)
    if not m:
        fail(f"not an RFC 3339 UTC time: {text!r}")
    seconds = int(datetime.fromisoformat(m[1] + "+00:00").timestamp())
    return seconds * 1000 + int((m[2] or "0")[:3].ljust(3, "0"))


def check_table(ctx: Context, policy: Path, plan: dict) -> None:
    """The table names every candidate: each deleted tag, held and unknown tag, and digest."""
    result = ctx.retention("plan", "--policy", str(policy), "--at", ctx.at, "--format", "table")
    if result.returncode != 0:
        fail(f"exit {result.returncode}")
    text = result.stdout
    missing = [
        f"{c.repository}:{c.tag}"
        for c in SCENARIO
        if c.decision != "keep" and (c.tag not in text or c.repository not in text)
    ]
    for deletion in plan["deletions"]:
        digest = deletion["digest"]
        if digest not in text and digest[7:19] not in text:
            missing.append(digest)
    if missing:
        fail(f"the table does not show {missing}")


# ---------------------------------------------------------------------------------------------
# The run


def check_history(ctx: Context) -> None:
    """drec's view after the fed history: the tags' digests and last pulls as modelled (so a
    wrong plan is not blamed on the feed)."""
    problems = []
    for repository in sorted({c.repository for c in SCENARIO}):
        tags = ctx.drec_repository(repository)["tags"]
        for case in (c for c in SCENARIO if c.repository == repository):
            entry = tags.get(case.tag, {})
            if entry.get("digest") != ctx.model.digest(case.seen_image) or entry.get("deleted"):
                problems.append(f"{repository}:{case.tag}: {entry!r}")
            pulled = entry.get("lastpulled")
            if case.pulls and pulled is None:
                problems.append(f"{repository}:{case.tag}: never pulled in drec")
            if not case.pulls and pulled is not None:
                problems.append(f"{repository}:{case.tag}: pulled {pulled} in drec")
    if problems:
        fail("\n".join(problems))


def assert_nothing_deleted(ctx: Context, deleted) -> None:
    ctx.expect_registry(deleted, "what it served before")


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def run_scenario(ctx: Context) -> None:
    checks = ctx.checks
    model = ctx.model
    expected = model.deletions()
    deleted: set[tuple[str, str]] = set()  # what the registry no longer serves

    checks.run("drec holds the fed history", check_history, ctx)
    policy = ctx.policy("main")
    plan = {}

    def get_plan():
        plan.update(ctx.plan(policy))

    checks.run("plan --format json", get_plan)
    if not plan:
        fail("no plan: the rest depends on it")
    checks.run("plan: the decision of every tag", check_decisions, ctx, plan)
    checks.run("plan: exactly the model's deletions", check_deletions, ctx, plan, expected)
    checks.run("plan: untagged manifests", check_untagged, ctx, plan)
    checks.run("plan: at, registry, observation starts, summary", check_plan_header, ctx, plan)
    checks.run("plan --format table names every candidate", check_table, ctx, policy, plan)
    checks.run("GET /api/v1/retention/plan: the CLI's deletions", check_api_plan, ctx, expected)

    def dry_run():
        result = ctx.retention("apply", "--policy", str(policy), "--at", ctx.at)
        if result.returncode != 0:
            fail(f"exit {result.returncode}")
        missing = [d for _, d in expected if d not in result.stdout]
        if missing:
            fail(f"the dry run does not print the plan's deletions {missing}")
        assert_nothing_deleted(ctx, deleted)

    checks.run("apply without --yes prints the plan and deletes nothing", dry_run)

    def bad_policy():
        path = ctx.workdir / "policy-bad.yml"
        document = json.loads(policy.read_text())
        document["rules"][0]["keep"]["pulled_within"] = "90 days"
        path.write_text(json.dumps(document))
        for command, *extra in (("plan",), ("apply", "--yes")):
            result = ctx.retention(command, "--policy", str(path), "--at", ctx.at, *extra)
            if result.returncode != 2:
                fail(f"{command}: exit {result.returncode}, expected 2")
            if "pulled_within" not in result.stderr:
                fail(f"{command}: the message does not name the key pulled_within")
        assert_nothing_deleted(ctx, deleted)

    checks.run("a bad policy: exit 2 naming the key, nothing deleted", bad_policy)

    def registry_down():
        port = free_port()  # nothing listens there
        result = ctx.retention(
            "apply",
            "--policy",
            str(ctx.policy("down", url=f"http://127.0.0.1:{port}")),
            "--at",
            ctx.at,
            "--yes",
        )
        if result.returncode == 0:
            fail("exit 0 with the registry down")
        if f"127.0.0.1:{port}" not in output(result):
            fail(f"the message does not name the registry 127.0.0.1:{port}")
        assert_nothing_deleted(ctx, deleted)

    checks.run("apply with the registry down: clear error, nothing deleted", registry_down)

    def wrong_password():
        result = ctx.retention(
            "apply",
            "--policy",
            str(ctx.policy("401", password="not-the-password")),
            "--at",
            ctx.at,
            "--yes",
        )
        if result.returncode == 0:
            fail("exit 0 with a wrong password")
        text = output(result).lower()
        if not any(word in text for word in ("401", "unauthorized", "authentication")):
            fail("the message does not say the registry refused the credentials (401)")
        assert_nothing_deleted(ctx, deleted)

    if ctx.users:
        checks.run(
            "apply with a wrong password (401): clear error, nothing deleted", wrong_password
        )
    else:
        print("skip apply with a wrong password: no htpasswd users (no bcrypt)")

    def delete_disabled():
        ctx.restart_registry(delete_enabled=False)
        try:
            report = ctx.workdir / "report-405.json"
            result = ctx.retention(
                "apply", "--policy", str(policy), "--at", ctx.at, "--yes", "--report", str(report)
            )
            if result.returncode != 1:
                fail(f"exit {result.returncode}, expected 1 (some deletions failed)")
            if "storage.delete.enabled" not in output(result):
                fail("the message does not name storage.delete.enabled")
            outcomes = report_outcomes(report)
            if set(outcomes) != {d for _, d in expected}:
                fail(f"the report lists {sorted(outcomes)}, not the plan's deletions")
            if "failed" not in outcomes.values() or "deleted" in outcomes.values():
                fail(f"the report's outcomes: {outcomes}, expected failures and no deletion")
            assert_nothing_deleted(ctx, deleted)
        finally:
            ctx.restart_registry(delete_enabled=True)

    checks.run("apply with deletes disabled (405): error, report, nothing deleted", delete_disabled)

    limited = ctx.policy("limit", max_deletions=1)
    one = {}

    def limit_plan():
        plan1 = ctx.plan(limited)
        got = plan_deletions(plan1)
        if len(got) != 1 or not set(got) <= set(expected):
            fail(f"deletions {describe(ctx, got)}, expected one of {describe(ctx, expected)}")
        one.update(got)
        tags = plan_tags(plan1)
        problems = []
        for case in SCENARIO:
            digest = model.digest(case.image)
            want = case.decision
            if (case.repository, digest) in expected and (case.repository, digest) not in got:
                want = "held"
            decision = tags.get((case.repository, case.tag), {}).get("decision", "keep")
            if decision != want:
                problems.append(f"{case.repository}:{case.tag}: {decision!r}, expected {want!r}")
        held = plan1.get("summary", {}).get("held_by_limits")
        if held != len(expected) - 1:
            problems.append(f"summary.held_by_limits: {held!r}, expected {len(expected) - 1}")
        if problems:
            fail("\n".join(problems))

    checks.run("max_deletions 1: one deletion planned, the rest held", limit_plan)

    def limit_apply():
        if not one:
            fail("no limited plan")
        result = ctx.retention("apply", "--policy", str(limited), "--at", ctx.at, "--yes")
        if result.returncode != 0:
            fail(f"exit {result.returncode}")
        deleted.update(one)
        ctx.expect_registry(deleted, "the plan's complement after one deletion")

    checks.run("max_deletions 1: apply deletes exactly that one", limit_apply)

    def apply_rest():
        ctx.registry.wait_drained("drec")  # the limited run's delete events reach drec first
        report = ctx.workdir / "report.json"
        rest = {k: v for k, v in expected.items() if k not in deleted}
        remaining = ctx.plan(policy)
        if plan_deletions(remaining) != rest:
            fail(
                f"the plan after the limited run: {describe(ctx, plan_deletions(remaining))}, "
                f"expected {describe(ctx, rest)}"
            )
        result = ctx.retention(
            "apply", "--policy", str(policy), "--at", ctx.at, "--yes", "--report", str(report)
        )
        if result.returncode != 0:
            fail(f"exit {result.returncode}")
        missing = [d for _, d in rest if d not in result.stderr and d[7:19] not in result.stderr]
        if missing:
            fail(f"no progress line on stderr for {missing}")
        outcomes = report_outcomes(report)
        if outcomes != {d: "deleted" for _, d in rest}:
            fail(f"the report's outcomes: {outcomes}, expected every deletion deleted")
        deleted.update(rest)
        ctx.expect_registry(deleted, "exactly the complement of the plan")

    checks.run("apply --yes: the registry serves exactly the plan's complement", apply_rest)

    def shared_digest_survives():
        tags = ctx.registry_state()["tags"].get("ci/app", {})
        for tag in ("v1.0", "build-1", "build-2"):
            if tags.get(tag) != model.digest("A"):
                fail(f"ci/app:{tag} is {tags.get(tag)!r}, expected {model.digest('A')}")

    checks.run("no tag sharing a kept digest was lost", shared_digest_survives)

    def unknown_kept():
        tags = ctx.registry_state()["tags"].get("edge/app", {})
        for case in SCENARIO:
            if case.decision == "unknown" and tags.get(case.tag) != model.digest(case.image):
                fail(f"{case.repository}:{case.tag} is gone")

    checks.run("unknown tags are kept", unknown_kept)
    checks.run("drec got the registry's delete events", check_drec_deletes, ctx, deleted)
    checks.run("garbage-collect frees the deleted images' blobs", check_gc, ctx, deleted)


OUTCOMES = ("deleted", "failed", "skipped", "not attempted")


def report_outcomes(report: Path) -> dict[str, str]:
    """digest -> outcome of every deletion in an apply report (--report): each JSON object that
    names a `digest` and one of OUTCOMES as a value."""
    if not report.exists():
        fail(f"no report written to {report}")
    found: dict[str, str] = {}

    def walk(value):
        if isinstance(value, dict):
            outcome = next((v for v in value.values() if v in OUTCOMES), None)
            if "digest" in value and outcome:
                found[value["digest"]] = outcome
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    text = report.read_text()
    walk(json.loads(text))
    if not found:
        fail(f"no deletion outcome in the report: {text[:400]}")
    return found


def check_api_plan(ctx: Context, expected: dict) -> None:
    r = ctx.drec.request("GET", f"/api/v1/retention/plan?at={ctx.at}")
    if r.status == 404:
        print(f"     skip: GET /api/v1/retention/plan answers 404 ({r.body[:120]!r})")
        return
    if r.status != 200:
        fail(f"status {r.status}: {r.body[:300]!r}")
    got = plan_deletions(json.loads(r.body))
    if got != expected:
        fail(f"deletions {describe(ctx, got)}, expected {describe(ctx, expected)}")


def check_drec_deletes(ctx: Context, deleted: set[tuple[str, str]]) -> None:
    """numdeletes, the deleted flags of the digests and of the tags that pointed at them."""
    ctx.registry.wait_drained("drec")
    model = ctx.model
    # drec marks the tags it knows on a deleted digest. The HEADs of this test's registry checks
    # (which count no pull) have taught it where the registry has each tag, build-9 included.
    deleted_tags = {
        (c.repository, c.tag) for c in SCENARIO if (c.repository, model.digest(c.image)) in deleted
    }
    problems: list[str] = []

    def matches():
        problems.clear()
        for repository in sorted({c.repository for c in SCENARIO}):
            state = ctx.drec_repository(repository)
            want = sum(1 for r, _ in deleted if r == repository)
            got = state["repository"].get("numdeletes")
            if got != want:
                problems.append(f"{repository}: numdeletes {got}, expected {want}")
            for case in (c for c in SCENARIO if c.repository == repository):
                flag = state["tags"].get(case.tag, {}).get("deleted")
                if flag is not ((repository, case.tag) in deleted_tags):
                    problems.append(f"{repository}:{case.tag}: deleted {flag!r}")
            for (r, digest), name in model.all_manifests().items():
                if r != repository:
                    continue
                flag = state["digests"].get(digest, {}).get("deleted")
                if flag is not ((r, digest) in deleted):
                    problems.append(f"{repository}@{name}: digest deleted {flag!r}")
        return not problems

    try:
        wait_until("drec to show the deletes", matches, WAIT_S)
    except Failure:
        fail("\n".join(problems))


def check_gc(ctx: Context, deleted: set[tuple[str, str]]) -> None:
    """Stops the registry, runs garbage-collect (without --delete-untagged: the plan deleted the
    untagged manifests it meant to, and 2.8's --delete-untagged would take the index's untagged
    children too), then: the deleted images' blobs are gone, every kept image's remain, and the
    restarted registry serves every kept manifest."""
    model = ctx.model
    names = model.all_manifests()
    # Layers and configs, and the manifests' own blobs.
    gone = model.blobs_of(names[k] for k in deleted) | {d for _, d in deleted}
    kept = model.blobs_of(names[k] for k in names if k not in deleted) | {
        d for k, d in ((k, k[1]) for k in names) if k not in deleted
    }
    if not gone or gone & kept:
        fail("the scenario's deleted and kept images share blobs")
    ctx.registry.wait_drained("drec")
    ctx.registry.stop()
    before = {b for b in gone | kept if ctx.registry.blob_path(b).exists()}
    if before != gone | kept:
        fail(f"blobs missing before garbage-collect: {sorted((gone | kept) - before)}")
    ctx.registry.garbage_collect()
    problems = [f"{b} still stored" for b in sorted(gone) if ctx.registry.blob_path(b).exists()]
    problems += [f"{b} removed" for b in sorted(kept) if not ctx.registry.blob_path(b).exists()]
    ctx.restart_registry()
    problems += [
        f"{repository}@{names[(repository, digest)]} not served after garbage-collect"
        for (repository, digest) in sorted(names)
        if (repository, digest) not in deleted and ctx.registry_digest(repository, digest) != digest
    ]
    if problems:
        fail("\n".join(problems))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drec", required=True, help="drec binary")
    p.add_argument("--workdir", required=True, type=Path, help="scratch directory (cleared)")
    p.add_argument(
        "--registry",
        default=shutil.which("docker-registry") or "docker-registry",
        help="registry binary (Debian's docker-registry 2.8)",
    )
    return p.parse_args()


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # run `finally`
    args = parse_args()
    args.drec = str(Path(args.drec).resolve())
    missing = [t for t in (args.registry, "skopeo") if not shutil.which(t)]
    if missing:
        print(f"skip: {', '.join(missing)} not found (apt-get install docker-registry skopeo)")
        return 77
    ctx, setup_failed = None, False
    try:
        try:
            workdir = prepare_workdir(args.workdir, WORKDIR_MARKER)
            (workdir / "tmp").mkdir()
            ctx = Context(args, workdir)
            print(f"evaluation time (--at): {ctx.at}", flush=True)
            ctx.build_images()
            ctx.drec.start()
            ctx.configure_registry(notify=False)
            ctx.registry.start()
            ctx.push_all()
            ctx.feed_history()
            ctx.restart_registry(notify=True)
            ctx.real_pulls()
        except Failure as e:
            print(f"retention e2e: setup failed: {e}", flush=True)
            setup_failed = True
        if not setup_failed:
            try:
                run_scenario(ctx)
            except Failure as e:
                ctx.checks.failed += 1
                print(f"FAIL scenario aborted: {e}", flush=True)
    finally:
        if ctx:
            ctx.registry.stop()
            ctx.drec.stop()
            if setup_failed or ctx.checks.failed:
                for name, tail in (
                    ("drec.log", ctx.drec.log_tail()),
                    ("registry.log", ctx.registry.log_tail(10)),
                ):
                    if tail:
                        print(f"--- last lines of {name} ---\n{tail}")
    if setup_failed:
        return 2
    print(f"retention e2e: {ctx.checks.passed} passed, {ctx.checks.failed} failed")
    return 1 if ctx.checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
