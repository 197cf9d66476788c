"""What the e2e run checks from outside the deployed stack: the API (SigV4-signed with the caller's
credentials), the visibility the stack promises, and what is left after destroy."""

from __future__ import annotations

import json
import random
import string
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

# A body one byte over the function's item limit (lambda/limits.py: 400 KB): refused with 413 ItemTooLarge.
OVER_ITEM_LIMIT = 400 * 1024 + 1
FUZZ_ITEMS = 20


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    detail: str = ""


class Api:
    """The deployed API's stage URL, called as a client would, signed with the session's credentials."""

    def __init__(self, base_url: str, session, region: str):
        self.base_url = base_url.rstrip("/")
        self._credentials = session.get_credentials()
        self._region = region
        self.requests = 0

    def request(self, method: str, path: str, body=None, *, signed: bool = True, raw: bytes | None = None):
        url = self.base_url + path
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if signed:
            signing = AWSRequest(method=method, url=url, data=data, headers=headers)
            SigV4Auth(self._credentials.get_frozen_credentials(), "execute-api", self._region).add_auth(signing)
            headers = dict(signing.headers)
        self.requests += 1
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, answer_headers, text = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            status, answer_headers, text = error.code, dict(error.headers), error.read()
        return status, answer_headers, json.loads(text) if text else None


def api_checks(api: Api, *, validators: bool) -> list[Result]:
    """The CRUD round trip with versions, the error model, a platform limit, authorization, and a small
    seeded fuzz budget of items that must come back as sent. `validators`: API Gateway's request model
    applies (the stand-in passes every body to the function)."""
    results: list[Result] = []

    def check(name: str, ok: object, detail: object = "") -> bool:
        results.append(Result(name, bool(ok), "" if ok else str(detail)[:300]))
        return bool(ok)

    item_id = "e2e-" + "".join(random.Random(7).choices(string.ascii_lowercase, k=8))
    status, headers, created = api.request("POST", "/items", {"id": item_id, "name": "e2e"})
    check(
        "create answers 201 with version 1",
        status == 201 and created and created.get("version") == 1,
        (status, created),
    )
    status, _, fetched = api.request("GET", f"/items/{item_id}")
    check("get returns what was created", status == 200 and fetched == created, (status, fetched))
    status, _, replaced = api.request("PUT", f"/items/{item_id}", {"name": "changed", "version": 1})
    check(
        "replace with the version read answers version 2",
        status == 200 and (replaced or {}).get("version") == 2,
        (status, replaced),
    )
    status, _, stale = api.request("PUT", f"/items/{item_id}", {"name": "stale", "version": 1})
    check(
        "a stale version is 409 VersionConflict", status == 409 and _code(stale) == "VersionConflict", (status, stale)
    )
    status, _, page = api.request("GET", "/items?limit=100")
    check(
        "the list holds the item",
        status == 200 and any(i.get("id") == item_id for i in (page or {}).get("items", [])),
        status,
    )
    status, _, _ = api.request("DELETE", f"/items/{item_id}?version=2")
    check("delete with the version read answers 204", status == 204, status)
    status, _, gone = api.request("GET", f"/items/{item_id}")
    check("a deleted item is 404 ItemNotFound", status == 404 and _code(gone) == "ItemNotFound", (status, gone))
    status, _, refused = api.request("GET", "/items?limit=0")
    check(
        "a bad limit is 400 InvalidRequest with the error shape",
        status == 400 and _code(refused) == "InvalidRequest",
        (status, refused),
    )
    status, _, large = api.request("POST", "/items", {"id": item_id + "-large", "blob": "x" * OVER_ITEM_LIMIT})
    check("an item over 400 KB is 413 ItemTooLarge", status == 413 and _code(large) == "ItemTooLarge", (status, large))
    status, _, unsigned = api.request("GET", f"/items/{item_id}", signed=False)
    check("an unsigned request is 403", status == 403 and _code(unsigned), (status, unsigned))
    if validators:
        status, _, model = api.request("PUT", f"/items/{item_id}", {"name": "no version"})
        check(
            "the request model refuses a body without version",
            status == 400 and _code(model) == "BAD_REQUEST_BODY",
            (status, model),
        )
    generator = random.Random(20261206)
    for index in range(FUZZ_ITEMS):
        item = {"id": f"{item_id}-fuzz-{index}", **_random_attributes(generator)}
        status, _, answer = api.request("POST", "/items", item)
        if not check(f"fuzz item {index} is stored", status == 201, (status, answer, item)):
            continue
        status, _, stored = api.request("GET", f"/items/{item['id']}")
        check(
            f"fuzz item {index} comes back as sent", status == 200 and _without_version(stored) == item, (stored, item)
        )
        api.request("DELETE", f"/items/{item['id']}")
    return results


def _random_attributes(generator: random.Random) -> dict:
    values = [
        lambda: generator.randint(-(10**15), 10**15),
        lambda: "".join(generator.choices(string.printable + "éλ😀", k=generator.randint(0, 40))),
        lambda: generator.choice([True, False, None]),
        lambda: [generator.randint(0, 9) for _ in range(generator.randint(0, 5))],
        lambda: {"nested": generator.randint(0, 100)},
    ]
    return {
        "".join(generator.choices(string.ascii_letters, k=generator.randint(1, 12))): generator.choice(values)()
        for _ in range(generator.randint(1, 6))
    }


