"""The project's modules import one way: no circles, and nothing imports app.py but the entry points."""

import ast
import os
from pathlib import Path

from conftest import PROJECT_ROOT

import config
import main

SKIPPED = {"tests", ".tox", ".dev-venv", "node_modules", "cdk.out", "lambda"}
# Commands: each is run, never imported by a module that is not itself a command.
ENTRY_POINTS = {
    "app", "policies.report", "policies.ledger", "localdev.__main__", "deploy_role.app", "bench.run",
    "bench.count_syntheses",  # a pytest plugin of bench.run
}


def _modules() -> dict[str, Path]:
    found = {}
    for directory, subdirectories, files in os.walk(PROJECT_ROOT):
        subdirectories[:] = [d for d in subdirectories if d not in SKIPPED and not d.startswith(".")]
        for file in files:
            if file.endswith(".py"):
                relative = (Path(directory) / file).relative_to(PROJECT_ROOT)
                found[".".join(relative.with_suffix("").parts).removesuffix(".__init__")] = PROJECT_ROOT / relative
    for path in (PROJECT_ROOT / "lambda").glob("*.py"):  # the function's zip root
        found[path.stem] = path
    return found


def _imports(path: Path, known: set[str]) -> set[str]:
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        targets |= {name for name in names if name in known}
    return targets


MODULES = _modules()
GRAPH = {name: _imports(path, set(MODULES)) - {name} for name, path in MODULES.items()}


def test_the_graph_covers_the_project():
    assert {"app", "main", "config", "api.contract", "policies.acknowledgements", "handler", "localdev.api"} <= set(GRAPH)


def test_no_module_imports_app_except_the_entry_points():
    importers = {name for name, targets in GRAPH.items() if "app" in targets}
    assert importers <= ENTRY_POINTS, importers - ENTRY_POINTS


def test_there_is_no_import_circle():
    visiting, done, cycles = set(), set(), []

    def visit(name, trail):
        if name in done:
            return
        if name in visiting:
            cycles.append(trail[trail.index(name):] + [name])
            return
        visiting.add(name)
        for target in sorted(GRAPH.get(name, ())):
            visit(target, trail + [name])
        visiting.discard(name)
        done.add(name)

    for name in sorted(GRAPH):
        visit(name, [])
    assert not cycles, cycles


def test_config_and_the_stack_agree_on_log_retention():
    assert tuple(main.LOG_RETENTION) == config.LOG_RETENTION_DAYS
