"""The GitHub Actions deploy role app: exact trust policy, exact permissions, and the same gate as the service."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import documentation
from aws_cdk import aws_iam as iam

from deploy_role.app import STACK_ID, build_app
from cfn.template import Template
from config import ConfigError
from deploy_role.stack import DeployRoleConfig
from policies.rules.iam import NoWildcardActions, UnscopedResourcesOnlyWhereUnavoidable
from policies.validation_report import ValidationReport

CONTEXT = {"github_owner": "acme", "github_repo": "items-service"}
BOOTSTRAP_ROLE = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":iam::",
            {"Ref": "AWS::AccountId"},
            ":role/cdk-hnb659fds-{kind}-role-",
            {"Ref": "AWS::AccountId"},
            "-",
            {"Ref": "AWS::Region"},
        ],
    ]
}


def _synth(tmp_path_factory, context):
    outdir = tmp_path_factory.mktemp("deploy-role")
    build_app(context, outdir=str(outdir), builtin_cloud_formation_validation=False).synth()
    template_path = outdir / f"{STACK_ID}.template.json"
    return (
        template_path,
        json.loads(template_path.read_text()),
        ValidationReport.read(outdir / "validation-report.json"),
    )


@pytest.fixture(scope="module")
def deploy_role(tmp_path_factory):
    return _synth(tmp_path_factory, CONTEXT)


def _only(template, resource_type):
    return Template(template).only(resource_type)


def test_trust_policy_is_exactly_this_repositorys_production_environment(deploy_role):
    _, template, _ = deploy_role
    provider_id, provider = _only(template, "AWS::IAM::OIDCProvider")
    assert provider["Properties"]["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]
    _, role = _only(template, "AWS::IAM::Role")
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:sub": "repo:acme/items-service:environment:production",
                }
            },
            "Effect": "Allow",
            "Principal": {"Federated": {"Ref": provider_id}},
        }
    ]


def test_the_role_may_only_assume_the_cdk_bootstrap_roles(deploy_role):
    _, template, _ = deploy_role
    _, role = _only(template, "AWS::IAM::Role")
    assert "ManagedPolicyArns" not in role["Properties"]
    [policy] = role["Properties"]["Policies"]
    expected = [
        json.loads(json.dumps(BOOTSTRAP_ROLE).replace("{kind}", kind))
        for kind in ("deploy", "file-publishing", "lookup")
    ]
    assert policy["PolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Resource": expected, "Sid": "CdkBootstrapRolesOnly"}
    ]
    assert not [
        k for k, v in template["Resources"].items() if v["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
    ]


def test_the_app_passes_cdk_nag_and_the_projects_policies_without_acknowledgements(deploy_role):
    _, _, report = deploy_role
    assert not report.open and not report.acknowledged


def test_the_gate_runs_on_the_deploy_role_app_too(tmp_path):
    """A wildcard slipped into the role fails synthesis under both cdk-nag and the project's rules."""
    app = build_app(CONTEXT, outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    app.node.find_child(STACK_ID).role.add_to_policy(iam.PolicyStatement(actions=["sts:*"], resources=["*"]))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    rules = ValidationReport.read(tmp_path / "validation-report.json").open_ids()
    assert {NoWildcardActions.finding_id(), UnscopedResourcesOnlyWhereUnavoidable.finding_id()} <= rules
    assert any(rule.startswith("AwsSolutions::AwsSolutions-IAM5") for rule in rules)


def test_cfn_lint_finds_nothing_in_the_deploy_role_template(deploy_role):
    template_path, _, _ = deploy_role
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(template_path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_existing_provider_is_used_instead_of_a_new_one(tmp_path_factory):
    existing = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    _, template, _ = _synth(tmp_path_factory, {**CONTEXT, "oidc_provider_arn": existing})
    assert not [v for v in template["Resources"].values() if v["Type"] == "AWS::IAM::OIDCProvider"]
    _, role = _only(template, "AWS::IAM::Role")
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Federated": existing}


@pytest.mark.parametrize("owner, repo", [("acme", "*"), ("acme/other", "r"), ("ac me", "r")])
def test_owner_and_repo_must_be_plain_names(owner, repo):
    with pytest.raises(ConfigError, match="plain GitHub name.*for example -c github_"):
        DeployRoleConfig(github_owner=owner, github_repo=repo)


def test_the_app_without_its_flags_says_which_to_pass(capsys, monkeypatch):
    from deploy_role import app

    monkeypatch.setattr(app, "build_app", lambda: build_app({}))
    assert app.main() == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "-c github_owner=<owner> -c github_repo=<repo>" in err


def test_the_role_arn_is_the_output_the_readme_tells_you_to_copy(deploy_role):
    from deploy_role.stack import DEPLOY_ROLE_OUTPUT

    _, template, _ = deploy_role
    role_id, _ = _only(template, "AWS::IAM::Role")
    assert template["Outputs"][DEPLOY_ROLE_OUTPUT]["Value"] == {"Fn::GetAtt": [role_id, "Arn"]}
    readme = documentation()
    assert f"`{DEPLOY_ROLE_OUTPUT}`" in readme and "DEPLOY_ROLE_ARN" in readme
