"""Synthetic cloud assemblies for the review benchmark: what ``cdk synth`` would write for an organisation with
many kmsflow-style keys and the workloads that use them.

Layout of :func:`write_assembly` (deterministic: the same arguments write byte-identical files):

- ``manifest.json`` as CDK writes it: one ``aws:cloudformation:stack`` artifact per stack (environment
  ``aws://<account>/<region>``, ``properties.templateFile``, dependencies) and its ``cdk:asset-manifest``;
- key stacks ``bench-keys-NNN`` of :data:`KEYS_PER_STACK` keys each, spread round-robin over two accounts and two
  regions. Each key has an alias, an export of its ARN, and a key policy like kmsflow's: the own root with
  ``kms:*`` (so IAM policies of the account count), two administrators, the workload role that uses it, a
  backup service user limited by ``kms:ViaService`` (use and grants for AWS resources) and, for every fifth
  key, the other account limited by ``kms:CallerAccount`` and ``kms:ViaService``;
- one ``bench-workloads-<account>-<region>`` stack per environment (exports are regional) with one IAM role per
  :data:`KEYS_PER_ROLE` keys and an ``AWS::IAM::Policy`` granting use of those keys by ``Fn::ImportValue`` of
  their exports; the first two policies of each stack also allow ``kms:Decrypt`` on ``"*"`` (a fixed number:
  each reaches every key of its account, so the facts, and the review's work, stay linear in the keys).

``variant=1`` is the same organisation after a change, for the ``--baseline`` timing, in the first key stack:
a cross-account principal added (key 1), an administrator dropped (key 2), rotation turned off (key 3), a
``kms:ViaService`` condition narrowed (key 4) and an IAM grant added in a workloads stack (``kms:CreateGrant``
on key 5).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

ACCOUNTS = ("111111111111", "222222222222")
REGIONS = ("eu-west-1", "eu-central-1")
ENVIRONMENTS = tuple((account, region) for account in ACCOUNTS for region in REGIONS)
KEYS_PER_STACK = 50
KEYS_PER_ROLE = 5
CROSS_ACCOUNT_EVERY = 5  # keys 0, 5, 10... of a stack are shared with the other account
#: Roles of each workloads stack that may also decrypt with any key (Resource "*"). A fixed number, not a share:
#: such a grant reaches every key of the account, so a share of roles would make the facts grow as keys squared.
DECRYPT_ANYWHERE_ROLES = 2
MANIFEST_VERSION = "55.0.0"  # what the project's aws-cdk-lib writes

ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey",
    "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus", "kms:ListGrants", "kms:ListKeyPolicies", "kms:ListKeyRotations",
    "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:RevokeGrant", "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
)  # fmt: skip
USE_ACTIONS = (
    "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)  # fmt: skip
GRANT_ACTIONS = ("kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant")
WORKLOAD_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*")
TAGS = [{"Key": "managed-by", "Value": "kmsflow"}, {"Key": "project", "Value": "bench"}]

#: Policy-bearing resources whose statements the benchmark counts.
KEY_TYPES = ("AWS::KMS::Key", "AWS::KMS::ReplicaKey")
POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


def write_assembly(directory: Path, keys: int, *, variant: int = 0) -> None:
    """Write an assembly of ``keys`` keys into ``directory`` (created if missing); see the module docstring."""
    if keys < 1 or variant not in (0, 1):
        raise ValueError(f"keys must be at least 1 and variant 0 or 1, got keys={keys}, variant={variant}")
    directory.mkdir(parents=True, exist_ok=True)
    changed = variant == 1
    stacks: dict[str, tuple[tuple[str, str], dict[str, Any], list[str]]] = {}
    imports: dict[tuple[str, str], list[_KeyRef]] = {env: [] for env in ENVIRONMENTS}
    for number in range((keys + KEYS_PER_STACK - 1) // KEYS_PER_STACK):
        env = ENVIRONMENTS[number % len(ENVIRONMENTS)]
        count = min(KEYS_PER_STACK, keys - number * KEYS_PER_STACK)
        name = f"bench-keys-{number:03d}"
        template, refs = _key_stack(name, env, count, changed=changed and number == 0)
        stacks[name] = (env, template, [])
        imports[env].extend(refs)
    for env, refs in imports.items():
        if refs:
            name = f"bench-workloads-{env[0]}-{env[1]}"
            depends = sorted({ref.stack for ref in refs})
            stacks[name] = (env, _workloads_stack(env, refs, changed=changed), depends)
    for name, (_, template, _) in stacks.items():
        _write_json(directory / f"{name}.template.json", template)
        _write_json(directory / f"{name}.assets.json", {"version": MANIFEST_VERSION, "files": {}, "dockerImages": {}})
    manifest = {"version": MANIFEST_VERSION, "artifacts": _artifacts(stacks)}
    _write_json(directory / "manifest.json", manifest)


def template_files(directory: Path) -> list[Path]:
    """The template of every stack artifact of an assembly's manifest, in manifest order."""
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    return [
        directory / artifact["properties"]["templateFile"]
        for artifact in manifest["artifacts"].values()
        if artifact["type"] == "aws:cloudformation:stack"
    ]


