"""Load on the local API (`python -m localdev`, as a user starts it): concurrent clients, mixed signed requests.

Each client keeps one HTTP/1.1 connection and sends `REQUESTS_PER_CLIENT` requests in a fixed cycle: create
its own item, read it back, list a page, and replace one item that every client shares (read its version,
then PUT with it: concurrent replaces conflict, and a 409 is a correct answer, not an error). Afterwards
every created item is read back and the shared item's final version must equal 1 + the number of
replaces that succeeded: no write lost, none applied twice. Transport errors and 5xx are counted.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from api import contract
from localdev.sigv4 import LocalCredentials, sign

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 50
REQUESTS_PER_CLIENT = 100
SHARED_ID = "shared"


class Client:
    def __init__(self, base_url: str):
        parts = urlsplit(base_url)
        self.base_url, self.port, self.prefix = base_url, parts.port, parts.path.rstrip("/")
        self.host = parts.hostname or "127.0.0.1"
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.samples: list[tuple[str, int, float]] = []
        self.transport_errors = 0

    def request(self, kind: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        data = json.dumps(body).encode() if body is not None else b""
        url = f"http://{self.host}:{self.port}{self.prefix}{path}"
        headers = sign(LocalCredentials(), method, url, {"Content-Type": "application/json"} if body else {}, data)
        started = time.perf_counter()
        try:
            self.connection.request(method, self.prefix + path, body=data or None, headers=headers)
            response = self.connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            self.transport_errors += 1
            self.connection.close()
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            return 0, None
        self.samples.append((kind, response.status, time.perf_counter() - started))
        return response.status, json.loads(payload) if payload else None


def run_client(client: Client, number: int, outcome: dict, lock: threading.Lock) -> None:
    created, replaced = [], 0
    for step in range(REQUESTS_PER_CLIENT // 5):
        item_id = f"load-{number}-{step}"
        if client.request("create", "POST", "/items", {"id": item_id, "client": number, "step": step})[0] == 201:
            created.append(item_id)
        client.request("get", "GET", f"/items/{item_id}")
        client.request("list", "GET", "/items?limit=20")
        status, current = client.request("read-shared", "GET", f"/items/{SHARED_ID}")
        if status == 200 and current is not None:
            status, _ = client.request(
                "replace", "PUT", f"/items/{SHARED_ID}", {"by": number, "step": step, "version": current["version"]}
            )
            replaced += status == 200
    with lock:
        outcome["created"].extend(created)
        outcome["replaced"] += replaced


def start_local_api() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "localdev", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    output = process.stdout
    assert output is not None  # stdout=PIPE
    for line in output:
        found = re.search(rf"Listening on (http://127\.0\.0\.1:\d+/{contract.stage()}/)", line)
        if found:
            threading.Thread(target=lambda: [None for _ in output], daemon=True).start()  # drain the log
            return process, found.group(1)
    raise RuntimeError("the local API stopped before listening")


def load_test(clients: int = CLIENTS) -> dict:
    process, base_url = start_local_api()
    try:
        setup = Client(base_url)
        assert setup.request("setup", "POST", "/items", {"id": SHARED_ID, "n": 0})[0] == 201
        outcome, lock = {"created": [], "replaced": 0}, threading.Lock()
        workers = [Client(base_url) for _ in range(clients)]
        threads = [threading.Thread(target=run_client, args=(w, n, outcome, lock)) for n, w in enumerate(workers)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        check = Client(base_url)
        lost = [
            item_id for item_id in outcome["created"] if check.request("check", "GET", f"/items/{item_id}")[0] != 200
        ]
        _, shared = check.request("check", "GET", f"/items/{SHARED_ID}")
        assert shared is not None, "the shared item is gone"
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
    samples = [s for w in workers for s in w.samples]
    latencies = sorted(seconds for _, _, seconds in samples)
    statuses = [status for _, status, _ in samples]
    return {
        "clients": clients,
        "requests": len(samples) + sum(w.transport_errors for w in workers),
        "seconds": round(elapsed, 2),
        "requests_per_second": round(len(samples) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        "transport_errors": sum(w.transport_errors for w in workers),
        "server_errors": sum(1 for status in statuses if status >= 500),
        "conflicts": sum(1 for kind, status, _ in samples if kind == "replace" and status == 409),
        "created": len(outcome["created"]),
        "lost_creates": len(lost),
        "replaces_succeeded": outcome["replaced"],
        "shared_final_version": shared["version"],
        "lost_or_duplicated_replaces": shared["version"] - 1 - outcome["replaced"],
    }


if __name__ == "__main__":
    print(json.dumps(load_test(int(sys.argv[1]) if len(sys.argv) > 1 else CLIENTS), indent=2))
