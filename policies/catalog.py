"""Every rule the project's plugin runs: the security rules and the deployability rules."""

from policies.deployability import DEPLOYABILITY_RULES
from policies.rules import SECURITY_RULES, PolicyRule

ALL_RULES: tuple[type[PolicyRule], ...] = (*SECURITY_RULES, *DEPLOYABILITY_RULES)
