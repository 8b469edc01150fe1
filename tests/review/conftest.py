"""Cloud assemblies for the review's tests: the default app (shared with every template test), a baseline and a
changed configuration of it, and small plain aws-cdk apps. Each is synthesized once per session."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kmsflow.review.build import review_assembly
from kmsflow.review.model import Review
from tests.conftest import DEFAULT_CONFIG

#: What the changed configuration adds, drops and alters relative to the baseline (tests assert exactly these).
PARTNER_READER = "arn:aws:iam::333333333333:role/PartnerReader"
SECOND_ADMIN = "arn:aws:iam::111111111111:role/SecondAdministrator"
APP_RUNTIME = "arn:aws:iam::111111111111:role/AppRuntime"
EXTRA_ROLE_NAME = "kmsflow-review-test-reader"
EXTRA_STACK = "review-test-extra-grants"


def _default_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(DEFAULT_CONFIG.read_text())
    return document


def _key(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(key for key in document["keys"] if key["name"] == name)
    return found


def baseline_document() -> dict[str, Any]:
    """The default configuration with a second administrator on the ``data`` key."""
    document = _default_document()
    _key(document, "data")["policy"]["administrators"].append("security:role/SecondAdministrator")
    return document


def changed_document() -> dict[str, Any]:
    """The default configuration (the second administrator dropped) with a cross-account principal added to
    ``data``, its service users narrowed to RDS, and rotation of ``workloads-default`` turned off."""
    document = copy.deepcopy(_default_document())
    data = _key(document, "data")
    data["policy"]["cross_account"] = [{"account": "partner", "principals": ["partner:role/PartnerReader"]}]
    data["policy"]["service_users"]["services"] = ["rds"]
    _key(document, "workloads-default")["rotation"] = False
    return document


def synthesize(
    outdir: Path, document: dict[str, Any], *, extra: Callable[[Any, dict[Any, Any]], None] | None = None
) -> Path:
    """Write ``document`` as a configuration file, build its app (without cdk-nag: the changed configuration
    turns rotation off on purpose) and synthesize it into ``outdir``."""
    from kmsflow.app import new_app, populate
    from kmsflow.config import load_config

    config_file = outdir.parent / f"{outdir.name}.yaml"
    config_file.write_text(yaml.safe_dump(document, sort_keys=False))
    app = new_app(outdir=str(outdir))
    stacks = populate(app, load_config(str(config_file)), source=str(config_file), nag=False)
    if extra is not None:
        extra(app, stacks)
    app.synth()
    return outdir


def add_extra_grant(app: Any, stacks: dict[Any, Any]) -> None:
    """A stack of another team in the workloads account: a role granted decrypt on ``workloads-default`` by
    CDK's own ``grant_decrypt`` (an IAM policy in this stack, the key by cross-stack reference)."""
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam

    key = next(stack.keys["workloads-default"] for stack in stacks.values() if "workloads-default" in stack.keys)
    stack = cdk.Stack(app, EXTRA_STACK, env=cdk.Environment(account="222222222222", region="eu-west-1"))
    role = iam.Role(stack, "Reader", role_name=EXTRA_ROLE_NAME, assumed_by=iam.AccountRootPrincipal())
    key.grant_decrypt(role)


@pytest.fixture(scope="session")
def default_review(default_outdir: Path) -> Review:
    return review_assembly(default_outdir)


@pytest.fixture(scope="session")
def baseline_outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("baseline") / "cdk.out", baseline_document())


@pytest.fixture(scope="session")
def changed_outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("changed") / "cdk.out", changed_document(), extra=add_extra_grant)
