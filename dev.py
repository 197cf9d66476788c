#!/usr/bin/env python3
"""Runs tox from a project-local virtual environment that it creates on first use.

A fresh clone needs only Python 3.11+: `python3 dev.py` runs the whole gate, `python3 dev.py -e local` serves
the API locally, `python3 dev.py -e deploy` deploys. Every argument is passed to tox, which builds its
environments with uv (tox-uv): one download and one copy on disk of each package, hard-linked into every
environment that uses it.
"""

import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOL_ENV = ROOT / ".dev-venv"
TOOL_REQUIREMENTS = ("tox==4.67.13", "tox-uv==1.37.1")


def misplaced_setting(arguments: list[str]) -> str | None:
    """A CDK setting (-c KEY=VALUE) given before `--`, where tox would take it for its own -c (a config file)."""
    before = arguments[: arguments.index("--")] if "--" in arguments else arguments
    for index, option in enumerate(before):
        value = before[index + 1] if index + 1 < len(before) else ""
        if option in ("-c", "--context") and "=" in value:
            environment = _environment(before) or "deploy"
            return (
                f"-c {value} is a CDK setting, not a tox option: put it after --, "
                f"for example python3 dev.py -e {environment} -- -c {value}"
            )
    return None


def _environment(arguments: list[str]) -> str | None:
    """The tox environment named by -e NAME, -eNAME, --env NAME or --env=NAME."""
    for index, argument in enumerate(arguments):
        if argument in ("-e", "--env") and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith("--env="):
            return argument.split("=", 1)[1]
        if argument.startswith("-e") and len(argument) > 2 and not argument.startswith("--"):
            return argument[2:]
    return None


def main() -> int:
    if sys.version_info < (3, 11):
        sys.exit(
            f"error: Python 3.11 or newer is needed, this is {sys.version.split()[0]}: run dev.py with python3.11+"
        )
    problem = misplaced_setting(sys.argv[1:])
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    bin_dir = TOOL_ENV / ("Scripts" if os.name == "nt" else "bin")
    tox = bin_dir / "tox"
    if not tox.exists():
        started = time.monotonic()
        print(f"dev.py: first run: creating {TOOL_ENV.name}/ with {' and '.join(TOOL_REQUIREMENTS)}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(TOOL_ENV)
        subprocess.run(
            [str(bin_dir / "python"), "-m", "pip", "install", "--progress-bar", "on", *TOOL_REQUIREMENTS], check=True
        )
        print(
            f"dev.py: {TOOL_ENV.name}/ ready in {time.monotonic() - started:.0f} s; tox now installs the "
            "environment's packages with uv, then runs it",
            flush=True,
        )
    return subprocess.call([str(tox), *sys.argv[1:]], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
