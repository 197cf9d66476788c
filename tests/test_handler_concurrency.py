"""Optimistic concurrency under real contention: 50 writers at once, through the handler, over HTTP."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

WRITERS = 50


def run_concurrently(calls):
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_50_concurrent_updates_from_one_version_have_exactly_one_winner(api):
    api.request("POST", "/items", body={"id": "contended", "writer": None})
    responses = run_concurrently(
        [lambda i=i: api.request("PUT", "/items/contended", body={"writer": i, "version": 1}) for i in range(WRITERS)]
    )
    statuses = Counter(r.status for r in responses)
    assert statuses == {200: 1, 409: WRITERS - 1}
    assert {r.error_code for r in responses if r.status == 409} == {"VersionConflict"}
    [winner] = [r.json for r in responses if r.status == 200]
    assert (
        api.request("GET", "/items/contended").json
        == winner
        == {
            "id": "contended",
            "writer": winner["writer"],
            "version": 2,
        }
    )


def test_50_concurrent_creates_of_one_id_have_exactly_one_winner(api):
    responses = run_concurrently(
        [lambda i=i: api.request("POST", "/items", body={"id": "once", "creator": i}) for i in range(WRITERS)]
    )
    assert Counter(r.status for r in responses) == {201: 1, 409: WRITERS - 1}
    [winner] = [r.json for r in responses if r.status == 201]
    assert api.request("GET", "/items/once").json == winner
