"""kmsflow's cdk-nag rule pack for key policies (``Kmsflow-KMS1`` ... ``Kmsflow-KMS4``)."""

from kmsflow.constructs.nag.pack import PACK_NAME, KmsflowChecks

__all__ = ["PACK_NAME", "KmsflowChecks"]
