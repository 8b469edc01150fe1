"""Customer managed KMS keys: the owned :class:`KmsflowKey`, imported keys, and grants named by intent.

Construct ids are a contract: a key's logical id derives from ``<id>/Key``; renaming the construct replaces
the key in CloudFormation (the old one is retained, not deleted, because keys default to RETAIN).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any, Literal, Protocol

import jsii
from aws_cdk import CfnElement, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.interfaces import ResourceEnvironment
from aws_cdk.interfaces.aws_kms import KeyReference
from constructs import Construct, IValidation

from kmsflow.constructs.keys.policy import (
    CustomKeyPolicy,
    PolicyContext,
    custom_statements,
    default_statements,
    policy_delegates_to_iam,
)
from kmsflow.constructs.keys.role_grants import grant_to_role
from kmsflow.constructs.nag.acknowledge import acknowledge
from kmsflow.errors import KeyConfigurationError, KeyPolicyError
from kmsflow.keyspec import KeyOrigin, KeySettings, alias_problem, resolve_key_settings
from kmsflow.policy import rules
from kmsflow.policy.document import principal_values
from kmsflow.policy.document import statements as policy_statements
from kmsflow.policy.intents import Intent, intent_actions, intent_problem
from kmsflow.policy.roles import (
    CRYPTO_ROLES,
    GRANT_ACTIONS,
    ROLE_SIDS,
    Role,
    grants_for_aws_resources,
    role_actions,
    role_fits,
    via_service_values,
)
from kmsflow.policy.separation import overlap_problem

#: The cdk-nag findings for a symmetric key without automatic rotation (AwsSolutions, NIST 800-53 R5).
ROTATION_RULES = (
    "AwsSolutions::AwsSolutions-KMS5",
    "NIST.800.53.R5::NIST.800.53.R5-KMSBackingKeyRotationEnabled",
)
EXTERNAL_ROTATION_REASON = (
    "The key has origin EXTERNAL (imported key material): KMS cannot rotate imported material "
    "automatically; the owner rotates it by importing new material (kmsflow keys import-material) or "
    "by on-demand rotation, on the schedule of their key management procedure."
)


class IKmsflowKey(Protocol):
    """What other constructs need of a kmsflow key, owned or imported."""

    @property
    def key(self) -> kms.IKey: ...

    @property
    def settings(self) -> KeySettings: ...

    def grant_intent(self, grantee: iam.IGrantable, intent: Intent) -> iam.Grant: ...


#: What a key's ``spec`` accepts: a spec name of :data:`kmsflow.keyspec.SPECS` or aws-cdk's enum.
KeySpecName = Literal[
    "SYMMETRIC_DEFAULT",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
]
KeyUsageName = Literal["ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"]


class KeyGrants:
    """What every kmsflow key (owned, replica, imported) offers, as ``aws_kms.IKey`` does, so that a kmsflow key
    works wherever CDK takes a key (``s3.Bucket(encryption_key=...)``, ``sqs.Queue(encryption_master_key=...)``,
    ...), plus grants named by intent that check the intent fits the key.

    Grants land where KMS looks: on a key whose policy this app manages and does not delegate to IAM (a custom
    policy with ``root_access: admin``), a grant adds a key-policy statement for the grantee *and* an IAM statement
    on the key's ARN; on a key whose policy delegates (the KMS default policy, ``root_access: full``) a grantee of
    the key's account gets the IAM statement only, as with ``aws_kms.Key``. Every statement added to a managed
    policy passes kmsflow's guards when added and again at synth.

    A key class lists this mixin *before* ``Construct`` in its bases: jsii finds a Python class's
    implementations of ``IKey`` only in the classes that precede the first jsii class of its MRO."""

    key: kms.IKey
    settings: KeySettings
    #: The partition the key lives in (``aws``, ``aws-cn``, ``aws-us-gov``), for kms:ViaService values.
    partition: str = "aws"
    #: The key policy this app manages (``None`` for an imported key, whose policy is someone else's).
    policy_document: iam.PolicyDocument | None = None
    #: Whether that policy lets IAM policies of the key's own account decide (root holds ``kms:*``).
    delegates_to_iam: bool = True

    # -- aws_kms.IKey -------------------------------------------------------------------------------------------

    @property
    def key_arn(self) -> str:
        """The key's ARN (a token until deploy for a key made here)."""
        return self.key.key_arn

    @property
    def key_id(self) -> str:
        """The key's id (a token until deploy for a key made here)."""
        return self.key.key_id

    @property
    def key_ref(self) -> KeyReference:
        return self.key.key_ref

    @property
    def env(self) -> ResourceEnvironment:
        return self.key.env

    @property
    def stack(self) -> Stack:
        return Stack.of(self.key)

    def apply_removal_policy(self, policy: RemovalPolicy) -> None:
        """What happens to the key when it leaves the stack (kmsflow keys default to ``RETAIN``)."""
        self.key.apply_removal_policy(policy)

    def add_alias(self, alias_name: str) -> kms.Alias:
        """Another alias for the key (``alias/...``, not ``alias/aws/...``), checked as the ``aliases`` prop is."""
        problem = alias_problem(alias_name)
        if problem:
            raise KeyConfigurationError(f"{_path(self)}: {problem}", field="aliases")
        return kms.Alias(_scope(self), alias_construct_id(alias_name), alias_name=alias_name, target_key=self.key)

    def add_to_resource_policy(
        self, statement: iam.PolicyStatement, allow_no_op: bool | None = None
    ) -> iam.AddToResourcePolicyResult:
        """Add ``statement`` to the key policy, refused at once (``KeyPolicyError``) if it breaks a guard (``kms:*``
        for anyone but the root, ``Principal: *`` without a condition, CreateGrant without a grant condition, the
        32 KB size). On an imported key, whose policy is not managed here, nothing is added (as aws-cdk)."""
        if self.policy_document is None:
            return self.key.add_to_resource_policy(statement, allow_no_op)
        check_added_statement(_scope(self), self.policy_document, statement)
        self.policy_document.add_statements(statement)
        return iam.AddToResourcePolicyResult(statement_added=True)

    def grant(self, grantee: iam.IGrantable, *actions: str) -> iam.Grant:
        """Give ``grantee`` ``actions`` on this key, as ``aws_kms.Key.grant`` (aws-cdk's services call it for
        their resources' grants): an IAM statement on the key's ARN and, where KMS needs it, a key-policy
        statement for the grantee (see the class docstring)."""
        if self.policy_document is None:
            return self.key.grant(grantee, *actions)  # an imported key: its own policy decides
        # Checked here, in Python: a guard failing inside aws-cdk's Grant would surface as a JavaScript error.
        prospective = iam.PolicyStatement(principals=[grantee.grant_principal], actions=list(actions), resources=["*"])
        check_added_statement(_scope(self), self.policy_document, prospective)
        options: dict[str, Any] = {
            "grantee": grantee,
            "actions": list(actions),
            "resource_arns": [self.key_arn],
            "resource": self,
            "resource_self_arns": ["*"],
        }
        if self.delegates_to_iam and _same_account(grantee, _scope(self)):
            return iam.Grant.add_to_principal_or_resource(**options)
        return iam.Grant.add_to_principal_and_resource(**options)

    def grant_encrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        """Encrypt (symmetric: also re-encrypt and data keys; RSA: also the public key), and DescribeKey."""
        return self.grant_intent(grantee, Intent.ENCRYPT)

    def grant_decrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        """Decrypt and DescribeKey (what S3, SQS and others ask for readers of encrypted data)."""
        return self.grant_intent(grantee, Intent.DECRYPT)

    def grant_encrypt_decrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        """Both of the above."""
        return self.grant_intent(grantee, Intent.ENCRYPT_DECRYPT)

    def grant_sign(self, grantee: iam.IGrantable) -> iam.Grant:
        """Sign, GetPublicKey, DescribeKey (SIGN_VERIFY keys)."""
        return self.grant_intent(grantee, Intent.SIGN)

    def grant_verify(self, grantee: iam.IGrantable) -> iam.Grant:
        """Verify, GetPublicKey, DescribeKey (SIGN_VERIFY keys)."""
        return self.grant_intent(grantee, Intent.VERIFY)

    def grant_sign_verify(self, grantee: iam.IGrantable) -> iam.Grant:
        """Sign and Verify, GetPublicKey, DescribeKey (SIGN_VERIFY keys)."""
        self._check_intent(Intent.SIGN)
        actions = dict.fromkeys(
            intent_actions(Intent.SIGN, self.settings) + intent_actions(Intent.VERIFY, self.settings)
        )
        return self.grant(grantee, *actions)

    def grant_generate_mac(self, grantee: iam.IGrantable) -> iam.Grant:
        """GenerateMac, DescribeKey (HMAC keys)."""
        return self.grant_intent(grantee, Intent.GENERATE_MAC)

    def grant_verify_mac(self, grantee: iam.IGrantable) -> iam.Grant:
        """VerifyMac, DescribeKey (HMAC keys)."""
        return self.grant_intent(grantee, Intent.VERIFY_MAC)

    # -- kmsflow's grants by intent -----------------------------------------------------------------------------

    def grant_intent(self, grantee: iam.IGrantable, intent: Intent) -> iam.Grant:
        """Give ``grantee`` the actions of ``intent`` (:mod:`kmsflow.policy.intents`), refused with
        ``KeyPolicyError`` when the intent does not fit the key (``grant_sign`` on a symmetric key...)."""
        self._check_intent(intent)
        return self.grant(grantee, *intent_actions(intent, self.settings))

    def grant_admin(self, grantee: iam.IGrantable) -> iam.Grant:
        """Administration without cryptographic use (the ``administrators`` role's actions)."""
        return self.grant_intent(grantee, Intent.ADMIN)

    # -- grants to roles of other stacks (kmsflow.constructs.keys.role_grants) ---------------------------------

    def grant_use_through_services(self, role: iam.Role, *, services: Sequence[str]) -> None:
        """Let ``role`` use the key only through ``services`` (short names, e.g. ``rds``, ``ebs``) in the key's
        region, and create grants only for AWS resources: what RDS and EBS need of their caller to encrypt a
        snapshot copy. ``role`` may live in any stack of the key's account, in any region (see
        :mod:`kmsflow.constructs.keys.role_grants`); it needs a fixed ``role_name``."""
        problem = role_fits(Role.SERVICE_USERS, self.settings)
        if problem:
            raise KeyPolicyError(f"{_path(self)}: {problem}")
        via = {"StringEquals": {"kms:ViaService": self._via_service_values(services)}}
        grant_to_role(
            self, role, purpose="ServiceUse", actions=role_actions(Role.SERVICE_USERS, self.settings), conditions=via
        )
        if grants_for_aws_resources(self.settings):
            grant_to_role(
                self,
                role,
                purpose="ServiceGrants",
                actions=GRANT_ACTIONS,
                # Grants through the same services only: no wider than the use above.
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}, **via},
            )

    def grant_describe(self, role: iam.Role) -> None:
        """Let ``role`` read the key's metadata (DescribeKey): to check a key before using it."""
        grant_to_role(self, role, purpose="Describe", actions=("kms:DescribeKey",), conditions={})

    def _via_service_values(self, services: Sequence[str]) -> list[str]:
        # An imported key's region comes from its literal ARN; an owned key's or a replica's is its stack's.
        region = self.key.env.region
        if Token.is_unresolved(region):
            region = Stack.of(self.key).region
        if Token.is_unresolved(region):
            raise KeyPolicyError("kms:ViaService values need the key's region: give its stack an env with a region")
        return via_service_values(list(services), region=region, partition=self.partition)

    def _check_intent(self, intent: Intent) -> None:
        problem = intent_problem(intent, self.settings)
        if problem:
            raise KeyPolicyError(f"{_path(self)}: {problem}")


