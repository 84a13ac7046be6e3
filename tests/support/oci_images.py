"""OCI images and registry helpers shared by the end-to-end tests that drive a real registry.

Why it exists: registry_e2e.py and backfill_e2e.py both build the same small images (umoci) and
the same multi-arch index, and give the registry htpasswd users; one copy keeps them alike.
Python standard library only; tools: umoci.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import warnings
from pathlib import Path

from drec_harness import Failure

OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def run(*argv: str, capture: bool = False) -> str:
    """Runs a tool; a failure names the command and shows its output."""
    try:
        proc = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise Failure(f"{' '.join(argv)} did not finish in 120 s") from None
    if proc.returncode != 0:
        raise Failure(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr}{proc.stdout}")
    return proc.stdout if capture else ""


@dataclasses.dataclass
class Image:
    ref: str  # name inside the OCI layout
    digest: str
    index: bool
    children: list[str]  # child manifest digests of an index
    layer: str  # a layer digest, for raw blob requests (images only)


def build_images(layout: Path, scratch: Path) -> dict[str, Image]:
    """Two small single-arch images (umoci) and a hand-written OCI index referencing both."""
    run("umoci", "init", "--layout", str(layout))
    images = {}
    for ref, arch in (("amd64", "amd64"), ("arm64", "arm64")):
        image = f"{layout}:{ref}"
        content = scratch / f"{ref}.txt"
        content.write_text(f"drec e2e image for linux/{arch}\n")
        run("umoci", "new", "--image", image)
        run("umoci", "insert", "--image", image, str(content), "/drec-e2e.txt")
        run("umoci", "config", "--image", image, "--os", "linux", "--architecture", arch)
    index_json = json.loads((layout / "index.json").read_text())
    descriptors = {
        d["annotations"]["org.opencontainers.image.ref.name"]: d for d in index_json["manifests"]
    }
    for ref, descriptor in descriptors.items():
        manifest = json.loads((layout / "blobs" / "sha256" / descriptor["digest"][7:]).read_bytes())
        images[ref] = Image(ref, descriptor["digest"], False, [], manifest["layers"][0]["digest"])
    children = []
    for ref, arch in (("amd64", "amd64"), ("arm64", "arm64")):
        child = {k: v for k, v in descriptors[ref].items() if k != "annotations"}
        children.append(child | {"platform": {"architecture": arch, "os": "linux"}})
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    (layout / "blobs" / "sha256" / digest[7:]).write_bytes(body)
    index_json["manifests"].append(
        {
            "mediaType": OCI_INDEX,
            "digest": digest,
            "size": len(body),
            "annotations": {"org.opencontainers.image.ref.name": "multi"},
        }
    )
    (layout / "index.json").write_text(json.dumps(index_json))
    images["multi"] = Image("multi", digest, True, [c["digest"] for c in children], "")
    return images


def bcrypt_hash(password: str) -> str | None:
    """The registry's htpasswd accepts bcrypt only; Python has it via `crypt` up to 3.12.

    Cost 4 (the minimum) because the registry checks the password on every request.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # noqa: PLC0415 - optional (gone in 3.13) and deprecated
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)) or None
    except (ImportError, ValueError, OSError):
        return None
