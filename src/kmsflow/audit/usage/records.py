"""One CloudTrail record -> the facts the usage report groups by (pure; no I/O, no state).

Facts used (CloudTrail record contents,
https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html, and
the KMS log entry examples, https://docs.aws.amazon.com/kms/latest/developerguide/understanding-kms-entries.html):

- every record has ``eventTime``, ``eventSource`` (``kms.amazonaws.com`` for KMS), ``eventName`` (the API
  operation), ``awsRegion``, ``recipientAccountId`` (the account whose trail received the event),
  ``userIdentity``; failed calls add ``errorCode`` (e.g. ``AccessDenied``).
- KMS records name the key in ``resources[]`` (``{"accountId", "type": "AWS::KMS::Key", "ARN"}``; some examples
  omit ``type``). CreateAlias/UpdateAlias/DeleteAlias list the alias there too, *also* with type
  ``AWS::KMS::Key`` but an ``...:alias/NAME`` ARN (ct-createalias), so a key is a resource whose ARN has
  ``:key/``. ReEncrypt lists "two AWS KMS keys, the source KMS key and the destination KMS key, in that order"
  (ct-reencrypt): an event counts once for *each* key it names, since both keys were used.
- ``requestParameters.keyId`` is what the caller passed: key ID, key ARN, alias name or alias ARN (see
  :mod:`.arns`); used when ``resources`` names no key.
- CreateAlias/UpdateAlias carry ``requestParameters.aliasName`` and ``targetKeyId`` (ct-createalias): they teach
  the report which key an alias stood for.
- CreateKey's response has ``responseElements.keyMetadata.arn`` (ct-createkey); ListKeys, ListAliases and the
  like name no key and group under key ``-``.
"""

from __future__ import annotations

from typing import Any, Final

from kmsflow.audit.usage.arns import KEY_MARK, key_ref
from kmsflow.audit.usage.identity import principal_of
from kmsflow.audit.usage.window import canonical_time

KMS_SOURCE: Final = "kms.amazonaws.com"
NO_KEY: Final = "-"
ALIAS_OPERATIONS: Final = frozenset({"CreateAlias", "UpdateAlias"})

#: What :func:`read_record` returns for a record of another service, and for a malformed record.
OTHER_SERVICE: Final = "other-service"
MALFORMED: Final = "malformed"

Group = tuple[str, str, str, str, str, str, str, str]
"""Everything a usage row is grouped by except the key: (principal, principal_type, principal_account,
operation, account, region, service (``invokedBy``), error_code)."""

Event = tuple[str, tuple[str, ...], Group]
"""(eventTime in the fixed format, the key references the event names, the rest of its group)."""


def read_record(record: Any) -> Event | str:
    """Classify and read one record: :data:`OTHER_SERVICE`, :data:`MALFORMED`, or the KMS :data:`Event`.

    Malformed: not an object; no ``eventSource``/``eventName``/``eventTime`` or not strings; an ``eventTime``
    that is not ISO 8601; or a field the report reads (``userIdentity``, ``resources``, ``requestParameters``,
    ``awsRegion``, ``recipientAccountId``, ``errorCode``) of the wrong JSON type.
    """
    if type(record) is not dict:
        return MALFORMED
    source = record.get("eventSource")
    if source != KMS_SOURCE:
        return OTHER_SERVICE if type(source) is str else MALFORMED
    operation = record.get("eventName")
    event_time = record.get("eventTime")
    if type(operation) is not str or not operation or type(event_time) is not str:
        return MALFORMED
    event_time = canonical_time(event_time)
    if event_time is None:
        return MALFORMED
    # Optional strings, read inline (this runs once per record): absent or null -> "", another type -> malformed.
    region = record.get("awsRegion", "")
    account = record.get("recipientAccountId", "")
    error = record.get("errorCode", "")
    if type(region) is not str or type(account) is not str or type(error) is not str:
        if region is None:
            region = ""
        if account is None:
            account = ""
        if error is None:
            error = ""
        if type(region) is not str or type(account) is not str or type(error) is not str:
            return MALFORMED
    identity = record.get("userIdentity")
    principal = principal_of(identity)
    if principal is None:
        return MALFORMED
    service = identity.get("invokedBy", "") if identity is not None else ""
    if type(service) is not str:
        return MALFORMED
    keys = keys_of(record, operation, region, account or principal[2])
    if keys is None:
        return MALFORMED
    return event_time, keys, (*principal, operation, account, region, service, error)


def keys_of(record: dict[str, Any], operation: str, region: str, account: str) -> tuple[str, ...] | None:
    """The keys (key ARNs, or alias ARNs still to be resolved) an event names, in order, without repeats;
    ``(NO_KEY,)`` when it names none; ``None`` when ``resources``/``requestParameters`` have the wrong type."""
    resources = record.get("resources")
    if resources is not None:
        if type(resources) is not list:
            return None
        found: list[str] = []
        for resource in resources:
            if type(resource) is dict:
                arn = resource.get("ARN")
                if type(arn) is str and KEY_MARK in arn and arn not in found:
                    found.append(arn)
        if found:
            return tuple(found)
    params = record.get("requestParameters")
    if params is not None:
        if type(params) is not dict:
            return None
        key_id = params.get("keyId")
        if type(key_id) is str and key_id:
            return (key_ref(key_id, region=region, account=account),)
    if operation == "CreateKey":
        created = _created_key(record)
        if created:
            return (created,)
    return (NO_KEY,)


def _created_key(record: dict[str, Any]) -> str | None:
    response = record.get("responseElements")
    if type(response) is dict:
        metadata = response.get("keyMetadata")
        if type(metadata) is dict:
            arn = metadata.get("arn")
            if type(arn) is str and KEY_MARK in arn:
                return arn
    return None


def alias_assignment(record: dict[str, Any], region: str, account: str) -> tuple[str, str] | None:
    """(alias ARN, key ARN) taught by a successful CreateAlias/UpdateAlias record, else ``None``.

    The key is ``targetKeyId`` (a key ID or key ARN) made an ARN in the event's account and region; the alias is
    ``aliasName`` likewise.
    """
    if record.get("errorCode"):
        return None
    params = record.get("requestParameters")
    if type(params) is not dict:
        return None
    alias, target = params.get("aliasName"), params.get("targetKeyId")
    if type(alias) is not str or type(target) is not str or not alias or not target:
        return None
    alias_ref = key_ref(alias, region=region, account=account)
    key = key_ref(target, region=region, account=account)
    if KEY_MARK not in key:
        return None
    return alias_ref, key