def show_init_signature(cls: type[Any]) -> type[Any]:
    """Make ``inspect.signature(cls)`` (``help``, notebooks, editors that ask it) show ``cls.__init__``'s
    parameters: jsii's metaclass defines ``__call__(*args, **kwargs)``, which would be shown instead."""
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]  # without self
    cls.__signature__ = inspect.Signature(parameters)
    return cls


def _scope(key: KeyGrants) -> Construct:
    """Every KeyGrants is also a Construct (the mixin is used only with one)."""
    assert isinstance(key, Construct)
    return key


def _path(key: KeyGrants) -> str:
    return _scope(key).node.path


def _same_account(grantee: iam.IGrantable, scope: Construct) -> bool:
    """Whether the grantee is a principal of the key's account (unknown accounts count as other accounts)."""
    principal_account = grantee.grant_principal.principal_account
    account = Stack.of(scope).account
    if principal_account is None or Token.is_unresolved(account):
        return False
    if Token.is_unresolved(principal_account):
        return bool(Stack.of(scope).resolve(principal_account) == account)
    return principal_account == account


def check_added_statement(scope: Construct, document: iam.PolicyDocument, statement: iam.PolicyStatement) -> None:
    """Refuse ``statement`` now, before it joins ``document``, if the policy with it would break a guard."""
    stack = Stack.of(scope)
    resolved = stack.resolve(document.to_json())
    added = {**resolved, "Statement": [*resolved.get("Statement", []), stack.resolve(statement.to_statement_json())]}
    problems = rules.violations(added, known_account(scope))
    if problems:
        raise KeyPolicyError(readable(scope, f"{scope.node.path}: " + "; ".join(problems)), field="policy")


