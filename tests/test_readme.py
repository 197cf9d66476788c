"""Every command, file, output, variable and setting the documentation names exists as named (a newcomer follows
it word for word): the README, docs/, bench/README.md and CONTRIBUTING.md; the commands that run offline are run
by the other tests (test_local_api, test_cdk_cli)."""

import configparser
import os
import json
import re
from dataclasses import fields
from pathlib import Path

import yaml

from config import SETTINGS, ServiceConfig
from conftest import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()
# Every page of the documentation, by its path from the project root.
PAGES = {
    path.relative_to(PROJECT_ROOT): path.read_text()
    for path in [
        PROJECT_ROOT / "README.md",
        PROJECT_ROOT / "CONTRIBUTING.md",
        PROJECT_ROOT / "bench" / "README.md",
        *sorted((PROJECT_ROOT / "docs").rglob("*.md")),
    ]
}
DOCS = "\n".join(PAGES.values())
TOX = configparser.ConfigParser(interpolation=None)
TOX.read(PROJECT_ROOT / "tox.ini")
# Made by running the project, never committed.
GENERATED = ("cdk.out", "bench/results", ".dev-venv", ".tox", "node_modules", ".venv")
# Named in the README but not the project's files: what each is.
NOT_PROJECT_FILES = {
    "endpoints.json": "botocore's data file",
    "validation-report.json": "written by synthesis into cdk.out/",
    "aws-actions/configure-aws-credentials": "a GitHub action",
    "github/codeql-action/upload-sarif": "a GitHub action",
    "aws/dynamodb": "the alias of DynamoDB's AWS managed KMS key",
    "alias/aws/sns": "the alias of SNS's AWS managed KMS key",
    "ServerlessAutomation/ArtifactsBucket/Resource": "a construct path in the compliance matrix's excerpt",
    "outputs.json": "what `cdk deploy --outputs-file` writes",
    "lambda/audit.py": "the module CONTRIBUTING's second-function recipe has you write",
}


def test_every_dev_py_environment_the_documentation_names_is_in_tox_ini():
    named = set(re.findall(r"python3 dev\.py -e ([\w-]+)", DOCS)) | set(re.findall(r"`-e ([\w-]+)`", DOCS))
    environments = {section.removeprefix("testenv:") for section in TOX.sections() if section.startswith("testenv:")}
    assert named and named <= environments, named - environments


def test_the_readmes_command_table_names_every_environment_once():
    table = README[README.index("| Command (`python3 dev.py …`)") :]
    table = table[: table.index("\n\n")]
    named = re.findall(r"`-e ([\w-]+)`", table)
    environments = {section.removeprefix("testenv:") for section in TOX.sections() if section.startswith("testenv:")}
    assert sorted(named) == sorted(environments - {"gate"}) and "| (nothing) | the gate" in table


def test_every_project_file_the_documentation_names_exists():
    tracked = set()
    for _, directories, files in os.walk(PROJECT_ROOT):
        directories[:] = [d for d in directories if d not in (".git", ".tox", ".dev-venv", "node_modules", "cdk.out")]
        tracked |= set(files)
    missing = []
    for page, text in PAGES.items():
        named = set(re.findall(r"`((?:[\w.-]+/)+[\w.-]*|[\w-]+\.(?:py|json|ini|txt|yml|md|toml))`", text))
        linked = {
            os.path.normpath(page.parent / target.split("#")[0])
            for target in re.findall(r"\]\(((?!https?:|#)[^)]+)\)", text)
        }
        missing += [
            f"{page}: {p}"
            for p in (named - set(NOT_PROJECT_FILES)) | linked
            if not p.startswith("components/")  # places in api/openapi.json, checked below
            if not p.startswith(GENERATED) and not (PROJECT_ROOT / p).exists() and not ("/" not in p and p in tracked)
        ]
    assert not missing, missing


