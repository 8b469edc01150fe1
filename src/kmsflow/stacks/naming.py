"""Stack names: a contract with deployed environments (renaming a stack makes CloudFormation see a new one), and
the names of the workflows' state machines and roles that other accounts and key policies rely on."""

from kmsflow.errors import WorkflowDefinitionError

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


def snapshot_share_name(region: str) -> str:
    """The snapshot-share state machine's name in ``region`` and the prefix of its step roles' names (as
    :func:`snapshot_copy_name`). A contract: the target accounts' copy roles trust its ``target_copy`` role by name."""
    return f"kmsflow-snapshot-share-{region}"


SHARE_TARGET_STACK = "kmsflow-share-target-{account}-{region}"


def share_target_stack_name(account: str, region: str) -> str:
    """The stack of a share target (account name, region name of the configuration): the copy roles that share
    machines of other accounts assume there."""
    return SHARE_TARGET_STACK.format(account=account, region=region)


CI_STACK = "kmsflow-ci-{account}"


def ci_stack_name(account: str) -> str:
    """The CI stack of ``pipeline.github`` in an account (configuration name): GitHub's OIDC provider and the deploy
    role. One per account, because IAM holds one OIDC provider per issuer URL per account."""
    return CI_STACK.format(account=account)


#: The CI stack's deploy role: a fixed name, so that a workflow's ``role-to-assume`` is known before the first deploy.
CI_DEPLOY_ROLE = "kmsflow-ci-deploy"


#: IAM's limit on a role name.
MAX_ROLE_NAME = 64


def share_copy_role_name(source_account_id: str, source_region: str, target_region: str) -> str:
    """The copy role, in a target account, that the share machine of (``source_account_id``, ``source_region``)
    assumes to copy into ``target_region`` (region codes), e.g. ``kmsflow-share-222222222222-eu-west-1-eu-central-1``.
    Both accounts derive it: the source's target_copy step is allowed to assume exactly these ARNs."""
    return checked_role_name(f"kmsflow-share-{source_account_id}-{source_region}-{target_region}", field="regions")


def share_external_id(source_account_id: str, source_region: str) -> str:
    """The default ``sts:ExternalId`` the share machine of (``source_account_id``, ``source_region``) presents to
    its targets' copy roles (a target's ``external_id`` overrides it)."""
    return f"kmsflow-share-{source_account_id}-{source_region}"


def checked_role_name(name: str, *, field: str) -> str:
    """``name`` if IAM accepts its length; else a :class:`WorkflowDefinitionError` at ``field``."""
    if len(name) > MAX_ROLE_NAME:
        raise WorkflowDefinitionError(
            f"role name {name!r} has {len(name)} characters; IAM allows at most {MAX_ROLE_NAME}; "
            "run the workflow in a region with a shorter code",
            field=field,
        )
    return name


PIPELINE_STACK = "kmsflow-pipeline-{account}-{region}"
#: The environment variable that names the reports bucket in the pipeline's Review project (the service-path
#: table finds the Review project by it).
REPORTS_BUCKET_VARIABLE = "REPORTS_BUCKET"


def pipeline_stack_name(account: str, region: str) -> str:
    """The CDK Pipelines stack of ``pipeline.codepipeline`` (account name, region name of the configuration): the
    pipeline that deploys every stage. Not part of any stage; it updates itself once deployed by hand."""
    return PIPELINE_STACK.format(account=account, region=region)
