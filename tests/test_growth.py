"""The gate guards the rules, not today's shape: the stack grown as a team grows it (tests/growth.py) passes with
no acknowledgement added, and each mistake made on the way is refused, at synthesis where the template shows it
and by the least-privilege proof where only the code's calls do."""

import pytest
from growth import MISTAKES, OWNER_INDEX, STREAM_READ_ACTIONS, GrownSynthesis

from cfn.grants import function_grants, mismatches
from main import TABLE_ACTIONS
from policies.engine import PLUGIN_NAME

PROOF = "least-privilege proof"

# Where each mistake is refused: a finding id synthesis fails on, or the proof with the line it prints.
REFUSED_BY = {
    "query-granted-on-the-table": (PROOF, "dynamodb:Query on index {items}/owner: called, not granted"),
    "audit-write-granted-on-the-items-table": (PROOF, "dynamodb:PutItem on table {audit}: called, not granted"),
    "stream-read-granted-on-the-table": (PROOF, "dynamodb:GetRecords on stream {items}: called, not granted"),
    "log-group-at-cdk-default-retention": (f"{PLUGIN_NAME}::SA-OBS2", "log group keeps logs 731 days"),
    "no-error-rate-alarm": (f"{PLUGIN_NAME}::SA-OBS5", "function has no error-rate alarm"),
    "no-active-tracing": (f"{PLUGIN_NAME}::SA-OBS3", "function does not have active X-Ray tracing"),
    "no-log-group-of-the-stack": (f"{PLUGIN_NAME}::SA-DEP2", "function has no LoggingConfig.LogGroup"),
    "code-not-from-the-artifacts-bucket": (f"{PLUGIN_NAME}::SA-DEP9", "code does not come from a bucket"),
    "role-shared-with-the-items-function": (f"{PLUGIN_NAME}::SA-IAM5", "function shares its role"),
    "audit-table-without-point-in-time-recovery": (f"{PLUGIN_NAME}::SA-DATA1", "table has no point-in-time"),
    "audit-table-with-dynamodbs-owned-key": (f"{PLUGIN_NAME}::SA-DATA2", "table is not encrypted with a KMS key"),
    "audit-table-retained-though-retain-data-is-false": (f"{PLUGIN_NAME}::SA-DATA3", "DeletionPolicy is Retain"),
    "stream-without-failure-destination": (f"{PLUGIN_NAME}::SA-DATA4", "has no on-failure destination"),
    "stream-retried-without-bound": (f"{PLUGIN_NAME}::SA-DATA4", "retries without bound"),
}
VARIANTS = {
    "default": {},
    "every-compliance-profile": {"compliance": "all"},
    "every-opt-out": {"retain_data": "true", "alarm_email": "ops@example.com", "api_auth": "none"},
}


def declared_calls(grown: GrownSynthesis) -> dict[str, set[tuple[str, str]]]:
    """What each grown function's code calls (and Lambda's stream poller, with the audit function's role)."""
    items, audit = grown.logical_id(grown.stack.table), grown.logical_id(grown.stack.audit_table)
    return {
        grown.logical_id(grown.stack.function): {(action, f"table {items}") for action in TABLE_ACTIONS}
        | {("dynamodb:Query", f"index {items}/{OWNER_INDEX}")},
        grown.logical_id(grown.stack.audit_function): {("dynamodb:PutItem", f"table {audit}")}
        | {(action, f"stream {items}") for action in STREAM_READ_ACTIONS},
    }


def proof(grown: GrownSynthesis) -> list[str]:
    """The least-privilege proof over every application function: one line per pair that differs."""
    calls = declared_calls(grown)
    assert set(grown.template.application_functions()) == set(calls), "every function needs its calls declared"
    return [
        f"{function_id}: {line}"
        for function_id, called in calls.items()
        for line in mismatches(function_grants(grown.template, function_id, "dynamodb:"), called)
    ]


@pytest.fixture(scope="module", params=list(VARIANTS))
def grown(request, tmp_path_factory) -> GrownSynthesis:
    return GrownSynthesis(tmp_path_factory.mktemp("grown"), context=VARIANTS[request.param])


def test_the_grown_stack_passes_the_gate_with_no_acknowledgement_added(grown):
    """A second function, table and index are covered by the reasons that cover the first ones (found by type
    and relation), under every setting that changes what is acknowledged."""
    assert not grown.refused
    assert not grown.report.open


def test_the_grown_functions_are_held_to_what_the_first_one_is(grown):
    """The second function is acknowledged for exactly the findings the first is, where the reason is the same."""
    by_path: dict[str, dict[str, str]] = {}
    for finding in grown.report.acknowledged:
        by_path.setdefault(finding.acknowledged_at, {})[finding.finding_id] = finding.reason
    first = by_path[grown.stack.function.node.path]
    second = by_path[grown.stack.audit_function.node.path]
    assert first.keys() == second.keys()


def test_every_grown_function_grants_exactly_the_pairs_it_calls(grown):
    assert not proof(grown)


@pytest.mark.parametrize("mistake", MISTAKES)
def test_each_mistake_is_refused_where_the_gate_can_see_it(tmp_path, mistake):
    where, message = REFUSED_BY[mistake]
    broken = GrownSynthesis(tmp_path, frozenset({mistake}))
    ids = {"items": broken.logical_id(broken.stack.table), "audit": broken.logical_id(broken.stack.audit_table)}
    if where == PROOF:
        assert not broken.refused, "only the code's calls show this mistake"
        assert any(message.format(**ids) in line for line in proof(broken)), proof(broken)
        return
    assert broken.refused, "synthesis (python app.py, cdk synth, cdk deploy) must refuse it"
    found = [finding for finding in broken.report.open if finding.finding_id == where]
    assert found and all(finding.fix for finding in found)
    assert any(message in finding.description and "\n" not in finding.description for finding in found)


def test_every_mistake_has_its_refusal():
    assert set(REFUSED_BY) == set(MISTAKES)
