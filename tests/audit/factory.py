"""CloudTrail records and log files of the documented shape, for the usage-report tests.

Shapes follow the AWS documentation: the record contents
(https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html),
the userIdentity element (.../cloudtrail-event-reference-user-identity.html), the KMS log entry examples
(https://docs.aws.amazon.com/kms/latest/developerguide/understanding-kms-entries.html: ct-decrypt,
ct-generatedatakey, ct-createalias, ct-createkey, ct-reencrypt, ct-delete-key), the log file name and S3 layout
(.../cloudtrail-log-file-examples.html, .../cloudtrail-find-log-files.html) and the digest file location
(.../cloudtrail-log-file-validation-digest-file-structure.html).
"""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path
from typing import Any

ACCOUNT = "111122223333"
PARTNER = "444455556666"
OTHER = "777788889999"
REGION = "eu-west-1"
REGION2 = "us-east-1"
KMS = "kms.amazonaws.com"


def key_id(n: int) -> str:
    """A stable key ID for key number ``n`` (UUID-shaped, like KMS's)."""
    return str(uuid.UUID(int=0x1234ABCD_12AB_34CD_56EF_000000000000 + n))


def key_arn(n: int, *, account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:kms:{region}:{account}:key/{key_id(n)}"


def alias_arn(name: str, *, account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:kms:{region}:{account}:{name}"


def role_arn(role: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:role/{role}"


# ---------------------------------------------------------------------------------------------- userIdentity


def assumed_role(
    role: str, session: str = "session-1", *, account: str = ACCOUNT, invoked_by: str = ""
) -> dict[str, Any]:
    identity: dict[str, Any] = {
        "type": "AssumedRole",
        "principalId": f"AROAIDPPEZS35WEXAMPLE:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": "ASIAIOSFODNN7EXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAIDPPEZS35WEXAMPLE",
                "arn": role_arn(role, account),
                "accountId": account,
                "userName": role,
            },
            "attributes": {"creationDate": "2025-05-20T10:00:00Z", "mfaAuthenticated": "false"},
        },
    }
    if invoked_by:
        identity["invokedBy"] = invoked_by
    return identity


def iam_user(name: str, *, account: str = ACCOUNT, invoked_by: str = "") -> dict[str, Any]:
    identity: dict[str, Any] = {
        "type": "IAMUser",
        "principalId": "AIDAJ45Q7YFFAREXAMPLE",
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "accountId": account,
        "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "userName": name,
    }
    if invoked_by:
        identity["invokedBy"] = invoked_by
    return identity


def root(*, account: str = ACCOUNT) -> dict[str, Any]:
    return {
        "type": "Root",
        "principalId": account,
        "arn": f"arn:aws:iam::{account}:root",
        "accountId": account,
        "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
    }


def aws_service(service: str) -> dict[str, Any]:
    return {"type": "AWSService", "invokedBy": service}


def aws_account(account: str) -> dict[str, Any]:
    return {"type": "AWSAccount", "principalId": f"AIDAEXAMPLE:{account}", "accountId": account}


def federated_user(name: str, *, account: str = ACCOUNT) -> dict[str, Any]:
    return {
        "type": "FederatedUser",
        "principalId": f"{account}:{name}",
        "arn": f"arn:aws:sts::{account}:federated-user/{name}",
        "accountId": account,
        "sessionContext": {"sessionIssuer": {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/fed-broker"}},
    }


def kms_internal(*, account: str = ACCOUNT) -> dict[str, Any]:
    """KMS's own operations (DeleteKey after the waiting period): no type, ``invokedBy: AWS Internal``."""
    return {"accountId": account, "invokedBy": "AWS Internal"}


# ---------------------------------------------------------------------------------------------- records


def kms_event(
    operation: str,
    identity: dict[str, Any],
    *,
    key: str | None = None,
    key_param: str | None = None,
    resources: list[str] | None = None,
    account: str = ACCOUNT,
    region: str = REGION,
    time: str = "2025-05-20T20:45:00Z",
    error_code: str | None = None,
    request: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A KMS record as CloudTrail writes it. ``key``: the key ARN in ``resources`` (and, unless ``key_param``
    says otherwise, in ``requestParameters.keyId``); ``resources``: explicit resource ARNs (``[]`` for none);
    ``account``: ``recipientAccountId``."""
    params: dict[str, Any] = dict(request or {})
    if key_param is not None:
        params["keyId"] = key_param
    elif key is not None:
        params["keyId"] = key
    if operation in ("Decrypt", "Encrypt"):
        params["encryptionAlgorithm"] = "SYMMETRIC_DEFAULT"
    record: dict[str, Any] = {
        "eventVersion": "1.11",
        "userIdentity": identity,
        "eventTime": time,
        "eventSource": KMS,
        "eventName": operation,
        "awsRegion": region,
        "sourceIPAddress": identity.get("invokedBy") or "192.0.2.0",
        "userAgent": "AWS Internal",
        "requestParameters": params or None,
        "responseElements": response,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": operation.startswith(("Decrypt", "Encrypt", "Generate", "Describe", "List", "Get")),
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_256_GCM_SHA384",
            "clientProvidedHostHeader": f"kms.{region}.amazonaws.com",
        },
    }
    arns = resources if resources is not None else ([key] if key else [])
    if arns:
        record["resources"] = [{"accountId": arn.split(":")[4], "type": "AWS::KMS::Key", "ARN": arn} for arn in arns]
    if error_code:
        record["errorCode"] = error_code
        record["errorMessage"] = f"User is not authorized to perform: kms:{operation}"
    return record


def create_alias(alias: str, target_key_id: str, identity: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """CreateAlias as in ct-createalias: resources list the key *and* the alias (both typed AWS::KMS::Key)."""
    account, region = kwargs.get("account", ACCOUNT), kwargs.get("region", REGION)
    key = f"arn:aws:kms:{region}:{account}:key/{target_key_id}"
    return kms_event(
        kwargs.pop("operation", "CreateAlias"),
        identity,
        resources=[key, alias_arn(alias, account=account, region=region)],
        request={"aliasName": alias, "targetKeyId": target_key_id},
        response={"keyId": key},
        **kwargs,
    )


def create_key(arn: str, identity: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """CreateKey as in ct-createkey: no key in the request; the new key in responseElements.keyMetadata."""
    account, region = arn.split(":")[4], arn.split(":")[3]
    return kms_event(
        "CreateKey",
        identity,
        resources=[],
        request={"keySpec": "SYMMETRIC_DEFAULT", "keyUsage": "ENCRYPT_DECRYPT", "origin": "AWS_KMS"},
        response={
            "keyMetadata": {
                "AWSAccountId": account,
                "keyId": arn.rsplit("/", 1)[1],
                "arn": arn,
                "keyState": "Enabled",
                "keyUsage": "ENCRYPT_DECRYPT",
            }
        },
        account=account,
        region=region,
        **kwargs,
    )


def other_service(event_source: str = "s3.amazonaws.com", **kwargs: Any) -> dict[str, Any]:
    record = kms_event("GetObject", iam_user("alice"), **kwargs)
    record["eventSource"] = event_source
    record["requestParameters"] = {"bucketName": "amzn-s3-demo-bucket", "key": "object"}
    return record


# ---------------------------------------------------------------------------------------------- files


def log_name(account: str, region: str, stamp: str = "20250520T2050Z", unique: str = "Mu0KsOhtH1ar15ZZ") -> str:
    """``AccountID_CloudTrail_RegionName_YYYYMMDDTHHmmZ_UniqueString.json.gz``."""
    return f"{account}_CloudTrail_{region}_{stamp}_{unique}.json.gz"


def log_key(
    account: str, region: str, *, day: str = "2025/05/20", org_id: str | None = None, unique: str = "Mu0KsOhtH1ar15ZZ"
) -> str:
    """``AWSLogs/[<o-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/<name>``."""
    org = f"{org_id}/" if org_id else ""
    stamp = day.replace("/", "") + "T2050Z"
    return f"AWSLogs/{org}{account}/CloudTrail/{region}/{day}/{log_name(account, region, stamp, unique)}"


def digest_key(account: str, region: str, *, day: str = "2025/05/20", org_id: str | None = None) -> str:
    org = f"{org_id}/" if org_id else ""
    stamp = day.replace("/", "") + "T205000Z"
    return (
        f"AWSLogs/{org}{account}/CloudTrail-Digest/{region}/{day}/"
        f"{account}_CloudTrail-Digest_{region}_management-trail_{region}_{stamp}.json.gz"
    )


def log_bytes(records: list[Any], *, gz: bool = True) -> bytes:
    data = json.dumps({"Records": records}).encode()
    return gzip.compress(data) if gz else data


def digest_bytes(account: str = ACCOUNT) -> bytes:
    """A digest file: JSON, gzip, but no ``Records`` (it would be a bad file if it were read as a log)."""
    digest = {
        "awsAccountId": account,
        "digestStartTime": "2025-05-20T19:50:00Z",
        "digestEndTime": "2025-05-20T20:50:00Z",
        "digestS3Bucket": "amzn-s3-demo-bucket",
        "digestPublicKeyFingerprint": "31e8b5433410dfb61a9dc45cc65b22ff",
        "digestSignatureAlgorithm": "SHA256withRSA",
        "logFiles": [],
    }
    return gzip.compress(json.dumps(digest).encode())


def write(root: Path, relative: str, data: bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
