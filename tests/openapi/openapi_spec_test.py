#!/usr/bin/env python3
"""Checks docs/openapi.json, the OpenAPI document drec serves at /api/v1/openapi.json.

Why this test exists: the document is a file that the build embeds into drec; a broken document
would only show as odd failures of the API test, or not at all in the parts no answer reaches.
openapi-spec-validator checks it against the OpenAPI specification (structure, every $ref
resolves, every schema is valid JSON Schema); the checks below hold the shape the API test and
clients rely on: the five counters and four times are defined once (CounterFields, TimeFields)
and every record schema takes them with allOf, and no record has fields the document does not
list (unevaluatedProperties: false).

Usage: openapi_spec_test.py [docs/openapi.json]
Runs with the Python of scripts/install-test-tools.sh. Prints `openapi_spec: N passed, M failed`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))
from drec_harness import COUNTERS, RECORD_SCHEMAS, TIMES, Checks, fail  # noqa: E402

try:
    from openapi_spec_validator import validate
    from openapi_spec_validator.readers import read_from_filename
except ImportError as e:
    sys.exit(
        f"openapi_spec_test.py: {e}: run it with the Python that "
        "scripts/install-test-tools.sh prints"
    )

COUNTER_REF = "#/components/schemas/CounterFields"
TIME_REF = "#/components/schemas/TimeFields"


def check_specification(path: Path) -> None:
    spec, base_uri = read_from_filename(str(path))
    try:
        validate(spec, base_uri=base_uri)
    except Exception as e:  # the validator's errors are of several classes
        fail(f"{type(e).__name__}: {str(e)[:2000]}")


def check_version(doc: dict) -> None:
    if not str(doc.get("openapi", "")).startswith("3.1."):
        fail(
            f"openapi {doc.get('openapi')!r}: the document is written for 3.1 (type lists for "
            "null, unevaluatedProperties with allOf)"
        )


def check_counter_fields(schemas: dict) -> None:
    counters = schemas["CounterFields"]
    if tuple(counters.get("properties", {})) != COUNTERS:
        fail(f"CounterFields holds {list(counters.get('properties', {}))}, expected {COUNTERS}")
    if sorted(counters.get("required", [])) != sorted(COUNTERS):
        fail(f"CounterFields requires {counters.get('required')}")
    for name, prop in counters["properties"].items():
        if prop.get("type") != "integer" or prop.get("minimum") != 0:
            fail(f"CounterFields.{name} is not an integer with minimum 0: {prop}")
        if not prop.get("description"):
            fail(f"CounterFields.{name} has no description")
    if "additionalProperties" in counters or "unevaluatedProperties" in counters:
        fail("CounterFields must stay open: it is one part of an allOf")


def check_time_fields(schemas: dict) -> None:
    times = schemas["TimeFields"]
    if tuple(times.get("properties", {})) != TIMES:
        fail(f"TimeFields holds {list(times.get('properties', {}))}, expected {TIMES}")
    if sorted(times.get("required", [])) != sorted(TIMES):
        fail(f"TimeFields requires {times.get('required')}")
    for name, prop in times["properties"].items():
        schema = schemas[prop["$ref"].rsplit("/", 1)[1]] if "$ref" in prop else prop
        if schema.get("type") != ["string", "null"] or schema.get("format") != "date-time":
            fail(f"TimeFields.{name} is not an RFC 3339 string or null: {schema}")
    if "additionalProperties" in times or "unevaluatedProperties" in times:
        fail("TimeFields must stay open: it is one part of an allOf")


def check_records_compose(schemas: dict) -> None:
    for name, timed in RECORD_SCHEMAS.items():
        parts = [part.get("$ref") for part in schemas[name].get("allOf", [])]
        if COUNTER_REF not in parts:
            fail(f"{name} does not take CounterFields with allOf: {parts}")
        if timed and TIME_REF not in parts:
            fail(f"{name} does not take TimeFields with allOf: {parts}")
        if schemas[name].get("unevaluatedProperties") is not False:
            fail(f"{name} lacks unevaluatedProperties: false (undocumented fields would pass)")


def check_defined_once(schemas: dict) -> None:
    """No schema but CounterFields and TimeFields defines a counter or a time."""
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            for key in (
                node.get("properties", {}) if isinstance(node.get("properties"), dict) else ()
            ):
                if key in COUNTERS + TIMES:
                    found.append(f"{where}/properties/{key}")
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    for name, schema in schemas.items():
        if name not in ("CounterFields", "TimeFields"):
            walk(schema, f"#/components/schemas/{name}")
    if found:
        fail("counters or times defined outside CounterFields/TimeFields: " + ", ".join(found))


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "openapi.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    schemas = doc.get("components", {}).get("schemas", {})
    checks = Checks(catch_unexpected=True)
    checks.run("openapi-spec-validator", check_specification, path)
    checks.run("OpenAPI 3.1", check_version, doc)
    checks.run("CounterFields: the five counters", check_counter_fields, schemas)
    checks.run("TimeFields: the four times", check_time_fields, schemas)
    checks.run("records compose them with allOf", check_records_compose, schemas)
    checks.run("counters and times defined once", check_defined_once, schemas)
    print(f"openapi_spec: {checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
