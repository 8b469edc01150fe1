"""A `pipeline.codepipeline` section for tests: the example CodeConnections connection of account security."""

from __future__ import annotations

from typing import Any

CONNECTION_ARN = "arn:aws:codeconnections:eu-west-1:111111111111:connection/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"


def codepipeline_section(**overrides: Any) -> dict[str, Any]:
    """The pipeline in account security, region primary, building example/kmsflow (``overrides`` replace fields)."""
    return {
        "account": "security",
        "region": "primary",
        "connection_arn": CONNECTION_ARN,
        "repository": "example/kmsflow",
        **overrides,
    }
