"""Stack names: a contract with deployed environments (renaming a stack makes CloudFormation see a new one)."""

KEYS_STACK = "kmsflow-keys-{account}-{region}"


def keys_stack_name(account: str, region: str) -> str:
    """The keys stack of an (account name, region name) pair of the configuration."""
    return KEYS_STACK.format(account=account, region=region)


AUDIT_STACK = "kmsflow-audit-{account}-{region}"


def audit_stack_name(account: str, region: str) -> str:
    """The audit stack, in the audit account's home region."""
    return AUDIT_STACK.format(account=account, region=region)


WORKFLOWS_STACK = "kmsflow-workflows-{account}-{region}"


def workflows_stack_name(account: str, region: str) -> str:
    """The workflows of an (account name, region name) pair."""
    return WORKFLOWS_STACK.format(account=account, region=region)


def snapshot_copy_name(region: str) -> str:
    """The snapshot-copy state machine's name in ``region`` and the prefix of its handler roles' names (IAM
    names are global per account, hence the region). A contract: key policies, the CLI and operators use it."""
    return f"kmsflow-snapshot-copy-{region}"
