#!/usr/bin/env python3
"""HTTP query API test of drec: every route and parameter against a known data set.

Why this test exists: the unit and store tests check counting and storage; this one checks what
a client of the HTTP API sees. It starts the drec binary on a free loopback port with real TLS
(the generated certificate, verified as `localhost`), feeds a known data set of registry
notifications through POST /events, then asks every route with every parameter, good and bad,
and compares the answers with values worked out by hand from the data set (written down below,
never copied from a run). Every JSON answer is also validated against drec's own OpenAPI
document (GET /api/v1/openapi.json), and against --openapi-file when given (the repository's
docs/openapi.json), by openapi-schema-validator and jsonschema, so the document and the
implementation cannot drift apart; a run that validated no answer fails.

Usage: api_test.py --drec PATH --workdir DIR [--openapi-file docs/openapi.json]
                   [--store sqlite | --store mongodb --mongodb-uri URI
                    | --store postgresql --postgresql-uri URI]
Runs with the Python of scripts/install-test-tools.sh (tests/requirements.txt), which has the
validators. Prints `api: N passed, M failed`; exit status 0 when every check passed.
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import http.client
import io
import json
import re
import signal
import socket
import sys
import urllib.parse
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
import drec_harness
from drec_harness import (
    COUNTERS,
    HTTP_TIMEOUT_S,
    RECORD_SCHEMAS,
    TIMES,
    Checks,
    Failure,
    Response,
    add_drec_options,
    check_drec_options,
    differences,
    fail,
    prepare_workdir,
)

try:
    from openapi_schema_validator import (
        OAS30Validator,
        OAS31Validator,
        oas30_format_checker,
        oas31_format_checker,
    )
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4, DRAFT202012
except ImportError as e:
    sys.exit(f"api_test.py: {e}: run it with the Python that scripts/install-test-tools.sh prints")

TOKEN = "api-test-token-7f3c2a9e51d04b68"
BASIC_USER, BASIC_PASSWORD = "reader", "pass:word"  # the password may contain ':'
MAX_BODY = 1 << 20  # --server-max-body-bytes, to test 413 without sending megabytes
START_TIMEOUT_S = 30.0
WORKDIR_MARKER = ".api_test"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
BLOB = "application/octet-stream"
V1_EVENTS = "application/vnd.docker.distribution.events.v1+json"
V2_EVENTS = "application/vnd.docker.distribution.events.v2+json"

SORT_FIELDS = ("repositoryname", *COUNTERS, *TIMES)
CSV_HEADER = ["repositoryname", *COUNTERS, *TIMES]
CSV_WINDOW_HEADER = [f"window_{c}" for c in COUNTERS]
CSV_LAST = ["registry"]
MAX_DAYS = 3660

# "Today" (UTC) for the data set; fixed at start so that every expectation uses the same day.
TODAY = dt.datetime.now(dt.UTC).date()


def expect_equal(what: str, actual, expected):
    """Equal values of equal JSON types (1 is not true, 1.0 is not 1)."""
    lines = differences(expected, actual)
    if lines:
        detail = "\n    ".join(lines[:40])
        fail(f"{what}: expected -> actual:\n    {detail}")


# ---------------------------------------------------------------------------------------------
# The data set. Day k is k days before today (UTC); D(0) is today.


def day(k: int) -> str:
    return (TODAY - dt.timedelta(days=k)).isoformat()


def T(k: int, hms: str) -> str:
    """A time as the API shows it: UTC, milliseconds."""
    return f"{day(k)}T{hms}Z"


def digest(tag: str) -> str:
    return "sha256:" + (tag * 64)[:64]


A1, A2, A3 = digest("a1"), digest("a2"), digest("a3")
C1, C2, IX = digest("c1"), digest("c2"), digest("e1")
O1, N1, H1, X1, Z1 = digest("0f"), digest("4e"), digest("b1"), digest("d1"), digest("f0")

_event_count = 0


def event(
    action: str,
    repo: str | None,
    stamp: str,
    *,
    media: str | None = OCI_MANIFEST,
    dig: str | None = None,
    tag: str | None = None,
    size: int | None = None,
    method: str | None = None,
    actor: str | None = None,
    references: list[tuple[str, str, int]] | None = None,
) -> dict:
    """One registry event, shaped like those captured from real registries in tests/data."""
    global _event_count
    _event_count += 1
    target: dict = {}
    if media is not None:
        target["mediaType"] = media
    if size is not None:
        target["size"] = size
        target["length"] = size
    if dig is not None:
        target["digest"] = dig
    if repo is not None:
        target["repository"] = repo
        kind = "blobs" if media == BLOB else "manifests"
        target["url"] = f"http://registry.test:5000/v2/{repo}/{kind}/{dig or tag}"
    if tag is not None:
        target["tag"] = tag
    if references:
        target["references"] = [{"mediaType": m, "digest": d, "size": s} for d, m, s in references]
    if method is None:
        method = {"push": "PUT", "pull": "GET", "delete": "DELETE", "mount": "POST"}.get(
            action, "GET"
        )
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"drec-api-test/{_event_count}")),
        "timestamp": stamp,
        "action": action,
        "target": target,
        "request": {
            "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"req{_event_count}")),
            "addr": "127.0.0.1:40000",
            "host": "registry.test:5000",
            "method": method,
            "useragent": "skopeo/1.9.3",
        },
        "actor": {"name": actor} if actor else {},
        "source": {"addr": "vm:5000", "instanceID": "3b04ff5e-e729-4070-9c0e-cd9ae552261b"},
    }


def at(k: int, hms: str) -> str:
    """An event timestamp in UTC; `hms` may carry nanoseconds."""
    return f"{day(k)}T{hms}Z"


def at_offset(k: int, local_hms: str, offset: str) -> str:
    """An event timestamp with a UTC offset; the caller picks a local time on the same UTC day."""
    return f"{day(k)}T{local_hms}{offset}"


def push(repo, stamp, dig, size, tag=None, actor=None, media=OCI_MANIFEST, references=None):
    return event(
        "push",
        repo,
        stamp,
        media=media,
        dig=dig,
        tag=tag,
        size=size,
        actor=actor,
        references=references,
    )


def get(repo, stamp, dig, size, tag=None, actor=None, media=OCI_MANIFEST):
    return event("pull", repo, stamp, media=media, dig=dig, tag=tag, size=size, actor=actor)


def head(repo, stamp, dig, size, tag=None, actor=None, media=OCI_MANIFEST):
    return event(
        "pull", repo, stamp, media=media, dig=dig, tag=tag, size=size, actor=actor, method="HEAD"
    )


def delete(repo, stamp, dig=None, tag=None, actor=None):
    return event("delete", repo, stamp, media=None, dig=dig, tag=tag, actor=actor)


# Envelopes in the order they are POSTed: (content type, events, expected ignored count). The
# order matters where the counting rules read earlier state: a pull by digest reaches the tags
# known to point at that digest when it is applied.
ENVELOPES: list[tuple[str, list[dict], int]] = [
    # team/app: two tagged pushes and a third today, pulls by tag, by digest, a HEAD check,
    # a digest delete (which takes v1 out of the live tags) and a tag delete.
    (V1_EVENTS, [push("team/app", at(40, "10:00:00.123456789"), A1, 345, "v1", "alice")], 0),
    (
        V2_EVENTS,
        [
            get("team/app", at(35, "08:00:00.5"), A1, 345, "v1"),
            push("team/app", at(10, "09:00:00"), A2, 400, "v2", "alice"),
        ],
        0,
    ),
    (
        "application/json; charset=utf-8",
        [
            get("team/app", at(5, "07:00:00.000"), A2, 400, None, "bob"),
            head("team/app", at(5, "07:00:01"), A2, 400, "v2", "bob"),
            event("pull", "team/app", at(5, "07:00:02"), media=BLOB, dig=digest("bb"), size=102),
            get("team/app", at(4, "10:00:00"), A2, 400, "v2", "bob"),
        ],
        1,
    ),
    (
        "application/json",
        [get("team/app", at_offset(3, "08:00:00.000", "+02:00"), A1, 345, "v1", "carol")],
        0,
    ),
    (
        V2_EVENTS,
        [
            delete("team/app", at(1, "12:00:00"), dig=A1, actor="alice"),
            delete("team/app", at(1, "12:00:01"), tag="v1", actor="alice"),
        ],
        0,
    ),
    (V2_EVENTS, [push("team/app", at(0, "08:00:00"), A3, 500, "v3", "alice")], 0),
    # team/multi: a multi-arch push (children by digest, anonymous; the index tagged, with
    # references), an index pull by tag and a child pull by digest, a HEAD of the index today.
    # Ignored events travel in the same envelope and change nothing.
    (
        V1_EVENTS,
        [
            push("team/multi", at(20, "11:00:00"), C1, 345),
            event(
                "mount",
                "team/multi",
                at(20, "11:00:00.5"),
                media=BLOB,
                dig=digest("cc"),
                size=9,
                actor="alice",
            ),
            event("fetch", "team/multi", at(20, "11:00:00.6"), dig=C1, size=345),
            event("push", None, at(20, "11:00:00.7"), dig=C1, size=345, tag="x"),
            event("push", "team/multi", "not a time", dig=C1, size=345, tag="y"),
        ],
        4,
    ),
    (
        V1_EVENTS,
        [
            push("team/multi", at(20, "11:00:01"), C2, 346),
            push(
                "team/multi",
                at(20, "11:00:02"),
                IX,
                517,
                "latest",
                "alice",
                media=OCI_INDEX,
                references=[(C1, OCI_MANIFEST, 345), (C2, OCI_MANIFEST, 346)],
            ),
        ],
        0,
    ),
    (
        V1_EVENTS,
        [
            get("team/multi", at(2, "15:00:00"), IX, 517, "latest", "bob", media=OCI_INDEX),
            get("team/multi", at(2, "15:00:01"), C1, 345, None, "bob"),
        ],
        0,
    ),
    (V1_EVENTS, [head("team/multi", at(0, "09:00:00"), IX, 517, "latest", media=OCI_INDEX)], 0),
    # An envelope of ignored events only.
    (
        V1_EVENTS,
        [event("pull", "team/app", at(0, "09:30:00"), media=BLOB, dig=digest("bb"), size=102)],
        1,
    ),
    # team/old: pushed and pulled long ago (the cleanup candidate).
    (
        V2_EVENTS,
        [
            push("team/old", at(100, "10:00:00"), O1, 300, "1.0", "carol", media=DOCKER_MANIFEST),
            get("team/old", at(90, "10:00:00"), O1, 300, "1.0", "carol", media=DOCKER_MANIFEST),
        ],
        0,
    ),
    # lib/never: pushed, checked, never pulled; anonymous.
    (
        V2_EVENTS,
        [
            push("lib/never", at(50, "09:00:00"), N1, 310, "main"),
            head("lib/never", at(6, "09:00:00"), N1, 310, "main"),
        ],
        0,
    ),
    # lib/hot: pulled often, around the 30- and 7-day window boundaries.
    (
        V2_EVENTS,
        [
            push("lib/hot", at(60, "12:00:00"), H1, 320, "stable", "dave"),
            get("lib/hot", at(45, "12:00:00"), H1, 320, "stable"),
            get("lib/hot", at(30, "23:59:59.999"), H1, 320, "stable"),
            get("lib/hot", at(29, "00:00:00"), H1, 320, "stable", "eve"),
            get("lib/hot", at(15, "01:00:00"), H1, 320, "stable"),
            get("lib/hot", at(15, "02:00:00"), H1, 320, "stable"),
            get("lib/hot", at(7, "23:59:59.999999"), H1, 320, "stable", "eve"),
            get("lib/hot", at(0, "00:00:00"), H1, 320, "stable"),
        ],
        0,
    ),
    # teams/x: shares the "team" prefix but not "team/".
    (
        V2_EVENTS,
        [
            push("teams/x", at(12, "10:00:00"), X1, 330, "a", "alice"),
            get("teams/x", at(11, "10:00:00"), X1, 330, "a", "alice"),
        ],
        0,
    ),
    # zeta: only an untagged push: the repository exists with nothing counted.
    (V2_EVENTS, [push("zeta", at(8, "10:00:00"), Z1, 528, media=DOCKER_MANIFEST)], 0),
]


def counts(**values) -> dict:
    """The counters alone (day entries and windows carry no times), zero unless given."""
    if unknown := set(values) - set(COUNTERS):
        raise KeyError(unknown)
    return {c: values.get(c, 0) for c in COUNTERS}


def counters(**values) -> dict:
    c = dict.fromkeys(COUNTERS, 0)
    c.update(dict.fromkeys(TIMES))
    for key, value in values.items():
        if key not in c:
            raise KeyError(key)
        c[key] = value
    return c


# Expected records, worked out by hand from ENVELOPES and docs/counting.md.
REPOS: dict[str, dict] = {
    "team/app": {
        **counters(
            numpulls=4,
            numpushs=3,
            numchecks=1,
            numdeletes=1,
            firstpushed=T(40, "10:00:00.123"),
            lastpushed=T(0, "08:00:00.000"),
            firstpulled=T(35, "08:00:00.500"),
            lastpulled=T(3, "06:00:00.000"),
        ),
        "actors": ["alice", "bob", "carol"],
        "numstars": 0,
        "tags": ["v2", "v3"],
        "observedsince": T(40, "10:00:00.123"),
    },
    "team/multi": {
        **counters(
            numpulls=1,
            numpushs=1,
            numchecks=1,
            numindexpulls=1,
            firstpushed=T(20, "11:00:02.000"),
            lastpushed=T(20, "11:00:02.000"),
            firstpulled=T(2, "15:00:00.000"),
            lastpulled=T(2, "15:00:01.000"),
        ),
        "actors": ["alice", "bob"],
        "numstars": 0,
        "tags": ["latest"],
        "observedsince": T(20, "11:00:00.000"),
    },
    "team/old": {
        **counters(
            numpulls=1,
            numpushs=1,
            firstpushed=T(100, "10:00:00.000"),
            lastpushed=T(100, "10:00:00.000"),
            firstpulled=T(90, "10:00:00.000"),
            lastpulled=T(90, "10:00:00.000"),
        ),
        "actors": ["carol"],
        "numstars": 0,
        "tags": ["1.0"],
        "observedsince": T(100, "10:00:00.000"),
    },
    "lib/never": {
        **counters(
            numpushs=1,
            numchecks=1,
            firstpushed=T(50, "09:00:00.000"),
            lastpushed=T(50, "09:00:00.000"),
        ),
        "actors": [],
        "numstars": 0,
        "tags": ["main"],
        "observedsince": T(50, "09:00:00.000"),
    },
    "lib/hot": {
        **counters(
            numpulls=7,
            numpushs=1,
            firstpushed=T(60, "12:00:00.000"),
            lastpushed=T(60, "12:00:00.000"),
            firstpulled=T(45, "12:00:00.000"),
            lastpulled=T(0, "00:00:00.000"),
        ),
        "actors": ["dave", "eve"],
        "numstars": 0,
        "tags": ["stable"],
        "observedsince": T(60, "12:00:00.000"),
    },
    "teams/x": {
        **counters(
            numpulls=1,
            numpushs=1,
            firstpushed=T(12, "10:00:00.000"),
            lastpushed=T(12, "10:00:00.000"),
            firstpulled=T(11, "10:00:00.000"),
            lastpulled=T(11, "10:00:00.000"),
        ),
        "actors": ["alice"],
        "numstars": 0,
        "tags": ["a"],
        "observedsince": T(12, "10:00:00.000"),
    },
    # Nothing counted, but the untagged push is an event: drec has observed zeta since then.
    "zeta": {
        **counters(),
        "actors": [],
        "numstars": 0,
        "tags": [],
        "observedsince": T(8, "10:00:00.000"),
    },
}
for _name, _record in REPOS.items():
    _record["repositoryname"] = _name
    _record["registry"] = "default"
NAMES = sorted(REPOS)


def tag(name, dig, deleted, **c):
    return {"tag": name, "digest": dig, "deleted": deleted, "attachment": False, **counters(**c)}


def dgst(name, media, size, deleted, parents=(), **c):
    return {
        "digest": name,
        "mediaType": media,
        "size": size,
        "deleted": deleted,
        "parents": list(parents),
        **counters(**c),
    }


def actor(name, firstseen, lastseen, **c):
    return {"actor": name, "firstseen": firstseen, "lastseen": lastseen, **counters(**c)}


TAGS: dict[str, list[dict]] = {
    "team/app": [
        tag(
            "v1",
            A1,
            True,
            numpulls=2,
            numpushs=1,
            firstpushed=T(40, "10:00:00.123"),
            lastpushed=T(40, "10:00:00.123"),
            firstpulled=T(35, "08:00:00.500"),
            lastpulled=T(3, "06:00:00.000"),
        ),
        tag(
            "v2",
            A2,
            False,
            numpulls=2,
            numpushs=1,
            numchecks=1,
            firstpushed=T(10, "09:00:00.000"),
            lastpushed=T(10, "09:00:00.000"),
            firstpulled=T(5, "07:00:00.000"),
            lastpulled=T(4, "10:00:00.000"),
        ),
        tag(
            "v3",
            A3,
            False,
            numpushs=1,
            firstpushed=T(0, "08:00:00.000"),
            lastpushed=T(0, "08:00:00.000"),
        ),
    ],
    "team/multi": [
        tag(
            "latest",
            IX,
            False,
            numpulls=1,
            numpushs=1,
            numchecks=1,
            numindexpulls=1,
            firstpushed=T(20, "11:00:02.000"),
            lastpushed=T(20, "11:00:02.000"),
            firstpulled=T(2, "15:00:00.000"),
            lastpulled=T(2, "15:00:01.000"),
        ),
    ],
    "team/old": [
        tag(
            "1.0",
            O1,
            False,
            numpulls=1,
            numpushs=1,
            firstpushed=T(100, "10:00:00.000"),
            lastpushed=T(100, "10:00:00.000"),
            firstpulled=T(90, "10:00:00.000"),
            lastpulled=T(90, "10:00:00.000"),
        ),
    ],
    "lib/never": [
        tag(
            "main",
            N1,
            False,
            numpushs=1,
            numchecks=1,
            firstpushed=T(50, "09:00:00.000"),
            lastpushed=T(50, "09:00:00.000"),
        ),
    ],
    "lib/hot": [
        tag(
            "stable",
            H1,
            False,
            numpulls=7,
            numpushs=1,
            firstpushed=T(60, "12:00:00.000"),
            lastpushed=T(60, "12:00:00.000"),
            firstpulled=T(45, "12:00:00.000"),
            lastpulled=T(0, "00:00:00.000"),
        ),
    ],
    "teams/x": [
        tag(
            "a",
            X1,
            False,
            numpulls=1,
            numpushs=1,
            firstpushed=T(12, "10:00:00.000"),
            lastpushed=T(12, "10:00:00.000"),
            firstpulled=T(11, "10:00:00.000"),
            lastpulled=T(11, "10:00:00.000"),
        ),
    ],
    "zeta": [],
}

DIGESTS: dict[str, list[dict]] = {
    "team/app": [
        dgst(
            A1,
            OCI_MANIFEST,
            345,
            True,
            numpulls=2,
            numpushs=1,
            numdeletes=1,
            firstpushed=T(40, "10:00:00.123"),
            lastpushed=T(40, "10:00:00.123"),
            firstpulled=T(35, "08:00:00.500"),
            lastpulled=T(3, "06:00:00.000"),
        ),
        dgst(
            A2,
            OCI_MANIFEST,
            400,
            False,
            numpulls=2,
            numpushs=1,
            numchecks=1,
            firstpushed=T(10, "09:00:00.000"),
            lastpushed=T(10, "09:00:00.000"),
            firstpulled=T(5, "07:00:00.000"),
            lastpulled=T(4, "10:00:00.000"),
        ),
        dgst(
            A3,
            OCI_MANIFEST,
            500,
            False,
            numpushs=1,
            firstpushed=T(0, "08:00:00.000"),
            lastpushed=T(0, "08:00:00.000"),
        ),
    ],
    "team/multi": [
        dgst(
            C1,
            OCI_MANIFEST,
            345,
            False,
            parents=[IX],
            numpulls=1,
            numpushs=1,
            firstpushed=T(20, "11:00:00.000"),
            lastpushed=T(20, "11:00:00.000"),
            firstpulled=T(2, "15:00:01.000"),
            lastpulled=T(2, "15:00:01.000"),
        ),
        dgst(
            C2,
            OCI_MANIFEST,
            346,
            False,
            parents=[IX],
            numpushs=1,
            firstpushed=T(20, "11:00:01.000"),
            lastpushed=T(20, "11:00:01.000"),
        ),
        dgst(
            IX,
            OCI_INDEX,
            517,
            False,
            numpushs=1,
            numchecks=1,
            numindexpulls=1,
            firstpushed=T(20, "11:00:02.000"),
            lastpushed=T(20, "11:00:02.000"),
            firstpulled=T(2, "15:00:00.000"),
            lastpulled=T(2, "15:00:00.000"),
        ),
    ],
    "team/old": [
        dgst(
            O1,
            DOCKER_MANIFEST,
            300,
            False,
            numpulls=1,
            numpushs=1,
            firstpushed=T(100, "10:00:00.000"),
            lastpushed=T(100, "10:00:00.000"),
            firstpulled=T(90, "10:00:00.000"),
            lastpulled=T(90, "10:00:00.000"),
        ),
    ],
    "lib/never": [
        dgst(
            N1,
            OCI_MANIFEST,
            310,
            False,
            numpushs=1,
            numchecks=1,
            firstpushed=T(50, "09:00:00.000"),
            lastpushed=T(50, "09:00:00.000"),
        ),
    ],
    "lib/hot": [
        dgst(
            H1,
            OCI_MANIFEST,
            320,
            False,
            numpulls=7,
            numpushs=1,
            firstpushed=T(60, "12:00:00.000"),
            lastpushed=T(60, "12:00:00.000"),
            firstpulled=T(45, "12:00:00.000"),
            lastpulled=T(0, "00:00:00.000"),
        ),
    ],
    "teams/x": [
        dgst(
            X1,
            OCI_MANIFEST,
            330,
            False,
            numpulls=1,
            numpushs=1,
            firstpushed=T(12, "10:00:00.000"),
            lastpushed=T(12, "10:00:00.000"),
            firstpulled=T(11, "10:00:00.000"),
            lastpulled=T(11, "10:00:00.000"),
        ),
    ],
    "zeta": [
        dgst(
            Z1,
            DOCKER_MANIFEST,
            528,
            False,
            numpushs=1,
            firstpushed=T(8, "10:00:00.000"),
            lastpushed=T(8, "10:00:00.000"),
        ),
    ],
}

# Check and delete events of an actor fall inside the span of the actor's pushes and pulls, so
# firstseen/lastseen do not depend on whether they count as "seen".
ACTORS: dict[str, list[dict]] = {
    "team/app": [
        actor(
            "alice",
            T(40, "10:00:00.123"),
            T(0, "08:00:00.000"),
            numpushs=3,
            numdeletes=1,
            firstpushed=T(40, "10:00:00.123"),
            lastpushed=T(0, "08:00:00.000"),
        ),
        actor(
            "bob",
            T(5, "07:00:00.000"),
            T(4, "10:00:00.000"),
            numpulls=2,
            numchecks=1,
            firstpulled=T(5, "07:00:00.000"),
            lastpulled=T(4, "10:00:00.000"),
        ),
        actor(
            "carol",
            T(3, "06:00:00.000"),
            T(3, "06:00:00.000"),
            numpulls=1,
            firstpulled=T(3, "06:00:00.000"),
            lastpulled=T(3, "06:00:00.000"),
        ),
    ],
    "team/multi": [
        actor(
            "alice",
            T(20, "11:00:02.000"),
            T(20, "11:00:02.000"),
            numpushs=1,
            firstpushed=T(20, "11:00:02.000"),
            lastpushed=T(20, "11:00:02.000"),
        ),
        actor(
            "bob",
            T(2, "15:00:00.000"),
            T(2, "15:00:01.000"),
            numpulls=1,
            numindexpulls=1,
            firstpulled=T(2, "15:00:00.000"),
            lastpulled=T(2, "15:00:01.000"),
        ),
    ],
    "team/old": [
        actor(
            "carol",
            T(100, "10:00:00.000"),
            T(90, "10:00:00.000"),
            numpulls=1,
            numpushs=1,
            firstpushed=T(100, "10:00:00.000"),
            lastpushed=T(100, "10:00:00.000"),
            firstpulled=T(90, "10:00:00.000"),
            lastpulled=T(90, "10:00:00.000"),
        ),
    ],
    "lib/never": [],
    "lib/hot": [
        actor(
            "dave",
            T(60, "12:00:00.000"),
            T(60, "12:00:00.000"),
            numpushs=1,
            firstpushed=T(60, "12:00:00.000"),
            lastpushed=T(60, "12:00:00.000"),
        ),
        actor(
            "eve",
            T(29, "00:00:00.000"),
            T(7, "23:59:59.999"),
            numpulls=2,
            firstpulled=T(29, "00:00:00.000"),
            lastpulled=T(7, "23:59:59.999"),
        ),
    ],
    "teams/x": [
        actor(
            "alice",
            T(12, "10:00:00.000"),
            T(11, "10:00:00.000"),
            numpulls=1,
            numpushs=1,
            firstpushed=T(12, "10:00:00.000"),
            lastpushed=T(12, "10:00:00.000"),
            firstpulled=T(11, "10:00:00.000"),
            lastpulled=T(11, "10:00:00.000"),
        ),
    ],
    "zeta": [],
}

# Per repository: days ago -> counts of that UTC day.
DAYS: dict[str, dict[int, dict[str, int]]] = {
    "team/app": {
        40: {"numpushs": 1},
        35: {"numpulls": 1},
        10: {"numpushs": 1},
        5: {"numpulls": 1, "numchecks": 1},
        4: {"numpulls": 1},
        3: {"numpulls": 1},
        1: {"numdeletes": 1},
        0: {"numpushs": 1},
    },
    "team/multi": {
        20: {"numpushs": 1},
        2: {"numindexpulls": 1, "numpulls": 1},
        0: {"numchecks": 1},
    },
    "team/old": {100: {"numpushs": 1}, 90: {"numpulls": 1}},
    "lib/never": {50: {"numpushs": 1}, 6: {"numchecks": 1}},
    "lib/hot": {
        60: {"numpushs": 1},
        45: {"numpulls": 1},
        30: {"numpulls": 1},
        29: {"numpulls": 1},
        15: {"numpulls": 2},
        7: {"numpulls": 1},
        0: {"numpulls": 1},
    },
    "teams/x": {12: {"numpushs": 1}, 11: {"numpulls": 1}},
    "zeta": {},
}


def day_entry(repo_days: dict[int, dict[str, int]], k: int) -> dict:
    counts = repo_days.get(k, {})
    return {"day": day(k), **{c: counts.get(c, 0) for c in COUNTERS}}


def expected_days(repos: list[str], newest: int, oldest: int) -> list[dict]:
    """Zero-filled entries from `oldest` days ago to `newest` days ago, summed over `repos`."""
    out = []
    for k in range(oldest, newest - 1, -1):
        entry = {"day": day(k), **dict.fromkeys(COUNTERS, 0)}
        for repo in repos:
            for c, n in DAYS[repo].get(k, {}).items():
                entry[c] += n
        out.append(entry)
    return out


def expected_window(repo: str, n: int) -> dict:
    w = {"days": n, "from": day(n - 1), **dict.fromkeys(COUNTERS, 0)}
    for k, counts in DAYS[repo].items():
        if k < n:
            for c, v in counts.items():
                w[c] += v
    return w


def check_data_set() -> None:
    """The hand-written tables must agree with each other before they judge drec."""
    for repo, record in REPOS.items():
        for c in COUNTERS:
            total = sum(counts.get(c, 0) for counts in DAYS[repo].values())
            if total != record[c]:
                raise AssertionError(f"data set: {repo} {c} {record[c]} != days {total}")
        live = sorted(t["tag"] for t in TAGS[repo] if not t["deleted"])
        if live != record["tags"]:
            raise AssertionError(f"data set: {repo} live tags {live} != {record['tags']}")


# ---------------------------------------------------------------------------------------------
# Sorting rules (README): ties by name ascending whatever the direction; unset times lowest.


def sort_names(field: str, descending: bool, names=None, value=None) -> list[str]:
    names = sorted(names if names is not None else REPOS)
    if field == "repositoryname":
        return sorted(names, reverse=descending)
    value = value or (lambda n: REPOS[n][field])

    def key(n):
        v = value(n)
        return (0, "") if v is None else (1, v)

    return sorted(names, key=key, reverse=descending)  # stable: ties keep the name order


# ---------------------------------------------------------------------------------------------
# The OpenAPI document: responses are looked up by path template, method and status here, and
# their JSON bodies validated by openapi-schema-validator (jsonschema underneath: $ref, allOf,
# nullable or type lists, formats), OpenAPI 3.0 or 3.1 after the document's own version.

DOCUMENT_URI = "urn:drec:openapi"  # the document's name in the reference registry


def pointer(*parts: str) -> str:
    """A JSON pointer (RFC 6901) into the document, '#/a/b~1c'."""
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class OpenApi:
    def __init__(self, doc: dict):
        self.doc = doc
        version = str(doc.get("openapi", ""))
        if version.startswith("3.0."):
            cls, checker, spec = OAS30Validator, oas30_format_checker, DRAFT4
        elif version.startswith("3.1."):
            cls, checker, spec = OAS31Validator, oas31_format_checker, DRAFT202012
        else:
            fail(f"openapi version {version!r}, expected 3.0.x or 3.1.x")
        self.version = version
        registry = Registry().with_resource(
            DOCUMENT_URI, Resource(contents=doc, specification=spec)
        )
        self.validator = cls({}, registry=registry, format_checker=checker)
        self.templates = []
        for template in doc.get("paths", {}):
            literal = re.split(r"\{[^}]+\}", template)
            pattern = "^" + "(.+)".join(re.escape(part) for part in literal) + "$"
            self.templates.append((sum(len(p) for p in literal), template, re.compile(pattern)))
        self.templates.sort(key=lambda t: -t[0])  # most literal characters first

    def at(self, where: str):
        """(node, pointer) at a pointer, after following $refs (responses, parameters, schemas)."""
        for _ in range(20):
            node = self.doc
            for part in where[2:].split("/") if where != "#" else []:
                key = part.replace("~1", "/").replace("~0", "~")
                node = node[int(key)] if isinstance(node, list) else node[key]
            if not (isinstance(node, dict) and "$ref" in node):
                return node, where
            if not node["$ref"].startswith("#/"):
                raise ValueError(f"unsupported $ref {node['$ref']} at {where}")
            where = node["$ref"]
        raise ValueError(f"$ref loop at {where}")

    def resolve(self, node: dict) -> dict:
        return self.at(node["$ref"])[0] if isinstance(node, dict) and "$ref" in node else node

    def validate(self, where: str, value) -> list[str]:
        """Errors of `value` against the schema at pointer `where` (all of them, not the first)."""
        schema = {"$ref": DOCUMENT_URI + where}
        errors = sorted(
            self.validator.evolve(schema=schema).iter_errors(value),
            key=lambda e: list(map(str, e.absolute_path)),
        )
        return [f"$/{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors]

    def flat(self, where: str) -> dict:
        """The schema at `where` with its allOf parts merged: {"properties", "required"}."""
        schema, where = self.at(where)
        properties = dict(schema.get("properties", {}))
        required = list(schema.get("required", []))
        for i, _ in enumerate(schema.get("allOf", [])):
            part = self.flat(f"{where}/allOf/{i}")
            properties.update(part["properties"])
            required += part["required"]
        return {"properties": properties, "required": required}

    def template_of(self, path: str) -> str | None:
        for _, template, pattern in self.templates:
            if pattern.match(path):
                return template
        return None

    def check_response(
        self, method: str, path: str, status: int, content_type: str, headers, body
    ) -> list[str]:
        """Problems of one response against the document; body is parsed JSON or None."""
        template = self.template_of(path)
        if template is None:
            return []  # not a documented route (404 for unknown paths)
        item = self.doc["paths"][template]
        name = "head" if method == "HEAD" else method.lower()
        if name not in item and method == "HEAD":
            name = "get"
        if name not in item:
            # A method the route does not take: 405, documented on the route's operations.
            name = next(
                (
                    m
                    for m, op in item.items()
                    if isinstance(op, dict) and str(status) in op.get("responses", {})
                ),
                None,
            )
            if name is None:
                return [f"{method} {template}: no operation documents status {status}"]
        responses = item[name].get("responses", {})
        code = str(status) if str(status) in responses else "default"
        if code not in responses:
            return [f"{method} {template}: status {status} is not documented"]
        response, where = self.at(pointer("paths", template, name, "responses", code))
        problems = []
        for header in response.get("headers", {}):
            if headers.get(header) is None:
                problems.append(
                    f"{method} {template} {status}: header {header} is documented but missing"
                )
        media = content_type.split(";", maxsplit=1)[0].strip().lower()
        content = response.get("content", {})
        if media not in content:
            documented = sorted(content)
            return [
                *problems,
                f"{method} {template} {status}: content type {media!r} is not documented "
                f"(documented: {documented})",
            ]
        if body is not None:
            if "schema" not in content[media]:
                return [*problems, f"{method} {template} {status}: no schema for {media}"]
            schema = where + "/" + pointer("content", media, "schema")[2:]
            problems += [f"{method} {template} {status}: {e}" for e in self.validate(schema, body)]
        return problems


# ---------------------------------------------------------------------------------------------
# drec and HTTP


class Drec(drec_harness.Drec):
    """drec with its generated certificate, every response checked against its OpenAPI document
    (the one it serves; also `file_openapi`, docs/openapi.json, when given)."""

    def __init__(self, args, workdir: Path):
        super().__init__(
            args.drec,
            workdir,
            store=args.store,
            mongodb_uri=args.mongodb_uri,
            postgresql_uri=args.postgresql_uri,
            database_prefix="drec_api",
            token=TOKEN,
            tls_args=["--server-ssl-generated-dir", str(workdir / "tls")],
            cafile=workdir / "tls" / "cert.pem",
            start_timeout=START_TIMEOUT_S,
            basic=f"{BASIC_USER}:{BASIC_PASSWORD}",
            extra_args=("--server-max-body-bytes", str(MAX_BODY)),
        )
        self.openapi: OpenApi | None = None
        self.file_openapi: OpenApi | None = None
        if args.openapi_file:
            self.file_openapi = OpenApi(json.loads(Path(args.openapi_file).read_text()))
        self.validated = 0
        self.unvalidated: list[Response] = []

    def request(self, method: str, target: str, **kw) -> Response:
        response = super().request(method, target, **kw)
        self.check_openapi(response)
        return response

    def check_openapi(self, response: Response) -> None:
        """Validates a response against the OpenAPI document, or keeps it for later."""
        if self.openapi is None:
            self.unvalidated.append(response)
            return
        body = None
        if response.content_type.startswith("application/json") and response.body:
            try:
                body = json.loads(response.body)
            except ValueError:
                fail(f"{response.method} {response.target}: invalid JSON: {response.body[:200]!r}")
        path = urllib.parse.urlsplit(response.target).path
        for name, document in (("served", self.openapi), ("file", self.file_openapi)):
            if document is None:
                continue
            problems = document.check_response(
                response.method,
                path,
                response.status,
                response.content_type,
                response.headers,
                body,
            )
            if problems:
                fail(
                    f"response does not match the OpenAPI document ({name}, "
                    f"{document.version}):\n    " + "\n    ".join(problems)
                )
        if body is not None:
            self.validated += 1

    def get(self, target: str, status: int = 200, **kw) -> Response:
        return self.request("GET", target, **kw).expect(status)

    def api(self, target: str, status: int = 200, **kw):
        return self.get(target, status, **kw).json

    def error(self, target: str, status: int, *mentions: str, method: str = "GET", **kw) -> str:
        """Asks for an error; the answer must be {"error": message} naming `mentions`."""
        body = self.request(method, target, **kw).expect(status).json
        if not isinstance(body, dict) or not isinstance(body.get("error"), str):
            fail(f'{method} {target}: error body is not {{"error": string}}: {body!r}')
        message = body["error"]
        for word in mentions:
            if word.lower() not in message.lower():
                fail(f"{method} {target}: error message {message!r} does not name {word!r}")
        return message

    def post_events(self, events: list[dict], content_type: str = V1_EVENTS, **kw) -> Response:
        body = json.dumps({"events": events}).encode()
        return self.request(
            "POST", "/events", headers={"Content-Type": content_type}, body=body, **kw
        )


def q(**params) -> str:
    return "?" + urllib.parse.urlencode(params) if params else ""


def list_names(drec: Drec, query: str) -> list[str]:
    body = drec.api("/api/v1/repositories" + query)
    return [r["repositoryname"] for r in body["repositories"]]


# ---------------------------------------------------------------------------------------------
# Checks


def check_probes(drec: Drec) -> None:
    r = drec.get("/healthz", auth=None)
    expect_equal("/healthz body", r.body, b"ok\n")
    r = drec.get("/readyz", auth=None)
    expect_equal("/readyz body", r.body, b"ready\n")
    r = drec.get("/metrics", auth=None)
    if not r.content_type.startswith("text/plain"):
        fail(f"/metrics content type {r.content_type!r}")
    for name in ("drec_events_received_total", "drec_http_responses_total", "drec_queue_depth"):
        if name not in r.body.decode():
            fail(f"/metrics lacks {name}")
    # Probes take no other method.
    r = drec.request("POST", "/healthz", auth=None).expect(405)
    expect_equal("Allow of /healthz", r.headers.get("Allow"), "GET, HEAD")


def check_openapi_document(drec: Drec) -> None:
    drec.error("/api/v1/openapi.json", 401, auth=None)
    r = drec.get("/api/v1/openapi.json")
    api = OpenApi(r.json)  # fails unless OpenAPI 3.0.x or 3.1.x
    check_document(api)
    if drec.file_openapi is not None:
        check_document(drec.file_openapi)
    drec.openapi = api
    # The responses received before the document was known.
    pending, drec.unvalidated = drec.unvalidated, []
    for response in pending:
        drec.check_openapi(response)


def check_document(api: OpenApi) -> None:
    """What the document must say: routes, parameters, security, the records' fields."""
    doc = api.doc
    expected_paths = {
        "/events": "post",
        "/api/v1/repositories": "get",
        "/api/v1/repositories/{name}": "get",
        "/api/v1/repositories/{name}/-/tags": "get",
        "/api/v1/repositories/{name}/-/digests": "get",
        "/api/v1/repositories/{name}/-/actors": "get",
        "/api/v1/repositories/{name}/-/daily": "get",
        "/api/v1/repositories/{name}/-/classes": "get",
        "/api/v1/summary": "get",
        "/api/v1/openapi.json": "get",
        "/healthz": "get",
        "/readyz": "get",
        "/metrics": "get",
    }
    for path, method in expected_paths.items():
        if method not in doc["paths"].get(path, {}):
            fail(f"the document lacks {method.upper()} {path}")

    def parameters(path):
        return {
            api.resolve(p)["name"]: api.resolve(p)
            for p in doc["paths"][path]["get"].get("parameters", [])
        }

    listed = parameters("/api/v1/repositories")
    wanted = {
        "sort",
        "prefix",
        "actor",
        "pulled_before",
        "pushed_after",
        "not_pulled_since",
        "window",
        "offset",
        "limit",
        "format",
        "registry",
    }
    if set(listed) != wanted:
        fail(f"list parameters {sorted(listed)}, expected {sorted(wanted)}")
    expect_equal(
        "limit schema",
        {k: listed["limit"]["schema"].get(k) for k in ("type", "minimum", "maximum")},
        {"type": "integer", "minimum": 1, "maximum": 1000},
    )
    expect_equal("format enum", listed["format"]["schema"].get("enum"), ["json", "csv"])
    sort_values = [
        prefix + field
        for field in SORT_FIELDS + tuple(f"window.{c}" for c in COUNTERS)
        for prefix in ("", "-")
    ]
    expect_equal("sort enum", sorted(listed["sort"]["schema"].get("enum", [])), sorted(sort_values))
    for path in ("/api/v1/repositories/{name}/-/daily", "/api/v1/summary"):
        if not {"from", "to"} <= set(parameters(path)):
            fail(f"{path} lacks from/to parameters")
    schemes = doc.get("components", {}).get("securitySchemes", {})
    if {(s.get("type"), s.get("scheme")) for s in schemes.values()} != {
        ("http", "bearer"),
        ("http", "basic"),
    }:
        fail(f"security schemes {schemes}")
    for probe in ("/healthz", "/readyz", "/metrics"):
        if doc["paths"][probe]["get"].get("security") != []:
            fail(f"{probe} must be documented without security")
    schemas = doc["components"]["schemas"]
    for name in ("Repository", "Tag", "Digest", "Actor", "Day", "Summary", "Error"):
        if name not in schemas:
            fail(f"schema {name} missing")
    # Every required field is defined, allOf parts merged (a typo would make every answer fail
    # or, with open schemas, never be checked).
    for name in schemas:
        merged = api.flat(pointer("components", "schemas", name))
        for field in merged["required"]:
            if field not in merged["properties"]:
                fail(f"schema {name}: required {field!r} is not a property")
    # The counters and times of every record, where they are and how they are written.
    for name, timed in RECORD_SCHEMAS.items():
        merged = api.flat(pointer("components", "schemas", name))
        for field in COUNTERS:
            prop = api.resolve(merged["properties"].get(field, {}))
            if prop.get("type") != "integer" or prop.get("minimum") != 0:
                fail(f"{name}.{field} must be an integer, minimum 0: {prop}")
        for field in TIMES if timed else ():
            prop = api.resolve(merged["properties"].get(field, {}))
            nullable = prop.get("nullable") is True or prop.get("type") == ["string", "null"]
            if not (nullable and prop.get("format") == "date-time"):
                fail(f"{name}.{field} must be a nullable date-time string: {prop}")
        missing = (set(COUNTERS) | (set(TIMES) if timed else set())) - set(merged["required"])
        if missing:
            fail(f"{name} does not require {sorted(missing)}")


