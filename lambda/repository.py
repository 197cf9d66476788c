"""The only code that talks to DynamoDB: item reads and conditional writes, ClientErrors as domain errors.

The DynamoDB actions used here (GetItem, PutItem, DeleteItem, Scan) are exactly the ones the stack grants
the function's role; tests/test_least_privilege.py keeps the two in step.
"""

from botocore.exceptions import ClientError

from attributes import from_item, to_attribute, to_item
from errors import InvalidItem, ItemAlreadyExists, ItemNotFound, ItemTooLarge, VersionConflict


class ItemRepository:
    def __init__(self, client, table_name: str):
        self._client = client
        self._table = table_name

    @property
    def table_name(self) -> str:
        return self._table

    def get(self, item_id: str) -> dict:
        response = self._client.get_item(TableName=self._table, Key=_key(item_id), ConsistentRead=True)
        if "Item" not in response:
            raise ItemNotFound(f"item {item_id} does not exist")
        return from_item(response["Item"])

    def create(self, item: dict) -> dict:
        stored = {**item, "version": 1}
        try:
            self._put(stored, "attribute_not_exists(id)", {})
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                raise ItemAlreadyExists(f"item {item['id']} already exists") from None
            raise
        return from_item(to_item(stored))  # exactly what a later GET returns

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
        if "Item" not in error.response:
            raise ItemNotFound(f"item {item_id} does not exist") from None
        current = from_item(error.response["Item"])["version"]
        raise VersionConflict(
            f"item {item_id} is at version {current}, not {expected_version}; read it and retry"
        ) from None

    def delete(self, item_id: str, expected_version: int | None = None) -> None:
        """Deletes the item; with expected_version, only if that is still its version (a stale read is a 409)."""
        request = {
            "TableName": self._table,
            "Key": _key(item_id),
            "ConditionExpression": "attribute_exists(id)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if expected_version is not None:
            request["ConditionExpression"] = "version = :expected"
            request["ExpressionAttributeValues"] = {":expected": to_attribute(expected_version)}
        try:
            self._client.delete_item(**request)
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
            self._raise_conflict(item_id, expected_version, error)

    def list_page(self, limit: int, after_id: str | None) -> tuple[list[dict], str | None]:
        """One page of at most `limit` items; the cost is bounded by `limit`, not by the table's size."""
        request = {"TableName": self._table, "Limit": limit}
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


def _key(item_id: str) -> dict:
    return {"id": {"S": item_id}}


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")