def _code(body) -> str | None:
    return (body or {}).get("error", {}).get("code") if isinstance(body, dict) else None


def _without_version(item) -> dict:
    return {k: v for k, v in (item or {}).items() if k != "version"}


def visibility_checks(session, stack_name: str, api: Api, timeout: float = 120) -> list[Result]:
    """The request's trace in X-Ray (API Gateway, Lambda, the DynamoDB call), the function's log line carrying
    that trace id, and each alarm's action on the stack's topic. A real account only."""
    results = []
    resources = _stack_resources(session, stack_name)
    status, headers, _ = api.request("GET", "/items?limit=1")
    trace_id = next((v for k, v in headers.items() if k.lower() == "x-amzn-trace-id"), "")
    root = dict(part.split("=", 1) for part in trace_id.split(";") if "=" in part).get("Root", "")
    xray = session.client("xray")
    names: set[str] = set()
    deadline = time.monotonic() + timeout
    while (
        root
        and time.monotonic() < deadline
        and not {"AWS::ApiGateway::Stage", "AWS::Lambda::Function", "DynamoDB"} <= names
    ):
        for trace in xray.batch_get_traces(TraceIds=[root]).get("Traces", []):
            for segment in trace.get("Segments", []):
                document = json.loads(segment["Document"])
                names.add(document.get("origin", ""))
                names |= {sub.get("name", "") for sub in document.get("subsegments", [])}
        time.sleep(5)
    results.append(
        Result(
            "the request's trace crosses API Gateway, Lambda and DynamoDB",
            {"AWS::ApiGateway::Stage", "AWS::Lambda::Function", "DynamoDB"} <= names,
            f"{root}: {sorted(names)}",
        )
    )
    logs = session.client("logs")
    groups = [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::Logs::LogGroup"]
    found = False
    deadline = time.monotonic() + timeout
    while root and not found and time.monotonic() < deadline:
        for group in groups:
            events = logs.filter_log_events(logGroupName=group, filterPattern=f'"{root}"').get("events", [])
            found = found or bool(events)
        if not found:
            time.sleep(5)
    results.append(Result("a log line carries the request's trace id", found, root))
    topics = {r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::SNS::Topic"}
    alarms = [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::CloudWatch::Alarm"]
    described = (
        session.client("cloudwatch").describe_alarms(AlarmNames=alarms).get("MetricAlarms", []) if alarms else []
    )
    results.append(
        Result(
            "every alarm notifies the stack's topic",
            bool(described) and all(set(a.get("AlarmActions", [])) & topics for a in described),
            str([(a["AlarmName"], a.get("AlarmActions")) for a in described]),
        )
    )
    return results


def _stack_resources(session, stack_name: str) -> list[dict]:
    return session.client("cloudformation").describe_stack_resources(StackName=stack_name)["StackResources"]


# What a deploy and destroy leave in the account on purpose (docs/deploying.md says why).
ACCOUNT_LEVEL = (
    "API Gateway's account setting keeps the CloudWatch role ARN it was given",
    "the CDK bootstrap stack (CDKToolkit) and its assets bucket",
    "CloudWatch metrics and X-Ray traces, which expire on their own",
)


def residue(session, stack_name: str, physical: dict[str, str], *, tagging: bool = True) -> list[str]:
    """What is left of the stack after destroy: the stack itself, any log group, role, bucket, table or
    function whose name the stack gave it, and (`tagging`) anything still tagged with its name, asked again
    for a minute, since the tagging API may list a resource for a while after its deletion."""
    left = []
    cloudformation = session.client("cloudformation")
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        left += [
            f"stack {s['StackName']} is {s['StackStatus']}" for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"
        ]
    except cloudformation.exceptions.ClientError:
        pass
    prefix = stack_name.lower()
    for group in _paged(session.client("logs"), "describe_log_groups", "logGroups"):
        name = group["logGroupName"]
        if prefix in name.lower() or name in physical.values():
            left.append(f"log group {name}")
    for role in _paged(session.client("iam"), "list_roles", "Roles"):
        if role["RoleName"].lower().startswith(prefix[:40]):
            left.append(f"role {role['RoleName']}")
    for bucket in session.client("s3").list_buckets().get("Buckets", []):
        if bucket["Name"].startswith(prefix[:40]):
            left.append(f"bucket {bucket['Name']}")
    for table in _paged(session.client("dynamodb"), "list_tables", "TableNames"):
        if table.lower().startswith(prefix):
            left.append(f"table {table}")
    for function in _paged(session.client("lambda"), "list_functions", "Functions"):
        if function["FunctionName"].lower().startswith(prefix[:40]):
            left.append(f"function {function['FunctionName']}")
    if tagging:
        left += _still_tagged(session, stack_name)
    return sorted(set(left))


def _still_tagged(session, stack_name: str, patience: float = 60) -> list[str]:
    tagging = session.client("resourcegroupstaggingapi")
    deadline = time.monotonic() + patience
    while True:
        tagged = tagging.get_resources(TagFilters=[{"Key": "aws:cloudformation:stack-name", "Values": [stack_name]}])
        arns = [f"tagged {resource['ResourceARN']}" for resource in tagged["ResourceTagMappingList"]]
        if not arns or time.monotonic() > deadline:
            return arns
        time.sleep(10)


def _paged(client, operation: str, key: str):
    paginator = client.get_paginator(operation)
    for page in paginator.paginate():
        yield from page.get(key, [])
