"""Workflows II: share a KMS-encrypted snapshot with another account by grant-and-copy, then revoke every access.

The state machine's tasks are :mod:`.handlers`; the job document is :mod:`.job`; the KMS grant is :mod:`.grants`.
The snapshot work itself reuses Workflows I's family adapters (:mod:`kmsflow.lambdas.snapshot_copy.adapters`).
"""
