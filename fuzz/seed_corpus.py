"""Writes the seed corpora of the fuzz targets (fuzz/README.md) from the repository's real data,
so the corpora follow the data instead of being copies of it that drift:

* envelope: every notification envelope captured from registries 2.8 and 3.1 (tests/data), each
  `<name>.json` byte for byte and each envelope of a `<scenario>.events.json` on its own, plus
  one envelope per directory holding all its events (real bodies carry several);
* config: config.example.yml and every ```yaml block of README.md and docs/*.md that is a drec
  configuration (not the registry's own config.yml);
* query: the request targets listed in fuzz/seeds/api_targets.txt.

Each seed is named by the SHA-1 of its bytes, as libFuzzer names inputs.

    python3 fuzz/seed_corpus.py --source . --out build/fuzz/corpus
"""

import argparse
import hashlib
import json
import re
import shutil
from pathlib import Path

# Top-level keys of drec's configuration file: a docs block with any other key is not drec's.
CONFIG_KEYS = {
    "server",
    "auth",
    "storage",
    "counting",
    "classes",
    "registries",
    "logging",
    "log",
    "dial_info",
    "collection",
    "query",
    "pipeline",
    "reload",
    "ingest",
}
YAML_BLOCK = re.compile(r"^```ya?ml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def write(directory: Path, data: bytes) -> None:
    (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)


def envelopes(source: Path) -> list[bytes]:
    seeds = []
    # The captured notifications: tests/data/registry-<version>/, not registry-logs/ beside them.
    for capture in sorted((source / "tests" / "data").glob("registry-[0-9]*")):
        events = []
        for path in sorted(capture.glob("*.json")):
            if path.name.endswith(".events.json"):
                for envelope in json.loads(path.read_text()):
                    seeds.append(json.dumps(envelope, indent=3).encode())
                    events.extend(envelope["events"])
            else:
                seeds.append(path.read_bytes())
                events.extend(json.loads(path.read_text())["events"])
        seeds.append(json.dumps({"events": events}, separators=(",", ":")).encode())
    return seeds


def configs(source: Path) -> list[bytes]:
    seeds = [(source / "config.example.yml").read_bytes()]
    for doc in [source / "README.md", *sorted((source / "docs").glob("*.md"))]:
        for block in YAML_BLOCK.findall(doc.read_text()):
            keys = {m.group(1) for m in re.finditer(r"^([A-Za-z_]+):", block, re.MULTILINE)}
            if keys and keys <= CONFIG_KEYS:
                seeds.append(block.encode())
    return seeds


def targets(source: Path) -> list[bytes]:
    lines = (source / "fuzz" / "seeds" / "api_targets.txt").read_text().splitlines()
    return [line.encode() for line in lines if line and not line.startswith("#")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True, help="the repository")
    parser.add_argument("--out", type=Path, required=True, help="corpus/<target>/seeds go here")
    args = parser.parse_args()
    for name, seeds in (
        ("envelope", envelopes(args.source)),
        ("config", configs(args.source)),
        ("query", targets(args.source)),
    ):
        directory = args.out / name / "seeds"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        for seed in seeds:
            write(directory, seed)
        print(f"seed_corpus: {name}: {len(seeds)} seeds in {directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