_TOKEN_REFERENCE = re.compile(r"\$\{([A-Za-z0-9]+)\.(?:Arn|RoleArn)\}")


def readable(scope: Construct, message: str) -> str:
    """``message`` with the resolved references CDK writes for resources of the stack (``${RC21A1702.Arn}``)
    replaced by the construct paths a user wrote (``App/Stack/Reader``)."""
    if "${" not in message:
        return message
    stack = Stack.of(scope)
    paths = {
        stack.resolve(stack.get_logical_id(element)): (element.node.scope or element).node.path
        for element in stack.node.find_all()
        if isinstance(element, CfnElement)
    }
    return _TOKEN_REFERENCE.sub(lambda m: paths.get(m.group(1), m.group(0)), message)


def settings_or_raise(**kwargs: Any) -> KeySettings:
    """:func:`resolve_key_settings`, raising the first problem as :class:`KeyConfigurationError`. aws-cdk's
    ``KeySpec``/``KeyUsage`` enums are read as their names."""
    for name in ("spec", "usage"):
        if isinstance(kwargs.get(name), Enum):
            kwargs[name] = kwargs[name].name
    settings, problems = resolve_key_settings(**kwargs)
    if settings is None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more: " + "; ".join(p.message for p in problems[1:]) + ")"
        raise KeyConfigurationError(first.message + (more if len(problems) > 1 else ""), field=first.field)
    return settings


