"""The project's rules, filed by family: one module per family, whose FAMILY is the rule ids' middle part.

Importing this package registers every rule (policies.engine.register); `policies.engine.registered()` lists them.
"""

from policies.rules import data, deployability, iam, observability, s3, secrets, tags

FAMILIES = (tags, s3, iam, observability, data, deployability, secrets)
