"""The only code that talks to DynamoDB: item reads and conditional writes, ClientErrors as domain errors.

The DynamoDB actions used here (GetItem, PutItem, Scan) are exactly the ones the stack grants the function's
role; tests/test_least_privilege.py keeps the two in step.

Versions never repeat for an id. Deleting an item replaces it with a tombstone that keeps only its id and its
last version (DELETED_VERSION), and creating that id again continues from there: a write conditioned on a
version read before the delete can never match the re-created item (an ABA). A live item always has `version`
and a tombstone never does, so a client attribute named like the marker changes nothing.
"""

from botocore.exceptions import ClientError

from attributes import from_item, to_attribute, to_item
from errors import InvalidItem, ItemAlreadyExists, ItemNotFound, ItemTooLarge, VersionConflict

# The attribute of a tombstone that holds the version its item was deleted at.
DELETED_VERSION = "deleted_version"
# Attempts of a create or an unconditional delete that lose a race, each to a write another request completed.
WRITE_ATTEMPTS = 3


class ItemRepository:
    def __init__(self, client, table_name: str):
        self._client = client
        self._table = table_name

    @property
    def table_name(self) -> str:
        return self._table

    def get(self, item_id: str) -> dict:
        response = self._client.get_item(TableName=self._table, Key=_key(item_id), ConsistentRead=True)
        if not _is_live(response.get("Item")):
            raise ItemNotFound(f"item {item_id} does not exist")
        return from_item(response["Item"])

    def create(self, item: dict) -> dict:
        """A new item at version 1, or, where a tombstone is, at the version after the one it was deleted at."""
        condition, values, version = "attribute_not_exists(id)", {}, 1
        for _ in range(WRITE_ATTEMPTS):
            stored = {**item, "version": version}
            try:
                self._put(stored, condition, values)
                return from_item(to_item(stored))  # exactly what a later GET returns
            except ClientError as error:
                if _code(error) != "ConditionalCheckFailedException":
                    raise
                found = error.response.get("Item")
                if _is_live(found):
                    raise ItemAlreadyExists(f"item {item['id']} already exists") from None
                if found is None:  # the tombstone went away: nothing else deletes one, so this is a defect
                    raise
                deleted_at = found[DELETED_VERSION]
                condition = f"attribute_not_exists(version) AND {DELETED_VERSION} = :deleted"
                values, version = {":deleted": deleted_at}, int(deleted_at["N"]) + 1
        # Each retry followed another request's create (and delete) of this id: that create won.
        raise ItemAlreadyExists(f"item {item['id']} was created by another request meanwhile")

    def replace(self, item: dict, expected_version: int) -> dict:
        stored = {**item, "version": expected_version + 1}
        try:
            self._put(stored, "version = :expected", {":expected": to_attribute(expected_version)})
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
            self._raise_conflict(item["id"], expected_version, error)
        return from_item(to_item(stored))

    @staticmethod
    def _raise_conflict(item_id: str, expected_version: int | None, error: ClientError):
        """A failed condition: the item is gone (404), or it is at another version than the one read (409)."""
        if not _is_live(error.response.get("Item")):
            raise ItemNotFound(f"item {item_id} does not exist") from None
        current = from_item(error.response["Item"])["version"]
        raise VersionConflict(
            f"item {item_id} is at version {current}, not {expected_version}; read it and retry"
        ) from None

    def delete(self, item_id: str, expected_version: int | None = None) -> None:
        """Replaces the item with its tombstone; with expected_version, only if that is still its version (a stale
        read is a 409). Without it, the current version is read first, and the write is conditional on it."""
        version = expected_version if expected_version is not None else self.get(item_id)["version"]
        tombstone = {"id": item_id, DELETED_VERSION: version}
        for _ in range(WRITE_ATTEMPTS):
            try:
                self._put(tombstone, "version = :expected", {":expected": to_attribute(version)})
                return
            except ClientError as error:
                if _code(error) != "ConditionalCheckFailedException":
                    raise
                if expected_version is not None or not _is_live(error.response.get("Item")):
                    self._raise_conflict(item_id, expected_version, error)
                # An unconditional delete raced a write: delete the version that write left.
                version = from_item(error.response["Item"])["version"]
                tombstone[DELETED_VERSION] = version
        raise VersionConflict(f"item {item_id} kept changing while it was deleted; retry")

    def list_page(self, limit: int, after_id: str | None) -> tuple[list[dict], str | None]:
        """One page of at most `limit` items; the cost is bounded by `limit`, not by the table's size."""
        # Limit counts what the Scan reads, tombstones included: a page may hold fewer items, or none, with a next.
        request = {"TableName": self._table, "Limit": limit, "FilterExpression": "attribute_exists(version)"}
        if after_id is not None:
            request["ExclusiveStartKey"] = _key(after_id)
        response = self._client.scan(**request)
        last_key = response.get("LastEvaluatedKey")
        return [from_item(item) for item in response["Items"]], last_key and last_key["id"]["S"]

    def _put(self, item: dict, condition: str, values: dict) -> None:
        request = {
            "TableName": self._table,
            "Item": to_item(item),
            "ConditionExpression": condition,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            self._client.put_item(**request)
        except ClientError as error:
            if _code(error) == "ValidationException":
                message = error.response.get("Error", {}).get("Message", "")
                if "size" in message.lower():
                    raise ItemTooLarge("the item exceeds DynamoDB's 400 KB item size limit") from None
                raise InvalidItem("the item cannot be stored in DynamoDB") from None
            raise


def _is_live(item: dict | None) -> bool:
    return item is not None and "version" in item


def _key(item_id: str) -> dict:
    return {"id": {"S": item_id}}


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")