def policy_context(scope: Construct, partition: str) -> PolicyContext:
    """The account and region a key's policy is written for: its stack's."""
    stack = Stack.of(scope)
    return PolicyContext(account=stack.account, region=stack.region, partition=partition)


def known_account(scope: Construct) -> str | None:
    account = Stack.of(scope).account
    return None if Token.is_unresolved(account) else account


@jsii.implements(IValidation)
class _PolicyGuard:
    """Re-checks a key policy at synth when statements were added after construction (grants by other
    constructs do that). A policy whose statement count has not changed was checked when it was built;
    re-resolving it would cost a jsii round trip per key for nothing."""

    def __init__(self, scope: Construct, document: iam.PolicyDocument) -> None:
        self._scope = scope
        self._document = document
        self._checked_count = document.statement_count

    def validate(self) -> list[str]:
        if self._document.statement_count == self._checked_count:
            return []
        resolved = Stack.of(self._scope).resolve(self._document.to_json())
        return [
            readable(self._scope, f"{self._scope.node.path}: {msg}")
            for msg in rules.violations(resolved, known_account(self._scope))
        ]


def build_policy_document(
    scope: Construct,
    *,
    settings: KeySettings,
    policy: CustomKeyPolicy | None,
    partition: str,
) -> iam.PolicyDocument:
    """The key policy for ``settings`` in ``scope``'s account and region, checked by every guard."""
    ctx = policy_context(scope, partition)
    statements = default_statements(ctx) if policy is None else custom_statements(policy, settings, ctx)
    document = iam.PolicyDocument(statements=statements)
    resolved = Stack.of(scope).resolve(document.to_json())
    if policy is not None:
        _check_separation(scope, resolved, policy)
    problems = rules.violations(resolved, known_account(scope))
    if problems:
        raise KeyPolicyError(readable(scope, f"{scope.node.path}: " + "; ".join(problems)), field="policy")
    scope.node.add_validation(_PolicyGuard(scope, document))
    return document


