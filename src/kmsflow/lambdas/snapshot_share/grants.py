"""The KMS grant that opens a sharing key to one target copy role for the minutes of one copy.

The operations per family are the ones AWS documents for a cross-account copy of that family's snapshots: the
target account's caller must be able to use the source snapshot's key through the service, and RDS and EBS
create grants of their own for the copy (hence ``CreateGrant``):

* RDS DB and Aurora DB cluster snapshots: "Allowing access to an AWS KMS key" in "Sharing a DB snapshot"
  (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ShareSnapshot.html and the Aurora User Guide's
  aurora-share-snapshot.html): CreateGrant, Encrypt, Decrypt, ReEncrypt*, GenerateDataKey*, DescribeKey.
* EBS snapshots: "Share the KMS key used to encrypt a shared Amazon EBS snapshot"
  (https://docs.aws.amazon.com/ebs/latest/userguide/share-kms-key.html): DescribeKey, CreateGrant, GenerateDataKey,
  GenerateDataKeyWithoutPlaintext, ReEncrypt, Decrypt.

``ReEncrypt*`` is written as its two grant operations, ``GenerateDataKey*`` as the two a grant can hold. A grant
is enough on its own: a grantee of another account needs no IAM policy for what the grant allows ("use grants to
manage access", key-policy-modifying-external-accounts.html). The key policy of every sharing key lets the share step
create grants only with a subset of :data:`ALL_GRANT_OPERATIONS` (``kms:GrantOperations``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

_RDS: Final = (
    "CreateGrant",
    "Decrypt",
    "DescribeKey",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
)
_EBS: Final = (
    "CreateGrant",
    "Decrypt",
    "DescribeKey",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
)

#: family -> the KMS grant operations a cross-account copy of its snapshots needs on the source key.
GRANT_OPERATIONS: Final[Mapping[str, tuple[str, ...]]] = {"rds": _RDS, "aurora": _RDS, "ebs": _EBS}

#: Every operation any family's grant holds: the bound of the key policy's ``kms:GrantOperations`` condition.
ALL_GRANT_OPERATIONS: Final[tuple[str, ...]] = tuple(sorted({op for ops in GRANT_OPERATIONS.values() for op in ops}))

GRANT_NAME_PREFIX: Final = "kmsflow-"


def grant_name(job_id: str) -> str:
    """The grant's name: one job, one name, so that a rerun finds the grant an earlier execution made."""
    return f"{GRANT_NAME_PREFIX}{job_id}"
