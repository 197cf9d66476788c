"""`python -m localdev`: synthesize the stack, then serve its API on 127.0.0.1 against a local DynamoDB.

Ctrl-C stops it. Data lives for the run only (the local DynamoDB keeps it in memory).
"""

import argparse
import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

from localdev.api import LocalApi
from localdev.dynamodb import LocalDynamoDB
from localdev.template import read_api

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSEMBLY = PROJECT_ROOT / "cdk.out"
LOCAL_TABLE = "items-local"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev", description=__doc__)
    parser.add_argument("--port", type=int, default=3000, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    print("Synthesizing the stack (cdk-nag and the policies run too)...", flush=True)
    # In a child process, so that jsii's Node.js process is gone before the server starts.
    context = [option for pair in args.context for option in ("-c", pair)]
    subprocess.run([sys.executable, str(PROJECT_ROOT / "app.py"), *context], check=True)
    template = _stack_template(ASSEMBLY)

    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with LocalDynamoDB() as dynamodb:
        dynamodb.create_table_from_template(template, LOCAL_TABLE)
        api = read_api(template, ASSEMBLY, LOCAL_TABLE)
        local = LocalApi(api, dynamodb.endpoint_url, port=args.port, log=lambda line: print(line, flush=True))
        local.start()
        try:
            _print_banner(local, api)
            stopped.wait()
        finally:
            print("Stopping.", flush=True)
            local.stop()
    return 0


def _stack_template(assembly: Path) -> dict:
    """The app's one stack template, found through the cloud assembly's manifest."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    [stack] = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
    return json.loads((assembly / stack["properties"]["templateFile"]).read_text())


def _print_banner(local: LocalApi, api) -> None:
    url = local.url
    routes = "\n".join(f"  {r.method:6} {url.rstrip('/')}{r.path}" for r in api.routes)
    print(
        f"""
Routes (from the synthesized template):
{routes}

Not checked locally: IAM (SigV4) authorization. The deployed API requires signed requests;
here unsigned requests are accepted. Data is kept in memory for this run only.

Try:
  curl -s -X POST {url}items -H 'content-type: application/json' -d '{{"id": "first", "name": "demo"}}'
  curl -s {url}items/first
  curl -s -X PUT {url}items/first -H 'content-type: application/json' -d '{{"name": "renamed", "version": 1}}'
  curl -s '{url}items?limit=10'

Listening on {url} (Ctrl-C to stop)""",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
