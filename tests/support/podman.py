"""Podman on these machines, the local Debian 12 base images, and drec's container image.

Why it exists: the container tests (the bare Debian 12 test, the image test, the compose and
Kubernetes tests) all need the same things: podman with runc and a containers.conf this machine
accepts, a Debian 12 root file system made locally with debootstrap (no container registry is
reachable; cached outside the clone in ${XDG_CACHE_HOME:-~/.cache}/drec/bookworm-rootfs), and
the image the Dockerfile builds. One copy keeps them from drifting apart. Standard library only.

Use from a test program (which puts tests/support on sys.path, like drec_harness):

    podman = podman_or_skip(workdir)          # raises Unavailable: exit 77 with its message
    image = ensure_drec_image(podman, source) # "localhost/drec:test-<hash>", built if missing
    podman.run("run", "--rm", image, "--version")

or from the command line (what the ctest fixture `drec_image` runs; prints the image's name,
exits 77 where podman cannot run):

    python3 tests/support/podman.py build-image --source . --workdir /tmp/drec-image
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import fnmatch
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SKIP = 77
RUNTIME = "/usr/sbin/runc"
# runc, not crun (crun refuses hybrid cgroup hierarchies); limits the process may set without
# CAP_SYS_RESOURCE; cgroupfs, as there may be no systemd to manage cgroups.
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]

[engine]
cgroup_manager = "cgroupfs"
"""
# The whole minbase root file system, for the bare Debian 12 test.
BARE_IMAGE = "localhost/drec-bookworm:minbase"
# The Dockerfile's two bases, imported from the same root file system when no registry gives
# them: the build stage's as is, the run stage's trimmed like Debian's own slim image.
DEBIAN_IMAGE = "docker.io/library/debian:bookworm"
DEBIAN_SLIM_IMAGE = "docker.io/library/debian:bookworm-slim"
# drec's image: the build inputs' hash names one build; `latest` of the tests names the last.
DREC_IMAGE_REPOSITORY = "localhost/drec"
DREC_IMAGE = f"{DREC_IMAGE_REPOSITORY}:test"
# What Debian's slim images leave out (their /etc/dpkg/dpkg.cfg.d/docker), also for packages
# installed later.
SLIM_DPKG_EXCLUDES = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/en*
"""
SLIM_TAR_EXCLUDES = (
    "./var/cache/apt/archives/*.deb",
    "./var/lib/apt/lists/*",
    "./usr/share/doc/*/[!c]*",
    "./usr/share/man/*",
    "./usr/share/info/*",
    "./usr/share/locale/[!e]*",
)


class Unavailable(Exception):
    """Podman cannot run containers here (not root, a tool missing, podman refuses): skip."""


def log(message: str) -> None:
    print(f"[podman {time.strftime('%H:%M:%S')}] {message}", flush=True)


def tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def cache_root() -> Path:
    """drec's cache outside the clone: ${XDG_CACHE_HOME:-~/.cache}/drec."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "drec"


@contextlib.contextmanager
def cache_lock(name: str):
    """One process at a time makes a cached thing (two tests may want the image at once)."""
    path = cache_root() / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def debian_mirrors() -> tuple[str, str]:
    """The Debian and Debian security mirrors of this machine's apt sources (defaults if none)."""
    main, security = "http://deb.debian.org/debian", "http://deb.debian.org/debian-security"
    found_main = found_security = None
    files = ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*"))]
    for name in files:
        try:
            text = Path(name).read_text()
        except OSError:
            continue
        entries = []  # (uris, suites)
        if name.endswith(".sources"):
            for stanza in text.split("\n\n"):
                fields = {}
                for line in stanza.splitlines():
                    if ":" in line and not line.startswith(("#", " ")):
                        key, value = line.split(":", 1)
                        fields[key.strip().lower()] = value.split()
                entries.append((fields.get("uris", []), fields.get("suites", [])))
        else:
            for line in text.splitlines():
                words = [w for w in line.split() if not w.startswith("[")]
                if len(words) >= 3 and words[0] == "deb":
                    entries.append(([words[1]], [words[2]]))
        for uris, suites in entries:
            for uri in uris:
                if "bookworm" in suites and found_main is None:
                    found_main = uri.rstrip("/")
                if "bookworm-security" in suites and found_security is None:
                    found_security = uri.rstrip("/")
    return found_main or main, found_security or security


