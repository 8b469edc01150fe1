"""Cross-account sharing in moto: what AWS does when one account shares a snapshot and its key with another
(issue 10, "Proven without AWS"). Small, documented patches of moto 5.2.5, each tested alone in
``test_moto_sharing.py``; :meth:`SharingModel.install` applies them all until the block ends (the workflow
harness installs it for you).

Each extension says what moto does, what AWS does, and what the patch does:

a. **STS trust** (:meth:`SharingModel._assume_role`). moto: ``STSBackend.assume_role`` (moto/sts/models.py
   l. 80-106) assumes any role ARN, existing or not, for anyone ("The ARN can point to another account"). AWS:
   the role must exist and its trust policy must allow the caller (IAM User Guide, "Policy evaluation logic":
   trust policies, like key policies, must allow; across accounts the caller's identity policies must allow
   ``sts:AssumeRole`` on the role too; an ``sts:ExternalId`` condition is matched against the request's
   ``ExternalId``); otherwise ``AccessDenied`` (HTTP 403) "User: <caller> is not authorized to perform:
   sts:AssumeRole on resource: <role>". Patch: ``TokenResponse.assume_role`` (moto/sts/responses.py l. 64)
   first decides with kmsflow's own evaluator (:func:`kmsflow.policy.evaluate.evaluate`) when
   :attr:`SharingModel.trust_applies` says so (the harness: only inside routed handlers, so that tests' own
   sessions are not refused). The caller comes from the request's access key: moto's assumed-role access keys
   are temporary IAM keys of the role's account (``iam_backends[acct].create_temp_access_key``,
   moto/iam/models.py l. 2874; ``get_account_id_from``, l. 69) and ``sts_backends[acct]["aws"].assumed_roles``
   keeps the session (``get_assumed_role_from_access_key``, moto/sts/models.py l. 108).
b. **RDS / Aurora copy of a snapshot shared with the caller's account, by ARN.** moto:
   ``RDSBackend.get_snapshot`` (moto/rds/models.py l. 2473-2488) looks an ARN up in the *caller's* account, so
   ``copy_db_snapshot`` (l. 2605) / ``copy_db_cluster_snapshot`` (l. 3564) fail with ``DBSnapshotNotFound``
   although ``DescribeDBSnapshots(SnapshotType="shared")`` shows the snapshot (``get_shared_snapshots``,
   l. 2503). AWS: a manual snapshot whose ``restore`` attribute lists the caller's account (or ``all``) can be
   copied by its ARN ("Sharing a DB snapshot", "Copying a DB snapshot", RDS User Guide). Patch: for a source
   ARN of another account, the copy finds the snapshot in ``rds_backends[acct][region]``; not shared with the
   caller: ``DBSnapshotNotFound`` as on AWS; the copy is made in the caller's account and region. A copy into
   another region than the source's follows :data:`CROSS_REGION_SHARED_COPY` (else ``InvalidParameterValue``;
   AWS's exact error is not documented).
c. **EBS.** moto: ``EBSBackend.describe_snapshots`` (moto/ec2/models/elastic_block_store.py l. 601) sees only
   the caller's own snapshots, so a snapshot shared through ``createVolumePermission`` (l. 703) is invisible to
   the other account and ``copy_snapshot`` (l. 613, which describes the source in the caller's account) fails.
   AWS: ``DescribeSnapshots(SnapshotIds=[id])`` from an account the snapshot is shared with returns it (owner:
   the source account), and ``CopySnapshot(SourceRegion, SourceSnapshotId)`` copies it into the caller's
   account ("Share an Amazon EBS snapshot", EBS User Guide). Patch: both look into the other accounts'
   backends of that region for a snapshot shared with the caller's account (user id or group ``all``).
d. **KMS authorization of those copies** (:meth:`SharingModel.key_denial`). moto enforces nothing. AWS: to copy
   an encrypted snapshot shared from another account, the caller must be allowed to use the source snapshot's
   key (CopySnapshot / CopyDBSnapshot API references; "Allowing access to an AWS KMS key", RDS User Guide;
   "Share the KMS key used to encrypt a shared snapshot", EBS User Guide) — by a grant, or by the key policy
   (with the caller's IAM policies). Patch: the copy of an *encrypted shared* snapshot is refused unless the
   key is enabled and either a live grant (moto pops retired and revoked grants: ``Key.retire_grant`` /
   ``revoke_grant``, moto/kms/models.py l. 205-217) names the caller's role ARN (or its session ARN) as
   ``GranteePrincipal`` with every operation of :data:`REQUIRED_GRANT_OPERATIONS`, or the key policy allows
   ``kms:CreateGrant`` and ``kms:Decrypt`` for the caller (kmsflow's evaluator, ``key_policy=True``, with
   ``kms:ViaService`` = ``rds.<key region>.amazonaws.com`` / ``ec2.<key region>.amazonaws.com``,
   ``kms:CallerAccount``, ``kms:GrantIsForAWSResource=true``). The IAM side of a key-policy allowance is the
   caller's role's policies in moto's IAM when the role exists there, else treated as allowed (a role the test
   did not model, like moto's default credentials); a grant needs no IAM side here (the contract: "a grant alone
   decides on the key side"); grant constraints are not checked. RDS refuses with ``KMSKeyNotAccessibleFault``
   (400), synchronously; EBS accepts the copy, whose snapshot is then ``error`` with ``StateMessage``
   :data:`EBS_KEY_NOT_ACCESSIBLE` (EBS User Guide, "Copy an Amazon EBS snapshot": "the operation fails silently").
   Same-account copies are not checked.
e. **Grant propagation** (:attr:`SharingModel.grant_delay_seconds`, default 0). AWS: grants are eventually
   consistent ("Eventual consistency", KMS Developer Guide: a grant may take up to about five minutes to be
   usable everywhere). Patch: ``Key.add_grant`` (moto/kms/models.py l. 175) stamps the virtual time; a grant
   counts for (d) only that many virtual seconds after it was made.
f. **AWS managed keys.** moto creates ``alias/aws/<service>`` keys on first use (``_generate_default_keys``,
   moto/kms/models.py l. 363, via ``get_key_id_from_alias`` l. 540; EBS's default key
   ``_create_default_encryption_key``, elastic_block_store.py l. 730) as customer keys (``KeyManager``
   ``CUSTOMER``, l. 164) with a default policy. AWS: they are AWS managed (``KeyManager: AWS``) and their policy
   allows use only through the service by principals of the same account (``kms:CallerAccount`` +
   ``kms:ViaService``), so they can never be opened to another account; RDS and EBS refuse to share a snapshot
   encrypted under one. Patch: such keys become ``KeyManager: AWS`` with AWS's policy
   (:func:`aws_managed_policy`), and sharing an encrypted snapshot under one (``ModifyDBSnapshotAttribute``,
   ``ModifyDBClusterSnapshotAttribute``, ``ModifySnapshotAttribute`` adding accounts) is refused (see
   :data:`MANAGED_KEY_SHARE_ERRORS`). :func:`aws_managed_key` returns (making it if needed) such a key.

g. **``ModifySnapshotAttribute`` with ``CreateVolumePermission={"Add"|"Remove": [{"UserId"|"Group": ...}]}``.**
   moto reads only ``OperationType`` + ``UserIds``/``GroupNames`` (moto/ec2/responses/elastic_block_store.py
   l. 270-286) and silently ignores this form. AWS accepts both (EC2 API reference, ModifySnapshotAttribute,
   ``CreateVolumePermissionModifications``). Patch: the response method applies ``Add`` and ``Remove`` through
   the same backend calls.

Not modelled: KMS calls a caller makes on another account's key directly (moto looks key ARNs up in the caller's
account), SCPs, grant constraints, the IAM side of grants, multi-Region replica keys having their own grants
(moto's ``replicate_key``, l. 419, shallow-copies the key: primary and replica share one grants dict).
"""

