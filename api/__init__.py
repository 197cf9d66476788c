"""The items API's contract: the OpenAPI 3.1 document in this folder, the one source of truth for the API."""
