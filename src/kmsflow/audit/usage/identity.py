"""CloudTrail ``userIdentity`` -> the principal to report: who, of which kind, from which account.

Facts from the CloudTrail userIdentity element
(https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html):

- ``type`` is ``Root``, ``IAMUser``, ``AssumedRole``, ``FederatedUser``, ``AWSAccount``, ``AWSService`` (and, on
  newer records, ``IdentityCenterUser``; ``SAMLUser``/``WebIdentityUser`` on STS federation calls).
- ``AssumedRole``: ``arn`` is the *session* (``arn:aws:sts::123456789012:assumed-role/Role/Session``);
  ``sessionContext.sessionIssuer`` holds the role (``type: Role``, ``arn: arn:aws:iam::123456789012:role/Role``).
  A report per session would split one role into as many rows as it has sessions, so the principal is the role.
- ``accountId``: "the account that owns the entity that granted permissions for the request".
- ``invokedBy``: "the name of the AWS service that made the request", e.g. ``rds.amazonaws.com``; set on
  ``AWSService`` identities and on calls a service makes on behalf of a user or role (then ``type`` is that user
  or role and ``invokedBy`` the service). KMS's own internal operations (DeleteKey after the waiting period)
  carry only ``accountId`` and ``invokedBy: "AWS Internal"``
  (https://docs.aws.amazon.com/kms/latest/developerguide/ct-delete-key.html).
- ``AWSAccount``: "the request was made by another AWS account"; reported as ``account:<accountId>``.

Pure: no I/O. :func:`principal_of` is called once per KMS record, so it reads each field at most once.
"""

from __future__ import annotations

from typing import Any

#: The principal kinds of the report (``principal_type``).
ROLE = "role"
USER = "user"
ROOT = "root"
SERVICE = "service"
ACCOUNT = "account"
FEDERATED = "federated"
IDENTITY_CENTER = "identity-center-user"
OTHER = "other"
UNKNOWN = "unknown"

Principal = tuple[str, str, str]
"""(principal, principal_type, principal_account); the account is ``""`` when unknown (services)."""

_NOBODY: Principal = ("-", UNKNOWN, "")

_TYPES = {
    "IAMUser": USER,
    "Root": ROOT,
    "FederatedUser": FEDERATED,
    "IdentityCenterUser": IDENTITY_CENTER,
}


def role_arn_from_session(session_arn: str) -> str:
    """``arn:aws:sts::A:assumed-role/Role/Session`` -> ``arn:aws:iam::A:role/Role`` (the role's path is lost;
    used only when a record lacks ``sessionContext.sessionIssuer``)."""
    head, _, resource = session_arn.partition(":assumed-role/")
    role_name = resource.split("/", 1)[0]
    if not resource or not head.startswith("arn:"):
        return session_arn
    parts = head.split(":")  # arn, partition, sts, "", account
    if len(parts) != 5:
        return session_arn
    return f"arn:{parts[1]}:iam::{parts[4]}:role/{role_name}"


def principal_of(identity: Any) -> Principal | None:
    """The principal of a record's ``userIdentity``; ``None`` when it has the wrong shape (not an object, or
    fields of the wrong type), so that the caller counts the record as malformed."""
    if identity is None:
        return _NOBODY
    if type(identity) is not dict:
        return None
    kind = identity.get("type")
    account = identity.get("accountId")
    if account is None:
        account = ""
    elif type(account) is not str:
        return None
    if kind == "AssumedRole":
        issuer_arn = None
        context = identity.get("sessionContext")
        if type(context) is dict:
            issuer = context.get("sessionIssuer")
            if type(issuer) is dict:
                issuer_arn = issuer.get("arn")
        if type(issuer_arn) is str and issuer_arn:
            return issuer_arn, ROLE, account
        arn = identity.get("arn")
        if type(arn) is str and arn:
            return role_arn_from_session(arn), ROLE, account
        return _by_id(identity, ROLE, account)
    if kind == "AWSService" or (kind is None and "invokedBy" in identity):
        service = identity.get("invokedBy")
        if type(service) is str and service:
            return service, SERVICE, ""
        return _by_id(identity, SERVICE, "")
    if kind == "AWSAccount":
        if account:
            return f"account:{account}", ACCOUNT, account
        return _by_id(identity, ACCOUNT, "")
    if kind is not None and type(kind) is not str:
        return None
    arn = identity.get("arn")
    ptype = _TYPES.get(kind, OTHER) if kind is not None else UNKNOWN
    if type(arn) is str and arn:
        return arn, ptype, account
    return _by_id(identity, ptype, account)


def _by_id(identity: dict[str, Any], ptype: str, account: str) -> Principal:
    """Fallback when a record has no ARN for its principal: the principal ID, an Identity Center user ID, the
    user name; else ``-``."""
    for field in ("principalId", "userName"):
        value = identity.get(field)
        if type(value) is str and value:
            return value, ptype, account
    behalf = identity.get("onBehalfOf")
    if type(behalf) is dict:
        user_id = behalf.get("userId")
        if type(user_id) is str and user_id:
            return f"identity-center:{user_id}", ptype, account
    return "-", ptype, account