from __future__ import annotations

import functools
import inspect
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Literal
from unittest import mock

from moto.core.exceptions import AccessDeniedError
from moto.core.responses import BaseResponse
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import ec2_backends
from moto.ec2.models.elastic_block_store import EBSBackend
from moto.ec2.responses.elastic_block_store import ElasticBlockStore
from moto.iam.models import get_account_id_from, iam_backends
from moto.kms.models import Key, KmsBackend, kms_backends
from moto.rds.exceptions import (
    DBClusterSnapshotNotFoundError,
    DBSnapshotNotFoundFault,
    InvalidParameterValue,
    KMSKeyNotAccessibleFault,
    RDSClientError,
)
from moto.rds.models import DBClusterSnapshot, DBSnapshot, RDSBackend, rds_backends
from moto.rds.utils import split_arn
from moto.sts.models import sts_backends
from moto.sts.responses import TokenResponse

from kmsflow.policy.evaluate import evaluate
from kmsflow.policy.model import Policy, Principal, Request
from tests.support.virtual_clock import VirtualClock

Family = Literal["rds", "aurora", "ebs"]

#: family -> (unencrypted, encrypted): whether a snapshot shared from another account can be copied straight into
#: another region. RDS: "You can copy a shared DB snapshot across AWS Regions if the snapshot is unencrypted. However,
#: if the shared DB snapshot is encrypted, you can only copy it in the same Region" (RDS User Guide,
#: USER_CopySnapshot, "Copying shared snapshots"); Aurora: "You can only copy a shared DB cluster snapshot, whether
#: encrypted or not, in the same AWS Region" (Aurora User Guide, aurora-copy-snapshot); EBS: yes (EBS User Guide,
#: ebs-copy-snapshot: "You can copy any accessible snapshots ..., including shared snapshots", any destination).
CROSS_REGION_SHARED_COPY: Mapping[Family, tuple[bool, bool]] = {
    "rds": (True, False),
    "aurora": (False, False),
    "ebs": (True, True),
}

