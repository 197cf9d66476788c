#!/usr/bin/env python3
"""The deploy role's CDK app, deployed with
`python3 dev.py -e deploy -- --app "python -m deploy_role.app" -c github_owner=... -c github_repo=...`.

Deployed once by an administrator, separately from the service stack. Tags, cdk-nag, the project's
policies and acknowledgements apply to it as to the service.
"""

import sys

from aws_cdk import App

from config import ConfigError
from conventions import apply_tags
from deploy_role.stack import DeployRoleConfig, GitHubDeployRoleStack
from policies.pack import apply_policies

STACK_ID = "ServerlessAutomationGitHubDeployRole"


def build_app(context: dict | None = None, **app_options) -> App:
    app = App(context=context, **app_options)
    config = DeployRoleConfig(
        github_owner=app.node.try_get_context("github_owner") or "",
        github_repo=app.node.try_get_context("github_repo") or "",
        existing_oidc_provider_arn=app.node.try_get_context("oidc_provider_arn") or "",
    )
    GitHubDeployRoleStack(
        app, STACK_ID, config=config, description="serverless-automation: GitHub Actions OIDC deploy role"
    )
    apply_tags(app)
    apply_policies(app)
    return app


def main() -> int:
    try:
        app = build_app()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
