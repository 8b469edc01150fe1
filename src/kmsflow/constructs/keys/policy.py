"""Key policies from roles: the props of a custom policy and the statements built from them.

Two modes, as in KMS itself:

- **default** (``policy=None`` on the key): one statement, the account root with ``kms:*``: IAM policies in the
  account decide who may use the key. This is what KMS applies to a key created without a policy.
- **custom** (:class:`CustomKeyPolicy`): statements built from roles (administrators, users, service users,
  signers, ...), each with the actions of ``kmsflow.policy.roles`` fitted to the key's spec and usage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from aws_cdk import Token
from aws_cdk import aws_iam as iam

from kmsflow.errors import KeyPolicyError
from kmsflow.keyspec import KeySettings
from kmsflow.policy.roles import (
    GRANT_ACTIONS,
    ROLE_SIDS,
    VIA_SERVICES,
    Role,
    admin_actions,
    grants_for_aws_resources,
    role_actions,
    role_fits,
    via_service_values,
)
from kmsflow.principals import other_account_problem


class RootAccess(StrEnum):
    """What a custom policy gives the key's own account root."""

    #: Administration only (no cryptographic use): IAM administrators of the account can always repair
    #: the policy, and CloudFormation can create and update the key, but only the named roles use it.
    ADMIN = "admin"
    #: ``kms:*``: IAM policies in the account may also grant use of the key (the KMS default statement).
    FULL = "full"


@dataclass(frozen=True, kw_only=True)
class ServiceUsers:
    """Principals that use the key only through AWS services (``kms:ViaService``), e.g. RDS or EBS."""

    principals: Sequence[iam.IPrincipal]
    #: Short service names from ``kmsflow.policy.roles.VIA_SERVICES`` (``s3``, ``rds``, ``ebs``, ...).
    services: Sequence[str]


@dataclass(frozen=True, kw_only=True)
class CrossAccountAccess:
    """Use of the key by another account, limited by ``kms:CallerAccount`` (and ``kms:ViaService``): the
    configuration's ``policy.cross_account[i]``, with the account given by its 12-digit id."""

    #: The other account's id.
    account: str
    #: Principals of that account; default: the account's root, so that its IAM policies decide.
    principals: Sequence[iam.IPrincipal] = ()
    #: Short service names (``rds``, ``ebs``, ...) the account may use the key through; default: any.
    via_services: Sequence[str] = ()
    #: A short name for the statement ids (``CrossAccountPartnerUse``); default: the account id.
    name: str | None = None

    @property
    def sid_name(self) -> str:
        return self.name or self.account


@dataclass(frozen=True, kw_only=True)
class OrganizationAccess:
    """Use of the key by any principal of an AWS Organization (``Principal: *`` + ``aws:PrincipalOrgID``)."""

    org_id: str
    via_services: Sequence[str] = ()


@dataclass(frozen=True, kw_only=True)
class CustomKeyPolicy:
    """A key policy built from roles. Every field defaults to "nobody"."""

    root_access: RootAccess = RootAccess.ADMIN
    administrators: Sequence[iam.IPrincipal] = ()
    users: Sequence[iam.IPrincipal] = ()
    service_users: ServiceUsers | None = None
    signers: Sequence[iam.IPrincipal] = ()
    verifiers: Sequence[iam.IPrincipal] = ()
    public_key_encrypters: Sequence[iam.IPrincipal] = ()
    mac_users: Sequence[iam.IPrincipal] = ()
    cross_account: Sequence[CrossAccountAccess] = ()
    organizations: Sequence[OrganizationAccess] = ()
    #: Free statements, appended as given (checked by the same guards as everything else).
    statements: Sequence[iam.PolicyStatement] = field(default=())
    #: Why administrators may also use this key; without it the two sets must be disjoint.
    separation_reason: str | None = None

    def principals_by_role(self) -> dict[Role, Sequence[iam.IPrincipal]]:
        """The roles given directly by principals (not cross-account or organization access)."""
        return {
            Role.ADMINISTRATORS: self.administrators,
            Role.USERS: self.users,
            Role.SERVICE_USERS: self.service_users.principals if self.service_users else (),
            Role.SIGNERS: self.signers,
            Role.VERIFIERS: self.verifiers,
            Role.PUBLIC_KEY_ENCRYPTERS: self.public_key_encrypters,
            Role.MAC_USERS: self.mac_users,
        }


