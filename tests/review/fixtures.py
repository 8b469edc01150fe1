"""Hand-built reviews for the renderers' tests (and anyone else's): three keys of one account in two regions (a
multi-Region primary and its replica, an RSA signing key), facts under conditions of many operators, an IAM
fact, a grant creator, findings of every severity, unknowns, and a diff against a baseline with every kind of
change. ``large_review`` generates a review too big for a pull-request comment."""

from __future__ import annotations

import dataclasses

from kmsflow.review.model import (
    AccessFact,
    Condition,
    ConditionChange,
    Cost,
    CostLine,
    Diff,
    Finding,
    GrantCreator,
    KeyFact,
    KeyInfo,
    KeyReview,
    PrincipalInfo,
    Review,
    SettingChange,
    Severity,
    Source,
    Unknown,
    Via,
    Way,
)

ACCOUNT = "111111111111"
PARTNER_ROOT = "arn:aws:iam::444444444444:root"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/KeyAdministrator"
PROCESSOR = f"arn:aws:iam::{ACCOUNT}:role/DataProcessor"
REPORT_WRITER = f"arn:aws:iam::{ACCOUNT}:role/ReportWriter"
SIGNER = f"arn:aws:iam::{ACCOUNT}:role/ReleaseSigner"
CLOUDTRAIL = "cloudtrail.amazonaws.com"
ANYONE = "*"

DATA_KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/AppStack-DataKey1A2B3C4D"
REPLICA_KEY = f"arn:aws:kms:eu-central-1:{ACCOUNT}:key/AppReplicaStack-DataReplicaE5F6A7B8"
SIGNING_KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/SigningStack-SigningKey9A8B7C6D"
LEGACY_KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/OldStack-LegacyKeyFFFF0000"

DATA_POLICY = "AppStack/DataKey1A2B3C4D KeyPolicy"
REPLICA_POLICY = "AppReplicaStack/DataReplicaE5F6A7B8 KeyPolicy"
SIGNING_POLICY = "SigningStack/SigningKey9A8B7C6D KeyPolicy"
REPORT_POLICY = "AppStack/ReportWriterRoleDefaultPolicy0F1E2D3C PolicyDocument"

