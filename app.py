#!/usr/bin/env python3
"""The CDK app: context -> ServiceConfig -> the one stack, then tags and the policy gate on the whole app.

`cdk.json` runs this file for the CDK CLI. Run directly (`python app.py [-c key=value ...]`) it synthesizes
to ./cdk.out with the same context, so the gate needs no Node.js CLI; `--report`, `--ledger` and `--sarif`
review that synthesis (policies/review.py).
"""

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from aws_cdk import App

from config import SETTINGS, ConfigError, ServiceConfig
from conventions import apply_tags
from main import ServerlessBackendStack
from policies import review
from policies.acknowledgements import apply_acknowledgements
from policies.pack import apply_policies

PROJECT_ROOT = Path(__file__).parent
STACK_ID = "ServerlessAutomation"
# CDK fails synthesis on a finding of severity error only, and lets cdk-nag's warnings through unless this flag
# is on (aws-cdk-lib core/lib/private/synthesis-validation.js). Set after the deployer's context: a warning is
# fixed or acknowledged, never switched off.
FAIL_ON_WARNINGS = {"@aws-cdk/core:strictCfnValidateErrors": True}


def service_stack(app: App) -> ServerlessBackendStack:
    stack = app.node.find_child(STACK_ID)
    assert isinstance(stack, ServerlessBackendStack)
    return stack


def cdk_json_context() -> dict:
    return json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]


def build_app(
    context: dict | None = None,
    *,
    stack_type: Callable[..., ServerlessBackendStack] = ServerlessBackendStack,
    **app_options,
) -> App:
    """The app with the stack, tags and policies; `context` overrides cdk.json (as `-c` does). `stack_type`
    builds the stack (the tests grow it with a subclass, as a team grows main.py)."""
    app = App(context={**cdk_json_context(), **(context or {}), **FAIL_ON_WARNINGS}, **app_options)
    config = ServiceConfig.from_context(app.node)
    stack = stack_type(
        app,
        STACK_ID,
        stack_name=config.stack_name,
        config=config,
        description="serverless-automation: API Gateway (REST) -> Lambda -> DynamoDB",
    )
    apply_tags(app)
    apply_policies(app, config)
    apply_acknowledgements(stack, config)
    return app


def context_overrides(pairs: list[str]) -> dict:
    """`-c key=value` options as a dict; ConfigError for one without a key and a value."""
    overrides = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not key or not equals:
            name = key if key in SETTINGS else "api_auth"
            raise ConfigError(f"-c {pair}: expected KEY=VALUE, for example -c {name}={SETTINGS[name].example}")
        overrides[key] = value
    return overrides


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("-o", "--output", default=str(PROJECT_ROOT / "cdk.out"), help="the cloud assembly's directory")
    review.add_arguments(parser)
    args = parser.parse_args(argv)
    # Under the CDK CLI, CDK_OUTDIR and the CLI's context are set and take precedence.
    outdir = None if "CDK_OUTDIR" in os.environ else args.output
    try:
        app = build_app(context_overrides(args.context), outdir=outdir)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    if review.requested(args):
        stack = service_stack(app)
        sys.exit(review.run(app, stack, stack.config, args, PROJECT_ROOT))
    try:
        assembly = app.synth()
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise
        sys.exit(review.refusal(Path(app.outdir)))
    if outdir is not None:
        for stack in assembly.stacks:
            print(f"Synthesized {stack.stack_name}: {Path(assembly.directory) / stack.template_file}")


if __name__ == "__main__":
    main()