def check_validator_catches_errors(drec: Drec) -> None:
    """The validation must reject a repository with a field missing or of the wrong type, or with
    a field the document does not have (where the document says so: 3.1's unevaluatedProperties)."""
    for name, api in (("served", drec.openapi), ("file", drec.file_openapi)):
        if api is None and name == "served":
            fail("no OpenAPI document")
        if api is not None:
            check_validation_of(api, drec, f"{name} {api.version}")


def check_validation_of(api: OpenApi, drec: Drec, which: str) -> None:
    good = drec.api("/api/v1/repositories/team/app")
    schema = pointer("components", "schemas", "Repository")
    expect_equal(f"{which}: errors of a real repository", api.validate(schema, good), [])
    mutations = {
        "numpulls missing": lambda r: r.pop("numpulls"),
        "numdeletes missing": lambda r: r.pop("numdeletes"),
        "numpulls a string": lambda r: r.__setitem__("numpulls", "4"),
        "numpulls a boolean": lambda r: r.__setitem__("numpulls", True),
        "numpulls a fraction": lambda r: r.__setitem__("numpulls", 1.5),
        "numpulls negative": lambda r: r.__setitem__("numpulls", -1),
        "numchecks null": lambda r: r.__setitem__("numchecks", None),
        "repositoryname null": lambda r: r.__setitem__("repositoryname", None),
        "firstpushed missing": lambda r: r.pop("firstpushed"),
        "lastpulled a number": lambda r: r.__setitem__("lastpulled", 1700000000000),
        "lastpulled not a time": lambda r: r.__setitem__("lastpulled", "yesterday"),
        "actors an object": lambda r: r.__setitem__("actors", {"alice": 1}),
        "an actor a number": lambda r: r.__setitem__("actors", ["alice", 7]),
        "tags missing": lambda r: r.pop("tags"),
    }
    if api.version.startswith("3.1."):
        mutations["an undocumented field"] = lambda r: r.__setitem__("numstarz", 0)
    for what, mutate in mutations.items():
        bad = json.loads(json.dumps(good))
        mutate(bad)
        if not api.validate(schema, bad):
            fail(f"{which}: the validation accepts a repository with {what}")
    # null where the schema allows it is fine.
    nulled = dict(good, lastpulled=None, firstpulled=None)
    expect_equal(f"{which}: errors with a null time", api.validate(schema, nulled), [])
    # enum, through the list's format parameter schema
    if not api.validate(pointer("components", "parameters", "format", "schema"), "xml"):
        fail(f"{which}: the validation accepts a value outside an enum")
    # a wrong tag entry inside a list
    tags = drec.api("/api/v1/repositories/team/app/-/tags")
    tags["tags"][0]["deleted"] = "yes"
    if not api.validate(pointer("components", "schemas", "TagList"), tags):
        fail(f"{which}: the validation accepts a tag whose deleted is a string")
    # a summary day without its day, and totals without a counter
    summary = drec.api("/api/v1/summary")
    del summary["days"][0]["day"]
    if not api.validate(pointer("components", "schemas", "Summary"), summary):
        fail(f"{which}: the validation accepts a day without its day")
    summary = drec.api("/api/v1/summary")
    del summary["totals"]["numindexpulls"]
    if not api.validate(pointer("components", "schemas", "Summary"), summary):
        fail(f"{which}: the validation accepts totals without numindexpulls")
    # a window without a counter, inside a list item
    listing = drec.api("/api/v1/repositories?window=7d&limit=1")
    del listing["repositories"][0]["window"]["numpushs"]
    if not api.validate(pointer("components", "schemas", "RepositoryList"), listing):
        fail(f"{which}: the validation accepts a window without numpushs")


