"""Delivery: what lets a CI system deploy kmsflow's stacks (GitHub Actions through OIDC)."""

from kmsflow.constructs.delivery.github_oidc import (
    BOOTSTRAP_QUALIFIER,
    GITHUB_AUDIENCE,
    GITHUB_ISSUER,
    GithubOidcDeployRole,
    bootstrap_role_arns,
    github_subjects,
)

__all__ = [
    "BOOTSTRAP_QUALIFIER",
    "GITHUB_AUDIENCE",
    "GITHUB_ISSUER",
    "GithubOidcDeployRole",
    "bootstrap_role_arns",
    "github_subjects",
]
