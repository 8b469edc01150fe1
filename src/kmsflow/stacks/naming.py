"""Stack names: a contract with deployed environments (renaming a stack makes CloudFormation see a new one)."""

KEYS_STACK = "kmsflow-keys-{account}-{region}"


def keys_stack_name(account: str, region: str) -> str:
    """The keys stack of an (account name, region name) pair of the configuration."""
    return KEYS_STACK.format(account=account, region=region)


AUDIT_STACK = "kmsflow-audit-{account}-{region}"


def audit_stack_name(account: str, region: str) -> str:
    """The audit stack, in the audit account's home region."""
    return AUDIT_STACK.format(account=account, region=region)


AUDIT_BUCKET = "kmsflow-audit-{account_id}-{region_code}"


def audit_bucket_name(account_id: str, region_code: str) -> str:
    """The central trail bucket: a fixed name (S3 names are global, hence account id and region), because the
    trails of member accounts deliver to it and their stacks cannot reference the audit stack."""
    return AUDIT_BUCKET.format(account_id=account_id, region_code=region_code)


WORKFLOWS_STACK = "kmsflow-workflows-{account}-{region}"


def workflows_stack_name(account: str, region: str) -> str:
    """The workflows of an (account name, region name) pair."""
    return WORKFLOWS_STACK.format(account=account, region=region)


def snapshot_copy_name(region: str) -> str:
    """The snapshot-copy state machine's name in ``region`` and the prefix of its handler roles' names (IAM
    names are global per account, hence the region). A contract: key policies, the CLI and operators use it."""
    return f"kmsflow-snapshot-copy-{region}"