#: Operations a grant must hold for the grantee to copy a snapshot encrypted under the key.
REQUIRED_GRANT_OPERATIONS = frozenset({"Decrypt", "CreateGrant", "DescribeKey"})

#: The service a snapshot family's copy uses the source key through (``kms:ViaService`` prefix).
VIA_SERVICE: Mapping[Family, str] = {"rds": "rds", "aurora": "rds", "ebs": "ec2"}

#: (error code, message) answered when an account is added to the share of a snapshot encrypted under an AWS
#: managed key. RDS: "You can't share a snapshot that has been encrypted using the default KMS key of the AWS account
#: that shared the snapshot" (RDS User Guide, USER_ShareSnapshot; AWS's error code is not documented:
#: InvalidParameterValue is an assumption). EC2: "AWS prevents you from sharing snapshots that were encrypted with
#: your default CMK" (EBS User Guide); the code and message are the ones users report (hashicorp/packer#7499).
MANAGED_KEY_SHARE_ERRORS: Mapping[str, tuple[str, str]] = {
    "rds": (
        "InvalidParameterValue",
        "You can't share snapshot {id}: it is encrypted with the default KMS key of the account",
    ),
    "ec2": ("OperationNotPermitted", "Encrypted snapshots with EBS default key cannot be shared"),
}

#: What EBS reports on a copy whose source key the caller may not use: the copy is accepted, then fails (EBS User
#: Guide, ebs-copy-snapshot: "the operation fails silently" ... "StateMessage": "Given key ID is not accessible").
EBS_KEY_NOT_ACCESSIBLE = "Given key ID is not accessible"

#: The access-key id of the request moto is serving in this thread (recorded by ``BaseResponse.setup_class``).
_request = threading.local()

_GRANT_STAMP = "_kmsflow_created"
_ADMIN = Policy(
    document={"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    source="IAM side not modelled (treated as allowed)",
)


# ----------------------------------------------------------------------------------------------- caller


@dataclass(frozen=True)
class Caller:
    """Who makes the current moto request: its account, its ARN (an assumed-role session's STS ARN, an IAM
    user's ARN, or the account root for credentials moto does not know), the role behind a session, and the
    identity policies that count for it."""

    account: str
    arn: str
    role_arn: str | None
    identity: tuple[Policy, ...]

    @property
    def principal(self) -> Principal:
        return Principal.role(self.role_arn) if self.role_arn else Principal(arn=self.arn, account=self.account)

    @property
    def principal_arn(self) -> str:
        """``aws:PrincipalArn``: the role's ARN for a session (IAM User Guide, global condition keys)."""
        return self.role_arn or self.arn


def caller_from_access_key(access_key: str) -> Caller:
    """The caller behind a request's access key, from moto's IAM and STS backends (see the module docstring)."""
    account = get_account_id_from(access_key)
    assumed = sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key)
    if assumed is not None:
        return Caller(account, assumed.arn, assumed.role_arn, identity_policies(assumed.role_arn))
    user = iam_backends[account]["aws"].get_user_from_access_key_id(access_key)
    arn = user.arn if user is not None else f"arn:aws:iam::{account}:root"
    return Caller(account, arn, None, (_ADMIN,))


