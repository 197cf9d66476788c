"""Every limit a request or a response can meet, in one place: the API's own rules, then the platform's.

The function reads them to refuse or shape what the platform would otherwise fail on; api/schemas.py writes
the document's Id, Version, PageSize and Number schemas and its components/x-platform-limits from them; the
local API reads them to answer over-limit requests as API Gateway does. None of the platform's limits can be
raised by a quota request.
"""

# The API's own rules ----------------------------------------------------------------------------------------
# An item id: 1-128 of these characters (safe in a URL path segment unescaped), and not a dot-segment: a client
# resolving a Location such as /prod/items/.. (RFC 3986, section 5.2.4, as curl and browsers do) would land on
# the stage, not on the item. A page's `next` is the id of its last item, so it follows the same rule.
ID_MAX_LENGTH = 128
ID_SYMBOLS = ("_", ".", ":", "-")
ID_CHARACTERS = "A-Za-z0-9" + "".join(ID_SYMBOLS)  # a regex character class: "-" last, so it is literal
ID_PATTERN = f"[{ID_CHARACTERS}]{{1,{ID_MAX_LENGTH}}}"
DOT_SEGMENTS = (".", "..")
ID_DESCRIPTION = (
    f"1-{ID_MAX_LENGTH} characters of A-Z, a-z, 0-9, {', '.join(repr(s) for s in ID_SYMBOLS[:-1])} "
    f"or {ID_SYMBOLS[-1]!r}, and not {' or '.join(repr(segment) for segment in DOT_SEGMENTS)}"
)
# Items per page: a Scan's Limit, so a page's cost is bounded by it and not by the table's size.
PAGE_SIZE_DEFAULT = 20
PAGE_SIZE_MAX = 100
# The largest integer JSON clients in JavaScript read exactly (Number.MAX_SAFE_INTEGER), and what API Gateway's
# model (JSON numbers in JavaScript) can state exactly.
VERSION_MAX = 2**53 - 1

# Integers below this are written in full in responses, as JavaScript's Number::toString writes them (ECMAScript,
# section 6.1.6.1.20: exponent form from 1e21); larger ones in exponent form where that is shorter (1E+125).
PLAIN_INTEGER_LIMIT = 10**21

# The platform's limits ----------------------------------------------------------------------------------------

# Lambda: "Invocation payload (request and response): 6 MB each for request and response (synchronous)"
# (Lambda quotas, https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). The runtime's own
# refusal reads "Response payload size exceeded maximum allowed payload size (6291556 bytes)" and API Gateway
# then answers 502 INTEGRATION_FAILURE (DataBiosphere/azul#7466, #8192); 6 MiB stays just below that.
LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024

# API Gateway REST: "Payload size: 10 MB", not adjustable (API Gateway quotas,
# https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-execution-service-limits-table.html);
# over it the client gets 413 ("HTTP content length exceeded 10485760 bytes.", koki-develop/lgtm-generator#10,
# gateway response type REQUEST_TOO_LARGE). A body under it whose event exceeds Lambda's request payload is
# refused by Lambda before the function runs: 413 with {"message": "Request Too Long"} (same report).
API_GATEWAY_PAYLOAD_BYTES = 10 * 1024 * 1024
# "Length, in characters, of the URL for a regional API: 10240" (same quotas table).
API_GATEWAY_REGIONAL_URL_CHARS = 10240
# "When authorization is enabled on a method, the maximum length of the method's ARN
# (arn:aws:execute-api:{region}:{account}:{api-id}/{stage}/{method}/{resource}/{path}) is 1600 bytes ...
# the API client receives a 414 Request URI too long response" (API Gateway quotas, important notes,
# https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html).
API_GATEWAY_METHOD_ARN_BYTES = 1600
URI_TOO_LONG_STATUS = 414

# DynamoDB: "The maximum item size in DynamoDB is 400 KB, which includes both attribute name binary length
# (UTF-8 length) and attribute value lengths" (DynamoDB quotas,
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html).
DYNAMODB_ITEM_BYTES = 400 * 1024
# "A single Scan operation reads up to the maximum number of items set (if using the Limit parameter) or a
# maximum of 1 MB of data" (Scan, https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Scan.html).
DYNAMODB_SCAN_PAGE_BYTES = 1024 * 1024
# "DynamoDB supports nested attributes up to 32 levels deep"; numbers: "up to 38 digits of precision ...
# Positive range: 1E-130 to 9.9999999999999999999999999999999999999E+125" (DynamoDB data types, quotas).
DYNAMODB_NESTING_LEVELS = 32
DYNAMODB_NUMBER_DIGITS = 38
DYNAMODB_NUMBER_MIN_EXPONENT = -130
DYNAMODB_NUMBER_MAX_EXPONENT = 125

# JSON escaping, worst case: one stored byte (a control character such as U+0001) is "\u0001" in a JSON body
# and "\\u0001" once that body is a string inside the runtime's JSON response envelope: 7 bytes.
WORST_CASE_ESCAPED_BYTES_PER_BYTE = 7