VIA_RDS = Condition(operator="StringEquals", key="kms:ViaService", values=("rds.eu-west-1.amazonaws.com",))
VIA_RDS_S3_CENTRAL = Condition(
    operator="StringEquals",
    key="kms:ViaService",
    values=("rds.eu-central-1.amazonaws.com", "s3.eu-central-1.amazonaws.com"),
)
VIA_RDS_CENTRAL = Condition(operator="StringEquals", key="kms:ViaService", values=("rds.eu-central-1.amazonaws.com",))
FOR_AWS_RESOURCE = Condition(operator="Bool", key="kms:GrantIsForAWSResource", values=("true",))
GRANT_OPERATIONS = Condition(
    operator="ForAllValues:StringEquals", key="kms:GrantOperations", values=("Decrypt", "Encrypt")
)
REPORTS_CONTEXT = Condition(operator="StringLike", key="kms:EncryptionContext:app", values=("reports-*",))
PARTNER_CALLER = Condition(operator="StringEqualsIfExists", key="kms:CallerAccount", values=("444444444444",))
SOURCE_NETWORK = Condition(operator="IpAddress", key="aws:SourceIp", values=("10.0.0.0/8",))
MFA_AGE = Condition(operator="NumericLessThan", key="aws:MultiFactorAuthAge", values=("3600",))
MFA_PRESENT = Condition(operator="Null", key="aws:MultiFactorAuthAge", values=("false",))
TRAIL_ARN = Condition(
    operator="ArnLike", key="aws:SourceArn", values=(f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/*",)
)
UNTIL_2030 = Condition(operator="DateLessThan", key="aws:CurrentTime", values=("2030-01-01T00:00:00Z",))


def _key_policy(policy: str, sid: str) -> Source:
    return Source(policy=policy, sid=sid, via=Via.KEY_POLICY)


ADMINS_DATA = _key_policy(DATA_POLICY, "KeyAdministrators")
USERS_DATA = _key_policy(DATA_POLICY, "KeyUsers")
DELEGATION_DATA = _key_policy(DATA_POLICY, "EnableIamPolicies")
PARTNER_DATA = _key_policy(DATA_POLICY, "CrossAccountDecrypt")
PUBLIC_DATA = _key_policy(DATA_POLICY, "NetworkDescribe")
DENY_OUTSIDE_ORG = _key_policy(DATA_POLICY, "DenyOutsideOrganization")
REPORT_STATEMENT = Source(policy=REPORT_POLICY, sid="ReadReports", via=Via.IAM)
ADMINS_REPLICA = _key_policy(REPLICA_POLICY, "KeyAdministrators")
USERS_REPLICA = _key_policy(REPLICA_POLICY, "KeyUsers")
ADMINS_SIGNING = _key_policy(SIGNING_POLICY, "KeyAdministrators")
SIGNERS_SIGNING = _key_policy(SIGNING_POLICY, "Signers")
TRAIL_SIGNING = _key_policy(SIGNING_POLICY, "CloudTrailPublicKey")


def _fact(
    principal: str,
    action: str,
    sources: tuple[Source, ...],
    *conditions: Condition,
    via: Via = Via.KEY_POLICY,
    unless: tuple[Source, ...] = (),
) -> AccessFact:
    return AccessFact(
        principal=principal,
        action=action,
        conditions=tuple(sorted(conditions)),
        via=via,
        sources=tuple(sorted(sources)),
        unless=unless,
    )


PARTNER_DECRYPT = _fact(PARTNER_ROOT, "kms:Decrypt", (PARTNER_DATA,), PARTNER_CALLER, unless=(DENY_OUTSIDE_ORG,))
REPORT_DECRYPT = _fact(REPORT_WRITER, "kms:Decrypt", (REPORT_STATEMENT, DELEGATION_DATA), REPORTS_CONTEXT, via=Via.IAM)
PROCESSOR_DECRYPT = _fact(PROCESSOR, "kms:Decrypt", (USERS_DATA,), VIA_RDS)

DATA_FACTS = tuple(
    sorted(
        (
            _fact(ANYONE, "kms:DescribeKey", (PUBLIC_DATA,), SOURCE_NETWORK),
            PARTNER_DECRYPT,
            *(_fact(ADMIN, action, (ADMINS_DATA,)) for action in ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion")),
            _fact(ADMIN, "kms:DescribeKey", (ADMINS_DATA,)),
            _fact(PROCESSOR, "kms:CreateGrant", (USERS_DATA,), FOR_AWS_RESOURCE, GRANT_OPERATIONS),
            PROCESSOR_DECRYPT,
            _fact(PROCESSOR, "kms:Encrypt", (USERS_DATA,), VIA_RDS),
            _fact(PROCESSOR, "kms:GenerateDataKey", (USERS_DATA,), VIA_RDS),
            REPORT_DECRYPT,
        )
    )
)
REPLICA_FACTS = tuple(
    sorted(
        (
            _fact(ADMIN, "kms:DescribeKey", (ADMINS_REPLICA,)),
            _fact(PROCESSOR, "kms:Decrypt", (USERS_REPLICA,), VIA_RDS_S3_CENTRAL),
        )
    )
)
SIGNING_FACTS = tuple(
    sorted(
        (
            _fact(ADMIN, "kms:PutKeyPolicy", (ADMINS_SIGNING,)),
            _fact(ADMIN, "kms:Sign", (ADMINS_SIGNING,)),
            _fact(SIGNER, "kms:Sign", (SIGNERS_SIGNING,), MFA_AGE, MFA_PRESENT),
            _fact(SIGNER, "kms:Verify", (SIGNERS_SIGNING,), MFA_AGE, MFA_PRESENT),
            _fact(CLOUDTRAIL, "kms:GetPublicKey", (TRAIL_SIGNING,), TRAIL_ARN, UNTIL_2030),
        )
    )
)

GRANT_CREATOR = GrantCreator(
    principal=PROCESSOR,
    grantees=(),
    operations=("Decrypt", "Encrypt"),
    for_aws_resource=True,
    retiring_principals=(),
    conditions=(FOR_AWS_RESOURCE, GRANT_OPERATIONS),
    via=Via.KEY_POLICY,
    sources=(USERS_DATA,),
)

WILDCARD_FINDING = Finding(
    id="KR01",
    rule="wildcard-principal",
    severity=Severity.HIGH,
    key=DATA_KEY,
    message="statement NetworkDescribe allows Principal '*' (kms:DescribeKey) without a condition that names who "
    "may call, i.e. any AWS account",
    principal=ANYONE,
    source=PUBLIC_DATA,
)
CROSS_ACCOUNT_FINDING = Finding(
    id="KR03",
    rule="cross-account-unscoped",
    severity=Severity.MEDIUM,
    key=DATA_KEY,
    message="account 444444444444 may call Decrypt with kms:CallerAccount only if present | add kms:ViaService",
    principal=PARTNER_ROOT,
    source=PARTNER_DATA,
)
CHANGE_AND_USE_FINDING = Finding(
    id="KR06",
    rule="policy-change-and-use",
    severity=Severity.HIGH,
    key=SIGNING_KEY,
    message="arn:aws:iam::111111111111:role/KeyAdministrator can both change the key policy and Sign",
    principal=ADMIN,
    source=ADMINS_SIGNING,
)
ADMIN_USE_FINDING = Finding(
    id="KR05",
    rule="administrator-can-use",
    severity=Severity.MEDIUM,
    key=SIGNING_KEY,
    message="key administrator arn:aws:iam::111111111111:role/KeyAdministrator can also Sign",
    principal=ADMIN,
    source=ADMINS_SIGNING,
)
DELETION_FINDING = Finding(
    id="KR09",
    rule="short-deletion-window",
    severity=Severity.LOW,
    key=SIGNING_KEY,
    message="deletion window 7 days: a key scheduled for deletion by mistake has 7 days to be cancelled",
)
NOTE_FINDING = Finding(
    id="KR99",
    rule="replica-policy-note",
    severity=Severity.INFO,
    key=REPLICA_KEY,
    message="the replica's key policy is its own: review it with the primary's <AppStack/DataKey1A2B3C4D>",
)
ROTATION_FINDING = Finding(
    id="KR08", rule="rotation-off", severity=Severity.MEDIUM, key=DATA_KEY, message="automatic rotation is off"
)


def _cost(item: str, rotation: bool) -> Cost:
    lines = [CostLine(item=item, quantity=1, monthly_usd="1.00")]
    if rotation:
        lines.append(CostLine(item="rotated key material", quantity=2, monthly_usd="2.00"))
    return Cost(
        lines=tuple(lines),
        monthly_usd="1.00",
        steady_state_monthly_usd="3.00" if rotation else "1.00",
        note="Estimate from the AWS KMS list prices (USD); requests are not estimated.",
    )


def key_info(key_id: str, stack: str, logical_id: str, **settings: object) -> KeyInfo:
    """A symmetric encryption key of eu-west-1 with rotation on, changed by ``settings``."""
    values: dict[str, object] = {
        "id": key_id,
        "stack": stack,
        "logical_id": logical_id,
        "template": f"{stack}.template.json",
        "resource_type": "AWS::KMS::Key",
        "account": ACCOUNT,
        "region": "eu-west-1",
        "description": "",
        "spec": "SYMMETRIC_DEFAULT",
        "usage": "ENCRYPT_DECRYPT",
        "origin": "AWS_KMS",
        "multi_region": False,
        "primary": None,
        "replicas": (),
        "rotation": True,
        "rotation_period_days": 365,
        "deletion_window_days": 30,
        "enabled": True,
        "aliases": (),
        "policy_size": 1800,
        "removal": "Retain",
    }
    values.update(settings)
    return KeyInfo(**values)  # type: ignore[arg-type]


REPLICA = KeyReview(
    key=key_info(
        REPLICA_KEY,
        "AppReplicaStack",
        "DataReplicaE5F6A7B8",
        resource_type="AWS::KMS::ReplicaKey",
        region="eu-central-1",
        description="App data, replicated",
        multi_region=True,
        primary=DATA_KEY,
        aliases=("alias/app/data",),
        policy_size=1200,
    ),
    facts=REPLICA_FACTS,
    grant_creators=(),
    findings=(NOTE_FINDING,),
    cost=_cost("replica", rotation=True),
)
DATA = KeyReview(
    key=key_info(
        DATA_KEY,
        "AppStack",
        "DataKey1A2B3C4D",
        description="App data (RDS)",
        multi_region=True,
        replicas=(REPLICA_KEY,),
        aliases=("alias/app/data",),
        policy_size=3100,
    ),
    facts=DATA_FACTS,
    grant_creators=(GRANT_CREATOR,),
    findings=(WILDCARD_FINDING, CROSS_ACCOUNT_FINDING),
    cost=_cost("key", rotation=True),
)
SIGNING = KeyReview(
    key=key_info(
        SIGNING_KEY,
        "SigningStack",
        "SigningKey9A8B7C6D",
        description="Signs release artifacts <v2> | pipeline",
        spec="RSA_2048",
        usage="SIGN_VERIFY",
        rotation=None,
        rotation_period_days=None,
        deletion_window_days=7,
        aliases=("alias/app/release-signing",),
        removal="Delete",
    ),
    facts=SIGNING_FACTS,
    grant_creators=(),
    findings=(CHANGE_AND_USE_FINDING, ADMIN_USE_FINDING, DELETION_FINDING),
    cost=_cost("key", rotation=False),
)

PRINCIPALS = (
    PrincipalInfo(id=ANYONE, kind="any", account=None, label="", in_assembly=False),
    PrincipalInfo(id=PROCESSOR, kind="role", account=ACCOUNT, label="key user", in_assembly=False),
    PrincipalInfo(id=ADMIN, kind="role", account=ACCOUNT, label="key administrator", in_assembly=False),
    PrincipalInfo(id=SIGNER, kind="role", account=ACCOUNT, label="signer", in_assembly=False),
    PrincipalInfo(id=REPORT_WRITER, kind="role", account=ACCOUNT, label="", in_assembly=True),
    PrincipalInfo(id=PARTNER_ROOT, kind="root", account="444444444444", label="", in_assembly=False),
    PrincipalInfo(id=CLOUDTRAIL, kind="service", account=None, label="AWS service cloudtrail", in_assembly=False),
)

UNKNOWNS = (
    Unknown(
        what="organization policies",
        where="*",
        detail="service and resource control policies are not in the assembly",
    ),
    Unknown(
        what="outside principal",
        where=DATA_POLICY,
        detail="arn:aws:iam::444444444444:root is outside the assembly: its IAM policies are unknown",
    ),
    Unknown(
        what="parameter",
        where="AppStack/KeyAdminArn",
        detail="parameter KeyAdminArn has no default | read as a placeholder\nits value decides the administrators",
    ),
)

LOST_CANCEL = _fact(ADMIN, "kms:CancelKeyDeletion", (ADMINS_DATA,))

DIFF = Diff(
    baseline="baseline/cdk.out",
    keys_added=(SIGNING_KEY,),
    keys_removed=(LEGACY_KEY,),
    gained=(KeyFact(key=DATA_KEY, fact=PARTNER_DECRYPT), KeyFact(key=DATA_KEY, fact=REPORT_DECRYPT)),
    lost=(KeyFact(key=DATA_KEY, fact=LOST_CANCEL),),
    conditions=(
        ConditionChange(
            key=DATA_KEY,
            principal=PROCESSOR,
            action="kms:Decrypt",
            change="narrowed",
            before=(Way(conditions=()),),
            after=(Way(conditions=(VIA_RDS,)),),
        ),
        # Two ways before (any one allows), one of them only unless a Deny applies; the way from the network gone.
        ConditionChange(
            key=DATA_KEY,
            principal=PROCESSOR,
            action="kms:GenerateDataKey",
            change="narrowed",
            before=(Way(conditions=(SOURCE_NETWORK,), unless=(DENY_OUTSIDE_ORG,)), Way(conditions=(VIA_RDS,))),
            after=(Way(conditions=(VIA_RDS,)),),
        ),
        ConditionChange(
            key=REPLICA_KEY,
            principal=PROCESSOR,
            action="kms:Decrypt",
            change="widened",
            before=(Way(conditions=(VIA_RDS_CENTRAL,)),),
            after=(Way(conditions=(VIA_RDS_S3_CENTRAL,)),),
        ),
    ),
    settings=(SettingChange(key=DATA_KEY, setting="rotation", before="False", after="True"),),
    findings_new=(WILDCARD_FINDING,),
    findings_resolved=(ROTATION_FINDING,),
)


def review_with_diff() -> Review:
    """Three keys (sorted by id), their principals and unknowns, and the diff against a baseline."""
    return Review(
        source="cdk.out",
        keys=(REPLICA, DATA, SIGNING),
        principals=tuple(sorted(PRINCIPALS, key=lambda p: p.id)),
        unknowns=UNKNOWNS,
        diff=DIFF,
    )


def review_without_diff() -> Review:
    return dataclasses.replace(review_with_diff(), diff=None)


def large_review(count: int = 400) -> Review:
    """``count`` keys, each with an administrator, a user under a condition and a finding: far over 64 KB of
    Markdown."""
    keys = []
    for index in range(count):
        stack, logical_id = f"Stack{index:04d}", f"Key{index:04d}ABCDEF01"
        key_id = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{stack}-{logical_id}"
        policy = f"{stack}/{logical_id} KeyPolicy"
        admins, users = _key_policy(policy, "KeyAdministrators"), _key_policy(policy, "KeyUsers")
        facts = (
            *(_fact(ADMIN, action, (admins,)) for action in ("kms:PutKeyPolicy", "kms:DescribeKey")),
            *(_fact(PROCESSOR, action, (users,), VIA_RDS) for action in ("kms:Encrypt", "kms:Decrypt")),
        )
        finding = Finding(
            id="KR08",
            rule="rotation-off",
            severity=Severity.MEDIUM,
            key=key_id,
            message=f"automatic rotation of {stack}/{logical_id} is off: its key material stays the same for as long "
            "as the key exists; enable rotation (EnableKeyRotation) or record why not",
        )
        keys.append(
            KeyReview(
                key=key_info(key_id, stack, logical_id, rotation=False, aliases=(f"alias/app/key-{index:04d}",)),
                facts=tuple(sorted(facts)),
                grant_creators=(),
                findings=(finding,),
                cost=_cost("key", rotation=False),
            )
        )
    principals = tuple(p for p in PRINCIPALS if p.id in {ADMIN, PROCESSOR})
    return Review(source="cdk.out", keys=tuple(keys), principals=principals, unknowns=UNKNOWNS)
