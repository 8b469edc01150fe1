"""Small helpers for construct tests: stacks with fixed example environments and template lookups."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from kmsflow.app import new_app
from kmsflow.constructs.workflows.snapshot_copy import HANDLERS

ACCOUNT = "111111111111"
OTHER = "222222222222"
PARTNER = "333333333333"
REGION = "eu-west-1"
REGION_2 = "eu-central-1"


def role(name: str, account: str = ACCOUNT) -> iam.ArnPrincipal:
    return iam.ArnPrincipal(role_arn(name, account))


def role_arn(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def new_stack(
    app: cdk.App | None = None, id: str = "Test", *, account: str = ACCOUNT, region: str = REGION, **props: Any
) -> cdk.Stack:
    return cdk.Stack(app or new_app(), id, env=cdk.Environment(account=account, region=region), **props)


def template(stack: cdk.Stack) -> dict[str, Any]:
    """The synthesized template of ``stack`` (synthesizes its whole app)."""
    app = stack.node.root
    assert isinstance(app, cdk.App)
    return app.synth().get_stack_by_name(stack.stack_name).template  # type: ignore[no-any-return]


def resource(tpl: dict[str, Any], stack: cdk.Stack, construct: Construct) -> dict[str, Any]:
    """The template entry of an L1 construct."""
    logical_id = stack.resolve(stack.get_logical_id(construct))  # type: ignore[arg-type]
    return tpl["Resources"][logical_id]  # type: ignore[no-any-return]


def statements(key_resource: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A key resource's policy statements by Sid."""
    return {s.get("Sid", f"#{i}"): s for i, s in enumerate(key_resource["Properties"]["KeyPolicy"]["Statement"])}


def iam_statements(tpl: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement of every ``AWS::IAM::Policy`` in a template (identity-side grants)."""
    return [
        s
        for r in tpl["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    ]


def of_type(tpl: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in tpl["Resources"].items() if r["Type"] == kind}


def workflow_functions(tpl: dict[str, Any], handlers: str = HANDLERS) -> dict[str, dict[str, Any]]:
    """The Lambda functions of the workflow whose handlers are in the module ``handlers`` (default: the snapshot
    copy's), by logical id; the only other functions are another workflow's (``kmsflow.lambdas.*``) and the
    provider of CDK's cross-region export reader (the destination keys' ARNs)."""
    functions = of_type(tpl, "AWS::Lambda::Function")
    ours = {lid: r for lid, r in functions.items() if str(r["Properties"].get("Handler")).startswith(handlers + ".")}
    for lid in functions.keys() - ours.keys():
        assert lid.startswith("CustomCrossRegionExportReaderCustomResourceProviderHandler") or str(
            functions[lid]["Properties"].get("Handler")
        ).startswith("kmsflow.lambdas."), lid
    return ours


def handler_functions(tpl: dict[str, Any], handlers: str = HANDLERS) -> dict[str, dict[str, Any]]:
    """handler function name -> its Lambda function (of the workflow whose handlers module is ``handlers``)."""
    return {r["Properties"]["Handler"].rsplit(".", 1)[1]: r for r in workflow_functions(tpl, handlers).values()}


def role_statements(
    tpl: dict[str, Any], handler: str, handlers: str = HANDLERS
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The role of ``handler``'s function (of the workflow of ``handlers``) and every statement of its policies."""
    role_id = handler_functions(tpl, handlers)[handler]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        s
        for p in of_type(tpl, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    return tpl["Resources"][role_id], statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def state_machine(tpl: dict[str, Any], name_prefix: str) -> dict[str, Any]:
    """The one state machine of ``tpl`` whose name starts with ``name_prefix`` (``kmsflow-snapshot-copy-``)."""
    (machine,) = [
        m
        for m in of_type(tpl, "AWS::StepFunctions::StateMachine").values()
        if m["Properties"]["StateMachineName"].startswith(name_prefix)
    ]
    return machine


def by_id_prefix(tpl: dict[str, Any], kind: str, prefix: str) -> dict[str, Any]:
    """The one resource of type ``kind`` whose logical id starts with ``prefix`` followed by CDK's hash."""
    (found,) = [r for lid, r in of_type(tpl, kind).items() if lid.startswith(prefix) and len(lid) == len(prefix) + 8]
    return found