def check_ingest(drec: Drec) -> None:
    for i, (content_type, events, ignored) in enumerate(ENVELOPES):
        r = drec.post_events(events, content_type)
        if r.status != 200:
            fail(f"envelope {i}: status {r.status}: {r.body[:300]!r}")
        expect_equal(f"envelope {i} answer", r.json, {"events": len(events), "ignored": ignored})


def check_ingest_duplicates(drec: Drec) -> None:
    # Redelivered envelopes (the registry retries with the same ids) change nothing; the
    # exact counts checked later would show a double count.
    for i in (1, 2, 13):
        content_type, events, ignored = ENVELOPES[i]
        r = drec.post_events(events, content_type).expect(200)
        expect_equal(
            f"redelivered envelope {i}", r.json, {"events": len(events), "ignored": ignored}
        )


def check_ingest_errors(drec: Drec) -> None:
    stray = [push("bad/body", at(0, "01:00:00"), digest("99"), 1, "t", "mallory")]
    # 401: no credentials, wrong token, wrong basic password.
    for auth in (None, "Bearer wrong-token", "Basic " + base64.b64encode(b"reader:nope").decode()):
        r = drec.post_events(stray, auth=auth).expect(401)
        if "bearer" not in r.headers.get("WWW-Authenticate", "").lower():
            fail(f"401 without a Bearer WWW-Authenticate: {r.headers.get('WWW-Authenticate')!r}")
        r.json  # noqa: B018 - the error body is JSON (validated against the document)
    # 415
    drec.error(
        "/events",
        415,
        "Content-Type",
        method="POST",
        headers={"Content-Type": "text/plain"},
        body=json.dumps({"events": stray}).encode(),
    )
    # 400: not JSON (a truncated envelope), and no events array.
    truncated = json.dumps({"events": stray}).encode()[:-3]
    drec.error("/events", 400, method="POST", headers={"Content-Type": V1_EVENTS}, body=truncated)
    drec.error(
        "/events",
        400,
        method="POST",
        headers={"Content-Type": V1_EVENTS},
        body=json.dumps({"events": stray[0]}).encode(),
    )
    drec.error(
        "/events",
        400,
        method="POST",
        headers={"Content-Type": V1_EVENTS},
        body=json.dumps({"event": stray}).encode(),
    )
    # 405 for other methods on the route.
    r = drec.request("GET", "/events").expect(405)
    expect_equal("Allow of /events", r.headers.get("Allow"), "POST")
    r.json  # noqa: B018
    drec.request(
        "PUT",
        "/events",
        headers={"Content-Type": V1_EVENTS},
        body=json.dumps({"events": stray}).encode(),
    ).expect(405)
    # 413: a Content-Length over the limit is refused before the body is read.
    response = raw_oversized_post(drec)
    drec.check_openapi(response)
    response.expect(413)
    response.json  # noqa: B018
    # Nothing of these bodies was stored.
    drec.error("/api/v1/repositories/bad/body", 404, "bad/body")


