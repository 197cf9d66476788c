"""GitHub's OIDC provider and the role the deploy job assumes, allowed only to assume CDK's bootstrap roles.

The role trusts exactly one subject: jobs of <owner>/<repo> that run in the `production` environment (a job
with `environment:` presents `repo:<owner>/<repo>:environment:<name>`, not its branch), with the audience
`sts.amazonaws.com`, both by StringEquals (aws-actions/configure-aws-credentials README, "OIDC"). It may
only assume the account's and region's CDK bootstrap deploy, file-publishing and lookup roles; the deploy
role passes CloudFormation its execution role, so this role never holds deployment permissions itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from config import ConfigError

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_TOKEN_ISSUER = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
DEPLOY_ENVIRONMENT = "production"
# The qualifier of `cdk bootstrap`'s default template, and the three roles a `cdk deploy` assumes.
BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_ROLES = ("deploy", "file-publishing", "lookup")
# The stack output the README's set-up step reads into the repository variable DEPLOY_ROLE_ARN.
DEPLOY_ROLE_OUTPUT = "DeployRoleArn"


@dataclass(frozen=True)
class DeployRoleConfig:
    github_owner: str
    github_repo: str
    existing_oidc_provider_arn: str = ""

    def __post_init__(self) -> None:
        missing = [name for name in ("github_owner", "github_repo") if not getattr(self, name)]
        if missing:
            raise ConfigError(
                f"{' and '.join(missing)} not given: pass -c github_owner=<owner> -c github_repo=<repo> "
                "(and -c oidc_provider_arn=<arn> if the account already has GitHub's OIDC provider)"
            )
        for name in ("github_owner", "github_repo"):
            value = getattr(self, name)
            if any(c in value for c in "*?/: "):
                raise ConfigError(
                    f"{name} must be a plain GitHub name (no wildcards, '/', ':' or spaces), not {value!r}: "
                    f"for example -c {name}=acme"
                )

    @property
    def subject(self) -> str:
        return f"repo:{self.github_owner}/{self.github_repo}:environment:{DEPLOY_ENVIRONMENT}"


class GitHubDeployRoleStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployRoleConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.provider_arn = self._build_oidc_provider(config)
        self.role = self._build_deploy_role(config)
        CfnOutput(
            self,
            DEPLOY_ROLE_OUTPUT,
            value=self.role.role_arn,
            description="Set as the repository variable DEPLOY_ROLE_ARN (README, CI/CD)",
        )

    def _build_oidc_provider(self, config: DeployRoleConfig) -> str:
        """The account's one GitHub provider: created here, or the existing one passed in by context."""
        if config.existing_oidc_provider_arn:
            return config.existing_oidc_provider_arn
        provider = iam.OidcProviderNative(self, "GitHubOidcProvider", url=GITHUB_OIDC_URL, client_ids=[STS_AUDIENCE])
        return provider.oidc_provider_arn

    def _build_deploy_role(self, config: DeployRoleConfig) -> iam.Role:
        bootstrap_roles = [
            self.format_arn(
                service="iam",
                region="",
                resource="role",
                resource_name=f"cdk-{BOOTSTRAP_QUALIFIER}-{kind}-role-{self.account}-{self.region}",
            )
            for kind in BOOTSTRAP_ROLES
        ]
        return iam.Role(
            self,
            "GitHubDeployRole",
            description=(
                f"GitHub Actions deploy job of {config.github_owner}/{config.github_repo} ({DEPLOY_ENVIRONMENT})"
            ),
            assumed_by=iam.WebIdentityPrincipal(  # pyright: ignore[reportArgumentType]  (jsii protocols, aws-cdk#31454)
                self.provider_arn,
                conditions={
                    "StringEquals": {
                        f"{GITHUB_TOKEN_ISSUER}:aud": STS_AUDIENCE,
                        f"{GITHUB_TOKEN_ISSUER}:sub": config.subject,
                    }
                },
            ),
            inline_policies={
                "AssumeCdkBootstrapRoles": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            sid="CdkBootstrapRolesOnly", actions=["sts:AssumeRole"], resources=bootstrap_roles
                        )
                    ]
                )
            },
        )
