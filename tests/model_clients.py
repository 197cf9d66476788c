"""Two or more clients interleaving every operation of the API, each answer compared with a reference model.

`ItemsMachine` is a hypothesis rule-based state machine over a transport (the function in process, or the local
API over HTTP). Clients create, get, replace, delete and list, each sending the version it last saw for an id;
after every step the answer must equal the model's (status and body), every response must fit Lambda's
response payload, and no request may fail on the server. Paging the quiet table must return every item exactly
once. The values include the extremes the contract admits (numbers at the edges of DynamoDB's range, 38
significant digits, the longest lists a 400 KB body holds, escape-heavy and non-ASCII text) and ids that clients
percent-encode in a path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

import limits

CLIENTS = ("alice", "bob")
# Ids of every character class the contract allows; ":" is percent-encoded by RFC 6570 `{id}` expansion,
# encodeURIComponent and urllib.parse.quote(safe="").
IDS = ("x", "ns:1", "a.b", "-_:.-", "Z" * limits.ID_MAX_LENGTH)

EXTREME_NUMBERS = (
    Decimal("1E+125"),
    Decimal("-1E+125"),
    Decimal("1E-130"),
    Decimal("-1E-130"),
    Decimal("9.9999999999999999999999999999999999999E+125"),
    Decimal("12345678901234567890123456789012345678"),
    Decimal("-1234567890123456789.0123456789012345678E+100"),
    Decimal("1E+20"),
    Decimal("1E+21"),
    Decimal(2**53),
    Decimal("0.1"),
    Decimal("-2.5E-7"),
    Decimal(0),
)
_number = st.sampled_from(EXTREME_NUMBERS) | st.integers(-(2**63), 2**63).map(Decimal)
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12) | st.sampled_from(["\x01\x1f", '"\\', "é😀"])
_values = st.recursive(
    st.none() | st.booleans() | _number | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text.filter(bool), children, max_size=4),
    max_leaves=12,
)
documents = st.dictionaries(_text.filter(lambda name: name not in ("", "id", "version")), _values, max_size=4)


def json_text(value) -> str:
    """JSON text with every number written exactly (the test's own writer: json.dumps cannot write a Decimal)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(map(json_text, value)) + "]"
    return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{json_text(v)}" for k, v in value.items()) + "}"


