#!/usr/bin/env python3
"""The CDK app: context -> ServiceConfig -> the one stack, then tags and the policy gate on the whole app.

`cdk.json` runs this file for the CDK CLI. Run directly (`python app.py [-c key=value ...]`) it synthesizes
to ./cdk.out with the same context, so the gate needs no Node.js CLI.
"""

import argparse
import json
import os
from pathlib import Path

from aws_cdk import App

from config import ServiceConfig
from main import ServerlessBackendStack
from policies.acknowledgements import apply_acknowledgements
from policies.pack import apply_policies
from policies.tagging import apply_tags

PROJECT_ROOT = Path(__file__).parent
STACK_ID = "ServerlessAutomation"


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
