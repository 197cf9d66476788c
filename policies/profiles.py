"""Compliance profiles: policy sets a platform team opts into with `-c compliance=<name>,...` (or `all`), named
in config.COMPLIANCE_PROFILES and built here, in PROFILES.

Each profile is one more CDK validation plugin, added beside the default packs (policies/pack.py), so its
findings fail synth and deploy like any other and are acknowledged the same way (policies/acknowledgements.py):
AWS Control Tower's proactive controls through cdklabs-cdk-validator-cfnguard (the cfn-guard binary and the
Control Tower Guard rules bundled in its wheel, run offline over the synthesized templates; in an organization
that enables one of these controls, its CloudFormation hook fails the deploy), and cdk-nag's compliance packs.

Guard rules have no per-resource suppression of their own. The plugin reports each violating resource by template
and logical id, and CDK maps that back to the construct that made it, so `Validations.of(construct).acknowledge()`
reaches these findings like cdk-nag's (tests/test_profiles.py shows one).
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

from aws_cdk import CfnResource, IPolicyValidationPlugin
from cdk_nag import HIPAASecurityChecks, NagPack, NIST80053R5Checks, PCIDSS321Checks
from cdklabs.cdk_validator_cfnguard import CfnGuardValidator
from constructs import IConstruct

from config import COMPLIANCE_PROFILES

# cfn-guard writes its whole result to a pipe; Node's default 1 MiB buffer fails larger templates with
# ENOBUFS (cdklabs/cdk-validator-cfnguard#313, fixed by this option in PR #806).
GUARD_OUTPUT_BUFFER_BYTES = 64 * 1024 * 1024
GUARD_RULES_IN_WHEEL = "package/rules/control-tower/cfn-guard/"
CDK_NAG_RULES = "https://github.com/cdklabs/cdk-nag/blob/main/RULES.md"


@dataclass(frozen=True)
class Profile:
    name: str
    # The plugin's name in the validation report: the namespace of its acknowledgement ids.
    plugin_name: str
    # What its rule names start with in the report (cdk-nag prefixes the pack's name).
    rule_prefix: str
    title: str
    documentation: str
    build: Callable[[IConstruct], IPolicyValidationPlugin]

    @property
    def cdk_nag_pack(self) -> bool:
        return isinstance(self.build, type) and issubclass(self.build, NagPack)

    def finding_id(self, rule: str) -> str:
        """The acknowledgement id of one of this profile's rules, given without the profile's prefix."""
        return f"{self.plugin_name}::{self.rule_prefix}{rule}"

    def sees(self, resource: CfnResource) -> bool:
        """cdk-nag checks typed L1 classes (`instanceof CfnFunction`), so it never sees CDK's raw CfnResource
        providers; Control Tower reads every resource in the template."""
        return not self.cdk_nag_pack or type(resource) is not CfnResource


def _nag_pack(pack, title: str, pack_name: str) -> Callable[[str], Profile]:
    return lambda name: Profile(
        name=name,
        plugin_name=pack_name,
        rule_prefix=f"{pack_name}-",
        title=title,
        documentation=CDK_NAG_RULES,
        build=pack,
    )


def _control_tower(name: str) -> Profile:
    return Profile(
        name=name,
        plugin_name="cdk-validator-cfnguard",
        rule_prefix="",
        title="AWS Control Tower proactive controls (cfn-guard, offline)",
        documentation="https://docs.aws.amazon.com/controltower/latest/controlreference/proactive-controls.html",
        # The plugin implements CDK's older IPolicyValidationPluginBeta1, which CDK still accepts.
        build=lambda _scope: CfnGuardValidator(  # pyright: ignore[reportArgumentType]
            control_tower_rules_enabled=True, max_buffer=GUARD_OUTPUT_BUFFER_BYTES
        ),
    )


# Each profile's definition, in the order of config.COMPLIANCE_PROFILES, where its name is declared.
PROFILES: dict[str, Profile] = {
    name: define(name)
    for name, define in zip(
        COMPLIANCE_PROFILES,
        (
            _control_tower,
            _nag_pack(NIST80053R5Checks, "cdk-nag NIST 800-53 rev 5", "NIST.800.53.R5"),
            _nag_pack(HIPAASecurityChecks, "cdk-nag HIPAA Security", "HIPAA.Security"),
            _nag_pack(PCIDSS321Checks, "cdk-nag PCI DSS 3.2.1", "PCI.DSS.321"),
        ),
        strict=True,
    )
}


def profile_of_plugin(plugin_name: str) -> Profile | None:
    return next((profile for profile in PROFILES.values() if profile.plugin_name == plugin_name), None)


@dataclass(frozen=True)
class Control:
    """One Control Tower proactive control, as its Guard rule file in the wheel describes it."""

    rule: str
    control_id: str
    title: str
    resource_types: tuple[str, ...]


def guard_bundle() -> Traversable:
    """The plugin's package as its wheel ships it (a tarball): the cfn-guard binaries and the Guard rules."""
    return next(
        entry
        for entry in resources.files("cdklabs.cdk_validator_cfnguard._jsii").iterdir()
        if entry.name.endswith(".jsii.tgz")
    )


@cache
def control_tower_controls() -> dict[str, Control]:
    """Every Control Tower control the plugin runs, by Guard rule name, read from the rules in its wheel."""
    controls = {}
    with guard_bundle().open("rb") as stream, tarfile.open(fileobj=stream, mode="r:gz") as archive:
        for member in archive.getmembers():
            if not (
                member.isfile() and member.name.startswith(GUARD_RULES_IN_WHEEL) and member.name.endswith(".guard")
            ):
                continue
            extracted = archive.extractfile(member)
            if extracted is None:
                continue
            control = _control(extracted.read().decode("utf-8"))
            controls[control.rule] = control
    return controls


def _control(guard_rules: str) -> Control:
    rule = re.search(r"^rule (\w+) when", guard_rules, re.MULTILINE)
    title = re.search(r"\[(CT\.[A-Z0-9-]+\.PR\.\d+)\]:\s*(.+)", guard_rules)
    reports_on = re.search(r"# Reports on:\s*\n((?:#\s+AWS::.*\n)+)", guard_rules)
    if rule is None or title is None or reports_on is None:
        raise ValueError("a Control Tower Guard rule file without a rule, a [CT...] message or 'Reports on'")
    types = tuple(re.findall(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+", reports_on.group(1)))
    return Control(rule.group(1), title.group(1), title.group(2).strip(), types)
