"""What the review cannot know offline, listed so that a reviewer never reads silence as "no access".

* stack parameters: the review reads their defaults, a deployment may pass others (CDK's own
  ``BootstrapVersion`` is left out: it names no principal or resource);
* values that do not resolve (an import with no export in the assembly, an unknown attribute...): the policy
  that holds one is listed;
* custom resources (other than CDK's cross-region reference reader and writer, which the assembly resolves):
  they run code at deployment and may change a key or its policy;
* principals outside the assembly: their own IAM policies (and, for an account root, every identity policy
  of that account) decide too;
* managed policies the assembly does not define (AWS managed ones in particular), stacks without a fixed
  environment (from :attr:`kmsflow.policy.assembly.Assembly.unknowns`);
* AWS managed keys (``alias/aws/...``) that policies or resources name: their policies are AWS's;
* organization policies: service and resource control policies can deny what every policy here allows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping

from kmsflow.policy.assembly import UNRESOLVED, Assembly
from kmsflow.review.model import Unknown

_CDK_PARAMETERS = frozenset({"BootstrapVersion"})
_RESOLVED_CUSTOM = frozenset({"Custom::CrossRegionExportReader", "Custom::CrossRegionExportWriter"})
_POLICY_PROPERTIES = ("KeyPolicy", "PolicyDocument", "Policies", "AssumeRolePolicyDocument")
_AWS_MANAGED_KEY = re.compile(r"alias/aws/[A-Za-z0-9/_-]+")
_MARKER = re.compile(re.escape(UNRESOLVED) + r"[^>]*>")

ORGANIZATION_POLICIES = Unknown(
    what="organization policies",
    where="AWS Organizations",
    detail="service control policies and resource control policies are not in a cloud assembly: they can deny "
    "what the policies here allow (never allow more)",
)


def unknowns(assembly: Assembly, outside: Iterable[str]) -> tuple[Unknown, ...]:
    """Every unknown of the assembly, sorted; ``outside`` are the principals that key policies name but the
    assembly does not define."""
    found = {ORGANIZATION_POLICIES}
    found.update(_parameters(assembly))
    found.update(_custom_resources(assembly))
    found.update(_unresolved(assembly))
    found.update(_aws_managed_keys(assembly))
    found.update(_outside(outside))
    found.update(Unknown(what="assembly", where=note.split(" ", 1)[0], detail=note) for note in assembly.unknowns)
    return tuple(sorted(found))


def _parameters(assembly: Assembly) -> Iterator[Unknown]:
    for stack in assembly.stacks.values():
        for name, declaration in stack.section("Parameters").items():
            if name in _CDK_PARAMETERS:
                continue
            default = declaration.get("Default") if isinstance(declaration, Mapping) else None
            detail = (
                "no default: the deployment passes its value, unknown here (statements naming it match nothing)"
                if default is None
                else f"read as its default {json.dumps(default)}; a deployment may pass another value"
            )
            yield Unknown(what="parameter", where=f"{stack.name}/{name}", detail=detail)


def _custom_resources(assembly: Assembly) -> Iterator[Unknown]:
    for resource in assembly.resources():
        custom = resource.type.startswith("Custom::") or resource.type == "AWS::CloudFormation::CustomResource"
        if custom and resource.type not in _RESOLVED_CUSTOM:
            yield Unknown(
                what="custom resource",
                where=f"{resource.stack}/{resource.logical_id}",
                detail=f"{resource.type} runs code at deployment; it may change keys or policies",
            )


def _unresolved(assembly: Assembly) -> Iterator[Unknown]:
    """Policies holding a value the assembly cannot resolve (each marker names what it stands for)."""
    for resource in assembly.resources():
        for prop in _POLICY_PROPERTIES:
            if prop not in resource.properties:
                continue
            text = json.dumps(assembly.resolve(resource.stack, resource.properties[prop]), default=str)
            for marker in sorted(set(_MARKER.findall(text))):
                yield Unknown(
                    what="unresolved value",
                    where=f"{resource.stack}/{resource.logical_id} {prop}",
                    detail=f"{marker[len(UNRESOLVED) : -1]} cannot be resolved offline; statements naming it "
                    "match nothing here",
                )


def _aws_managed_keys(assembly: Assembly) -> Iterator[Unknown]:
    for resource in assembly.resources():
        text = json.dumps(resource.properties, default=str)
        for alias in sorted(set(_AWS_MANAGED_KEY.findall(text))):
            yield Unknown(
                what="aws managed key",
                where=f"{resource.stack}/{resource.logical_id}",
                detail=f"{alias} is an AWS managed key: AWS writes its key policy, which is not in the assembly",
            )


def _outside(principals: Iterable[str]) -> Iterator[Unknown]:
    for arn in sorted(set(principals)):
        if arn.endswith(":root"):
            detail = (
                "an account named by a key policy: any of its principals whose own IAM policies allow it may act; "
                "its roles and users outside the assembly are not known"
            )
        else:
            detail = "named by a key policy but not defined in the assembly: its own IAM policies are not known"
        yield Unknown(what="outside principal", where=arn, detail=detail)