def current_caller() -> Caller | None:
    """The caller of the moto request being served in this thread (None outside a request)."""
    access_key = getattr(_request, "access_key", None)
    return None if access_key is None else caller_from_access_key(access_key)


def find_role(role_arn: str) -> Any | None:
    """moto's IAM role for ``arn:aws:iam::<acct>:role/[path/]<name>`` (by name), or None."""
    parts = role_arn.split(":")
    if len(parts) < 6 or not parts[5].startswith("role/"):
        return None
    name = parts[5].rsplit("/", 1)[-1]
    backend = iam_backends[parts[4]]["aws"]
    return next((role for role in backend.get_roles() if role.name == name), None)


def identity_policies(role_arn: str) -> tuple[Policy, ...]:
    """The inline and attached policies of the role in moto's IAM; a role moto does not hold: treated as allowed."""
    role = find_role(role_arn)
    if role is None:
        return (_ADMIN,)
    policies = [Policy(document=_json(doc), source=f"{role.name} inline {name}") for name, doc in role.policies.items()]
    for managed in role.managed_policies.values():
        version = next((v for v in managed.versions if v.is_default), managed.versions[-1])
        policies.append(Policy(document=_json(version.document), source=f"{role.name} managed {managed.name}"))
    return tuple(policies)


def _json(document: Any) -> Any:
    return json.loads(document) if isinstance(document, str) else document


# -------------------------------------------------------------------------------------- managed keys


def aws_managed_policy(account: str, region: str, service: str) -> dict[str, Any]:
    """The policy AWS gives an AWS managed key ``alias/aws/<service>`` (as on a real ``alias/aws/rds``): use only
    through the service by principals of the account, and key metadata for the account."""
    via = "ec2" if service == "ebs" else service
    return {
        "Version": "2012-10-17",
        "Id": f"auto-{service}-2",
        "Statement": [
            {
                "Sid": f"Allow access through {service.upper()} for all principals in the account that are authorized",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:CreateGrant",
                    "kms:ListGrants",
                    "kms:DescribeKey",
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:CallerAccount": account, "kms:ViaService": f"{via}.{region}.amazonaws.com"}
                },
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                "Resource": "*",
            },
        ],
    }


def _mark_aws_managed(key: Key, alias: str) -> None:
    service = alias.removeprefix("alias/aws/")
    key.key_manager = "AWS"
    key.policy = json.dumps(aws_managed_policy(key.account_id, key.region, service))


def aws_managed_key(session: Any, region: str, service: str) -> str:
    """The ARN of the AWS managed key ``alias/aws/<service>`` (``rds``, ``ebs``) of the session's account in
    ``region``, made on first use as AWS does, with ``KeyManager: AWS`` and AWS's policy."""
    alias = f"alias/aws/{service}"
    arn = str(session.client("kms", region_name=region).describe_key(KeyId=alias)["KeyMetadata"]["Arn"])
    account = arn.split(":")[4]
    _mark_aws_managed(kms_backends[account][region].describe_key(arn), alias)
    return arn


def resolve_key(key_id: str, *, account: str, region: str) -> Key | None:
    """moto's key for an id, alias or ARN (the ARN's account and region win), or None. moto's RDS records an
    encrypted instance without ``KmsKeyId`` as ``"default_kms_key_id"`` (clusters: moto/rds/models.py l. 661,
    instances: l. 1230): AWS uses ``alias/aws/rds`` there, and so does this."""
    if key_id == "default_kms_key_id":
        key_id = "alias/aws/rds"
    if key_id.startswith("arn:"):
        parts = key_id.split(":")
        region, account = parts[3], parts[4]
    try:
        return kms_backends[account][region].describe_key(key_id)
    except (KeyError, TypeError, AttributeError):
        return None


