"""The snapshot-share workflow (Workflows II) of the default configuration, on its synthesized templates: the state
machine's shape, one role per step with exactly its handler's actions, the functions' environment, the target copy
roles and the sharing key's grant statement."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmsflow.constructs.workflows.snapshot_access import statements
from kmsflow.constructs.workflows.snapshot_share import HANDLERS, SOURCE, STEPS, share_role_name
from kmsflow.errors import WorkflowDefinitionError
from kmsflow.lambdas.snapshot_share.grants import ALL_GRANT_OPERATIONS
from kmsflow.policy.document import as_list, flatten
from kmsflow.stacks.naming import share_copy_role_name, share_external_id, share_target_stack_name, snapshot_share_name
from tests.constructs.support import by_id_prefix, handler_functions, of_type, role_statements, state_machine

STACK = "kmsflow-workflows-workloads-primary"
ACCOUNT, PARTNER = "222222222222", "333333333333"
REGION = "eu-west-1"
TARGET_REGIONS = ("eu-west-1", "eu-central-1")
TARGET_ROLES = {r: f"arn:aws:iam::{PARTNER}:role/kmsflow-share-{ACCOUNT}-eu-west-1-{r}" for r in TARGET_REGIONS}
STEP_ROLE = f"arn:aws:iam::{ACCOUNT}:role/kmsflow-snapshot-share-eu-west-1-{{}}"
BASE_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}


@pytest.fixture(scope="module")
def tpl(default_templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return default_templates[STACK]


@pytest.fixture(scope="module")
def definition(tpl: dict[str, Any]) -> dict[str, Any]:
    machine = state_machine(tpl, "kmsflow-snapshot-share-")
    return json.loads(flatten(machine["Properties"]["DefinitionString"]))  # type: ignore[no-any-return]


def share_statements(tpl: dict[str, Any], handler: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return role_statements(tpl, handler, HANDLERS)


# --- The state machine ------------------------------------------------------------------------------------------


def test_state_machine_is_standard_traced_logged_with_a_24_hour_timeout(
    tpl: dict[str, Any], definition: dict[str, Any]
) -> None:
    props = state_machine(tpl, "kmsflow-snapshot-share-")["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    assert props["StateMachineName"] == snapshot_share_name(REGION) == "kmsflow-snapshot-share-eu-west-1"
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert definition["TimeoutSeconds"] == 24 * 3600
    assert definition.get("QueryLanguage", "JSONPath") == "JSONPath"


def test_the_happy_path_and_its_loops(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert definition["StartAt"] == "Validate"
    assert states["Validate"]["Parameters"] == {"input.$": "$", "execution.$": "$$.Execution"}
    assert states["Validate"]["Next"] == "PrepareSource"
    assert states["PrepareSource"]["Next"] == "SourceAvailable?"
    assert states["SourceAvailable?"]["Choices"] == [
        {"Variable": "$.source.status", "StringEquals": "available", "Next": "PrepareShareable"}
    ]
    assert states["SourceAvailable?"]["Default"] == "WaitForSource"
    assert states["WaitForSource"] == {"Type": "Wait", "SecondsPath": "$.wait.seconds", "Next": "CheckSource"}
    assert states["CheckSource"]["Next"] == "SourceAvailable?"
    assert states["PrepareShareable"]["Next"] == "ShareableAvailable?"
    assert states["ShareableAvailable?"]["Choices"] == [
        {"Variable": "$.shared.status", "StringEquals": "available", "Next": "OpenAccess"}
    ]
    assert states["ShareableAvailable?"]["Default"] == "WaitForShareable"
    assert states["WaitForShareable"] == {"Type": "Wait", "SecondsPath": "$.wait.seconds", "Next": "CheckShareable"}
    assert states["CheckShareable"]["Next"] == "ShareableAvailable?"
    assert states["OpenAccess"]["Next"] == "TargetCopy"
    assert states["TargetCopy"]["Next"] == "TargetCopied?"
    assert states["TargetCopied?"]["Choices"] == [
        {"Variable": "$.target.status", "StringEquals": "available", "Next": "RevokeAccess"}
    ]
    assert states["TargetCopied?"]["Default"] == "WaitForTargetCopy"
    # The wait goes back to the very same TargetCopy state (it starts or checks the copy).
    assert states["WaitForTargetCopy"] == {"Type": "Wait", "SecondsPath": "$.wait.seconds", "Next": "TargetCopy"}
    assert states["RevokeAccess"]["Next"] == "Finish"
    assert states["Finish"]["Next"] == "Shared"
    assert states["Shared"] == {"Type": "Succeed"}
    assert set(states) == {
        "Validate", "PrepareSource", "SourceAvailable?", "WaitForSource", "CheckSource", "PrepareShareable",
        "ShareableAvailable?", "WaitForShareable", "CheckShareable", "OpenAccess", "TargetCopy", "TargetCopied?",
        "WaitForTargetCopy", "RevokeAccess", "Finish", "Shared", "CleanUpTarget", "RevokeAfterFailure", "OnFailure",
        "Failed",
    }  # fmt: skip


def test_every_failure_cleans_up_then_revokes_before_the_fail_state(definition: dict[str, Any]) -> None:
    states = definition["States"]
    guarded = {
        "Validate", "PrepareSource", "CheckSource", "PrepareShareable", "CheckShareable", "OpenAccess", "TargetCopy",
        "RevokeAccess", "Finish",
    }  # fmt: skip
    tasks = {name for name, s in states.items() if s["Type"] == "Task"}
    assert tasks == guarded | {"CleanUpTarget", "RevokeAfterFailure", "OnFailure"}
    for name in guarded:
        assert states[name]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "CleanUpTarget"}
        ]
    clean_up = states["CleanUpTarget"]
    assert clean_up["Parameters"] == {"action": "clean_up", "job.$": "$"}
    assert clean_up["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.cleanup_error", "Next": "RevokeAfterFailure"}
    ]
    assert clean_up["Next"] == "RevokeAfterFailure"
    revoke = states["RevokeAfterFailure"]
    assert "Parameters" not in revoke  # the whole state
    assert revoke["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.revoke_error", "Next": "OnFailure"}]
    assert revoke["Next"] == "OnFailure"
    assert states["OnFailure"]["Parameters"] == {"job.$": "$", "error.$": "$.error"}
    assert states["OnFailure"]["Next"] == "Failed"
    assert "Catch" not in states["OnFailure"]
    assert states["Failed"] == {"Type": "Fail", "ErrorPath": "$.error", "CausePath": "$.cause"}


def test_each_task_invokes_its_handler_s_function(tpl: dict[str, Any], definition: dict[str, Any]) -> None:
    by_logical_id = {
        lid: f["Properties"]["Handler"].rsplit(".", 1)[1]
        for lid, f in of_type(tpl, "AWS::Lambda::Function").items()
        if str(f["Properties"].get("Handler")).startswith(HANDLERS + ".")
    }
    expected = {
        "CleanUpTarget": "target_copy",
        "RevokeAccess": "revoke",
        "RevokeAfterFailure": "revoke",
    }
    for name, state in definition["States"].items():
        if state["Type"] != "Task":
            continue
        handler = by_logical_id[state["Resource"].removeprefix("${").removesuffix(".Arn}")]
        if name in expected:
            assert handler == expected[name], name
        else:
            assert "".join(p.capitalize() for p in handler.split("_")) == name


def _retry(state: dict[str, Any], error: str) -> dict[str, Any]:
    (retry,) = [r for r in state["Retry"] if r["ErrorEquals"] == [error] or error in r["ErrorEquals"]]
    return retry


def test_retries(definition: dict[str, Any]) -> None:
    states = definition["States"]
    for name, state in states.items():
        if state["Type"] != "Task":
            continue
        throttling = _retry(state, "ThrottlingException")
        assert throttling["JitterStrategy"] == "FULL"
        assert throttling["MaxAttempts"] == (10 if name in {"RevokeAccess", "RevokeAfterFailure"} else 8), name
        assert _retry(state, "Lambda.TooManyRequestsException")["MaxAttempts"] == 6
        has_quota = any(r["ErrorEquals"] == ["CopyQuotaExceeded"] for r in state["Retry"])
        assert has_quota == (name in {"PrepareSource", "PrepareShareable", "TargetCopy"}), name
    # The grant's eventual consistency is waited out by the TargetCopy loop itself, not by a Retry.
    assert not [r for r in states["TargetCopy"]["Retry"] if "SharedKeyNotYetUsable" in r["ErrorEquals"]]


# --- Functions and roles ----------------------------------------------------------------------------------------


def test_functions_match_the_copy_machine_s(tpl: dict[str, Any]) -> None:
    functions = handler_functions(tpl, HANDLERS)
    assert sorted(functions) == sorted(step.handler for step in STEPS)
    for handler, function in functions.items():
        props = function["Properties"]
        assert props["Handler"] == f"{HANDLERS}.{handler}"
        assert (props["Runtime"], props["MemorySize"], props["Timeout"]) == ("python3.14", 256, 60)
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["ReservedConcurrentExecutions"] == 20
        group = tpl["Resources"][props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert "KmsKeyId" in group["Properties"]


def test_every_function_gets_the_contract_s_environment(tpl: dict[str, Any]) -> None:
    (sharing_key,) = [
        r
        for r in of_type(tpl, "AWS::Lambda::Function").values()
        if r["Properties"]["Handler"] == f"{HANDLERS}.validate"
    ]
    for handler, function in handler_functions(tpl, HANDLERS).items():
        env = function["Properties"]["Environment"]["Variables"]
        assert set(env) == {
            "KMSFLOW_WORKFLOW",
            "KMSFLOW_SHARE_TARGETS",
            "KMSFLOW_SHARING_KEYS",
            "KMSFLOW_RETIRING_ROLE",
        }
        assert env["KMSFLOW_WORKFLOW"] == "snapshot-share", handler
        assert json.loads(env["KMSFLOW_SHARE_TARGETS"]) == {
            PARTNER: {
                "regions": list(TARGET_REGIONS),
                "roles": TARGET_ROLES,
                "external_id": share_external_id(ACCOUNT, REGION),
            }
        }
        assert env["KMSFLOW_RETIRING_ROLE"] == STEP_ROLE.format("revoke")
        # {"eu-west-1": <the sharing key's ARN>}: a token CloudFormation joins (the key is in the keys stack).
        joined = flatten(env["KMSFLOW_SHARING_KEYS"])
        assert joined.startswith('{"eu-west-1":"'), joined
        assert joined.endswith('"}'), joined
        assert "sharedsnapshots" in joined
        assert env == sharing_key["Properties"]["Environment"]["Variables"]


def test_each_step_has_its_own_named_role(tpl: dict[str, Any]) -> None:
    roles = set()
    for step in STEPS:
        role, _ = share_statements(tpl, step.handler)
        assert role["Properties"]["RoleName"] == share_role_name(REGION, step.handler)
        assert role["Properties"]["RoleName"] == f"kmsflow-snapshot-share-eu-west-1-{step.handler.replace('_', '-')}"
        roles.add(role["Properties"]["RoleName"])
    assert len(roles) == len(STEPS)


#: The key actions of each step beyond its snapshot statements (the sharing key's helpers and the source keys).
SERVICE_USE = {
    "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
}  # fmt: skip
EXTRA_ACTIONS: dict[str, set[str]] = {
    "prepare_shareable": SERVICE_USE | {"kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"},
    "open_access": {"kms:CreateGrant", "kms:ListGrants"},
    "revoke": {"kms:ListGrants", "kms:RetireGrant"},
    "target_copy": {"sts:AssumeRole"},
}


@pytest.mark.parametrize("step", STEPS, ids=[step.handler for step in STEPS])
def test_each_role_holds_exactly_its_handler_s_actions(tpl: dict[str, Any], step: Any) -> None:
    _, held = share_statements(tpl, step.handler)
    expected = statements(step.calls, regions={SOURCE: [REGION]}, account=ACCOUNT, partition="aws", option_groups=False)
    snapshot = [s for s in held if s.get("Sid", "").startswith(("Rds", "Aurora", "Ebs"))]
    # Every copy of the share machine stays in its region: no option group is read or passed.
    assert not [s for s in snapshot if "rds:DescribeOptionGroups" in as_list(s["Action"])]
    assert not [r for s in snapshot for r in as_list(s["Resource"]) if ":og:" in r]
    assert [(s["Sid"], sorted(as_list(s["Action"])), sorted(as_list(s["Resource"]))) for s in snapshot] == [
        (s["Sid"], s["Action"], sorted(s["Resource"])) for s in expected
    ]
    actions = {a for s in held for a in as_list(s["Action"])}
    snapshot_actions = {a for s in expected for a in s["Action"]}
    assert actions == BASE_ACTIONS | snapshot_actions | EXTRA_ACTIONS.get(step.handler, set()), step.handler
    for stmt in held:
        assert "*" not in as_list(stmt["Action"]), stmt


def test_the_share_steps_add_and_remove_one_account_on_any_snapshot_of_the_region(tpl: dict[str, Any]) -> None:
    for handler in ("open_access", "revoke"):
        _, held = share_statements(tpl, handler)
        by_sid = {s["Sid"]: s for s in held if "Sid" in s}
        assert sorted(as_list(by_sid["RdsShareSource"]["Action"])) == [
            "rds:DescribeDBSnapshotAttributes",
            "rds:ModifyDBSnapshotAttribute",
        ]
        assert by_sid["RdsShareSource"]["Resource"] == f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:*"
        assert by_sid["AuroraShareSource"]["Resource"] == f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster-snapshot:*"
        assert sorted(as_list(by_sid["EbsShareSource"]["Action"])) == [
            "ec2:DescribeSnapshotAttribute",
            "ec2:ModifySnapshotAttribute",
        ]
        assert by_sid["EbsShareSource"]["Resource"] == f"arn:aws:ec2:{REGION}::snapshot/*"


def test_target_copy_may_only_assume_the_declared_target_copy_roles(tpl: dict[str, Any]) -> None:
    _, held = share_statements(tpl, "target_copy")
    (assume,) = [s for s in held if "sts:AssumeRole" in as_list(s["Action"])]
    assert assume["Sid"] == "AssumeTargetCopyRoles"
    assert sorted(as_list(assume["Resource"])) == sorted(TARGET_ROLES.values())
    assert {a for s in held for a in as_list(s["Action"])} == BASE_ACTIONS | {"sts:AssumeRole"}


def test_the_re_encrypting_step_uses_source_keys_only_through_rds_and_ebs(tpl: dict[str, Any]) -> None:
    _, held = share_statements(tpl, "prepare_shareable")
    by_sid = {s["Sid"]: s for s in held if "Sid" in s}
    use = by_sid["SourceKeysThroughRdsAndEbs"]
    assert use["Resource"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*"
    assert use["Condition"] == {
        "StringEquals": {"kms:ViaService": ["rds.eu-west-1.amazonaws.com", "ec2.eu-west-1.amazonaws.com"]}
    }
    assert by_sid["SourceKeyGrantsForAwsResources"]["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}


# --- The sharing key ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sharing_policy(default_templates: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    keys = default_templates["kmsflow-keys-workloads-primary"]["Resources"]
    (key,) = [r for lid, r in keys.items() if r["Type"] == "AWS::KMS::Key" and lid.startswith("sharedsnapshots")]
    return {s["Sid"]: s for s in key["Properties"]["KeyPolicy"]["Statement"]}


def test_the_sharing_key_s_grant_statement_is_bound_to_grantee_operations_and_retiring_principal(
    sharing_policy: dict[str, dict[str, Any]],
) -> None:
    """Acceptance: the sharing key's grant statement is conditioned on kms:GranteePrincipal and
    kms:GrantOperations (and kms:RetiringPrincipal); the principal is the account, narrowed to the step role."""
    grant = sharing_policy["ShareGrantsKmsflowSnapshotShareEuWest1OpenAccess"]
    assert grant["Effect"] == "Allow"
    assert grant["Action"] == "kms:CreateGrant"
    assert grant["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert grant["Condition"] == {
        "StringEquals": {
            "kms:GranteePrincipal": [TARGET_ROLES["eu-west-1"], TARGET_ROLES["eu-central-1"]],
            "kms:RetiringPrincipal": STEP_ROLE.format("revoke"),
        },
        "ForAllValues:StringEquals": {"kms:GrantOperations": list(ALL_GRANT_OPERATIONS)},
        "ArnEquals": {"aws:PrincipalArn": STEP_ROLE.format("open-access")},
    }


def test_the_sharing_key_gives_the_steps_nothing_else(sharing_policy: dict[str, dict[str, Any]]) -> None:
    # No kms:RetireGrant statement: the grant's retiring principal (the revoke role) needs none, and the key policy
    # cannot give it ("not effective in a key policy", KMS Developer Guide).
    assert not [s for s in sharing_policy.values() if "kms:RetireGrant" in json.dumps(s.get("Action"))]
    naming_share_roles = {sid: s for sid, s in sharing_policy.items() if "snapshot-share" in json.dumps(s)}
    assert {sid: s["Action"] for sid, s in naming_share_roles.items() if sid.startswith(("ListGrants", "Retire"))} == {
        "ListGrantsKmsflowSnapshotShareEuWest1OpenAccess": "kms:ListGrants",
        "ListGrantsKmsflowSnapshotShareEuWest1Revoke": "kms:ListGrants",
    }
    assert sorted(naming_share_roles) == sorted(
        [
            "ShareGrantsKmsflowSnapshotShareEuWest1OpenAccess",
            "ListGrantsKmsflowSnapshotShareEuWest1OpenAccess",
            "ListGrantsKmsflowSnapshotShareEuWest1Revoke",
            "ServiceUseKmsflowSnapshotShareEuWest1PrepareShareable",
            "ServiceGrantsKmsflowSnapshotShareEuWest1PrepareShareable",
        ]
    )


def test_the_open_access_role_s_own_policy_carries_the_same_bounds(tpl: dict[str, Any]) -> None:
    _, held = share_statements(tpl, "open_access")
    (grant,) = [s for s in held if s.get("Sid") == "ShareGrantsKmsflowSnapshotShareEuWest1OpenAccess"]
    assert grant["Condition"]["StringEquals"]["kms:GranteePrincipal"] == list(TARGET_ROLES.values())
    assert grant["Condition"]["ForAllValues:StringEquals"] == {"kms:GrantOperations": list(ALL_GRANT_OPERATIONS)}


# --- The target account -----------------------------------------------------------------------------------------


@pytest.fixture(
    scope="module", params=[("primary", "eu-west-1"), ("secondary", "eu-central-1")], ids=["primary", "secondary"]
)
def target(request: pytest.FixtureRequest, default_templates: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    name, code = request.param
    return code, default_templates[share_target_stack_name("partner", name)]


def _copy_role(tpl: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    (role_id,) = [lid for lid, r in of_type(tpl, "AWS::IAM::Role").items() if "RoleName" in r["Properties"]]
    held = [
        s
        for p in of_type(tpl, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    return tpl["Resources"][role_id], held


def test_the_target_role_trusts_only_the_source_step_role_with_an_external_id(target: tuple[str, Any]) -> None:
    """Acceptance: the target role's trust names only the source step role (with an external id)."""
    code, tpl = target
    role, _ = _copy_role(tpl)
    assert (
        role["Properties"]["RoleName"]
        == share_copy_role_name(ACCOUNT, REGION, code)
        == TARGET_ROLES[code].split("/")[1]
    )
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Condition": {
            "ArnEquals": {"aws:PrincipalArn": STEP_ROLE.format("target-copy")},
            "StringEquals": {"sts:ExternalId": f"kmsflow-share-{ACCOUNT}-eu-west-1"},
        },
    }


