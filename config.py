"""The deployer's settings: CDK context (defaults in cdk.json, `-c key=value` on the command line) -> the frozen
ServiceConfig the stack is built from. The stack never reads context or environment variables itself.

A mistake is a ConfigError of one line: the setting, the values it takes and the fix. Unknown settings are
refused (a misspelled one would otherwise be ignored and its default used), with the closest known name.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, fields
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
class ServiceConfig:
    """Every setting a deployer may change, with the defaults documented in cdk.json and the README."""

    retain_data: bool = False
    api_auth: str = "iam"
    alarm_email: str = ""
    log_retention_days: int = 30
    error_rate_threshold_percent: float = 5
    log_level: str = "INFO"
    compliance: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check("compliance", all(name in COMPLIANCE_PROFILES for name in self.compliance), ",".join(self.compliance))
        _check("api_auth", self.api_auth in API_AUTH, self.api_auth)
        _check("log_level", self.log_level in LOG_LEVELS, self.log_level)
        _check("log_retention_days", self.log_retention_days in LOG_RETENTION_DAYS, self.log_retention_days)
        _check(
            "error_rate_threshold_percent",
            0 < self.error_rate_threshold_percent <= 100,
            self.error_rate_threshold_percent,
        )
        _check(
            "alarm_email",
            self.alarm_email == "" or re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", self.alarm_email) is not None,
            self.alarm_email,
        )

    @classmethod
    def from_context(cls, node: Node) -> ServiceConfig:
        return cls.from_settings(settings_from_context(node.get_all_context()))

    @classmethod
    def from_settings(cls, settings: dict) -> ServiceConfig:
        """The config from settings as cdk.json (typed) or `-c` (strings) gives them."""
        kinds = {name: kind.__name__ for name, kind in get_type_hints(cls).items()}
        values: dict[str, Any] = {name: _coerce(name, raw, kinds[name]) for name, raw in settings.items()}
        return cls(**values)


def settings_from_context(context: dict) -> dict:
    """The project's settings in the context, refusing names that are not settings."""
    known = [field.name for field in fields(ServiceConfig)]
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


# What each setting takes, and a value to show in the fix: the one place the error messages read.
ALLOWED = {
    "retain_data": ("true or false", "true"),
    "api_auth": ("iam or none", "iam"),
    "alarm_email": ("an e-mail address, or empty for no alarm e-mail", "ops@example.com"),
    "log_retention_days": ("one of " + ", ".join(map(str, LOG_RETENTION_DAYS)), "30"),
    "error_rate_threshold_percent": ("a number above 0 and at most 100", "5"),
    "log_level": ("DEBUG, INFO, WARN or ERROR", "INFO"),
    "compliance": (
        f"empty, {EVERY_PROFILE}, or a comma-separated list of " + ", ".join(COMPLIANCE_PROFILES),
        "control-tower,nist-800-53-r5",
    ),
}


def _check(name: str, holds: bool, value) -> None:
    if not holds:
        allowed, example = ALLOWED[name]
        raise ConfigError(f"{name} must be {allowed}, not {value!r}: for example -c {name}={example}")


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
