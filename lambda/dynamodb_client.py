"""The function's DynamoDB client, made with botocore alone, loading only what a DynamoDB client reads.

A cold start pays for every import and file read here, so three things are left out (bench/run.py measures
the result against `import boto3; boto3.client("dynamodb")`):
- boto3: it also imports s3transfer and its resource layer, which a DynamoDB-only function never uses;
- botocore's scan of every service folder in its data directory (about 400) to check that "dynamodb"
  exists: this loader knows the one service it serves;
- ordered-dict parsing of botocore's JSON data (endpoints.json alone is over 1 MB): plain dicts keep
  insertion order in Python 3.7+, and parse several times faster.
Both are botocore's public extension points (a Loader with its own file_loader, registered as the
session's data_loader); retries, timeouts, endpoints and credentials are botocore's as usual.
"""

import gzip
import json
import os

import botocore.session
from botocore.loaders import JSONFileLoader, Loader

SERVICE = "dynamodb"
# botocore's own order: compressed data first, then plain JSON.
_OPENERS = ((".json.gz", gzip.open), (".json", open))


class _PlainJSONFileLoader(JSONFileLoader):
    def load_file(self, file_path):
        for extension, opener in _OPENERS:
            if os.path.isfile(file_path + extension):
                with opener(file_path + extension, "rb") as source:
                    return json.loads(source.read())
        return None


class _OneServiceLoader(Loader):
    def list_available_services(self, type_name):
        return [SERVICE]


def create_client(config, endpoint_url: str | None = None):
    """The DynamoDB client; endpoint_url (tests, local servers) overrides the endpoint botocore resolves."""
    session = botocore.session.get_session()
    session.register_component("data_loader", _OneServiceLoader(file_loader=_PlainJSONFileLoader()))
    return session.create_client(SERVICE, config=config, endpoint_url=endpoint_url)