def _check_separation(scope: Construct, resolved: Mapping[str, Any], policy: CustomKeyPolicy) -> None:
    """Administrators vs. cryptographic roles, read from the resolved statements that carry the roles' Sids
    (no further jsii round trip per principal)."""
    by_sid: dict[str, list[str]] = {}
    for _, stmt in policy_statements(resolved):
        by_sid.setdefault(str(stmt.get("Sid")), []).extend(principal_values(stmt))
    problem = overlap_problem(
        by_sid.get(ROLE_SIDS[Role.ADMINISTRATORS], []),
        {str(role): by_sid.get(ROLE_SIDS[role], []) for role in CRYPTO_ROLES},
        policy.separation_reason,
    )
    if problem:
        raise KeyPolicyError(readable(scope, f"{scope.node.path}: {problem}"), field="policy.administrators")


def check_aliases(aliases: Sequence[str]) -> None:
    for index, alias in enumerate(aliases):
        problem = alias_problem(alias)
        if problem:
            raise KeyConfigurationError(problem, field=f"aliases[{index}]")
    duplicates = sorted({a for a in aliases if aliases.count(a) > 1})
    if duplicates:
        raise KeyConfigurationError(f"alias {duplicates[0]!r} is listed twice", field="aliases")


def alias_construct_id(alias: str) -> str:
    """A stable construct id per alias name (order of the list does not matter)."""
    return "Alias" + alias.removeprefix("alias/").replace("/", "_")


