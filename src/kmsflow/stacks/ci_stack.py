"""The CI stack of ``pipeline.github``: GitHub's OIDC provider and the deploy role of the repository's workflows.

Not part of any stage: it is what the stages deploy with, so an administrator deploys it once by hand
(``cdk deploy kmsflow-ci-<account>``), and again when the repository, branch or stages change."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from kmsflow.constructs.delivery import GithubOidcDeployRole
from kmsflow.stacks.naming import CI_DEPLOY_ROLE


class CiStack(Stack):
    """``deploy``: the :class:`GithubOidcDeployRole`; its role's ARN is the output ``DeployRoleArn``."""

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
        **stack_props: Any,
    ) -> None:
        super().__init__(scope, id, **stack_props)
        self.deploy = GithubOidcDeployRole(
            self,
            "Github",
            repository=repository,
            branch=branch,
            environments=environments,
            targets=targets,
            partition=partition,
            role_name=CI_DEPLOY_ROLE,
        )
        CfnOutput(self, "DeployRoleArn", value=self.deploy.role.role_arn)
