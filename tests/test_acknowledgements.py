"""Acknowledgements are reviewed exceptions: each has a real reason, targets one construct (never a whole
stack), and still matches a finding. A stale one (matching nothing) fails the gate."""

import pytest
from aws_cdk import App, Stack

from app import service_stack
from conftest import PROJECT_ROOT
from policies.acknowledgements import acknowledgements, sources_of, stale
from policies.report import render
from policies.rules.tags import RequiredTags
from policies.validation_report import ValidationReport

VARIANTS = {
    "default": {},
    "api_auth_none": {"api_auth": "none"},
    "alarm_email": {"alarm_email": "ops@example.com"},
    "retain_data": {"retain_data": "true"},
}


@pytest.fixture(params=list(VARIANTS), scope="module")
def variant(request, synth, synth_with):
    context = VARIANTS[request.param]
    return synth_with(**context) if context else synth


def _applied(synthesis):
    stack = service_stack(synthesis.app)
    return acknowledgements(stack, stack.config)


def test_every_acknowledgement_has_a_reason_that_says_why(variant):
    for ack in _applied(variant):
        assert len(ack.reason) >= 40, ack.finding_id
        assert "not needed" not in ack.reason.lower(), ack.finding_id


def test_no_acknowledgement_is_stale(variant):
    assert not [(a.finding_id, a.target.node.path) for a in stale(_applied(variant), variant.report.suppressed())]


def test_no_acknowledgement_covers_a_whole_stack_or_app(variant):
    for ack in _applied(variant):
        assert not isinstance(ack.target, (Stack, App)), ack.finding_id


def test_each_acknowledgement_names_one_finding_id(variant):
    ids = [(a.finding_id, a.target.node.path) for a in _applied(variant)]
    assert len(ids) == len(set(ids))
    for finding_id, _ in ids:
        assert "::" in finding_id and "," not in finding_id


def test_variant_has_no_open_findings(variant):
    assert not variant.report.open


def test_review_report_gives_each_reason_once_with_its_source_line_and_every_finding_it_covers(synth):
    acks = _applied(synth)
    sources = sources_of(acks)
    markdown = render(synth.report, sources=sources)
    for reason in {ack.reason for ack in acks}:
        assert markdown.count(reason) == 1, reason
    for ack in acks:
        block = markdown[markdown.index(f"- **{ack.reason}** ({sources[ack.reason]})") :]
        block = block[: block.find("\n- **", 1)] if "\n- **" in block[1:] else block
        assert f"`{ack.finding_id}`" in block, ack.finding_id
    assert "0 open" in markdown
    assert RequiredTags.rule_id in markdown and "AwsSolutions" in markdown and "Serverless" in markdown


def test_review_report_gives_whole_rule_descriptions_and_explains_its_scope(synth):
    from policies.engine import registered

    markdown = render(synth.report)
    for rule in registered():
        summary = " ".join((rule.__doc__ or "").strip().split("\n\n")[0].split())
        assert summary in markdown, rule.rule_id
    assert "## What this covers" in markdown


def test_every_acknowledgement_points_at_the_call_that_makes_it(synth):
    text = (PROJECT_ROOT / "policies" / "acknowledgements.py").read_text().splitlines()
    for ack in _applied(synth):
        line = text[int(ack.source.partition(":")[2]) - 1].strip()
        assert "Acknowledgement(" in line or "Departure(" in line, (ack.source, line)


def test_review_report_shows_an_open_finding_by_resource():
    report = ValidationReport.from_json(
        {
            "pluginReports": [
                {
                    "pluginName": "AwsSolutions",
                    "conclusion": "failure",
                    "violations": [
                        {
                            "ruleName": "AwsSolutions-SQS3",
                            "description": "The SQS queue has no DLQ.",
                            "severity": "error",
                            "violatingConstructs": [{"constructPath": "S/Queue/Resource"}],
                        }
                    ],
                }
            ]
        }
    )
    markdown = render(report)
    assert "### `S/Queue/Resource`" in markdown and "AwsSolutions::AwsSolutions-SQS3" in markdown
    assert "1 open" in markdown and len(report.open) == 1


def test_a_function_something_else_also_invokes_is_not_acknowledged_as_synchronous_only(tmp_path):
    """The reason "API Gateway invokes it synchronously" covers no function that an asynchronous source may invoke."""
    from aws_cdk import aws_iam as iam
    from test_policies import synth_real_with

    def mutate(stack):
        stack.function.add_permission("EventsInvoke", principal=iam.ServicePrincipal("events.amazonaws.com"))

    violations = synth_real_with(tmp_path, mutate)
    assert violations["Serverless::Serverless-LambdaDLQ"] == ["ServerlessAutomation/ItemsFunction/Resource"]