def count_statements(templates: list[Mapping[str, Any]]) -> int:
    """Statements of every key policy and IAM policy (``AWS::IAM::Policy``/``ManagedPolicy``, roles' inline
    ``Policies``) in the templates: what the review's cost should be linear in."""
    return sum(len(_statements(document)) for template in templates for document in _policy_documents(template))


# --- Key stacks -----------------------------------------------------------------------------------------------


class _KeyRef:
    """A key as a workloads stack refers to it: its stack, its index there and its export name."""

    def __init__(self, stack: str, index: int, export: str) -> None:
        self.stack, self.index, self.export = stack, index, export


def _key_stack(name: str, env: tuple[str, str], count: int, *, changed: bool) -> tuple[dict[str, Any], list[_KeyRef]]:
    account, region = env
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    refs: list[_KeyRef] = []
    for index in range(count):
        logical_id = f"Key{index:03d}{_hash(name, 'key', index)}"
        resources[logical_id] = _key(name, env, index, changed=changed)
        alias_id = f"Alias{index:03d}{_hash(name, 'alias', index)}"
        resources[alias_id] = {
            "Type": "AWS::KMS::Alias",
            "Properties": {
                "AliasName": f"alias/bench/{name}/key-{index:03d}",
                "TargetKeyId": {"Fn::GetAtt": [logical_id, "Arn"]},
            },
        }
        outputs[f"key{index:03d}arn"] = {
            "Description": f"ARN of the bench key '{name}/{index}'",
            "Value": {"Fn::GetAtt": [logical_id, "Arn"]},
        }
        export = f"ExportsOutputFnGetAtt{logical_id}Arn{_hash(name, 'export', index)}"
        outputs[export] = {"Value": {"Fn::GetAtt": [logical_id, "Arn"]}, "Export": {"Name": f"{name}:{export}"}}
        refs.append(_KeyRef(name, index, f"{name}:{export}"))
    resources["CDKMetadata"] = _cdk_metadata()
    description = f"kmsflow bench: customer managed KMS keys of account {account} in region {region}"
    return _template(description, resources, outputs), refs