def raw_oversized_post(drec: Drec) -> Response:
    """Announces a body over the limit and sends only a little of it."""
    sock = socket.create_connection(("127.0.0.1", drec.port), HTTP_TIMEOUT_S)
    tls = drec.tls.wrap_socket(sock, server_hostname="localhost")
    try:
        head_ = (
            f"POST /events HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: {V1_EVENTS}\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n"
        )
        tls.sendall(head_.encode() + b'{"events": [')
        resp = http.client.HTTPResponse(tls, method="POST")
        resp.begin()
        return Response("POST", "/events", resp.status, resp.headers, resp.read())
    finally:
        tls.close()


def check_api_auth(drec: Drec) -> None:
    targets = [
        "/api/v1/repositories",
        "/api/v1/repositories/team/app",
        "/api/v1/repositories/team/app/-/tags",
        "/api/v1/repositories/team/app/-/daily",
        "/api/v1/summary",
        "/api/v1/repositories/nope",
    ]
    wrong = [
        None,
        "Bearer wrong-token",
        "Bearer",
        "Basic " + base64.b64encode(f"{BASIC_USER}:wrong".encode()).decode(),
        f"Token {TOKEN}",
        "Basic !!!notbase64",
    ]
    for target in targets:
        for auth in wrong:
            r = drec.request("GET", target, auth=auth)
            if r.status != 401:
                fail(f"GET {target} with Authorization {auth!r}: status {r.status}, expected 401")
            challenge = r.headers.get("WWW-Authenticate", "")
            if "bearer" not in challenge.lower() or "basic" not in challenge.lower():
                fail(f"GET {target}: WWW-Authenticate {challenge!r} should offer Bearer and Basic")
            if "error" not in r.json:
                fail(f"GET {target}: 401 body {r.body!r}")
    # basic credentials are as good as the token
    expect_equal(
        "list with basic auth",
        drec.api("/api/v1/repositories", auth="basic"),
        drec.api("/api/v1/repositories"),
    )


