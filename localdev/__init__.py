"""Running the synthesized backend on 127.0.0.1 without AWS: a DynamoDB-protocol server and the API."""
