"""pytest plugin for bench/run.py only: counts the gate's syntheses of the project's apps.

In-process: calls of app.build_app and deploy_role.app.build_app (patched before conftest imports them),
split by whether CDK's template validation is on. Commands: processes the tests start that synthesize
(app.py, `python -m localdev`, the CDK CLI's synth). The counts are written to $SYNTHESIS_COUNT_FILE.
"""

import json
import os
import subprocess

import app
import deploy_role.app

COUNTS = {"in_process_validated": 0, "in_process": 0, "commands": 0}


def _counted(build):
    def build_and_count(*args, **kwargs):
        key = "in_process_validated" if kwargs.get("builtin_cloud_formation_validation") else "in_process"
        COUNTS[key] += 1
        return build(*args, **kwargs)

    return build_and_count


app.build_app = _counted(app.build_app)
deploy_role.app.build_app = _counted(deploy_role.app.build_app)
_popen_init = subprocess.Popen.__init__


def _counting_popen_init(self, args, *rest, **kwargs):
    words = [str(arg) for arg in (args if isinstance(args, (list, tuple)) else [args])]
    if any(w.endswith("app.py") for w in words) or "localdev" in words or "synth" in words:
        COUNTS["commands"] += 1
    _popen_init(self, args, *rest, **kwargs)


subprocess.Popen.__init__ = _counting_popen_init


def pytest_sessionfinish(session, exitstatus):
    with open(os.environ["SYNTHESIS_COUNT_FILE"], "w") as counts:
        json.dump(COUNTS, counts)