def check_head(drec: Drec) -> None:
    """HEAD is accepted like GET (Allow: GET, HEAD) and its answer carries no body (RFC 9110
    9.3.2): a body would be read as the next response on a kept-alive connection. The HEAD and
    a GET are sent together on one connection, the GET with `Connection: close`, and the bytes
    are read to the end: right after the HEAD answer's header must come the GET's status line."""
    for target, auth in (
        ("/api/v1/repositories", "bearer"),
        ("/api/v1/repositories/team/app", "bearer"),
        ("/api/v1/summary", "bearer"),
        ("/healthz", None),
        ("/metrics", None),
    ):
        authorization = "".join(f"{k}: {v}\r\n" for k, v in drec.auth_header(auth).items())
        sock = socket.create_connection(("127.0.0.1", drec.port), HTTP_TIMEOUT_S)
        tls = drec.tls.wrap_socket(sock, server_hostname="localhost")
        try:
            tls.sendall(
                f"HEAD {target} HTTP/1.1\r\nHost: localhost\r\n{authorization}\r\n"
                "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
            )
            data = b""
            while len(data) < 1 << 20:
                chunk = tls.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            tls.close()
        head_end = data.find(b"\r\n\r\n")
        if not data.startswith(b"HTTP/1.1 200 ") or head_end < 0:
            fail(f"HEAD {target}: answer {data[:200]!r}")
        rest = data[head_end + 4 :]
        if not rest.startswith(b"HTTP/1.1 200 "):
            fail(f"HEAD {target}: the answer carries a body: {rest[:80]!r}...")
        if not rest.endswith(b"\r\n\r\nok\n"):
            fail(f"GET /healthz after HEAD {target}: {rest[:200]!r}")


def check_api_methods(drec: Drec) -> None:
    for method, target in (
        ("POST", "/api/v1/repositories"),
        ("PUT", "/api/v1/repositories/team/app"),
        ("DELETE", "/api/v1/repositories/team/app"),
        ("PATCH", "/api/v1/repositories/team/app/-/tags"),
        ("POST", "/api/v1/summary"),
        ("POST", "/api/v1/openapi.json"),
    ):
        r = drec.request(method, target, headers={"Content-Type": "application/json"}, body=b"{}")
        r.expect(405)
        expect_equal(f"Allow of {method} {target}", r.headers.get("Allow"), "GET, HEAD")
        if "error" not in r.json:
            fail(f"{method} {target}: 405 body {r.body!r}")
    # Without credentials the method does not matter: 401 first, nothing is revealed.
    drec.request("POST", "/api/v1/repositories", auth=None).expect(401)


def check_repository(drec: Drec, name: str) -> None:
    expect_equal(
        f"GET /api/v1/repositories/{name}", drec.api(f"/api/v1/repositories/{name}"), REPOS[name]
    )


def check_repository_encoded(drec: Drec) -> None:
    expect_equal("team%2Fapp", drec.api("/api/v1/repositories/team%2Fapp"), REPOS["team/app"])
    expect_equal(
        "team%2Fmulti/-/tags",
        drec.api("/api/v1/repositories/team%2Fmulti/-/tags"),
        {"repository": "team/multi", "tags": TAGS["team/multi"]},
    )
    expect_equal(
        "%74eam/old", drec.api("/api/v1/repositories/%74eam/old")["repositoryname"], "team/old"
    )


def check_not_found(drec: Drec) -> None:
    drec.error("/api/v1/repositories/nope", 404, "nope")
    drec.error("/api/v1/repositories/team", 404, "team")  # a prefix, not a repository
    drec.error("/api/v1/repositories/team/app/extra", 404)
    drec.error("/api/v1/repositories/TEAM/APP", 404)  # names are case-sensitive
    for sub in ("tags", "digests", "actors", "daily"):
        drec.error(f"/api/v1/repositories/nope/x/-/{sub}", 404, "nope/x")
    drec.error("/api/v1/repositories/team/app/-/bogus", 404, "bogus")
    drec.error("/api/v1/bogus", 404)
    drec.error("/api/v2/repositories", 404)
    drec.error("/nothing-here", 404)


def check_sub_resource_parameters(drec: Drec) -> None:
    for target in (
        "/api/v1/repositories/team/app?x=1",
        "/api/v1/repositories/team/app/-/tags?sort=tag",
        "/api/v1/repositories/team/app/-/digests?limit=1",
        "/api/v1/repositories/team/app/-/actors?offset=0",
    ):
        drec.error(target, 400, "parameter")


def check_tags(drec: Drec, name: str) -> None:
    expect_equal(
        f"tags of {name}",
        drec.api(f"/api/v1/repositories/{name}/-/tags"),
        {"repository": name, "tags": TAGS[name]},
    )


def check_digests(drec: Drec, name: str) -> None:
    expect_equal(
        f"digests of {name}",
        drec.api(f"/api/v1/repositories/{name}/-/digests"),
        {"repository": name, "digests": DIGESTS[name]},
    )


def check_actors(drec: Drec, name: str) -> None:
    expect_equal(
        f"actors of {name}",
        drec.api(f"/api/v1/repositories/{name}/-/actors"),
        {"repository": name, "actors": ACTORS[name]},
    )


def check_daily_default(drec: Drec, name: str) -> None:
    body = drec.api(f"/api/v1/repositories/{name}/-/daily")
    expected = expected_days([name], 0, 29)
    if len(expected) != 30 or expected[-1]["day"] != TODAY.isoformat():
        raise AssertionError("test bug: default range")
    expect_equal(
        f"daily of {name} (default: the 30 days ending today)",
        body,
        {"repository": name, "days": expected},
    )


