"""The pipeline stack of ``pipeline.codepipeline``: CDK Pipelines deploying every configured stage.

Not part of any stage: an administrator deploys it once by hand (``cdk deploy kmsflow-pipeline-<account>-<region>``);
afterwards its ``UpdatePipeline`` stage keeps it in step with the repository."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from kmsflow.constructs.delivery import DeliveryStage, KmsflowPipeline, delivery_waves


class PipelineStack(Stack):
    """``delivery``: the :class:`KmsflowPipeline` with its ``Review`` stage and one CodePipeline stage per wave of
    ``stages`` (:func:`kmsflow.constructs.delivery.delivery_waves`: consecutive stages share a wave only when
    independent of each other and the later one has no approval). Outputs ``PipelineName``, ``ReportsBucket``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        connection_arn: str,
        repository: str,
        branch: str,
        stages: Sequence[DeliveryStage],
        dependencies: Sequence[tuple[str, str]],
        partition: str,
        **stack_props: Any,
    ) -> None:
        super().__init__(scope, id, **stack_props)
        self.delivery = KmsflowPipeline(
            self,
            "Delivery",
            connection_arn=connection_arn,
            repository=repository,
            branch=branch,
            pipeline_name=id,
            partition=partition,
        )
        self.delivery.add_review([stage.name for stage in stages])
        self.waves = delivery_waves(stages, dependencies)
        for wave in self.waves:
            self.delivery.add_wave(wave)
        self.delivery.build()
        CfnOutput(self, "PipelineName", value=self.delivery.pipeline.pipeline.pipeline_name)
        CfnOutput(self, "ReportsBucket", value=self.delivery.reports.bucket_name)
