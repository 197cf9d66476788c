#!/usr/bin/env python3
"""Runs tox from a project-local virtual environment that it creates on first use.

A fresh clone needs only Python 3.11+: `python3 dev.py` runs the whole gate, `python3 dev.py -e synth`
synthesizes. Every argument is passed to tox. tox then builds its own environments from requirements-dev.txt.
"""

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOL_ENV = ROOT / ".dev-venv"
TOX_REQUIREMENT = "tox==4.67.13"


def main() -> int:
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed, this is {sys.version.split()[0]}")
    bin_dir = TOOL_ENV / ("Scripts" if os.name == "nt" else "bin")
    tox = bin_dir / "tox"
    if not tox.exists():
        print(f"Creating {TOOL_ENV.name}/ with {TOX_REQUIREMENT} (first run only)", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(TOOL_ENV)
        subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", TOX_REQUIREMENT], check=True)
    return subprocess.call([str(tox), *sys.argv[1:]], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
