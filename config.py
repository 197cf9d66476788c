"""The deployer's settings: CDK context (defaults in cdk.json, `-c key=value` on the command line) -> the frozen
ServiceConfig the stack is built from. The stack never reads context or environment variables itself."""

from dataclasses import dataclass, fields

from constructs import Node

# CloudWatch Logs accepts only fixed retention periods; these are the ones the stack offers.
LOG_RETENTION_DAYS = (7, 14, 30, 90, 180, 365)


@dataclass(frozen=True)
class ServiceConfig:
    """Every setting a deployer may change, with the defaults documented in cdk.json and the README."""

    retain_data: bool = False
    api_auth: str = "iam"
    alarm_email: str = ""
    log_retention_days: int = 30
    error_rate_threshold_percent: float = 5
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if self.api_auth not in ("iam", "none"):
            raise ValueError(f"api_auth must be 'iam' or 'none', not {self.api_auth!r}")
        if self.log_level not in ("DEBUG", "INFO", "WARN", "ERROR"):
            raise ValueError(f"log_level must be DEBUG, INFO, WARN or ERROR, not {self.log_level!r}")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(f"log_retention_days must be one of {list(LOG_RETENTION_DAYS)}")
        if not 0 < self.error_rate_threshold_percent <= 100:
            raise ValueError("error_rate_threshold_percent must be in (0, 100]")

    @classmethod
    def from_context(cls, node: Node) -> "ServiceConfig":
        values = {}
        for field in fields(cls):
            raw = node.try_get_context(field.name)
            if raw is not None:
                values[field.name] = _coerce(raw, field.type)
        return cls(**values)


def _coerce(raw, kind: type):
    """Context from `-c key=value` arrives as a string; from cdk.json it arrives typed."""
    if kind is bool and isinstance(raw, str):
        if raw.lower() not in ("true", "false"):
            raise ValueError(f"expected true or false, got {raw!r}")
        return raw.lower() == "true"
    return kind(raw)
