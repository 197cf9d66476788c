#!/usr/bin/env python3
"""A newcomer's set-up cost, side by side: a baseline commit against HEAD, each in a fresh clone with a fresh HOME.

For each commit, in the README's Quickstart order: the first `python3 dev.py -e local` until its banner says
"Listening on", then the first `python3 dev.py` until it exits; then every tox environment of that commit is
built (`--notest`) and the disk used by the clone's environments and the HOME's package caches is counted
(`du`, which counts a hard-linked file once). Needs the network to PyPI and npm, as a newcomer does; takes
about 25 minutes for two commits. Writes bench/results/setup-cost.json and prints the ratios.

    python3 bench/setup_cost.py --baseline dd4ba98
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# The targets against the baseline: time at most 0.4x, disk at most 0.25x.
TIME_TARGET, DISK_TARGET = 0.4, 0.25


def measure(commit: str, work: Path) -> dict:
    clone, home = work / "clone", work / "home"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", commit], check=True)
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "CI": "true", "PIP_NO_CACHE_DIR": "1"}
    env.pop("VIRTUAL_ENV", None)
    local_seconds = _seconds_until_banner(clone, env)
    started = time.monotonic()
    gate = subprocess.run([sys.executable, "dev.py"], cwd=clone, env=env, capture_output=True, text=True)
    gate_seconds = time.monotonic() - started
    environments = _tox_environments(clone)
    subprocess.run(
        [str(clone / ".dev-venv" / "bin" / "tox"), "run", "--notest", "-e", ",".join(environments)],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    caches = [p for p in (home / ".cache", home / ".npm") if p.exists()]
    du = subprocess.run(
        ["du", "-sc", "--block-size=1", str(clone / ".tox"), str(clone / ".dev-venv"), *map(str, caches)],
        capture_output=True,
        text=True,
        check=True,
    )
    return {
        "commit": subprocess.run(
            ["git", "-C", str(clone), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "first_local_to_banner_s": round(local_seconds, 1),
        "first_gate_to_green_s": round(gate_seconds, 1),
        "gate_passed": gate.returncode == 0,
        "environments": environments,
        "disk_bytes": int(du.stdout.strip().splitlines()[-1].split()[0]),
    }


def _seconds_until_banner(clone: Path, env: dict) -> float:
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "dev.py", "-e", "local", "--", "--port", "0"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        for line in process.stdout or ():
            if "Listening on" in line:
                return time.monotonic() - started
        raise SystemExit(f"-e local ended before its banner (exit {process.wait()})")
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)


def _tox_environments(clone: Path) -> list[str]:
    """Every environment tox.ini defines ([testenv:NAME] sections), as the commit has them."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(clone / "tox.ini")
    return [section.removeprefix("testenv:") for section in parser.sections() if section.startswith("testenv:")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="the commit to compare HEAD with")
    parser.add_argument(
        "--reuse-baseline",
        action="store_true",
        help="take the baseline's figures from the last run if it measured that commit",
    )
    args = parser.parse_args()
    runs = {}
    previous = RESULTS / "setup-cost.json"
    if args.reuse_baseline and previous.exists():
        last = json.loads(previous.read_text())["runs"]["baseline"]
        if args.baseline.startswith(last["commit"]) or last["commit"].startswith(args.baseline):
            runs["baseline"] = last
    for label, commit in (("baseline", args.baseline), ("head", "HEAD")):
        if label in runs:
            continue
        with tempfile.TemporaryDirectory(prefix=f"setup-cost-{label}-") as work:
            runs[label] = measure(commit, Path(work))
        print(f"{label}: {json.dumps(runs[label])}", flush=True)
    base, head = runs["baseline"], runs["head"]
    ratios = {
        "first_local_to_banner": head["first_local_to_banner_s"] / base["first_local_to_banner_s"],
        "first_gate_to_green": head["first_gate_to_green_s"] / base["first_gate_to_green_s"],
        "disk": head["disk_bytes"] / base["disk_bytes"],
    }
    targets = {"first_local_to_banner": TIME_TARGET, "first_gate_to_green": TIME_TARGET, "disk": DISK_TARGET}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "setup-cost.json").write_text(json.dumps({"runs": runs, "ratios": ratios, "targets": targets}, indent=2))
    print(f"\n{'measure':24} {'baseline':>12} {'head':>12} {'ratio':>7} {'target':>7}")
    for key, unit, scale in (("first_local_to_banner", "s", 1), ("first_gate_to_green", "s", 1), ("disk", "GB", 1e9)):
        field = "disk_bytes" if key == "disk" else f"{key}_s"
        verdict = "pass" if ratios[key] <= targets[key] else "MISS"
        print(
            f"{key:24} {base[field] / scale:>10.1f}{unit:>2} {head[field] / scale:>10.1f}{unit:>2} "
            f"{ratios[key]:>6.2f}x {targets[key]:>6.2f}x {verdict}"
        )
    return 0 if all(ratios[k] <= targets[k] for k in ratios) else 1


if __name__ == "__main__":
    sys.exit(main())
