"""The deployer's settings: CDK context (defaults in cdk.json, `-c key=value` on the command line) -> the frozen
ServiceConfig the stack is built from. The stack never reads context or environment variables itself.

A mistake is a ConfigError of one line: the setting, the values it takes and the fix. Unknown settings are
refused (a misspelled one would otherwise be ignored and its default used), with the closest known name.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, get_type_hints

from constructs import Node

# CloudWatch Logs accepts only fixed retention periods; these are the ones the stack offers.
LOG_RETENTION_DAYS = (7, 14, 30, 90, 180, 365)
LOG_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")
API_AUTH = ("iam", "none")
# Opt-in policy sets run at synth beside the default packs (policies/profiles.py builds each one); `all` selects
# every one, so a command that runs them all never lists them.
COMPLIANCE_PROFILES = ("control-tower", "nist-800-53-r5", "hipaa-security", "pci-dss-321")
EVERY_PROFILE = "all"
# CDK's own context keys (feature flags "@aws-cdk/...", the CLI's "aws:cdk:...", cached lookups "key:account:...")
# all carry a separator; the project's settings are plain snake_case names.
_SETTING_NAME = re.compile(r"[a-z][a-z0-9_]*")


class ConfigError(ValueError):
    """A setting a person must fix: the message is the one line to show them."""


@dataclass(frozen=True)
class Setting:
    """What a setting takes (in words, for the error and the README), a value to show in a fix, what it does,
    and the check a value must pass."""

    allowed: str
    example: str
    effect: str
    holds: Callable[[Any], bool]


def setting(default, *, allowed: str, example: str, effect: str, holds: Callable[[Any], bool]) -> Any:
    """A ServiceConfig field declared with everything about it: the one place a setting is written."""
    return field(default=default, metadata={"setting": Setting(allowed, example, effect, holds)})


# CloudFormation's pattern for a stack name (AWS CloudFormation API reference, CreateStack: StackName).
_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class ServiceConfig:
    """Every setting a deployer may change; cdk.json's defaults and the README's table are held equal to
    these declarations (tests/test_config.py, tests/test_readme.py)."""

    retain_data: bool = setting(
        False,
        allowed="true or false",
        example="true",
        effect="`true`: every table is retained on stack deletion and has deletion protection on",
        holds=lambda value: isinstance(value, bool),
    )
    api_auth: str = setting(
        "iam",
        allowed=" or ".join(API_AUTH),
        example="iam",
        effect="`none` opens every method without authorization (not recommended)",
        holds=lambda value: value in API_AUTH,
    )
    alarm_email: str = setting(
        "",
        allowed="an e-mail address, or empty for no alarm e-mail",
        example="ops@example.com",
        effect="an address: subscribes it by e-mail to the alarms' SNS topic",
        holds=lambda value: value == "" or (isinstance(value, str) and _EMAIL.fullmatch(value) is not None),
    )
    log_retention_days: int = setting(
        30,
        allowed="one of " + ", ".join(map(str, LOG_RETENTION_DAYS)),
        example="30",
        effect="retention of every log group, in days",
        holds=lambda value: value in LOG_RETENTION_DAYS,
    )
    error_rate_threshold_percent: float = setting(
        5,
        allowed="a number above 0 and at most 100",
        example="5",
        effect="each function's alarm fires above this error rate over 5 minutes",
        holds=lambda value: isinstance(value, int | float) and 0 < value <= 100,
    )
    log_level: str = setting(
        "INFO",
        allowed=", ".join(LOG_LEVELS[:-1]) + " or " + LOG_LEVELS[-1],
        example="INFO",
        effect="the functions' application log level",
        holds=lambda value: value in LOG_LEVELS,
    )
    stack_name: str = setting(
        "ServerlessAutomation",
        allowed="a CloudFormation stack name: a letter, then letters, digits or hyphens, at most 128 in all",
        example="ServerlessAutomation-staging",
        effect=(
            "the CloudFormation stack's name: another name deploys a second copy (it shares API Gateway's "
            "account setting)"
        ),
        holds=lambda value: isinstance(value, str) and _STACK_NAME.fullmatch(value) is not None,
    )
    compliance: tuple[str, ...] = setting(
        (),
        allowed=f"empty, {EVERY_PROFILE}, or a comma-separated list of " + ", ".join(COMPLIANCE_PROFILES),
        example="control-tower,nist-800-53-r5",
        effect="compliance profiles run at synth beside the default packs (comma-separated with `-c`, or `all`)",
        holds=lambda value: all(name in COMPLIANCE_PROFILES for name in value),
    )

    def __post_init__(self) -> None:
        for declared in fields(self):
            value = getattr(self, declared.name)
            if not SETTINGS[declared.name].holds(value):
                shown = ",".join(value) if isinstance(value, tuple) else value
                _check(declared.name, False, shown)

    @classmethod
    def from_context(cls, node: Node) -> ServiceConfig:
        return cls.from_settings(settings_from_context(node.get_all_context()))

    @classmethod
    def from_settings(cls, settings: dict) -> ServiceConfig:
        """The config from settings as cdk.json (typed) or `-c` (strings) gives them."""
        kinds = {name: kind.__name__ for name, kind in get_type_hints(cls).items()}
        values: dict[str, Any] = {name: _coerce(name, raw, kinds[name]) for name, raw in settings.items()}
        return cls(**values)


# Each setting's declaration, by name: what the error messages, the README's table and cdk.json are held to.
SETTINGS: dict[str, Setting] = {declared.name: declared.metadata["setting"] for declared in fields(ServiceConfig)}


def settings_from_context(context: dict) -> dict:
    """The project's settings in the context, refusing names that are not settings."""
    known = list(SETTINGS)
    settings = {}
    for name, value in context.items():
        if not _SETTING_NAME.fullmatch(name):
            continue
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]}?" if close else "the settings are " + ", ".join(sorted(known))
            raise ConfigError(f"unknown setting {name} (from -c {name}=... or cdk.json): {hint}")
        settings[name] = value
    return settings


def _check(name: str, holds: bool, value) -> None:
    if not holds:
        declared = SETTINGS[name]
        raise ConfigError(f"{name} must be {declared.allowed}, not {value!r}: for example -c {name}={declared.example}")


def _coerce(name: str, raw, kind: str):
    """Context from `-c key=value` arrives as a string; from cdk.json it arrives typed."""
    if kind == "tuple":
        names = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(names, list | tuple) or not all(isinstance(part, str) for part in names):
            _check(name, False, raw)
        selected = tuple(dict.fromkeys(part.strip() for part in names if part.strip()))
        return COMPLIANCE_PROFILES if EVERY_PROFILE in selected else selected
    if not isinstance(raw, str):
        return raw
    try:
        if kind == "bool":
            if raw.lower() not in ("true", "false"):
                raise ValueError(raw)
            return raw.lower() == "true"
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        _check(name, False, raw)
    return raw