def test_the_target_role_copies_only_the_source_s_snapshots_into_its_own(target: tuple[str, Any]) -> None:
    code, tpl = target
    _, held = _copy_role(tpl)
    own_regions = sorted({code, REGION})
    for stmt in held:
        actions = set(as_list(stmt["Action"]))
        resources = as_list(stmt["Resource"])
        if actions & {"rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot"} and stmt["Sid"].endswith("Shared"):
            assert all(f":{ACCOUNT}:" in r for r in resources), stmt  # from the source account only
        if stmt["Sid"].endswith("Target") and any(":rds:" in r for r in resources):
            assert all(f":{PARTNER}:" in r for r in resources), stmt
            assert sorted({r.split(":")[3] for r in resources}) == own_regions, stmt
        if actions & {"rds:DeleteDBSnapshot", "rds:DeleteDBClusterSnapshot", "ec2:DeleteSnapshot"}:
            assert stmt["Condition"] == {"Null": {"aws:ResourceTag/kmsflow:job-id": "false"}}, stmt
        if actions & {"rds:AddTagsToResource"} or "CopyTo" in stmt["Sid"]:
            assert all(r.endswith((":kmsflow-*", ":og:*")) or ":ec2:" in r for r in resources), stmt
    kms = [s for s in held if any(str(a).startswith("kms:") for a in as_list(s["Action"]))]
    source_keys = [s for s in kms if s["Sid"].startswith("SourceKey")]
    assert {r for s in source_keys for r in as_list(s["Resource"])} == {f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*"}
    for stmt in source_keys:
        assert stmt["Condition"]["StringEquals"]["kms:ViaService"] == [
            "rds.eu-west-1.amazonaws.com",
            "ec2.eu-west-1.amazonaws.com",
        ]
    assert {a for s in held for a in as_list(s["Action"])} - {
        a for s in held if s["Sid"].startswith(("Rds", "Aurora", "Ebs")) for a in as_list(s["Action"])
    } == SERVICE_USE | {"kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"}


def test_the_target_keys_name_the_copy_role_of_their_region_and_the_first_hop(
    default_templates: dict[str, dict[str, Any]],
) -> None:
    """The partner key's primary (eu-west-1, the source region) names both copy roles (eu-west-1's, and
    eu-central-1's for Aurora's first hop); its replica (eu-central-1) names only the eu-central-1 role."""

    def named(stack: str) -> set[str]:
        (key,) = [
            r
            for r in default_templates[stack]["Resources"].values()
            if r["Type"] in ("AWS::KMS::Key", "AWS::KMS::ReplicaKey")
        ]
        return {
            s["Condition"]["ArnEquals"]["aws:PrincipalArn"]
            for s in key["Properties"]["KeyPolicy"]["Statement"]
            if "ArnEquals" in s.get("Condition", {})
        }

    assert named("kmsflow-keys-partner-primary") == set(TARGET_ROLES.values())
    assert named("kmsflow-keys-partner-secondary") == {TARGET_ROLES["eu-central-1"]}


def test_share_notices_and_alarm(tpl: dict[str, Any]) -> None:
    (topic_id,) = of_type(tpl, "AWS::SNS::Topic")
    machine_id = next(
        lid
        for lid, m in of_type(tpl, "AWS::StepFunctions::StateMachine").items()
        if m["Properties"]["StateMachineName"] == "kmsflow-snapshot-share-eu-west-1"
    )
    rule = by_id_prefix(tpl, "AWS::Events::Rule", "ShareExecutionStatus")
    assert rule["Properties"]["EventPattern"]["detail"]["stateMachineArn"] == [{"Ref": machine_id}]
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Ref": topic_id}
    alarm = by_id_prefix(tpl, "AWS::CloudWatch::Alarm", "ShareExecutionsFailed")
    assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    assert tpl["Outputs"]["SnapshotShareStateMachineArn"]["Value"] == {"Ref": machine_id}


def test_names_stay_within_iam_s_limit() -> None:
    assert len(share_role_name("ap-southeast-5", "prepare_shareable")) <= 64
    assert len(share_copy_role_name("123456789012", "ap-southeast-5", "ap-northeast-3")) <= 64
    with pytest.raises(WorkflowDefinitionError, match="IAM allows at most 64") as err:
        share_role_name("a-region-whose-code-is-far-too-long-1", "prepare_shareable")
    assert err.value.field == "region"
    with pytest.raises(WorkflowDefinitionError, match="IAM allows at most 64") as err:
        share_copy_role_name("123456789012", "a-region-whose-code-is-long-1", "another-long-region-code-2")
    assert err.value.field == "regions"
    assert share_external_id(ACCOUNT, REGION) == "kmsflow-share-222222222222-eu-west-1"
    assert share_target_stack_name("partner", "secondary") == "kmsflow-share-target-partner-secondary"
