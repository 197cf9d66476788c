"""dev.py, the one entry point a fresh clone runs: what it refuses before tox starts."""

import runpy
import subprocess
import sys

import pytest

from conftest import PROJECT_ROOT


@pytest.mark.parametrize(
    "arguments, environment",
    [
        (["-e", "deploy", "-c", "log_retention_days=30"], "deploy"),
        (["-c", "api_auth=none", "-e", "local"], "local"),
        (["-e", "diff", "--context", "retain_data=true", "--", "--all"], "diff"),
        (["-edestroy", "-c", "retain_data=true"], "destroy"),
        (["--env", "destroy", "-c", "retain_data=true"], "destroy"),
        (["--env=diff", "-c", "retain_data=true"], "diff"),
    ],
)
def test_a_setting_before_the_separator_is_shown_in_its_place(arguments, environment):
    result = subprocess.run([sys.executable, "dev.py", *arguments], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    value = arguments[arguments.index("-c" if "-c" in arguments else "--context") + 1]
    assert result.stderr.splitlines() == [
        f"error: -c {value} is a CDK setting, not a tox option: put it after --, "
        f"for example python3 dev.py -e {environment} -- -c {value}"
    ]


@pytest.mark.parametrize(
    "arguments", [[], ["-c"], ["-e", "deploy", "--", "-c", "log_retention_days=30"], ["-e", "local"], ["-c", "tox.ini"]]
)
def test_no_argument_a_setting_after_the_separator_and_toxs_own_options_pass(arguments):
    dev = runpy.run_path(str(PROJECT_ROOT / "dev.py"))  # dev.py runs before any environment: not a module
    assert dev["misplaced_setting"](arguments) is None
