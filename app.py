#!/usr/bin/env python3
"""The CDK app: context -> ServiceConfig -> the one stack, then tags and the policy gate on the whole app.

`cdk.json` runs this file for the CDK CLI. Run directly (`python app.py [-c key=value ...]`) it synthesizes
to ./cdk.out with the same context, so the gate needs no Node.js CLI.
"""

import argparse
import json
import os
from dataclasses import dataclass, fields
from pathlib import Path

from aws_cdk import App
from constructs import Node

from main import LOG_RETENTION, ServerlessBackendStack
from policies.acknowledgements import apply_acknowledgements
from policies.pack import apply_policies
from policies.tagging import apply_tags

PROJECT_ROOT = Path(__file__).parent
STACK_ID = "ServerlessAutomation"


@dataclass(frozen=True)
class ServiceConfig:
    """Every setting a deployer may change, with the defaults documented in cdk.json and the README."""

    retain_data: bool = False
    api_auth: str = "iam"
    alarm_email: str = ""
    log_retention_days: int = 30
    error_rate_threshold_percent: float = 5
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if self.api_auth not in ("iam", "none"):
            raise ValueError(f"api_auth must be 'iam' or 'none', not {self.api_auth!r}")
        if self.log_level not in ("DEBUG", "INFO", "WARN", "ERROR"):
            raise ValueError(f"log_level must be DEBUG, INFO, WARN or ERROR, not {self.log_level!r}")
        if self.log_retention_days not in LOG_RETENTION:
            raise ValueError(f"log_retention_days must be one of {sorted(LOG_RETENTION)}")
        if not 0 < self.error_rate_threshold_percent <= 100:
            raise ValueError("error_rate_threshold_percent must be in (0, 100]")

    @classmethod
    def from_context(cls, node: Node) -> "ServiceConfig":
        values = {}
        for field in fields(cls):
            raw = node.try_get_context(field.name)
            if raw is not None:
                values[field.name] = _coerce(raw, field.type)
        return cls(**values)


def _coerce(raw, kind: type):
    """Context from `-c key=value` arrives as a string; from cdk.json it arrives typed."""
    if kind is bool and isinstance(raw, str):
        if raw.lower() not in ("true", "false"):
            raise ValueError(f"expected true or false, got {raw!r}")
        return raw.lower() == "true"
    return kind(raw)


def cdk_json_context() -> dict:
    return json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]


def build_app(context: dict | None = None, **app_options) -> App:
    """The app with the stack, tags and policies; `context` overrides cdk.json (as `-c` does)."""
    app = App(context={**cdk_json_context(), **(context or {})}, **app_options)
    stack = ServerlessBackendStack(
        app,
        STACK_ID,
        config=ServiceConfig.from_context(app.node),
        description="serverless-automation: API Gateway (REST) -> Lambda -> DynamoDB",
    )
    apply_tags(app)
    apply_policies(app)
    apply_acknowledgements(stack)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.context)
    # Under the CDK CLI, CDK_OUTDIR and the CLI's context are set and take precedence.
    outdir = None if "CDK_OUTDIR" in os.environ else str(PROJECT_ROOT / "cdk.out")
    assembly = build_app(overrides, outdir=outdir).synth()
    if outdir is not None:
        for stack in assembly.stacks:
            print(f"Synthesized {stack.stack_name}: {Path(assembly.directory) / stack.template_file}")


if __name__ == "__main__":
    main()