def _key(stack: str, env: tuple[str, str], index: int, *, changed: bool) -> dict[str, Any]:
    account, region = env
    other = next(a for a in ACCOUNTS if a != account)
    via = [f"rds.{region}.amazonaws.com", f"ec2.{region}.amazonaws.com"]
    admins = [_role(account, "KeyAdministrator"), _role(account, "SecurityAdministrator")]
    if changed and index == 2:
        admins = admins[:1]  # an administrator dropped
    backup_via = via[:1] if changed and index == 4 else via  # a condition narrowed
    statements = [
        _statement("RootAccountAdministration", _root(account), "kms:*"),
        _statement("KeyAdministrators", admins, list(ADMIN_ACTIONS)),
        _statement("KeyUsers", _role(account, _workload_role(stack, index)), list(USE_ACTIONS)),
        _statement(
            "ServiceUsersViaService",
            _role(account, "BackupOperator"),
            list(USE_ACTIONS),
            {"StringEquals": {"kms:ViaService": backup_via}},
        ),
        _statement(
            "ServiceUsersGrantsForAwsResources",
            _role(account, "BackupOperator"),
            list(GRANT_ACTIONS),
            {"Bool": {"kms:GrantIsForAWSResource": "true"}, "StringEquals": {"kms:ViaService": via}},
        ),
    ]
    if index % CROSS_ACCOUNT_EVERY == 0 or (changed and index == 1):  # key 1: a cross-account principal added
        condition = {"StringEquals": {"kms:CallerAccount": other, "kms:ViaService": via}}
        statements.append(_statement("CrossAccountPartnerUse", _root(other), list(USE_ACTIONS), condition))
        grants = {"Bool": {"kms:GrantIsForAWSResource": "true"}, **condition}
        statements.append(
            _statement("CrossAccountPartnerGrantsForAwsResources", _root(other), list(GRANT_ACTIONS), grants)
        )
    rotation = not (changed and index == 3)  # rotation turned off
    properties: dict[str, Any] = {
        "Description": f"Bench key {index} of {stack}",
        "EnableKeyRotation": rotation,
        "Enabled": True,
        "KeyPolicy": {"Statement": statements, "Version": "2012-10-17"},
        "KeySpec": "SYMMETRIC_DEFAULT",
        "KeyUsage": "ENCRYPT_DECRYPT",
        "PendingWindowInDays": 30,
        "Tags": TAGS,
    }
    if rotation:
        properties["RotationPeriodInDays"] = 365
    return {
        "Type": "AWS::KMS::Key",
        "Properties": properties,
        "UpdateReplacePolicy": "Retain",
        "DeletionPolicy": "Retain",
    }


# --- Workloads stacks -----------------------------------------------------------------------------------------


def _workloads_stack(env: tuple[str, str], refs: list[_KeyRef], *, changed: bool) -> dict[str, Any]:
    account, region = env
    resources: dict[str, Any] = {}
    groups: dict[str, list[_KeyRef]] = {}
    for ref in refs:
        groups.setdefault(_workload_role(ref.stack, ref.index), []).append(ref)
    for number, (role_name, group) in enumerate(groups.items()):
        role_id = f"{_camel(role_name)}Role{_hash(role_name, 'role', 0)}"
        resources[role_id] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [
                        {
                            "Action": "sts:AssumeRole",
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                        }
                    ],
                    "Version": "2012-10-17",
                },
                "RoleName": role_name,
                "Tags": TAGS,
            },
        }
        statements = [
            {
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Effect": "Allow",
                "Resource": f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{role_name}:*",
            },
            _identity_statement("UseKeys", list(WORKLOAD_ACTIONS), [{"Fn::ImportValue": r.export} for r in group]),
        ]
        if number < DECRYPT_ANYWHERE_ROLES:
            statements.append(_identity_statement("DecryptAnyKey", "kms:Decrypt", "*"))
        first = group[0]
        if changed and first.stack == "bench-keys-000" and first.index == 5:  # an IAM grant added
            statements.append(_identity_statement("CreateGrants", "kms:CreateGrant", {"Fn::ImportValue": first.export}))
        policy_id = f"{_camel(role_name)}RoleDefaultPolicy{_hash(role_name, 'policy', 0)}"
        resources[policy_id] = {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyDocument": {"Statement": statements, "Version": "2012-10-17"},
                "PolicyName": policy_id,
                "Roles": [{"Ref": role_id}],
            },
        }
    resources["CDKMetadata"] = _cdk_metadata()
    return _template(f"kmsflow bench: workloads of account {account} in region {region}", resources, {})


def _workload_role(stack: str, index: int) -> str:
    """The role that uses key ``index`` of ``stack`` (one per :data:`KEYS_PER_ROLE` keys)."""
    return f"bench-app-{stack.removeprefix('bench-keys-')}-{index // KEYS_PER_ROLE:02d}"


