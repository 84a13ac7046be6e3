"""Runs clang-tidy (the repository's .clang-tidy) over drec's own sources with the compile
commands of a build, two files at a time, and fails on any finding, printing it."""

import argparse
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clang-tidy", required=True)
    parser.add_argument("--build-dir", required=True, type=Path)
    parser.add_argument("--source-dir", required=True, type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    commands = json.loads((args.build_dir / "compile_commands.json").read_text())
    src = (args.source_dir / "src").resolve()
    files = sorted({e["file"] for e in commands if Path(e["file"]).resolve().is_relative_to(src)})
    if not files:
        print(f"tidy: no source of {src} in {args.build_dir}/compile_commands.json")
        return 1

    def tidy(path: str) -> tuple[str, int, str]:
        run = subprocess.run(
            [args.clang_tidy, "--quiet", "-p", str(args.build_dir), path],
            capture_output=True,
            text=True,
            check=False,
        )
        return path, run.returncode, run.stdout

    failed = 0
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for path, code, out in pool.map(tidy, files):
            findings = [
                line for line in out.splitlines() if ": warning: " in line or ": error: " in line
            ]
            if code != 0 or findings:
                failed += 1
                print(f"{path}:\n{out}")
    print(f"tidy: {len(files)} files, {failed} with findings")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