def canonical(value):
    """A JSON value with every number as a Decimal tagged apart from booleans: equal iff the values are equal."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, (int, float, Decimal)):
        return ("number", Decimal(value) if not isinstance(value, float) else Decimal(repr(value)))
    if isinstance(value, list):
        return [canonical(child) for child in value]
    if isinstance(value, dict):
        return {key: canonical(child) for key, child in value.items()}
    return value


def parse(text: str):
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def extreme_items(room: int) -> dict[str, str]:
    """The largest value of each shape that `room` bytes of body hold (room=400 KB: the largest the contract
    accepts), as JSON text."""

    def longest_list(element: str) -> str:
        return "[" + ",".join([element] * (room // (len(element) + 1))) + "]"

    return {
        "largest magnitudes": longest_list("1E+125"),
        "smallest magnitudes": longest_list("-1E-130"),
        "plain integers just below 1E+21": longest_list("1e20"),
        "38 significant digits": longest_list("-1234567890123456789012345678901234567.8E+88"),
        "control characters": json.dumps("\x01" * (room // 6)),
        "astral characters": json.dumps("😀" * (room // 4), ensure_ascii=False),
        "quotes and backslashes": json.dumps('"\\' * (room // 4)),
        "widest map": "{" + ",".join(f'"{index:x}":0' for index in range(room // 12)) + "}",
        "deepest nesting": "[" * (limits.DYNAMODB_NESTING_LEVELS - 1)
        + "1"
        + "]" * (limits.DYNAMODB_NESTING_LEVELS - 1),
    }


# Beside the id and the version; moto refuses items past 405,000 bytes by its own count, below AWS's 409,600.
EXTREME_ITEMS = extreme_items(400_000 - 400)
# The most a single item's response may grow per byte of the body that stored it, plus the envelope, the id and
# the version: what one byte can become is at most a 4-byte character as two \u escapes (3x), "1e20," as a
# 21-digit integer and a separator (4.6x). At this rate the largest body still fits Lambda's response payload.
WORST_GROWTH = 5
RESPONSE_OVERHEAD = 1024
assert WORST_GROWTH * limits.DYNAMODB_ITEM_BYTES + RESPONSE_OVERHEAD <= limits.LAMBDA_SYNC_PAYLOAD_BYTES


@dataclass
class Answer:
    status: int
    body: str
    # What the response costs against Lambda's response payload limit (None where the transport cannot see it).
    payload_bytes: int | None


class Transport:
    def request(self, method: str, path: str, *, query: str = "", body: str | None = None) -> Answer:
        raise NotImplementedError

    def close(self) -> None:
        """Drops what the example stored (the local server keeps every table in memory until it stops)."""


class ItemsModel:
    """What the API must answer: live items, and the last version each id ever had (kept across deletes)."""

    def __init__(self):
        self.live: dict[str, dict] = {}
        self.last_version: dict[str, int] = {}

    def create(self, item_id: str, document: dict) -> tuple[int, dict | str]:
        if item_id in self.live:
            return 409, "ItemAlreadyExists"
        version = self.last_version.get(item_id, 0) + 1
        self.live[item_id] = {**document, "id": item_id, "version": version}
        self.last_version[item_id] = version
        return 201, self.live[item_id]

    def get(self, item_id: str) -> tuple[int, dict | str]:
        return (200, self.live[item_id]) if item_id in self.live else (404, "ItemNotFound")

    def replace(self, item_id: str, version: int, document: dict) -> tuple[int, dict | str]:
        if item_id not in self.live:
            return 404, "ItemNotFound"
        if self.live[item_id]["version"] != version:
            return 409, "VersionConflict"
        self.live[item_id] = {**document, "id": item_id, "version": version + 1}
        self.last_version[item_id] = version + 1
        return 200, self.live[item_id]

    def delete(self, item_id: str, version: int | None) -> tuple[int, dict | str | None]:
        if item_id not in self.live:
            return 404, "ItemNotFound"
        if version is not None and self.live[item_id]["version"] != version:
            return 409, "VersionConflict"
        del self.live[item_id]
        return 204, None


class ItemsMachine(RuleBasedStateMachine):
    """Subclasses set `transport_factory` (a callable giving a transport on empty tables)."""

    transport_factory = None
    # Bytes of body for the extreme items: the growth bound makes small ones prove what large ones would show.
    extreme_bytes = limits.DYNAMODB_ITEM_BYTES // 16

    def __init__(self):
        super().__init__()
        factory = type(self).transport_factory
        assert factory is not None, "a subclass sets transport_factory"
        self.transport: Transport = factory()
        self.model = ItemsModel()
        self.seen: dict[str, dict[str, int]] = {client: {} for client in CLIENTS}
        self.extremes = extreme_items(type(self).extreme_bytes)
        # The size of the body that last wrote each live item, for the growth bound of its responses.
        self.body_bytes: dict[str, int] = {}

    def teardown(self):
        self.transport.close()

    # Each request, checked against the model -------------------------------------------------------------------

    def _send(self, method: str, item_id: str | None, *, query: str = "", body: str | None = None) -> Answer:
        path = "/items" if item_id is None else f"/items/{quote(item_id, safe='')}"
        answer = self.transport.request(method, path, query=query, body=body)
        assert answer.status < 500, f"{method} {path}?{query}: {answer.status} {answer.body[:300]}"
        if answer.payload_bytes is not None:
            assert answer.payload_bytes <= limits.LAMBDA_SYNC_PAYLOAD_BYTES, (
                f"{method} {path}: a {answer.payload_bytes}-byte response, which Lambda refuses (a 502)"
            )
        return answer

    def _check(self, client: str, answer: Answer, expected: tuple[int, dict | str | None], sent: str | None = None):
        status, body = expected
        assert answer.status == status, f"expected {status} {body!r:.200}, got {answer.status} {answer.body[:300]}"
        if isinstance(body, dict):
            received = parse(answer.body)
            assert canonical(received) == canonical(body)
            self.seen[client][body["id"]] = body["version"]
            if sent is not None:
                self.body_bytes[body["id"]] = len(sent.encode())
            if answer.payload_bytes is not None:
                assert answer.payload_bytes <= WORST_GROWTH * self.body_bytes[body["id"]] + RESPONSE_OVERHEAD, (
                    f"a {answer.payload_bytes}-byte response to a {self.body_bytes[body['id']]}-byte body: at this "
                    "rate the largest body the contract accepts would not fit Lambda's response payload"
                )
        elif isinstance(body, str):
            assert parse(answer.body)["error"]["code"] == body
        else:
            assert answer.body == ""

    def _version(self, client: str, item_id: str) -> int:
        return self.seen[client].get(item_id, 1)

    # Rules --------------------------------------------------------------------------------------------------------

    @rule(client=st.sampled_from(CLIENTS), item_id=st.sampled_from(IDS), document=documents)
    def create(self, client, item_id, document):
        sent = json_text({**document, "id": item_id})
        self._check(client, self._send("POST", None, body=sent), self.model.create(item_id, document), sent)

    @rule(client=st.sampled_from(CLIENTS), item_id=st.sampled_from(IDS), shape=st.sampled_from(sorted(EXTREME_ITEMS)))
    def create_extreme(self, client, item_id, shape):
        sent = '{"id": %s, "value": %s}' % (json.dumps(item_id), self.extremes[shape])
        assert len(sent.encode()) <= limits.DYNAMODB_ITEM_BYTES, shape
        expected = self.model.create(item_id, {"value": parse(self.extremes[shape])})
        self._check(client, self._send("POST", None, body=sent), expected, sent)

    @rule(client=st.sampled_from(CLIENTS), item_id=st.sampled_from(IDS))
    def get(self, client, item_id):
        self._check(client, self._send("GET", item_id), self.model.get(item_id))

    @rule(client=st.sampled_from(CLIENTS), item_id=st.sampled_from(IDS), document=documents)
    def replace(self, client, item_id, document):
        version = self._version(client, item_id)
        sent = json_text({**document, "version": Decimal(version)})
        self._check(client, self._send("PUT", item_id, body=sent), self.model.replace(item_id, version, document), sent)

    @rule(client=st.sampled_from(CLIENTS), item_id=st.sampled_from(IDS), conditional=st.booleans())
    def delete(self, client, item_id, conditional):
        version = self._version(client, item_id) if conditional else None
        answer = self._send("DELETE", item_id, query=f"version={version}" if conditional else "")
        self._check(client, answer, self.model.delete(item_id, version))

    @rule(client=st.sampled_from(CLIENTS), limit=st.integers(1, limits.PAGE_SIZE_MAX))
    def list_everything(self, client, limit):
        """Paging the quiet table returns every live item exactly once, each as the model holds it."""
        listed: list[dict] = []
        after = None
        for _ in range(2 * len(IDS) + 2):  # a page may hold only tombstones
            answer = self._send("GET", None, query=f"limit={limit}" + (f"&next={quote(after)}" if after else ""))
            assert answer.status == 200, answer.body[:300]
            page = parse(answer.body)
            assert len(page["items"]) <= limit
            listed += page["items"]
            after = page.get("next")
            if after is None:
                break
        else:
            raise AssertionError("paging did not end")
        ids = [item["id"] for item in listed]
        assert sorted(ids) == sorted(self.model.live), "every live item exactly once"
        for item in listed:
            assert canonical(item) == canonical(self.model.live[item["id"]])
            self.seen[client][item["id"]] = int(item["version"])