# --- Pieces ---------------------------------------------------------------------------------------------------


def _statement(sid: str, principal: str | list[str], action: str | list[str], condition: Any = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Action": action,
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Resource": "*",
        "Sid": sid,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _identity_statement(sid: str, action: str | list[str], resource: Any) -> dict[str, Any]:
    return {"Action": action, "Effect": "Allow", "Resource": resource, "Sid": sid}


def _root(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def _role(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def _hash(*parts: object) -> str:
    """CDK's logical ids end in eight hex digits of a hash of the construct path; these are as stable."""
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:8].upper()


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _cdk_metadata() -> dict[str, Any]:
    return {
        "Type": "AWS::CDK::Metadata",
        "Properties": {"Analytics": "v2:deflate64:H4sIAAAAAAAA/zPSMzQ30zNQTCwv1k1OydbNyUzSqw4uSUzO1nFOy"},
    }


def _template(description: str, resources: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    """A template with CDK's bootstrap-version parameter and rule, as every synthesized stack has them."""
    template: dict[str, Any] = {"Description": description, "Resources": resources}
    if outputs:
        template["Outputs"] = outputs
    template["Parameters"] = {
        "BootstrapVersion": {
            "Type": "AWS::SSM::Parameter::Value<String>",
            "Default": "/cdk-bootstrap/hnb659fds/version",
            "Description": "Version of the CDK Bootstrap resources in this environment, automatically retrieved "
            "from SSM Parameter Store. [cdk:skip]",
        }
    }
    template["Rules"] = {
        "CheckBootstrapVersion": {
            "Assertions": [
                {
                    "Assert": {"Fn::Not": [{"Fn::Contains": [["1", "2", "3", "4", "5"], {"Ref": "BootstrapVersion"}]}]},
                    "AssertDescription": "CDK bootstrap stack version 6 required. Please run 'cdk bootstrap' with a "
                    "recent version of the CDK CLI.",
                }
            ]
        }
    }
    return template


def _artifacts(stacks: Mapping[str, tuple[tuple[str, str], dict[str, Any], list[str]]]) -> dict[str, Any]:
    artifacts: dict[str, Any] = {}
    for name, ((account, region), _, depends) in stacks.items():
        assets = f"{name}.assets"
        deploy_role = f"cdk-hnb659fds-deploy-role-{account}-{region}"
        artifacts[assets] = {
            "type": "cdk:asset-manifest",
            "properties": {
                "file": f"{assets}.json",
                "requiresBootstrapStackVersion": 6,
                "bootstrapStackVersionSsmParameter": "/cdk-bootstrap/hnb659fds/version",
            },
        }
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": f"aws://{account}/{region}",
            "properties": {
                "templateFile": f"{name}.template.json",
                "terminationProtection": False,
                "validateOnSynth": False,
                "assumeRoleArn": f"arn:${{AWS::Partition}}:iam::{account}:role/{deploy_role}",
                "requiresBootstrapStackVersion": 6,
                "bootstrapStackVersionSsmParameter": "/cdk-bootstrap/hnb659fds/version",
                "additionalDependencies": [assets],
            },
            "dependencies": [*depends, assets],
            "displayName": name,
        }
    return artifacts


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")  # CDK indents templates by one space


# --- Counting -------------------------------------------------------------------------------------------------


def _policy_documents(template: Mapping[str, Any]) -> Iterator[Any]:
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if resource.get("Type") in KEY_TYPES:
            yield properties.get("KeyPolicy", {})
        elif resource.get("Type") in POLICY_TYPES:
            yield properties.get("PolicyDocument", {})
        elif resource.get("Type") == "AWS::IAM::Role":
            yield from (inline.get("PolicyDocument", {}) for inline in properties.get("Policies", []))


def _statements(document: Any) -> list[Any]:
    raw = document.get("Statement", []) if isinstance(document, Mapping) else []
    return [raw] if isinstance(raw, Mapping) else list(raw)