@dataclass(frozen=True, kw_only=True)
class PolicyContext:
    """Where the key lives: its policy names its own account root and its region's service endpoints."""

    account: str
    region: str
    partition: str = "aws"

    @property
    def root_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:root"


def policy_delegates_to_iam(policy: CustomKeyPolicy | None) -> bool:
    """Whether a key policy lets IAM policies of the key's own account decide (the account root holds
    ``kms:*``): the KMS default policy (``None``) or ``root_access: full``."""
    return policy is None or policy.root_access is RootAccess.FULL


def default_statements(ctx: PolicyContext) -> list[iam.PolicyStatement]:
    """KMS's default key policy: the account root holds ``kms:*`` and IAM policies decide."""
    return [
        iam.PolicyStatement(
            sid="EnableIamPolicies",
            principals=[iam.ArnPrincipal(ctx.root_arn)],
            actions=["kms:*"],
            resources=["*"],
        )
    ]


def custom_statements(policy: CustomKeyPolicy, settings: KeySettings, ctx: PolicyContext) -> list[iam.PolicyStatement]:
    """The statements of a custom policy; raises :class:`KeyPolicyError` if a role does not fit the key or names
    a principal of another account (those go under ``cross_account``, as in the configuration file)."""
    _check_roles_fit(policy, settings)
    _check_own_account(policy, ctx)
    statements = [_root_statement(policy.root_access, settings, ctx)]
    for role, principals in policy.principals_by_role().items():
        if principals:
            statements.append(
                iam.PolicyStatement(
                    sid=ROLE_SIDS[role],
                    principals=list(principals),
                    actions=list(role_actions(role, settings)),
                    resources=["*"],
                    conditions=_via(policy.service_users.services, ctx)
                    if role is Role.SERVICE_USERS and policy.service_users
                    else None,
                )
            )
    if policy.service_users and policy.service_users.principals and grants_for_aws_resources(settings):
        grants = _grants_statement("ServiceUsersGrantsForAwsResources", policy.service_users.principals)
        # Grants only through the services the principals use the key through, as the use statement above.
        grants.add_conditions(_via(policy.service_users.services, ctx))
        statements.append(grants)
    for access in policy.cross_account:
        statements += _cross_account_statements(access, settings, ctx)
    for org in policy.organizations:
        conditions: dict[str, dict[str, object]] = {"StringEquals": {"aws:PrincipalOrgID": org.org_id}}
        if org.via_services:
            conditions["StringEquals"]["kms:ViaService"] = via_service_values(
                list(org.via_services), region=ctx.region, partition=ctx.partition
            )
        statements.append(
            iam.PolicyStatement(
                sid=f"Organization{_sid_part(org.org_id)}Use",
                principals=[iam.AnyPrincipal()],
                actions=list(role_actions(Role.ORGANIZATIONS, settings)),
                resources=["*"],
                conditions=conditions,
            )
        )
    statements += list(policy.statements)
    return statements


def _check_roles_fit(policy: CustomKeyPolicy, settings: KeySettings) -> None:
    given = {role for role, principals in policy.principals_by_role().items() if principals}
    if policy.cross_account:
        given.add(Role.CROSS_ACCOUNT)
    if policy.organizations:
        given.add(Role.ORGANIZATIONS)
    for role in sorted(given):
        problem = role_fits(role, settings)
        if problem:
            raise KeyPolicyError(f"{problem}; remove policy.{role} or change the key", field=f"policy.{role}")
    services = list(policy.service_users.services) if policy.service_users else []
    services += [s for access in policy.cross_account for s in access.via_services]
    services += [s for org in policy.organizations for s in org.via_services]
    unknown = sorted(set(services) - set(VIA_SERVICES))
    if unknown:
        raise KeyPolicyError(
            f"unknown service name(s) {', '.join(unknown)}; allowed: {', '.join(VIA_SERVICES)}",
            field="policy",
        )
    if policy.service_users and policy.service_users.principals and not policy.service_users.services:
        raise KeyPolicyError(
            "service_users lists principals but no services; name the services they use the key through "
            f"(allowed: {', '.join(VIA_SERVICES)})",
            field="policy.service_users.services",
        )


