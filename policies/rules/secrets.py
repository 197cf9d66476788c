"""Secrets: configuration only in the function's environment, never a secret."""

import re

from policies.engine import PolicyRule, register

FAMILY = "SEC"
SECRET_LIKE_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_?KEY", re.I)
# A reference to a secret (its ARN or name in Secrets Manager) is configuration, not a secret.
SECRET_REFERENCE_SUFFIX = re.compile(r"_(ARN|NAME|ID)$", re.I)


@register
class NoSecretsInEnvironment(PolicyRule):
    """No function has an environment variable whose name looks like a secret (PASSWORD, SECRET, TOKEN,
    API_KEY, PRIVATE_KEY, CREDENTIAL, ACCESS_KEY); a name ending in _ARN, _NAME or _ID refers to a secret
    in Secrets Manager and is allowed.

    Why: environment variables are readable by anyone who can read the function's configuration, and are
    stored in the template (Lambda developer guide, "Securing environment variables").
    """

    rule_id = "SA-SEC1"
    resource_types = frozenset({"AWS::Lambda::Function"})
    fix = "Keep the secret in Secrets Manager, pass its ARN (…_SECRET_ARN) and read it at run time."

    def check(self, properties, logical_id, template):
        names = properties.get("Environment", {}).get("Variables", {})
        return [
            f"environment variable {name} looks like a secret"
            for name in sorted(names)
            if SECRET_LIKE_NAME.search(name) and not SECRET_REFERENCE_SUFFIX.search(name)
        ]