def _is_aws_managed(key_id: str | None, *, account: str, region: str) -> bool:
    key = resolve_key(key_id, account=account, region=region) if key_id else None
    return key is not None and key.key_manager == "AWS"


# -------------------------------------------------------------------------------------------- model


class SharingModel:
    """The cross-account sharing extensions of moto (module docstring); :meth:`install` applies them.

    ``trust_applies`` says when the STS trust check runs (default: always; the harness: inside routed
    handlers). ``grant_delay_seconds``: virtual seconds before a grant counts (needs ``clock``).
    ``refusals`` records one line per refusal (the evaluator's reason), for test messages."""

    def __init__(
        self,
        clock: VirtualClock | None = None,
        *,
        trust_applies: Callable[[], bool] = lambda: True,
        grant_delay_seconds: float = 0.0,
    ) -> None:
        self.clock = clock
        self.trust_applies = trust_applies
        self.grant_delay_seconds = grant_delay_seconds
        self.refusals: list[str] = []  # one line per refusal, for test messages
        #: Every KMS grant created while installed (moto forgets retired ones), in order.
        self.grants_created: list[dict[str, Any]] = []

    # -- install

    @contextmanager
    def install(self) -> Iterator[SharingModel]:
        """Apply every extension until the block ends (inside a ``mock_aws``)."""
        with ExitStack() as stack:
            patches: list[tuple[Any, str, Callable[[Callable[..., Any]], Callable[..., Any]]]] = [
                (BaseResponse, "setup_class", self._recording),
                (TokenResponse, "assume_role", self._assume_role),
                (RDSBackend, "copy_db_snapshot", functools.partial(self._rds_copy, family="rds")),
                (RDSBackend, "copy_db_cluster_snapshot", functools.partial(self._rds_copy, family="aurora")),
                (RDSBackend, "modify_db_snapshot_attribute", functools.partial(self._rds_share, kind=DBSnapshot)),
                (
                    RDSBackend,
                    "modify_db_cluster_snapshot_attribute",
                    functools.partial(self._rds_share, kind=DBClusterSnapshot),
                ),
                (EBSBackend, "describe_snapshots", self._ebs_describe),
                (EBSBackend, "copy_snapshot", self._ebs_copy),
                (EBSBackend, "add_create_volume_permission", self._ebs_share),
                (ElasticBlockStore, "modify_snapshot_attribute", self._ebs_modifications),
                (Key, "add_grant", self._stamping),
                (KmsBackend, "_generate_default_keys", self._managed_defaults),
                (EBSBackend, "_create_default_encryption_key", self._managed_ebs_default),
            ]
            for owner, name, wrap in patches:
                original = getattr(owner, name)
                stack.enter_context(mock.patch.object(owner, name, functools.wraps(original)(wrap(original))))
            yield self

    # -- request recording

    def _recording(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def setup_class(response: BaseResponse, *args: Any, **kwargs: Any) -> Any:
            result = original(response, *args, **kwargs)
            _request.access_key = getattr(response, "access_key", None)
            return result

        return setup_class

    # -- (a) STS trust

    def _assume_role(self, original: Callable[..., Any]) -> Callable[..., Any]:
        model = self

        def assume_role(response: TokenResponse) -> Any:
            if model.trust_applies():
                role_arn = str(response._get_param("RoleArn"))
                external_id = response._get_param("ExternalId")
                caller = caller_from_access_key(response.get_access_key())
                reason = model.trust_denial(caller, role_arn, external_id)
                if reason is not None:
                    model.refusals.append(f"sts:AssumeRole {role_arn} by {caller.arn}: {reason}")
                    raise AccessDeniedError(user_arn=caller.arn, action=f"sts:AssumeRole on resource: {role_arn}")
            return original(response)

        return assume_role

    def trust_denial(self, caller: Caller, role_arn: str, external_id: str | None) -> str | None:
        """Why ``caller`` may not assume ``role_arn`` (None: it may)."""
        role = find_role(role_arn)
        if role is None:
            return f"role {role_arn} does not exist"
        context: dict[str, str] = {"aws:PrincipalArn": caller.principal_arn, "aws:PrincipalAccount": caller.account}
        if external_id is not None:
            context["sts:ExternalId"] = external_id
        decision = evaluate(
            Request(principal=caller.principal, action="sts:AssumeRole", resource=role.arn, context=context),
            identity_policies=caller.identity,
            resource_policy=Policy(document=_json(role.assume_role_policy_document), source=f"{role.arn} trust"),
            resource_account=role.account_id,
        )
        return None if decision.allowed else decision.reason

    # -- (d, e) KMS authorization

    def key_denial(
        self, caller: Caller | None, key_id: str | None, *, account: str, region: str, family: Family
    ) -> str | None:
        """Why ``caller`` may not copy a snapshot encrypted under ``key_id`` (None: it may; see (d))."""
        if caller is None:
            return None  # not a request (a test calling the backend directly)
        key = resolve_key(key_id, account=account, region=region) if key_id else None
        if key is None:
            return f"key {key_id} does not exist"
        if not key.enabled or key.key_state != "Enabled":
            return f"key {key.arn} is {key.key_state}"
        grantees = {caller.arn, caller.principal_arn}
        for grant in key.grants.values():
            if (
                grant.grantee_principal in grantees
                and set(grant.operations) >= REQUIRED_GRANT_OPERATIONS
                and self._grant_age(grant) >= self.grant_delay_seconds
            ):
                return None
        context = {
            "kms:ViaService": f"{VIA_SERVICE[family]}.{key.region}.amazonaws.com",
            "kms:CallerAccount": caller.account,
            "kms:GrantIsForAWSResource": "true",
            "aws:PrincipalArn": caller.principal_arn,
        }
        policy = Policy(document=_json(key.policy), source=f"key policy of {key.arn}")
        for action in ("kms:CreateGrant", "kms:Decrypt"):
            decision = evaluate(
                Request(principal=caller.principal, action=action, resource=key.arn, context=context),
                identity_policies=caller.identity,
                resource_policy=policy,
                resource_account=key.account_id,
                key_policy=True,
            )
            if not decision.allowed:
                operations = sorted(REQUIRED_GRANT_OPERATIONS)
                return f"no live grant for {caller.principal_arn} with {operations}, and {decision.reason}"
        return None

    def _grant_age(self, grant: Any) -> float:
        created = vars(grant).get(_GRANT_STAMP)
        if created is None or self.clock is None:
            return float("inf")
        return float(self.clock.elapsed - created)

    def _stamping(self, original: Callable[..., Any]) -> Callable[..., Any]:
        model = self

        def add_grant(key: Key, *args: Any, **kwargs: Any) -> Any:
            grant = original(key, *args, **kwargs)
            model.grants_created.append(
                {
                    "KeyArn": key.arn,  # moto's Key.arn
                    "GrantId": grant.id,
                    "Name": grant.name,
                    "GranteePrincipal": grant.grantee_principal,
                    "RetiringPrincipal": grant.retiring_principal,
                    "Operations": list(grant.operations or []),
                }
            )
            if model.clock is not None:
                vars(grant)[_GRANT_STAMP] = model.clock.elapsed
            return grant

        return add_grant

    # -- (b) RDS and Aurora

    def _rds_copy(self, original: Callable[..., Any], *, family: Family) -> Callable[..., Any]:
        model = self
        parameter = "source_db_snapshot_identifier" if family == "rds" else "source_db_cluster_snapshot_identifier"
        getter = "get_db_snapshot" if family == "rds" else "get_db_cluster_snapshot"

        def copy(backend: RDSBackend, *args: Any, **kwargs: Any) -> Any:
            bound = inspect.signature(original).bind(backend, *args, **kwargs)
            shared = model.shared_rds_snapshot(backend, str(bound.arguments[parameter]), family)
            if shared is None:
                return original(backend, *args, **kwargs)
            with mock.patch.object(backend, getter, return_value=shared):
                return original(backend, *args, **kwargs)

        return copy

    def shared_rds_snapshot(self, backend: RDSBackend, source: str, family: Family) -> Any | None:
        """The other account's snapshot a copy by ARN names, after the checks of (b) and (d); None: the source
        is the caller's own (moto's behaviour)."""
        if not source.startswith("arn:"):
            return None
        region, account, _, identifier = split_arn(source)
        if account == backend.account_id:
            return None
        kind, not_found = (
            (DBSnapshot, DBSnapshotNotFoundFault)
            if family == "rds"
            else (DBClusterSnapshot, DBClusterSnapshotNotFoundError)
        )
        snapshots = rds_backends[account][region].resource_map[kind]
        snapshot = snapshots.get(identifier) or snapshots.get(identifier.lower())
        restore = snapshot.attributes.get("restore", []) if snapshot is not None else []
        if snapshot is None or not ({backend.account_id, "all"} & set(restore)):
            self.refusals.append(f"{family} copy of {source} into {backend.account_id}: not shared with it")
            raise not_found(source)
        if region != backend.region_name and not CROSS_REGION_SHARED_COPY[family][bool(snapshot.encrypted)]:
            self.refusals.append(f"{family} copy of {source} into {backend.region_name}: cross-region")
            raise InvalidParameterValue(
                f"The shared snapshot {source} is in {region}: a snapshot shared from another account can be copied "
                f"only within its own region; copy it in {region} first"
            )
        if snapshot.encrypted:
            reason = self.key_denial(
                current_caller(), snapshot.kms_key_id, account=account, region=region, family=family
            )
            if reason is not None:
                self.refusals.append(f"{family} copy of {source}: {reason}")
                raise KMSKeyNotAccessibleFault(snapshot.kms_key_id)
        return snapshot

    def _rds_share(self, original: Callable[..., Any], *, kind: type) -> Callable[..., Any]:
        model = self

        def modify(backend: RDSBackend, *args: Any, **kwargs: Any) -> Any:
            arguments = inspect.signature(original).bind(backend, *args, **kwargs).arguments
            identifier = next(value for name, value in arguments.items() if name.endswith("snapshot_identifier"))
            accounts = [value for value in arguments.get("values_to_add") or [] if value]
            if accounts and arguments.get("attribute_name") == "restore":
                snapshot = backend.resource_map[kind].get(identifier) or backend.resource_map[kind].get(
                    identifier.lower()
                )
                key_id = getattr(snapshot, "kms_key_id", None) if snapshot is not None and snapshot.encrypted else None
                if _is_aws_managed(key_id, account=backend.account_id, region=backend.region_name):
                    model.refusals.append(f"share of {identifier}: encrypted under an AWS managed key")
                    code, message = MANAGED_KEY_SHARE_ERRORS["rds"]
                    raise RDSClientError(code, message.format(id=identifier))
            return original(backend, *args, **kwargs)

        return modify

    # -- (c) EBS

    def shared_ebs_snapshot(self, backend: Any, snapshot_id: str, region: str) -> Any | None:
        """Another account's snapshot ``snapshot_id`` in ``region`` shared with ``backend``'s account, or None."""
        for account, regions in list(ec2_backends.items()):
            if account == backend.account_id:
                continue
            other = dict(regions).get(region)
            snapshot = other.snapshots.get(snapshot_id) if other is not None else None
            if snapshot is not None and (
                backend.account_id in snapshot.create_volume_permission_userids
                or "all" in snapshot.create_volume_permission_groups
            ):
                return snapshot
        return None

    def _ebs_describe(self, original: Callable[..., Any]) -> Callable[..., Any]:
        model = self

        def describe(backend: Any, snapshot_ids: list[str] | None = None, filters: Any = None) -> Any:
            if not snapshot_ids or all(i in backend.snapshots for i in snapshot_ids):
                return original(backend, snapshot_ids=snapshot_ids, filters=filters)
            found = [
                backend.snapshots.get(i) or model.shared_ebs_snapshot(backend, i, backend.region_name)
                for i in snapshot_ids
            ]
            if any(snapshot is None for snapshot in found):
                return original(backend, snapshot_ids=snapshot_ids, filters=filters)  # raises as moto does
            if filters:
                from moto.ec2.utils import generic_filter

                found = generic_filter(filters, found)
            return found

        return describe

    def _ebs_copy(self, original: Callable[..., Any]) -> Callable[..., Any]:
        model = self

        def copy(backend: Any, *args: Any, **kwargs: Any) -> Any:
            arguments = inspect.signature(original).bind(backend, *args, **kwargs).arguments
            source_id, source_region = str(arguments["source_snapshot_id"]), str(arguments["source_region"])
            if source_id in ec2_backends[backend.account_id][source_region].snapshots:
                return original(backend, *args, **kwargs)
            shared = model.shared_ebs_snapshot(backend, source_id, source_region)
            if shared is None:
                return original(backend, *args, **kwargs)  # InvalidSnapshot.NotFound, as moto answers
            if source_region != backend.region_name and not CROSS_REGION_SHARED_COPY["ebs"][bool(shared.encrypted)]:
                raise EC2ClientError("InvalidParameterValue", f"{source_id}: a shared snapshot cannot be copied here")
            if shared.encrypted:
                key_id = shared.kms_key_id or getattr(shared.volume, "kms_key_id", None)
                caller = current_caller()
                reason = model.key_denial(caller, key_id, account=shared.owner_id, region=source_region, family="ebs")
                if reason is not None:
                    model.refusals.append(f"ebs copy of {source_id}: {reason}")
                    snapshot = original(backend, *args, **kwargs)
                    snapshot.status = "error"
                    snapshot.state_message = EBS_KEY_NOT_ACCESSIBLE
                    return snapshot
            return original(backend, *args, **kwargs)

        return copy

    def _ebs_share(self, original: Callable[..., Any]) -> Callable[..., Any]:
        model = self

        def add(backend: Any, snapshot_id: str, user_ids: list[str], groups: list[str]) -> Any:
            snapshot = backend.snapshots.get(snapshot_id)
            if user_ids and snapshot is not None and snapshot.encrypted:
                key_id = snapshot.kms_key_id or getattr(snapshot.volume, "kms_key_id", None)
                if _is_aws_managed(key_id, account=backend.account_id, region=backend.region_name):
                    model.refusals.append(f"share of {snapshot_id}: encrypted under an AWS managed key")
                    code, message = MANAGED_KEY_SHARE_ERRORS["ec2"]
                    raise EC2ClientError(code, message.format(id=snapshot_id))
            return original(backend, snapshot_id, user_ids=user_ids, groups=groups)

        return add

    def _ebs_modifications(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def modify(response: ElasticBlockStore) -> Any:
            changes = response._get_param("CreateVolumePermission") or {}
            if response._get_param("UserIds") or response._get_param("GroupNames") or not changes:
                return original(response)
            snapshot_id = response._get_param("SnapshotId")
            backend = response.ec2_backend
            response.error_on_dryrun()
            for operation, method in (("Add", "add"), ("Remove", "remove")):
                entries = changes.get(operation) or []
                user_ids = [entry["UserId"] for entry in entries if entry.get("UserId")]
                groups = [entry["Group"] for entry in entries if entry.get("Group")]
                if user_ids or groups:
                    getattr(backend, f"{method}_create_volume_permission")(
                        snapshot_id, user_ids=user_ids, groups=groups
                    )
            from moto.core.responses import EmptyResult

            return EmptyResult()

        return modify

    # -- (f) AWS managed keys

    def _managed_defaults(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def generate(backend: KmsBackend, alias_name: str) -> Any:
            key_id = original(backend, alias_name)
            if key_id is not None:
                _mark_aws_managed(backend.keys[key_id], alias_name)
            return key_id

        return generate

    def _managed_ebs_default(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def create(backend: Any) -> Any:
            arn = original(backend)
            _mark_aws_managed(kms_backends[backend.account_id][backend.region_name].describe_key(arn), "alias/aws/ebs")
            return arn

        return create


__all__ = [
    "CROSS_REGION_SHARED_COPY",
    "EBS_KEY_NOT_ACCESSIBLE",
    "MANAGED_KEY_SHARE_ERRORS",
    "REQUIRED_GRANT_OPERATIONS",
    "Caller",
    "SharingModel",
    "aws_managed_key",
    "aws_managed_policy",
    "caller_from_access_key",
    "current_caller",
    "identity_policies",
    "resolve_key",
]