def _check_own_account(policy: CustomKeyPolicy, ctx: PolicyContext) -> None:
    """Role lists take principals of the key's own account only: another account's principal there would get the
    key with no ``kms:CallerAccount``/``kms:ViaService`` bound. Checked where both accounts are known."""
    if Token.is_unresolved(ctx.account):
        return
    for role, principals in policy.principals_by_role().items():
        for index, principal in enumerate(principals):
            account = principal_account(principal)
            if account is not None and account != ctx.account:
                raise KeyPolicyError(
                    other_account_problem(principal_label(principal), account, ctx.account),
                    field=f"policy.{role}[{index}]",
                )


def principal_account(principal: iam.IPrincipal) -> str | None:
    """The account of a principal when it is known at synth: CDK's ``principal_account``, or the account field
    of a literal IAM ARN (``ArnPrincipal`` leaves ``principal_account`` empty)."""
    account = principal.principal_account
    if account is not None and not Token.is_unresolved(account):
        return account
    arn = getattr(principal, "arn", None)
    if isinstance(arn, str) and not Token.is_unresolved(arn) and arn.startswith("arn:"):
        return arn.split(":")[4] or None
    return None


def principal_label(principal: iam.IPrincipal) -> str:
    """How a message names a principal: a construct's path, else its literal ARN, else its type."""
    node = getattr(principal, "node", None)
    if node is not None:
        return str(node.path)
    arn = getattr(principal, "arn", None)
    return arn if isinstance(arn, str) and not Token.is_unresolved(arn) else type(principal).__name__


def _root_statement(access: RootAccess, settings: KeySettings, ctx: PolicyContext) -> iam.PolicyStatement:
    if access is RootAccess.FULL:
        return default_statements(ctx)[0]
    return iam.PolicyStatement(
        sid="RootAccountAdministration",
        principals=[iam.ArnPrincipal(ctx.root_arn)],
        actions=list(admin_actions(settings)),
        resources=["*"],
    )


def _grants_statement(sid: str, principals: Sequence[iam.IPrincipal]) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid=sid,
        principals=list(principals),
        actions=list(GRANT_ACTIONS),
        resources=["*"],
        conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
    )


def _cross_account_statements(
    access: CrossAccountAccess, settings: KeySettings, ctx: PolicyContext
) -> list[iam.PolicyStatement]:
    principals = list(access.principals) or [iam.ArnPrincipal(f"arn:{ctx.partition}:iam::{access.account}:root")]
    conditions: dict[str, dict[str, object]] = {"StringEquals": {"kms:CallerAccount": access.account}}
    if access.via_services:
        conditions["StringEquals"]["kms:ViaService"] = via_service_values(
            list(access.via_services), region=ctx.region, partition=ctx.partition
        )
    name = _sid_part(access.sid_name)
    statements = [
        iam.PolicyStatement(
            sid=f"CrossAccount{name}Use",
            principals=principals,
            actions=list(role_actions(Role.CROSS_ACCOUNT, settings)),
            resources=["*"],
            conditions=conditions,
        )
    ]
    if grants_for_aws_resources(settings):
        grants = _grants_statement(f"CrossAccount{name}GrantsForAwsResources", principals)
        # The same account and services as the use statement: grants are no wider than use.
        grants.add_condition("StringEquals", conditions["StringEquals"])
        statements.append(grants)
    return statements


def _via(services: Sequence[str], ctx: PolicyContext) -> dict[str, object]:
    return {
        "StringEquals": {
            "kms:ViaService": via_service_values(list(services), region=ctx.region, partition=ctx.partition)
        }
    }


def _sid_part(text: str) -> str:
    """Statement ids allow only letters and digits: ``partner-prod`` -> ``PartnerProd``."""
    parts = "".join(c if c.isalnum() else " " for c in text).split()
    return "".join(p[:1].upper() + p[1:] for p in parts)
