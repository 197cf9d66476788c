"""Domain errors, each carrying the HTTP status and stable code the caller sees.

Only these errors become 4xx responses. Anything else is an unexpected failure: the entry point lets it
raise so that it counts in the function's Errors metric, which the stack's alarm watches.
"""


class ApiError(Exception):
    """Subclasses set the HTTP status and the stable code."""

    status: int
    code: str

    def __init__(self, message: str, *, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class InvalidRequest(ApiError):
    status = 400
    code = "InvalidRequest"


class InvalidItem(ApiError):
    status = 400
    code = "InvalidItem"


class OperationNotFound(ApiError):
    """An event whose resource and method are no operation of the contract: API Gateway sends none such (it
    refuses an undefined path or method itself), so only a direct invocation meets it."""

    status = 404
    code = "OperationNotFound"


class ItemNotFound(ApiError):
    status = 404
    code = "ItemNotFound"


class ItemAlreadyExists(ApiError):
    status = 409
    code = "ItemAlreadyExists"


class VersionConflict(ApiError):
    status = 409
    code = "VersionConflict"


class ItemTooLarge(ApiError):
    status = 413
    code = "ItemTooLarge"
