"""Delivery: what lets a CI system deploy kmsflow's stacks (GitHub Actions through OIDC, or CDK Pipelines)."""

from kmsflow.constructs.delivery.github_oidc import (
    BOOTSTRAP_QUALIFIER,
    GITHUB_AUDIENCE,
    GITHUB_ISSUER,
    GithubOidcDeployRole,
    bootstrap_role_arns,
    github_subjects,
)
from kmsflow.constructs.delivery.pipeline import DeliveryStage, KmsflowPipeline, delivery_waves

__all__ = [
    "BOOTSTRAP_QUALIFIER",
    "GITHUB_AUDIENCE",
    "GITHUB_ISSUER",
    "DeliveryStage",
    "GithubOidcDeployRole",
    "KmsflowPipeline",
    "bootstrap_role_arns",
    "delivery_waves",
    "github_subjects",
]
