"""`python -m localdev`: synthesize the stack, then serve its API on 127.0.0.1 against a local DynamoDB.

Ctrl-C stops it. Data lives for the run only (the local DynamoDB keeps it in memory). The local assembly is
synthesized into a temporary directory, removed on exit: cdk.out/ holds only what the gate checked, never a
variant such as -c api_auth=none that one `cdk deploy --app cdk.out` would ship.
"""

import argparse
import errno
import json
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from localdev.api import LocalApi
from localdev.dynamodb import LocalDynamoDB
from localdev.sigv4 import LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY, LocalCredentials
from localdev.streams import LocalStreams
from localdev.template import read_api, read_stream_consumers, unserved_functions

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONTRACT = PROJECT_ROOT / "api" / "openapi.json"
LOCAL_TABLE_PREFIX = "local"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev", description=__doc__)
    parser.add_argument("--port", type=int, default=3000, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--access-key-id", default=LOCAL_ACCESS_KEY_ID, help="the local credentials' key id")
    parser.add_argument("--secret-access-key", default=LOCAL_SECRET_ACCESS_KEY, help="the local credentials' secret")
    parser.add_argument("--region", default="us-east-1", help="the region signatures must be scoped to")
    parser.add_argument(
        "--no-auth", action="store_true", help="accept unsigned requests on every method (quick experiments only)"
    )
    args = parser.parse_args()
    credentials = None if args.no_auth else LocalCredentials(args.access_key_id, args.secret_access_key, args.region)

    listening = _hold_port(args.port)
    if isinstance(listening, str):
        print(f"error: {listening}", file=sys.stderr)
        return 2
    with listening, tempfile.TemporaryDirectory(prefix="localdev-cdk.out-") as assembly:
        return _synthesize_and_serve(args, credentials, Path(assembly), listening)


def _hold_port(port: int) -> socket.socket | str:
    """The listening socket on 127.0.0.1:port, taken before the synthesis so that nothing can take the port
    during it, or why it cannot be had (one line)."""
    if not 0 <= port <= 65535:
        return f"--port must be from 0 to 65535, not {port}: for example --port 3001, or --port 0 for a free one"
    listening = socket.socket()
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server's own socket does
    try:
        listening.bind(("127.0.0.1", port))
        listening.listen(128)
    except OSError as error:
        listening.close()
        reason = "is in use" if error.errno == errno.EADDRINUSE else f"cannot be used ({error.strerror})"
        return f"port {port} on 127.0.0.1 {reason}: pass --port 3001 (another port) or --port 0 (a free one)"
    return listening


def _synthesize_and_serve(args, credentials: LocalCredentials | None, assembly: Path, listening: socket.socket) -> int:
    print("Synthesizing the stack (cdk-nag and the policies run too)...", flush=True)
    # In a child process, so that jsii's Node.js process is gone before the server starts.
    context = [option for pair in args.context for option in ("-c", pair)]
    synthesized = subprocess.run([sys.executable, str(PROJECT_ROOT / "app.py"), "-o", str(assembly), *context])
    if synthesized.returncode != 0:
        return synthesized.returncode  # app.py has said what to fix, in one line
    template = _stack_template(assembly)

    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    log = lambda line: print(line, flush=True)  # noqa: E731
    with LocalDynamoDB() as dynamodb:
        tables = dynamodb.create_tables_from_template(template, LOCAL_TABLE_PREFIX)
        api = read_api(template, assembly, tables)
        consumers = read_stream_consumers(template, assembly, tables)
        local = LocalApi(
            api,
            dynamodb.endpoint_url,
            listening=listening,
            log=log,
            contract=json.loads(CONTRACT.read_text()),
            credentials=credentials,
        )
        streams = LocalStreams(consumers, dynamodb, tables, local.runtime_environment, log)
        try:
            local.start()
            streams.start()
            served = set(api.functions) | {consumer.function.logical_id for consumer in consumers}
            _print_banner(local, api, credentials, consumers, unserved_functions(template, served))
            stopped.wait()
        finally:
            print("Stopping.", flush=True)
            streams.stop()
            local.stop()
    return 0


def _stack_template(assembly: Path) -> dict:
    """The app's one stack template, found through the cloud assembly's manifest."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    [stack] = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
    return json.loads((assembly / stack["properties"]["templateFile"]).read_text())


def _print_banner(
    local: LocalApi, api, credentials: LocalCredentials | None, consumers: list, unserved: dict[str, str]
) -> None:
    url = local.url
    routes = "\n".join(f"  {r.method:6} {url.rstrip('/')}{r.path}" for r in api.routes)
    signed_methods = any(route.authorization == "AWS_IAM" for route in api.routes)
    if credentials is None:
        auth = "--no-auth: IAM (SigV4) authorization is NOT checked; the deployed API requires signed requests."
        sign = ""
    elif signed_methods:
        auth = (
            "IAM (SigV4) authorization is checked, as the deployed API does, with these local credentials:\n"
            f"  access key id {credentials.access_key_id}\n"
            f"  secret key    {credentials.secret_access_key}\n"
            f"  region        {credentials.region}, service execute-api"
        )
        sign = (
            f"--aws-sigv4 'aws:amz:{credentials.region}:execute-api' "
            f"--user '{credentials.access_key_id}:{credentials.secret_access_key}' "
        )
    else:
        auth, sign = "The stack was synthesized with api_auth=none: no method needs a signature.", ""
    extra = ""
    if consumers:
        extra += "\nStream consumers (each write to the table runs them, as Lambda's poller would):\n" + "".join(
            f"  {c.function.logical_id} <- the stream of {c.table_id} ({c.mapping_id})\n" for c in consumers
        )
    if unserved:
        extra += "\nNOT served locally (only a deploy runs them):\n" + "".join(
            f"  {function_id}: fed by {feeds}\n" for function_id, feeds in unserved.items()
        )
    print(
        f"""
Routes (from the synthesized template):
{routes}
{extra}
{auth}
Data is kept in memory for this run only.

Try:
  curl -s {sign}-X POST {url}items -H 'content-type: application/json' -d '{{"id": "first", "name": "demo"}}'
  curl -s {sign}{url}items/first
  curl -s {sign}-X PUT {url}items/first -H 'content-type: application/json' -d '{{"name": "renamed", "version": 1}}'
  curl -s {sign}'{url}items?limit=10'

The API's contract (OpenAPI 3.1): {url.split("/" + api.stage)[0]}/openapi.json

Listening on {url} (Ctrl-C to stop)""",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