@show_init_signature
@jsii.implements(kms.IKey)
class KmsflowKey(KeyGrants, Construct):
    """A customer managed key with a default or role-based policy, aliases, rotation and retention; an
    ``aws_kms.IKey`` wherever aws-cdk takes one (see :class:`KeyGrants`).

    Defaults are the secure ones: rotation on for symmetric keys (every 365 days), a 30-day deletion
    window, ``RemovalPolicy.RETAIN`` (deleting the stack never deletes the key), the KMS default policy when
    ``policy`` is ``None``. Invalid combinations raise at construction, before anything is synthesized.

    :param spec: ``SYMMETRIC_DEFAULT`` (default), ``RSA_2048``/``3072``/``4096``, ``ECC_NIST_P256``/``P384``/
        ``P521``, ``ECC_SECG_P256K1``, ``HMAC_224``/``256``/``384``/``512``, as text or ``aws_kms.KeySpec``.
    :param usage: ``ENCRYPT_DECRYPT``, ``SIGN_VERIFY``, ``GENERATE_VERIFY_MAC``, ``KEY_AGREEMENT`` (text or
        ``aws_kms.KeyUsage``); default: the spec's only or first usage.
    :param rotation: automatic rotation; default on where KMS allows it (symmetric keys of AWS_KMS origin).
    :param rotation_days: rotation period, 90 to 2560 days; default 365.
    :param deletion_window_days: 7 to 30; default 30.
    :param origin: ``AWS_KMS`` (default) or ``EXTERNAL`` (imported key material).
    :param policy: ``None`` for the KMS default policy (IAM decides), or a :class:`CustomKeyPolicy`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: KeySpecName | kms.KeySpec = "SYMMETRIC_DEFAULT",
        usage: KeyUsageName | kms.KeyUsage | None = None,
        description: str | None = None,
        aliases: Sequence[str] = (),
        rotation: bool | None = None,
        rotation_days: int | None = None,
        deletion_window_days: int | None = None,
        origin: str | None = None,
        multi_region: bool = False,
        enabled: bool = True,
        policy: CustomKeyPolicy | None = None,
        partition: str = "aws",
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        self.settings = settings_or_raise(
            spec=spec,
            usage=usage,
            rotation=rotation,
            rotation_days=rotation_days,
            deletion_window_days=deletion_window_days,
            origin=origin,
            multi_region=multi_region,
        )
        check_aliases(aliases)
        self.partition = partition
        s = self.settings
        self.policy_document = build_policy_document(self, settings=s, policy=policy, partition=partition)
        self.delegates_to_iam = policy_delegates_to_iam(policy)
        self.key: kms.Key = kms.Key(
            self,
            "Key",
            key_spec=kms.KeySpec[s.spec],
            key_usage=kms.KeyUsage[s.usage],
            description=description,
            enabled=enabled,
            enable_key_rotation=s.rotation,
            rotation_period=Duration.days(s.rotation_days) if s.rotation_days else None,
            pending_window=Duration.days(s.deletion_window_days),
            multi_region=s.multi_region or None,
            policy=self.policy_document,
            removal_policy=removal_policy,
        )
        self.cfn_key: kms.CfnKey = self.key.node.default_child  # type: ignore[assignment]
        if s.origin is KeyOrigin.EXTERNAL:
            # The L2 Key has no origin prop; the L1 property is the documented way (material imported later
            # with `kmsflow keys import-material`).
            self.cfn_key.origin = KeyOrigin.EXTERNAL.value
            if s.info.rotatable:
                acknowledge(self.key, dict.fromkeys(ROTATION_RULES, EXTERNAL_ROTATION_REASON))
        self.aliases = [self.add_alias(name) for name in aliases]

    @staticmethod
    def from_key_arn(
        scope: Construct,
        id: str,
        *,
        key_arn: str,
        spec: KeySpecName | kms.KeySpec = "SYMMETRIC_DEFAULT",
        usage: KeyUsageName | kms.KeyUsage | None = None,
    ) -> ImportedKmsflowKey:
        """A key made elsewhere, for grants by intent (its policy is not managed here)."""
        return ImportedKmsflowKey(scope, id, key_arn=key_arn, spec=spec, usage=usage)


@show_init_signature
@jsii.implements(kms.IKey)
class ImportedKmsflowKey(KeyGrants, Construct):
    """A key defined outside this app: grants add IAM statements scoped to its ARN (its own policy decides the
    rest); an ``aws_kms.IKey`` wherever aws-cdk takes one."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        key_arn: str,
        spec: KeySpecName | kms.KeySpec = "SYMMETRIC_DEFAULT",
        usage: KeyUsageName | kms.KeyUsage | None = None,
    ) -> None:
        super().__init__(scope, id)
        # Rotation and window are irrelevant for an imported key; None lets the table accept any spec.
        self.settings = settings_or_raise(
            spec=spec,
            usage=usage,
            rotation=None,
            rotation_days=None,
            deletion_window_days=None,
            origin=None,
            multi_region=False,
        )
        self.key: kms.IKey = kms.Key.from_key_arn(self, "Key", key_arn)
        if not Token.is_unresolved(key_arn) and key_arn.startswith("arn:"):
            self.partition = key_arn.split(":")[1]  # aws, aws-cn or aws-us-gov: kms:ViaService hosts differ
