"""GitHub Actions' way into AWS without long-lived keys: the GitHub OIDC provider and a deploy role that only the
configured repository's branch and environments may assume, and that may only assume the CDK bootstrap roles of
the accounts and regions it deploys to."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from constructs import Construct

#: The issuer of GitHub Actions' OIDC tokens.
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
#: The audience ``aws-actions/configure-aws-credentials`` asks GitHub for.
GITHUB_AUDIENCE = "sts.amazonaws.com"
#: The condition-key prefix IAM gives the token's claims (the issuer without ``https://``).
CLAIM_PREFIX = GITHUB_ISSUER.removeprefix("https://")
#: The CDK bootstrap qualifier: ``cdk bootstrap``'s default, which kmsflow's stacks use (DefaultStackSynthesizer).
BOOTSTRAP_QUALIFIER = "hnb659fds"
#: The roles ``cdk bootstrap`` creates in each (account, region) and the CDK CLI assumes to deploy.
BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")


def bootstrap_role_arns(partition: str, account_id: str, region: str) -> list[str]:
    """The ARNs of the CDK bootstrap roles of ``account_id`` in ``region`` (a region code), default qualifier."""
    return [
        f"arn:{partition}:iam::{account_id}:role/cdk-{BOOTSTRAP_QUALIFIER}-{role}-role-{account_id}-{region}"
        for role in BOOTSTRAP_ROLES
    ]


def github_subjects(repository: str, branch: str, environments: Sequence[str]) -> list[str]:
    """The ``sub`` claims of the tokens the deploy role accepts: a job on ``branch`` of ``repository`` without an
    environment, and a job in each of ``environments`` (a job with ``environment:`` gets that subject instead)."""
    return [f"repo:{repository}:ref:refs/heads/{branch}"] + [
        f"repo:{repository}:environment:{name}" for name in environments
    ]


class GithubOidcDeployRole(Construct):
    """``provider``: the account's GitHub OIDC provider (``AWS::IAM::OIDCProvider``, native: no custom-resource
    Lambda; no thumbprints, so IAM trusts GitHub's certificate through its own CA library, as AWS does for
    GitHub since 2023). ``role``: the deploy role, assumable by ``sts:AssumeRoleWithWebIdentity`` only with a
    token whose ``aud`` is ``sts.amazonaws.com`` and whose ``sub`` is exactly one of :func:`github_subjects`
    (no wildcards), for one hour at most. ``policy``: its only permissions, ``sts:AssumeRole`` on the CDK bootstrap
    roles of ``targets`` ((account id, region code) pairs). The CDK CLI passes no session tags unless a stack's
    synthesizer asks for them (kmsflow's do not), so ``sts:TagSession`` is not granted.

    IAM holds one provider per issuer URL per account: an account whose GitHub provider exists already cannot
    deploy this construct until that provider is removed (or imported, later)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        repository: str,
        branch: str,
        environments: Sequence[str],
        targets: Sequence[tuple[str, str]],
        partition: str,
        role_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.subjects = github_subjects(repository, branch, environments)
        self.provider = iam.OidcProviderNative(self, "Provider", url=GITHUB_ISSUER, client_ids=[GITHUB_AUDIENCE])
        self.role = iam.Role(
            self,
            "DeployRole",
            role_name=role_name,
            description=f"kmsflow: GitHub Actions of {repository} deploy through the CDK bootstrap roles",
            assumed_by=iam.WebIdentityPrincipal(
                self.provider.oidc_provider_arn,
                conditions={
                    "StringEquals": {
                        f"{CLAIM_PREFIX}:aud": GITHUB_AUDIENCE,
                        f"{CLAIM_PREFIX}:sub": self.subjects,
                    }
                },
            ),
            max_session_duration=Duration.hours(1),
        )
        arns = [
            arn for account, region in dict.fromkeys(targets) for arn in bootstrap_role_arns(partition, account, region)
        ]
        # A customer managed policy rather than an inline one: its own resource, reviewed and versioned by IAM.
        self.policy = iam.ManagedPolicy(
            self,
            "AssumeBootstrapRoles",
            description="kmsflow: assume the CDK bootstrap roles of the pipeline's stages, nothing else",
            statements=[iam.PolicyStatement(actions=["sts:AssumeRole"], resources=arns)],
            roles=[self.role],
        )