def check_daily_ranges(drec: Drec) -> None:
    def daily(name, frm, to):
        return drec.api(
            f"/api/v1/repositories/{name}/-/daily" + q(**{"from": day(frm), "to": day(to)})
        )

    expect_equal(
        "team/app 40..35 days ago",
        daily("team/app", 40, 35),
        {"repository": "team/app", "days": expected_days(["team/app"], 35, 40)},
    )
    expect_equal(
        "lib/hot 100..0 days ago",
        daily("lib/hot", 100, 0),
        {"repository": "lib/hot", "days": expected_days(["lib/hot"], 0, 100)},
    )
    body = daily("lib/hot", 15, 15)
    expect_equal(
        "lib/hot one day",
        body["days"],
        [{"day": day(15), **counts(numpulls=2)}],
    )
    # Only `from`: up to today. Only `to`: the 30 days ending at `to`.
    body = drec.api("/api/v1/repositories/team/app/-/daily" + q(**{"from": day(40)}))
    expect_equal("team/app from 40 days ago", body["days"], expected_days(["team/app"], 0, 40))
    body = drec.api("/api/v1/repositories/team/app/-/daily" + q(to=day(3)))
    expect_equal("team/app to 3 days ago", body["days"], expected_days(["team/app"], 3, 32))
    # The longest range allowed: 3660 days.
    body = drec.api(
        "/api/v1/repositories/team/old/-/daily" + q(**{"from": day(MAX_DAYS - 1), "to": day(0)})
    )
    if len(body["days"]) != MAX_DAYS:
        fail(f"{MAX_DAYS}-day range: {len(body['days'])} entries")
    expect_equal(
        "team/old in a 3660-day range",
        [d for d in body["days"] if d["numpulls"] or d["numpushs"]],
        [day_entry(DAYS["team/old"], 100), day_entry(DAYS["team/old"], 90)],
    )


def check_daily_errors(drec: Drec) -> None:
    base = "/api/v1/repositories/team/app/-/daily"
    drec.error(base + q(**{"from": day(1), "to": day(2)}), 400, "from", "to")
    drec.error(base + q(**{"from": "2024-13-01"}), 400, "from", "2024-13-01")
    drec.error(base + q(to="2023-02-29"), 400, "to")
    drec.error(base + q(**{"from": "yesterday"}), 400, "from")
    drec.error(base + q(**{"from": day(1) + "T00:00:00Z"}), 400, "from")
    drec.error(base + q(window="30d"), 400, "window")
    drec.error(base + q(**{"from": day(MAX_DAYS), "to": day(0)}), 400, str(MAX_DAYS))
    drec.error(base + q(**{"from": "0001-01-01", "to": "9999-12-31"}), 400)


def check_summary(drec: Drec) -> None:
    body = drec.api("/api/v1/summary")
    totals = {"repositories": len(REPOS)}
    for c in COUNTERS:
        totals[c] = sum(r[c] for r in REPOS.values())
    for t in TIMES:
        values = [r[t] for r in REPOS.values() if r[t] is not None]
        totals[t] = (min if t.startswith("first") else max)(values) if values else None
    # By hand, as a cross-check of the computation above.
    expect_equal(
        "summary totals (hand)",
        totals,
        {
            "repositories": 7,
            "numpulls": 14,
            "numpushs": 8,
            "numchecks": 3,
            "numindexpulls": 1,
            "numdeletes": 1,
            "numattachmentpushes": 0,
            "numattachmentpulls": 0,
            "firstpushed": T(100, "10:00:00.000"),
            "lastpushed": T(0, "08:00:00.000"),
            "firstpulled": T(90, "10:00:00.000"),
            "lastpulled": T(0, "00:00:00.000"),
        },
    )
    expect_equal(
        "summary (default: the 30 days ending today)",
        body,
        {"from": day(29), "to": day(0), "totals": totals, "days": expected_days(NAMES, 0, 29)},
    )
    body = drec.api("/api/v1/summary" + q(**{"from": day(100), "to": day(90)}))
    expect_equal(
        "summary 100..90 days ago",
        body,
        {"from": day(100), "to": day(90), "totals": totals, "days": expected_days(NAMES, 90, 100)},
    )
    # A hand-computed day across repositories: today.
    today = drec.api("/api/v1/summary" + q(**{"from": day(0), "to": day(0)}))["days"]
    expect_equal(
        "summary of today",
        today,
        [{"day": day(0), **counts(numpulls=1, numpushs=1, numchecks=1)}],
    )


def check_summary_errors(drec: Drec) -> None:
    drec.error("/api/v1/summary" + q(**{"from": day(0), "to": day(1)}), 400, "from", "to")
    drec.error("/api/v1/summary" + q(**{"from": "2024-02-30"}), 400, "from", "2024-02-30")
    drec.error("/api/v1/summary" + q(to="tomorrow"), 400, "to")
    drec.error("/api/v1/summary" + q(days="30"), 400, "days")
    drec.error("/api/v1/summary" + q(**{"from": day(MAX_DAYS), "to": day(0)}), 400, str(MAX_DAYS))


def check_list_default(drec: Drec) -> None:
    body = drec.api("/api/v1/repositories")
    expect_equal(
        "list envelope",
        {k: body[k] for k in ("total", "offset", "limit")},
        {"total": 7, "offset": 0, "limit": 100},
    )
    expect_equal(
        "list names (default sort: repositoryname)",
        [r["repositoryname"] for r in body["repositories"]],
        NAMES,
    )
    for item in body["repositories"]:
        name = item["repositoryname"]
        expected = {k: v for k, v in REPOS[name].items() if k != "tags"}
        got = {k: v for k, v in item.items() if k != "tags"}
        expect_equal(f"list item {name}", got, expected)
        if "window" in item:
            fail(f"list item {name} has a window without the window parameter")
    # trailing slash is the same list
    expect_equal("list with a trailing slash", drec.api("/api/v1/repositories/"), body)


def check_list_item_tags(drec: Drec) -> None:
    """A listed repository must not claim to have no tags when it has live tags: `tags` is either
    left out of list items or the live tag list, as in GET /api/v1/repositories/{name}."""
    body = drec.api("/api/v1/repositories")
    wrong = [
        f"{r['repositoryname']}: {r['tags']} (live: {REPOS[r['repositoryname']]['tags']})"
        for r in body["repositories"]
        if "tags" in r and r["tags"] != REPOS[r["repositoryname"]]["tags"]
    ]
    if wrong:
        fail("list items carry wrong tags:\n    " + "\n    ".join(wrong))


def check_sort(drec: Drec, field: str) -> None:
    for descending in (False, True):
        value = ("-" if descending else "") + field
        expect_equal(
            f"sort={value}", list_names(drec, q(sort=value)), sort_names(field, descending)
        )
    # Hand-written orders for two fields, as a cross-check of sort_names.
    if field == "numpulls":
        expect_equal(
            "sort=-numpulls (hand)",
            list_names(drec, q(sort="-numpulls")),
            ["lib/hot", "team/app", "team/multi", "team/old", "teams/x", "lib/never", "zeta"],
        )
    if field == "lastpulled":
        expect_equal(
            "sort=lastpulled (hand)",
            list_names(drec, q(sort="lastpulled")),
            ["lib/never", "zeta", "team/old", "teams/x", "team/app", "team/multi", "lib/hot"],
        )


def check_sort_errors(drec: Drec) -> None:
    base = "/api/v1/repositories"
    drec.error(base + q(sort="stars"), 400, "stars")
    drec.error(base + q(sort="-bogus"), 400, "bogus")
    drec.error(base + q(sort=""), 400, "sort")
    drec.error(base + q(sort="--numpulls"), 400, "numpulls")
    drec.error(base + q(sort="NumPulls"), 400, "NumPulls")
    drec.error(base + q(sort="numstars"), 400, "numstars")
    drec.error(base + q(sort="window.numpulls"), 400, "window")
    drec.error(base + q(sort="-window.numchecks"), 400, "window")
    drec.error(base + q(sort="window.bogus", window="30d"), 400, "window.bogus")
    drec.error(base + q(sort="window.repositoryname", window="30d"), 400, "window.repositoryname")


def check_prefix(drec: Drec) -> None:
    cases = {
        "team/": ["team/app", "team/multi", "team/old"],
        "team": ["team/app", "team/multi", "team/old", "teams/x"],
        "lib/": ["lib/hot", "lib/never"],
        "team/app": ["team/app"],
        "z": ["zeta"],
        "": NAMES,
        "nothing": [],
        "team/%": [],
        "team/_": [],
    }
    for prefix, names in cases.items():
        body = drec.api("/api/v1/repositories" + q(prefix=prefix))
        expect_equal(
            f"prefix={prefix!r}", [r["repositoryname"] for r in body["repositories"]], names
        )
        expect_equal(f"total of prefix={prefix!r}", body["total"], len(names))
    expect_equal(
        "prefix=team%2F",
        list_names(drec, "?prefix=team%2F"),
        ["team/app", "team/multi", "team/old"],
    )
    expect_equal(
        "prefix=team/ sort=-numpulls",
        list_names(drec, q(prefix="team/", sort="-numpulls")),
        ["team/app", "team/multi", "team/old"],
    )


def check_actor_filter(drec: Drec) -> None:
    cases = {
        "alice": ["team/app", "team/multi", "teams/x"],
        "bob": ["team/app", "team/multi"],
        "carol": ["team/app", "team/old"],
        "dave": ["lib/hot"],
        "eve": ["lib/hot"],
        "mallory": [],
        "Alice": [],
    }
    for name, repos in cases.items():
        body = drec.api("/api/v1/repositories" + q(actor=name))
        expect_equal(f"actor={name}", [r["repositoryname"] for r in body["repositories"]], repos)
        expect_equal(f"total of actor={name}", body["total"], len(repos))
    expect_equal(
        "actor=alice prefix=team/",
        list_names(drec, q(actor="alice", prefix="team/")),
        ["team/app", "team/multi"],
    )


def check_pulled_before(drec: Drec) -> None:
    cases = {
        day(30): ["lib/never", "team/old", "zeta"],
        day(3): ["lib/never", "team/old", "teams/x", "zeta"],  # team/app: pulled on day 3
        day(2): ["lib/never", "team/app", "team/old", "teams/x", "zeta"],
        # RFC 3339 times: strictly before.
        T(3, "06:00:00.000"): ["lib/never", "team/old", "teams/x", "zeta"],
        T(3, "06:00:00.001"): ["lib/never", "team/app", "team/old", "teams/x", "zeta"],
        f"{day(3)}T08:00:00.001+02:00": ["lib/never", "team/app", "team/old", "teams/x", "zeta"],
        f"{day(3)}T06:00:00.0009Z": ["lib/never", "team/old", "teams/x", "zeta"],
        "1970-01-01": ["lib/never", "zeta"],  # never pulled counts as pulled before anything
    }
    for value, names in cases.items():
        body = drec.api("/api/v1/repositories" + q(pulled_before=value))
        expect_equal(
            f"pulled_before={value}", [r["repositoryname"] for r in body["repositories"]], names
        )
        expect_equal(f"total of pulled_before={value}", body["total"], len(names))


def check_pushed_after(drec: Drec) -> None:
    cases = {
        day(20): ["team/app", "team/multi", "teams/x"],
        day(19): ["team/app", "teams/x"],
        day(0): ["team/app"],
        T(20, "11:00:02.000"): ["team/app", "teams/x"],  # strictly after
        T(20, "11:00:01.999"): ["team/app", "team/multi", "teams/x"],
        f"{day(20)}T13:00:01.999+02:00": ["team/app", "team/multi", "teams/x"],
        "1970-01-01": [n for n in NAMES if n != "zeta"],  # zeta was never pushed with a tag
        "2999-01-01": [],
    }
    for value, names in cases.items():
        body = drec.api("/api/v1/repositories" + q(pushed_after=value))
        expect_equal(
            f"pushed_after={value}", [r["repositoryname"] for r in body["repositories"]], names
        )
        expect_equal(f"total of pushed_after={value}", body["total"], len(names))
    expect_equal(
        "pushed_after and pulled_before (pushed lately, not pulled lately)",
        list_names(drec, q(pushed_after=day(15), pulled_before=day(2))),
        ["team/app", "teams/x"],
    )