class Podman:
    """podman with runc and a containers.conf (in `workdir`) this machine accepts."""

    def __init__(self, workdir: Path):
        workdir.mkdir(parents=True, exist_ok=True)
        conf = workdir / "containers.conf"
        conf.write_text(CONTAINERS_CONF)
        self.workdir = workdir
        self.env = dict(os.environ, CONTAINERS_CONF=str(conf))

    def cmd(self, *args: str) -> list[str]:
        """The command line of `podman args...` (for Popen; `run` runs it)."""
        return ["podman", "--runtime", RUNTIME, *args]

    def run(self, *args, check=True, capture=True, timeout=600, **kwargs):
        """Runs `podman args...`; `check` raises AssertionError with its output on failure."""
        result = subprocess.run(
            self.cmd(*args),
            check=False,  # the caller's `check` decides, with the command's output in the error
            env=self.env,
            text=True,
            timeout=timeout,
            capture_output=capture,
            **kwargs,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"podman {' '.join(args[:3])} failed ({result.returncode}):\n"
                f"{result.stdout or ''}{result.stderr or ''}"
            )
        return result

    def exists(self, image: str) -> bool:
        """Whether local storage has `image`."""
        return self.run("image", "exists", image, check=False).returncode == 0

    def image_id(self, image: str) -> str:
        return self.run("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()

    def image_size(self, image: str) -> int:
        """The image's size in bytes (uncompressed, all layers), as `podman images` shows it."""
        return int(self.run("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())


def podman_or_skip(workdir: Path, tools: tuple[str, ...] = ()) -> Podman:
    """A Podman that can start containers here, or Unavailable saying why not.

    Needs root (rootful podman; debootstrap), podman, runc, debootstrap, tar and `tools`, and a
    working `podman info`. Whether a container really starts is `probe`'s business, as it needs
    an image.
    """
    if os.geteuid() != 0:
        raise Unavailable("needs root (debootstrap, rootful podman)")
    for tool in ("podman", "debootstrap", "tar", *tools):
        if not shutil.which(tool):
            raise Unavailable(f"{tool} is not installed (scripts/install-deps.sh --for test)")
    if not os.access(RUNTIME, os.X_OK):
        raise Unavailable(f"{RUNTIME} is not installed (scripts/install-deps.sh --for test)")
    podman = Podman(workdir)
    info = podman.run("info", check=False)
    if info.returncode != 0:
        raise Unavailable(f"podman does not work here:\n{info.stderr}")
    return podman


def probe(podman: Podman, image: str) -> None:
    """Raises Unavailable unless a container of `image` starts (host network) and exits 0."""
    result = podman.run("run", "--rm", "--network=host", "--entrypoint", "true", image, check=False)
    if result.returncode != 0:
        raise Unavailable(f"podman cannot start a container here:\n{result.stderr}")


def ensure_rootfs() -> Path:
    """The cached Debian 12 minbase root file system (debootstrap from the apt sources' mirror)."""
    rootfs = cache_root() / "bookworm-rootfs"
    with cache_lock("bookworm-rootfs"):
        if (rootfs / "etc/debian_version").exists():
            return rootfs
        main, security = debian_mirrors()
        partial = rootfs.with_name(rootfs.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.parent.mkdir(parents=True, exist_ok=True)
        log(f"debootstrap --variant=minbase bookworm from {main} into {rootfs}")
        started = time.monotonic()
        subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(partial), main],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=1800,
        )
        # The sources a Debian 12 installation has: the release, its updates, security.
        (partial / "etc/apt/sources.list").unlink(missing_ok=True)
        (partial / "etc/apt/sources.list.d/debian.sources").write_text(
            f"Types: deb\nURIs: {main}\nSuites: bookworm bookworm-updates\nComponents: main\n"
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
            f"Types: deb\nURIs: {security}\nSuites: bookworm-security\nComponents: main\n"
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        )
        partial.rename(rootfs)
        log(f"root file system made in {time.monotonic() - started:.0f} s")
    return rootfs


def _import(podman: Podman, tar_argv: list[str], image: str) -> None:
    log(f"importing the Debian 12 root file system as {image}")
    tar = subprocess.Popen(tar_argv, stdout=subprocess.PIPE)
    try:
        podman.run("import", "-", image, stdin=tar.stdout)
    finally:
        tar.stdout.close()
        assert tar.wait() == 0, f"{' '.join(tar_argv[:4])}... failed"


def ensure_bare_image(podman: Podman) -> str:
    """BARE_IMAGE: the whole minbase root file system, imported once."""
    with cache_lock("podman-images"):
        if not podman.exists(BARE_IMAGE):
            _import(podman, ["tar", "-C", str(ensure_rootfs()), "-c", "."], BARE_IMAGE)
    return BARE_IMAGE


def ensure_debian_images(podman: Podman) -> None:
    """DEBIAN_IMAGE and DEBIAN_SLIM_IMAGE, unless storage has them (pulled, or imported before).

    The slim one leaves out what Debian's slim image does (apt's lists and archives, manuals,
    documentation but the copyrights, locales but English) and keeps it out of later installs.
    """
    with cache_lock("podman-images"):
        if not podman.exists(DEBIAN_IMAGE):
            _import(podman, ["tar", "-C", str(ensure_rootfs()), "-c", "."], DEBIAN_IMAGE)
        if not podman.exists(DEBIAN_SLIM_IMAGE):
            with tempfile.TemporaryDirectory() as extra:
                dpkg_cfg = Path(extra) / "etc/dpkg/dpkg.cfg.d"
                dpkg_cfg.mkdir(parents=True)
                (dpkg_cfg / "docker").write_text(SLIM_DPKG_EXCLUDES)
                excludes = [f"--exclude={pattern}" for pattern in SLIM_TAR_EXCLUDES]
                argv = ["tar", *excludes, "-C", str(ensure_rootfs()), "-c", "."]
                _import(
                    podman, [*argv, "-C", extra, "./etc/dpkg/dpkg.cfg.d/docker"], DEBIAN_SLIM_IMAGE
                )


def _ignore_rules(source: Path) -> list[tuple[bool, str]]:
    rules = []
    ignore = source / ".dockerignore"
    for raw in ignore.read_text().splitlines() if ignore.exists() else []:
        line = raw.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            rules.append((negated, line.lstrip("!").strip("/")))
    return rules


def _ignored(path: str, rules: list[tuple[bool, str]]) -> bool:
    """.dockerignore's rule for one path (the last matching pattern wins; a pattern matching a
    directory matches what is in it); what this repository's patterns need."""
    ignored = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for negated, pattern in rules:
        bare = pattern[3:] if pattern.startswith("**/") else None
        for prefix in prefixes:
            if fnmatch.fnmatchcase(prefix, pattern) or (
                bare is not None and fnmatch.fnmatchcase(prefix.rsplit("/", 1)[-1], bare)
            ):
                ignored = not negated
                break
    return ignored


def build_inputs(source: Path) -> list[str]:
    """The files of the build context (the checkout's tracked and untracked-but-not-ignored
    files less .dockerignore's), plus the Dockerfile and .dockerignore themselves."""
    listed = subprocess.run(
        ["git", "-C", str(source), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    rules = _ignore_rules(source)
    files = {p for p in listed.split("\0") if p and (source / p).is_file()}
    context = {p for p in files if not _ignored(p, rules)}
    return sorted(context | {"Dockerfile", ".dockerignore"})


def inputs_hash(podman: Podman, source: Path) -> str:
    """12 hex digits naming one build: the context's files (names, modes, contents) and the two
    base images."""
    digest = hashlib.sha256()
    for name in build_inputs(source):
        path = source / name
        digest.update(f"{name}\0{os.stat(path).st_mode & 0o111:o}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for base in (DEBIAN_IMAGE, DEBIAN_SLIM_IMAGE):
        digest.update(podman.image_id(base).encode())
    return digest.hexdigest()[:12]


def _local_cas(workdir: Path) -> Path:
    """The machine's own certificate authorities (a TLS-inspecting proxy's) in one file, the
    build's `build_ca` secret: npm reaches its registry through them. Empty when there are
    none; they never enter the image."""
    bundle = workdir / "build-ca.pem"
    found = sorted(Path("/usr/local/share/ca-certificates").glob("**/*.crt"))
    bundle.write_text("".join(p.read_text() for p in found))
    return bundle


def ensure_drec_image(podman: Podman, source: Path, *, jobs: int = 2, timeout: int = 5400) -> str:
    """drec's image from `source`'s Dockerfile, built unless storage has it already.

    Returns `localhost/drec:test-<inputs_hash>`; DREC_IMAGE (`localhost/drec:test`) names it
    too. The build (`podman build --network=host --pull=never`, npm needs the network) logs into
    podman.workdir/image-build.log; a failed build raises AssertionError with its last lines.
    """
    source = source.resolve()
    ensure_debian_images(podman)
    with cache_lock("drec-image"):
        tag = f"{DREC_IMAGE_REPOSITORY}:test-{inputs_hash(podman, source)}"
        if podman.exists(tag):
            log(f"{tag} exists (the build inputs have not changed)")
        else:
            revision = subprocess.run(
                ["git", "-C", str(source), "rev-parse", "HEAD"],
                check=False,  # not a git checkout: the label says "unknown"
                capture_output=True,
                text=True,
            ).stdout.strip()
            build_log = podman.workdir / "image-build.log"
            log(f"building {tag} from {source} (log {build_log})")
            started = time.monotonic()
            with open(build_log, "w") as out:
                result = podman.run(
                    "build",
                    "--network=host",
                    "--pull=never",
                    "--layers",
                    "--secret",
                    f"id=build_ca,src={_local_cas(podman.workdir)}",
                    "--build-arg",
                    f"DREC_BUILD_JOBS={jobs}",
                    "--build-arg",
                    f"DREC_REVISION={revision or 'unknown'}",
                    "-f",
                    str(source / "Dockerfile"),
                    "-t",
                    tag,
                    str(source),
                    check=False,
                    capture=False,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                )
            if result.returncode != 0:
                raise AssertionError(
                    f"podman build failed ({result.returncode}), last lines of {build_log}:\n"
                    f"{tail(build_log)}"
                )
            log(f"built {tag} in {time.monotonic() - started:.0f} s")
        podman.run("tag", tag, DREC_IMAGE)
    return tag


def main() -> int:
    parser = argparse.ArgumentParser(description="Builds drec's container image for the tests.")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build-image", help="ensure_drec_image; prints the image's name")
    build.add_argument("--source", required=True, type=Path, help="the checkout (Dockerfile)")
    build.add_argument("--workdir", required=True, type=Path, help="logs, containers.conf")
    build.add_argument("--jobs", type=int, default=2, help="parallel compile jobs")
    args = parser.parse_args()
    try:
        podman = podman_or_skip(args.workdir, tools=("git",))
        ensure_debian_images(podman)
        probe(podman, DEBIAN_SLIM_IMAGE)
    except Unavailable as why:
        log(f"SKIPPED: {why}")
        return SKIP
    image = ensure_drec_image(podman, args.source, jobs=args.jobs)
    size = podman.image_size(image)
    log(f"{image}: {size / 1e6:.1f} MB")
    print(image)
    return 0


if __name__ == "__main__":
    sys.exit(main())
