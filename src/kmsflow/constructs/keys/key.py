"""Customer managed KMS keys: the owned :class:`KmsflowKey`, imported keys, and grants named by intent.

Construct ids are a contract: a key's logical id derives from ``<id>/Key``; renaming the construct replaces
the key in CloudFormation (the old one is retained, not deleted, because keys default to RETAIN).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import jsii
from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct, IValidation

from kmsflow.constructs.keys.policy import (
    ROLE_SIDS,
    CustomKeyPolicy,
    PolicyContext,
    custom_statements,
    default_statements,
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

    def grant(self, grantee: iam.IGrantable, intent: Intent) -> iam.Grant: ...


class KeyGrants:
    """Grant helpers shared by owned and imported keys; each checks that the intent fits the key."""

    key: kms.IKey
    settings: KeySettings
    #: The partition the key lives in (``aws``, ``aws-cn``, ``aws-us-gov``), for kms:ViaService values.
    partition: str = "aws"

    @property
    def key_arn(self) -> str:
        return self.key.key_arn

    def grant(self, grantee: iam.IGrantable, intent: Intent) -> iam.Grant:
        """Give ``grantee`` the actions of ``intent``. IAM statements name the key ARN, never ``*``."""
        problem = intent_problem(intent, self.settings)
        if problem:
            raise KeyPolicyError(problem)
        return self.key.grant(grantee, *intent_actions(intent, self.settings))

    def grant_encrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.grant(grantee, Intent.ENCRYPT)

    def grant_decrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.grant(grantee, Intent.DECRYPT)

    def grant_encrypt_decrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.grant(grantee, Intent.ENCRYPT_DECRYPT)

    def grant_sign(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.grant(grantee, Intent.SIGN)

    def grant_verify(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.grant(grantee, Intent.VERIFY)

    def grant_generate_mac(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.grant(grantee, Intent.GENERATE_MAC)

    def grant_verify_mac(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.grant(grantee, Intent.VERIFY_MAC)

    def grant_admin(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.grant(grantee, Intent.ADMIN)

    def grant_use_through_services(self, role: iam.Role, *, services: Sequence[str]) -> None:
        """Let ``role`` use the key only through ``services`` (short names, e.g. ``rds``, ``ebs``) in the key's
        region, and create grants only for AWS resources: what RDS and EBS need of their caller to encrypt a
        snapshot copy. ``role`` may live in any stack of the key's account, in any region (see
        :mod:`kmsflow.constructs.keys.role_grants`); it needs a fixed ``role_name``."""
        problem = role_fits(Role.SERVICE_USERS, self.settings)
        if problem:
            raise KeyPolicyError(problem)
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


def settings_or_raise(**kwargs: Any) -> KeySettings:
    """:func:`resolve_key_settings`, raising the first problem as :class:`KeyConfigurationError`."""
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
        return [f"{self._scope.node.path}: {msg}" for msg in rules.violations(resolved, known_account(self._scope))]


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
        _check_separation(resolved, policy)
    problems = rules.violations(resolved, known_account(scope))
    if problems:
        raise KeyPolicyError(f"{scope.node.path}: " + "; ".join(problems), field="policy")
    scope.node.add_validation(_PolicyGuard(scope, document))
    return document


def _check_separation(resolved: Mapping[str, Any], policy: CustomKeyPolicy) -> None:
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
        raise KeyPolicyError(problem, field="policy.administrators")


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


class KmsflowKey(Construct, KeyGrants):
    """A customer managed key with a default or role-based policy, aliases, rotation and retention.

    Defaults are the secure ones: rotation on for symmetric keys (every 365 days), a 30-day deletion
    window, ``RemovalPolicy.RETAIN`` (deleting the stack never deletes the key), the KMS default policy when
    ``policy`` is ``None``. Invalid combinations raise at construction, before anything is synthesized.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: str = "SYMMETRIC_DEFAULT",
        usage: str | None = None,
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
        self.aliases = [
            kms.Alias(self, alias_construct_id(name), alias_name=name, target_key=self.key) for name in aliases
        ]

    @staticmethod
    def from_key_arn(
        scope: Construct, id: str, *, key_arn: str, spec: str = "SYMMETRIC_DEFAULT", usage: str | None = None
    ) -> ImportedKmsflowKey:
        """A key made elsewhere, for grants by intent (its policy is not managed here)."""
        return ImportedKmsflowKey(scope, id, key_arn=key_arn, spec=spec, usage=usage)


class ImportedKmsflowKey(Construct, KeyGrants):
    """A key defined outside this app: grants by intent add IAM statements scoped to its ARN."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        key_arn: str,
        spec: str = "SYMMETRIC_DEFAULT",
        usage: str | None = None,
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