def check_not_pulled_since(drec: Drec) -> None:
    """The cleanup question: N days = today and the N - 1 days before."""
    cases = {
        "1d": ["lib/never", "team/app", "team/multi", "team/old", "teams/x", "zeta"],
        "2d": ["lib/never", "team/app", "team/multi", "team/old", "teams/x", "zeta"],
        "3d": ["lib/never", "team/app", "team/old", "teams/x", "zeta"],
        "4d": ["lib/never", "team/old", "teams/x", "zeta"],
        "30d": ["lib/never", "team/old", "zeta"],
        "90d": ["lib/never", "team/old", "zeta"],  # team/old: last pulled on day 90
        "91d": ["lib/never", "zeta"],
        "92d": ["lib/never", "zeta"],
        f"{MAX_DAYS}d": ["lib/never", "zeta"],
    }
    for value, names in cases.items():
        body = drec.api("/api/v1/repositories" + q(not_pulled_since=value))
        expect_equal(
            f"not_pulled_since={value}", [r["repositoryname"] for r in body["repositories"]], names
        )
        expect_equal(f"total of not_pulled_since={value}", body["total"], len(names))
    expect_equal(
        "cleanup: team/ not pulled in 30 days, least recently pulled first",
        list_names(drec, q(prefix="team/", not_pulled_since="30d", sort="lastpulled")),
        ["team/old"],
    )
    expect_equal(
        "cleanup: not pulled in 4 days, by lastpulled",
        list_names(drec, q(not_pulled_since="4d", sort="lastpulled")),
        ["lib/never", "zeta", "team/old", "teams/x"],
    )


def check_window(drec: Drec, n: int) -> None:
    body = drec.api("/api/v1/repositories" + q(window=f"{n}d"))
    expect_equal(f"window={n}d names", [r["repositoryname"] for r in body["repositories"]], NAMES)
    for item in body["repositories"]:
        name = item["repositoryname"]
        expect_equal(f"window={n}d of {name}", item.get("window"), expected_window(name, n))
        expect_equal(
            f"window={n}d {name} all-time counters",
            {c: item[c] for c in COUNTERS},
            {c: REPOS[name][c] for c in COUNTERS},
        )


def check_window_hand(drec: Drec) -> None:
    """Boundaries written out by hand: day 29 is in a 30-day window, day 30 is not."""

    def window(n, name):
        body = drec.api("/api/v1/repositories" + q(window=f"{n}d", prefix=name))
        return body["repositories"][0]["window"]

    expect_equal(
        "lib/hot 30d",
        window(30, "lib/hot"),
        {"days": 30, "from": day(29), **counts(numpulls=5)},
    )
    expect_equal("lib/hot 7d", window(7, "lib/hot")["numpulls"], 1)
    expect_equal("lib/hot 31d", window(31, "lib/hot")["numpulls"], 6)
    expect_equal(
        "team/app 30d",
        window(30, "team/app"),
        {
            "days": 30,
            "from": day(29),
            **counts(numpulls=3, numpushs=2, numchecks=1, numdeletes=1),
        },
    )
    expect_equal("lib/never 7d checks", window(7, "lib/never")["numchecks"], 1)
    expect_equal("lib/never 6d checks", window(6, "lib/never")["numchecks"], 0)


def check_window_sort(drec: Drec) -> None:
    expect_equal(
        "trending: window=30d sort=-window.numpulls",
        list_names(drec, q(window="30d", sort="-window.numpulls")),
        ["lib/hot", "team/app", "team/multi", "teams/x", "lib/never", "team/old", "zeta"],
    )
    for n in (30, 7):
        for c in COUNTERS:
            for descending in (False, True):
                value = ("-" if descending else "") + "window." + c
                expected = sort_names(
                    c, descending, value=lambda name, c=c, n=n: expected_window(name, n)[c]
                )
                expect_equal(
                    f"window={n}d sort={value}",
                    list_names(drec, q(window=f"{n}d", sort=value)),
                    expected,
                )
    # a window with an ordinary sort and a filter
    body = drec.api("/api/v1/repositories" + q(window="7d", sort="-numpulls", prefix="team/"))
    expect_equal(
        "window=7d prefix=team/ sort=-numpulls",
        [(r["repositoryname"], r["window"]["numpulls"]) for r in body["repositories"]],
        [("team/app", 3), ("team/multi", 1), ("team/old", 0)],
    )


def check_day_parameter_errors(drec: Drec) -> None:
    base = "/api/v1/repositories"
    drec.error(base + q(window="99999d"), 400, "window")
    drec.error(base + q(window=f"{MAX_DAYS + 1}d"), 400, "window", str(MAX_DAYS))
    drec.error(base + q(not_pulled_since="99999d"), 400, "not_pulled_since")
    for bad in ("0d", "30", "d", "-5d", "30D", "1w", "3.5d", " 30d", ""):
        drec.error(base + q(window=bad), 400, "window")
        drec.error(base + q(not_pulled_since=bad), 400, "not_pulled_since")
    for key in ("pulled_before", "pushed_after"):
        for bad in (
            "2024-13-01",
            "2023-02-29",
            "yesterday",
            "2024-1-5",
            "1700000000",
            f"{day(1)}T25:00:00Z",
            f"{day(1)}T10:00:00",
            "",
        ):
            drec.error(base + q(**{key: bad}), 400, key)


def check_paging(drec: Drec) -> None:
    full = sort_names("numpulls", True)
    pages = []
    for offset in range(0, 10, 2):
        body = drec.api("/api/v1/repositories" + q(sort="-numpulls", limit=2, offset=offset))
        expect_equal(
            f"page at offset {offset}",
            {k: body[k] for k in ("total", "offset", "limit")},
            {"total": 7, "offset": offset, "limit": 2},
        )
        names = [r["repositoryname"] for r in body["repositories"]]
        expect_equal(f"page at offset {offset} names", names, full[offset : offset + 2])
        pages += names
    expect_equal("pages together", pages, full)
    for limit in (1, 7, 1000):
        body = drec.api("/api/v1/repositories" + q(limit=limit))
        expect_equal(
            f"limit={limit}", [r["repositoryname"] for r in body["repositories"]], NAMES[:limit]
        )
        expect_equal(f"limit={limit} echo", body["limit"], limit)
    body = drec.api("/api/v1/repositories" + q(offset=100))
    expect_equal(
        "offset past the end", (body["repositories"], body["total"], body["offset"]), ([], 7, 100)
    )
    body = drec.api("/api/v1/repositories" + q(prefix="team/", offset=1, limit=1))
    expect_equal(
        "filtered page",
        ([r["repositoryname"] for r in body["repositories"]], body["total"]),
        (["team/multi"], 3),
    )


def check_paging_errors(drec: Drec) -> None:
    base = "/api/v1/repositories"
    drec.error(base + q(limit=0), 400, "limit")
    drec.error(base + q(limit=1001), 400, "limit", "1000")
    drec.error(base + q(limit=-1), 400, "limit")
    drec.error(base + q(limit="ten"), 400, "limit")
    drec.error(base + q(limit=""), 400, "limit")
    drec.error(base + q(limit="1.5"), 400, "limit")
    drec.error(base + q(offset=-1), 400, "offset")
    drec.error(base + q(offset="x"), 400, "offset")
    drec.error(base + q(offset="99999999999999999999999"), 400, "offset")


def check_unknown_parameters(drec: Drec) -> None:
    base = "/api/v1/repositories"
    drec.error(base + q(foo="1"), 400, "foo")
    drec.error(base + q(Sort="numpulls"), 400, "Sort")
    drec.error(base + q(sort="numpulls", page="2"), 400, "page")
    drec.error(base + q(**{"from": day(1)}), 400, "from")


def check_format(drec: Drec) -> None:
    base = "/api/v1/repositories"
    drec.error(base + q(format="xml"), 400, "format")
    drec.error(base + q(format="CSV"), 400, "format")
    drec.error(base + q(format=""), 400, "format")
    expect_equal("format=json", drec.api(base + q(format="json")), drec.api(base))


def parse_csv(drec: Drec, query: str) -> list[dict]:
    r = drec.get("/api/v1/repositories" + query)
    if not r.content_type.startswith("text/csv"):
        fail(f"format=csv content type {r.content_type!r}")
    text = r.body.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows


def csv_row(name: str, window: int | None = None) -> list[str]:
    record = REPOS[name]
    row = [name] + [str(record[c]) for c in COUNTERS] + [record[t] or "" for t in TIMES]
    if window is not None:
        w = expected_window(name, window)
        row += [str(w[c]) for c in COUNTERS]
    return [*row, "default"]


def check_csv(drec: Drec) -> None:
    rows = parse_csv(drec, q(format="csv"))
    expect_equal("csv header", rows[0], CSV_HEADER + CSV_LAST)
    expect_equal("csv rows", rows[1:], [csv_row(n) for n in NAMES])
    rows = parse_csv(drec, q(format="csv", prefix="team/", sort="-numpulls", limit=2, offset=1))
    expect_equal(
        "csv filtered, sorted, paged", rows[1:], [csv_row("team/multi"), csv_row("team/old")]
    )
    rows = parse_csv(drec, q(format="csv", prefix="nothing"))
    expect_equal("csv of nothing", rows, [CSV_HEADER + CSV_LAST])


def check_csv_window(drec: Drec) -> None:
    rows = parse_csv(drec, q(format="csv", window="30d", sort="-window.numpulls"))
    expect_equal("csv window header", rows[0], CSV_HEADER + CSV_WINDOW_HEADER + CSV_LAST)
    expect_equal(
        "csv window rows",
        rows[1:],
        [
            csv_row(n, 30)
            for n in sort_names(
                "numpulls", True, value=lambda name: expected_window(name, 30)["numpulls"]
            )
        ],
    )


def check_metrics_names(drec: Drec) -> None:
    text = drec.get("/metrics", auth=None).body.decode()
    names = set(REPOS) | {"alice", "bob", "carol", "dave", "eve", "mallory"}
    names |= {t["tag"] for tags in TAGS.values() for t in tags}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        for value in re.findall(r'="((?:[^"\\]|\\.)*)"', line):
            if value in names or "/" in value or "sha256:" in value:
                fail(f"/metrics carries a name in a label: {line}")
    counts = {}
    for line in text.splitlines():
        m = re.fullmatch(r'drec_http_responses_total\{code="(\d+)"\} (\S+)', line)
        if m:
            counts[m[1]] = float(m[2])
    for code in ("200", "400", "401", "404", "405", "413", "415"):
        if counts.get(code, 0) < 1:
            fail(f"drec_http_responses_total has no code={code}: {counts}")


CAPTURED = Path(__file__).resolve().parent.parent / "data" / "registry-2.8"


def post_scenario(drec: Drec, name: str) -> list[dict]:
    """POSTs every envelope of a captured scenario (tests/data) as the registry sent it; returns
    its events."""
    events = []
    for envelope in json.loads((CAPTURED / f"{name}.events.json").read_text()):
        drec.post_events(envelope["events"]).expect(200)
        events.extend(envelope["events"])
    return events


