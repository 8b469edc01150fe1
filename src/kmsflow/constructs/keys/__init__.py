"""Customer managed keys: owned, imported and replica keys, and their role-based policies."""

from kmsflow.constructs.keys.key import IKmsflowKey, ImportedKmsflowKey, KmsflowKey
from kmsflow.constructs.keys.policy import (
    CrossAccountAccess,
    CustomKeyPolicy,
    OrganizationAccess,
    RootAccess,
    ServiceUsers,
)
from kmsflow.constructs.keys.replica import KmsflowReplicaKey

__all__ = [
    "CrossAccountAccess",
    "CustomKeyPolicy",
    "IKmsflowKey",
    "ImportedKmsflowKey",
    "KmsflowKey",
    "KmsflowReplicaKey",
    "OrganizationAccess",
    "RootAccess",
    "ServiceUsers",
]
