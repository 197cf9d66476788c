"""cfn-lint, the real command with the project's .cfnlintrc, on every template the app synthesizes."""

import subprocess
import sys
from pathlib import Path

from conftest import PROJECT_ROOT


def test_every_synthesized_template_passes_cfn_lint(synth):
    templates = sorted(str(p) for p in Path(synth.assembly.directory).glob("*.template.json"))
    assert templates
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), *templates],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