def check_attachments(drec: Drec) -> None:
    signed = post_scenario(drec, "cosign-sign")
    verified = post_scenario(drec, "cosign-verify")
    sig = next(e for e in signed if e["target"].get("tag", "").endswith(".sig"))
    repo, sig_tag = sig["target"]["repository"], sig["target"]["tag"]
    subject = "sha256:" + sig_tag.removeprefix("sha256-").removesuffix(".sig")
    image_gets = [
        e
        for e in signed + verified
        if e["action"] == "pull"
        and e["request"]["method"] == "GET"
        and e["target"]["mediaType"] != BLOB
        and not e["target"].get("tag")
    ]
    record = drec.api(f"/api/v1/repositories/{urllib.parse.quote(repo)}")
    expect_equal(
        "attachment counters",
        {c: record[c] for c in ("numattachmentpushes", "numattachmentpulls", "numpushs")},
        {"numattachmentpushes": 1, "numattachmentpulls": 1, "numpushs": 0},
    )
    # Only cosign's own read of the image it signed is an image pull.
    expect_equal("image pulls beside the signature", record["numpulls"], len(image_gets))
    expect_equal("live image tags", sig_tag in record["tags"], False)
    base = f"/api/v1/repositories/{urllib.parse.quote(repo)}/-/tags"
    expect_equal("default tag list", drec.api(base)["tags"], [])
    for which in ("only", "include"):
        tags = drec.api(f"{base}?attachments={which}")["tags"]
        expect_equal(
            f"attachments={which}",
            [
                (t["tag"], t["attachment"], t["numattachmentpushes"], t["numattachmentpulls"])
                for t in tags
            ],
            [(sig_tag, True, 1, 1)],
        )
    drec.error(f"{base}?attachments=all", 400, "attachments")
    digests = drec.api(f"/api/v1/repositories/{urllib.parse.quote(repo)}/-/digests")["digests"]
    on_subject = [d for d in digests if d["digest"] == subject]
    expect_equal(
        "subject's attachment counters",
        [(d["numattachmentpushes"], d["numattachmentpulls"]) for d in on_subject],
        [(1, 1)],
    )


def ignored(drec: Drec, reason: str) -> float:
    text = drec.request("GET", "/metrics", auth=None).expect(200).body.decode()
    m = re.search(rf'^drec_events_ignored_total\{{reason="{reason}"\}} (\S+)$', text, re.M)
    if not m:
        fail(f"/metrics has no ignored count for {reason}")
    return int(float(m[1]))


def check_blob_delete(drec: Drec) -> None:
    before = ignored(drec, "unknown_digest_delete")
    pushed = post_scenario(drec, "oras-blob-push")
    deleted = post_scenario(drec, "oras-blob-delete")
    repo = deleted[-1]["target"]["repository"]
    expect_equal("the blob delete's shape", deleted[-1]["action"], "delete")
    expect_equal("the blob's repository", pushed[0]["target"]["repository"], repo)
    drec.error(f"/api/v1/repositories/{urllib.parse.quote(repo)}", 404, "unknown repository")
    expect_equal("ignored blob deletes", ignored(drec, "unknown_digest_delete") - before, 1)


# ---------------------------------------------------------------------------------------------


CLASSES_REPO = "classes/app"


def captured_pull(user_agent: str | None) -> dict:
    """A real pull event (tests/data, registry 2.8) moved to CLASSES_REPO, with a new id and,
    when given, another user agent."""
    data = Path(__file__).resolve().parent.parent / "data"
    captured = json.loads((data / "registry-2.8" / "manifest-pull-get.json").read_text())
    captured = captured["events"][0]
    captured["id"] = str(uuid.uuid4())
    captured["target"]["repository"] = CLASSES_REPO
    if user_agent is not None:
        captured["request"]["useragent"] = user_agent
    return captured


def check_classes(drec: Drec) -> None:
    base = f"/api/v1/repositories/{CLASSES_REPO}/-"
    events = [captured_pull(ua) for ua in ("containerd/v1.7.2", "containerd/v1.7.2", "curl/8.1.2")]
    events.append(captured_pull(None))  # the capture's own user agent: skopeo, in no class
    drec.post_events(events).expect(200)
    first = events[0]
    tag_name = first["target"]["tag"]
    event_day = first["timestamp"][:10]
    expected = {"ci": 1, "other": 1, "production": 2}

    def pulls(entries):
        return {e["class"]: e["numpulls"] for e in entries}

    answer = drec.api(f"{base}/classes")
    expect_equal("classes repository", answer["repository"], CLASSES_REPO)
    expect_equal("classes all time", pulls(answer["classes"]), expected)
    expect_equal("classes order", [e["class"] for e in answer["classes"]], sorted(expected))
    for entry in answer["classes"]:
        if "day" in entry or "tag" in entry or entry["lastpulled"] is None:
            fail(f"all-time class entry {entry}")
    tagged = drec.api(f"{base}/classes" + q(tag=tag_name))["classes"]
    expect_equal("classes of the tag", pulls(tagged), expected)
    expect_equal("tag of entries", {e["tag"] for e in tagged}, {tag_name})
    other_tag = drec.api(f"{base}/classes" + q(tag="nope"))["classes"]
    expect_equal("classes of another tag", other_tag, [])
    per_day = drec.api(f"{base}/classes" + q(**{"from": event_day, "to": event_day}))
    per_day = per_day["classes"]
    expect_equal("classes per day", pulls(per_day), expected)
    expect_equal("day of entries", {e["day"] for e in per_day}, {event_day})
    one_day = {"from": event_day, "to": event_day}
    daily = drec.api(f"{base}/daily" + q(**{"class": "production"}, **one_day))
    expect_equal("daily of a class", [d["numpulls"] for d in daily["days"]], [2])
    expect_equal("daily class echoed", daily.get("class"), "production")
    daily = drec.api(f"{base}/daily" + q(**{"class": "scanner"}, **one_day))
    expect_equal("daily of a class without counts", [d["numpulls"] for d in daily["days"]], [0])
    drec.error(f"{base}/classes" + q(x=1), 400, "parameter")
    drec.error(f"{base}/classes" + q(tag=tag_name, to=event_day), 400, "tag")
    drec.error(f"{base}/classes" + q(**{"from": "yesterday"}), 400, "from")
    drec.error(f"{base}/daily" + q(klass="ci"), 400, "parameter")
    drec.error("/api/v1/repositories/no/such/-/classes", 404, "unknown")
    text = drec.get("/metrics", auth=None).body.decode()
    for cls, n in expected.items():
        m = re.search(rf'^drec_events_by_class_total{{class="{cls}"}} (\d+)$', text, re.M)
        if not m or int(m[1]) < n:
            fail(f"drec_events_by_class_total for {cls}: {m and m[0]}")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_drec_options(p)
    p.add_argument(
        "--openapi-file", type=Path, help="an OpenAPI document to validate every answer against too"
    )
    args = p.parse_args()
    check_drec_options(p, args)
    return args


def run_checks(drec: Drec, checks: Checks) -> None:
    checks.run("probes without credentials", check_probes, drec)
    checks.run("openapi document", check_openapi_document, drec)
    checks.run("ingest the data set", check_ingest, drec)
    checks.run("ingest redelivered envelopes", check_ingest_duplicates, drec)
    checks.run("ingest errors 400/401/405/413/415", check_ingest_errors, drec)
    checks.run("openapi validator rejects wrong responses", check_validator_catches_errors, drec)
    checks.run("api credentials 401", check_api_auth, drec)
    checks.run("api methods 405", check_api_methods, drec)
    checks.run("HEAD without a body", check_head, drec)
    for name in NAMES:
        checks.run(f"repository {name}", check_repository, drec, name)
    checks.run("repository percent-encoded", check_repository_encoded, drec)
    checks.run("404 unknown repository and sub-resource", check_not_found, drec)
    checks.run("400 parameters on single resources", check_sub_resource_parameters, drec)
    for name in NAMES:
        checks.run(f"tags of {name}", check_tags, drec, name)
        checks.run(f"digests of {name}", check_digests, drec, name)
        checks.run(f"actors of {name}", check_actors, drec, name)
        checks.run(f"daily of {name}", check_daily_default, drec, name)
    checks.run("daily ranges", check_daily_ranges, drec)
    checks.run("daily errors", check_daily_errors, drec)
    checks.run("summary", check_summary, drec)
    checks.run("summary errors", check_summary_errors, drec)
    checks.run("list default", check_list_default, drec)
    checks.run("list items' tags", check_list_item_tags, drec)
    for field in SORT_FIELDS:
        checks.run(f"sort by {field} both ways", check_sort, drec, field)
    checks.run("sort errors", check_sort_errors, drec)
    checks.run("prefix", check_prefix, drec)
    checks.run("actor", check_actor_filter, drec)
    checks.run("pulled_before", check_pulled_before, drec)
    checks.run("pushed_after", check_pushed_after, drec)
    checks.run("not_pulled_since (cleanup)", check_not_pulled_since, drec)
    for n in (1, 7, 30, 31, 365):
        checks.run(f"window={n}d", check_window, drec, n)
    checks.run("window boundaries by hand", check_window_hand, drec)
    checks.run("window sort (trending)", check_window_sort, drec)
    checks.run("window/not_pulled_since/date errors", check_day_parameter_errors, drec)
    checks.run("offset/limit paging", check_paging, drec)
    checks.run("offset/limit errors", check_paging_errors, drec)
    checks.run("unknown parameters", check_unknown_parameters, drec)
    checks.run("format", check_format, drec)
    checks.run("format=csv", check_csv, drec)
    checks.run("format=csv with window", check_csv_window, drec)
    checks.run("attachments counted apart (cosign's captured events)", check_attachments, drec)
    checks.run("blob delete counts no delete (oras's captured events)", check_blob_delete, drec)
    checks.run("metrics carry no names", check_metrics_names, drec)
    # Last: it adds a repository the data set's checks above do not expect.
    checks.run("traffic classes by user agent", check_classes, drec)


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # run `finally`
    args = parse_args()
    args.drec = str(Path(args.drec).resolve())
    check_data_set()
    checks = Checks(catch_unexpected=True)
    drec = None
    setup_error = None
    try:
        workdir = prepare_workdir(args.workdir, WORKDIR_MARKER)
        drec = Drec(args, workdir)
        drec.start()
        run_checks(drec, checks)
    except Failure as e:
        setup_error = str(e)
    finally:
        if drec is not None:
            drec.stop()
    if setup_error:
        print(f"api: setup failed: {setup_error}")
        print("api: 0 passed, 1 failed")
        return 2
    if dt.datetime.now(dt.UTC).date() != TODAY:
        print(
            "note: the UTC day changed during the run; day-relative checks may have failed "
            "for that reason alone"
        )
    if checks.failed and drec is not None:
        print(f"--- last lines of {drec.log} ---\n{drec.log_tail()}")
    if drec is not None and drec.database:
        print(f"note: MongoDB database {drec.database} was left for inspection")
    if drec is not None and drec.schema:
        print(f"note: PostgreSQL schema {drec.schema} was left for inspection")
    validated = drec.validated if drec else 0
    print(f"api: {validated} JSON responses validated against the OpenAPI document")
    if validated == 0:
        print("FAIL no JSON response was validated against the OpenAPI document")
        checks.failed += 1
    print(f"api: {checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