def test_every_link_to_a_heading_finds_it():
    def anchors(text: str) -> set[str]:
        return {
            re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
            for heading in re.findall(r"^#+ (.*)$", text, re.M)
        }

    broken = []
    for page, text in PAGES.items():
        for target, anchor in re.findall(r"\]\(((?!https?:)[^)#]*)#([^)]+)\)", text):
            linked = os.path.normpath(page.parent / target) if target else str(page)
            if anchor not in anchors(PAGES.get(Path(linked), "")):
                broken.append(f"{page}: {target}#{anchor}")
    assert not broken, broken


def test_every_place_in_the_document_the_readme_names_exists():
    import json

    components = json.loads((PROJECT_ROOT / "api" / "openapi.json").read_text())["components"]
    named = set(re.findall(r"`components/([\w-]+)`", DOCS))
    assert named and named <= set(components), named - set(components)


def test_the_outputs_the_readme_says_deploy_prints_are_the_stacks(synth):
    [line] = [line for line in README.splitlines() if "python3 dev.py -e deploy " in line and "prints" in line]
    printed = set(re.findall(r"\b[A-Z]\w+", line.split("prints", 1)[1]))
    assert printed == set(synth.template_json["Outputs"])


def test_the_repository_variables_the_readme_names_are_the_ones_deploy_yml_reads():
    workflow = (PROJECT_ROOT / ".github" / "workflows" / "deploy.yml").read_text()
    read = set(re.findall(r"vars\.(\w+)", workflow))
    setup = DOCS[DOCS.index("One-time setup") : DOCS.index("**Acknowledgements in review.**")]
    named = set(re.findall(r"variables? `(\w+)`", setup)) | set(re.findall(r"\) and\s+`(\w+)`", setup))
    assert read and read == named, (read, named)
    assert yaml.safe_load(workflow)["jobs"]["deploy"]["environment"] == "production" and "`production`" in setup


def test_the_configuration_table_is_the_settings_declarations():
    """Each row: the setting, its declared default as cdk.json writes it, the values it takes and its effect."""
    section = README[README.index("## Configuration") :]
    table = section[section.index("| Context key") : section.index("\n\n", section.index("| Context key"))]
    rows = re.findall(r"^\| `(\w+)` \| `(.*?)` \| (.*?) \| (.*) \|$", table, re.M)
    expected = [
        (declared.name, json.dumps(list(declared.default) if isinstance(declared.default, tuple) else declared.default).strip('"') or '""', SETTINGS[declared.name].allowed, SETTINGS[declared.name].effect)
        for declared in fields(ServiceConfig)
    ]
    assert rows == expected


def test_the_dynamodb_actions_the_documentation_lists_are_what_the_role_grants(synth):
    """The diagram's arrow and the function role's defaults name exactly the DynamoDB actions the items
    function's role grants in the template, whatever statement grants them, so an operation that adds an
    action (on the table or an index) shows up here."""
    from cfn.grants import function_grants
    from cfn.template import Template
    from conftest import ITEMS_HANDLER

    template = Template(synth.template_json)
    [function_id] = [k for k, v in template.application_functions().items() if v["Properties"]["Handler"] == ITEMS_HANDLER]
    granted = {action.removeprefix("dynamodb:") for action, _ in function_grants(template, function_id, "dynamodb:")}
    [arrow] = re.findall(r"fn -->\|([A-Za-z ]+)\| table", README)
    [role_line] = [line for line in DOCS.splitlines() if line.startswith("- `dynamodb:")]
    listed = {name.removeprefix("dynamodb:") for name in re.findall(r"`([\w:]+)`", role_line.split(" on ")[0])}
    assert set(arrow.split()) == granted
    assert listed == granted


def test_the_rule_table_lists_exactly_the_registered_rules():
    from policies.engine import registered

    listed = re.findall(r"^\| `(SA-[A-Z]+[0-9]+)` \|", DOCS, re.M)
    assert sorted(listed) == sorted(rule.rule_id for rule in registered())
