"""The imports import-linter cannot check (pyproject.toml holds its contracts for every package).

grimp, its engine, builds graphs of packages only, so the top-level modules (app, main, config, conventions)
and the function's modules in lambda/ (loaded from the zip's root, not as a package) are read here with ast.
"""

import ast
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT

PROJECT_PACKAGES = {"api", "cfn", "policies", "localdev", "deploy_role", "bench"}
TOP_LEVEL_MODULES = {"app", "main", "config", "conventions"}
FUNCTION_MODULES = {path.stem for path in (PROJECT_ROOT / "lambda").glob("*.py")}

# Each top-level module, to the project's modules and packages it must not import.
FORBIDDEN = {
    "main": {"app", "policies", "localdev", "deploy_role", "bench"},
    "config": {"app", "main", "conventions", "policies", "localdev", "deploy_role", "bench", "api", "cfn"},
    "conventions": {"app", "main", "config", "policies", "localdev", "deploy_role", "bench", "api"},
    "app": {"localdev", "deploy_role", "bench"},
}


def _imported(path: Path) -> set[str]:
    """The first part of every absolute import in a file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_a_top_level_module_imports_only_what_lies_below_it(module):
    forbidden = _imported(PROJECT_ROOT / f"{module}.py") & FORBIDDEN[module]
    assert not forbidden, f"{module}.py imports {sorted(forbidden)}"


@pytest.mark.parametrize("module", sorted(FUNCTION_MODULES))
def test_the_function_imports_nothing_of_the_project_but_its_own_modules(module):
    project = PROJECT_PACKAGES | TOP_LEVEL_MODULES
    assert not _imported(PROJECT_ROOT / "lambda" / f"{module}.py") & project, module


def test_the_check_reads_real_imports():
    assert {"conventions", "config", "api"} <= _imported(PROJECT_ROOT / "main.py")
    assert {"limits", "validation"} <= _imported(PROJECT_ROOT / "lambda" / "handler.py")
