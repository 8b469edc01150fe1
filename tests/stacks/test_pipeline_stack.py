"""The pipeline stack of `pipeline.codepipeline` (CDK Pipelines): its CodePipeline stages in configuration order, an
approval before exactly the stages marked for it, the review gate, the artifact key, the CodeConnections source; and
the app around it: each stage's nested assembly holding exactly its stacks, keys of earlier stages read from SSM.

The default configuration's accounts, regions, keys, audit and workflows, with five stages: a replica (security,
secondary) and the workflows (workloads, primary) in later stages than keys they use, two approvals, and two waves
of two stages. Synthesized once per module with every cdk-nag pack (synth raises on a finding)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kmsflow.app import new_app, populate
from kmsflow.config import parse_config
from kmsflow.constructs.delivery import DeliveryStage, delivery_waves
from kmsflow.constructs.delivery.pipeline import CDK_CLI_VERSION, wildcard_findings
from kmsflow.plan import planned_stacks, resolve_deploys
from tests.support.pipeline_config import CONNECTION_ARN

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = "kmsflow-pipeline-security-primary"
STAGES: list[dict[str, Any]] = [
    {"name": "security", "deploys": ["security:primary"]},
    {"name": "workloads-keys", "deploys": ["kmsflow-keys-workloads-primary", "workloads:secondary"]},
    {
        "name": "workloads",
        "approval": True,
        "deploys": ["kmsflow-audit-workloads-primary", "kmsflow-workflows-workloads-primary"],
    },
    {"name": "security-dr", "deploys": ["security:secondary"]},
    {"name": "partner", "approval": True, "deploys": ["partner:primary", "partner:secondary"]},
]
#: The CodePipeline stages: CDK Pipelines' own, the review, then one per wave (security and workloads-keys are
#: independent; security-dr is independent of workloads and has no approval; partner has one).
PIPELINE_STAGES = [
    "Source",
    "Build",
    "UpdatePipeline",
    "Assets",
    "Review",
    "security_workloads-keys",
    "workloads_security-dr",
    "partner",
]


def configuration() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "kmsflow.yaml").read_text(encoding="utf-8"))
    data["pipeline"] = {
        "stages": STAGES,
        "codepipeline": {
            "account": "security",
            "region": "primary",
            "connection_arn": CONNECTION_ARN,
            "repository": "example/kmsflow",
            "branch": "release",
        },
    }
    return data


@pytest.fixture(scope="module")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = new_app(outdir=str(outdir))
    populate(
        app, parse_config(yaml.safe_dump(configuration(), sort_keys=False), "pipeline.yaml"), source="pipeline.yaml"
    )
    app.synth()  # with the AwsSolutions, NIST 800-53 R5 and Kmsflow packs: raises on any finding
    return outdir


@pytest.fixture(scope="module")
def pipeline_template(outdir: Path) -> dict[str, Any]:
    return json.loads((outdir / f"{PIPELINE}.template.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def stages(pipeline_template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The CodePipeline's stages in order: name -> actions."""
    (pipeline,) = of_type(pipeline_template, "AWS::CodePipeline::Pipeline").values()
    return {stage["Name"]: stage["Actions"] for stage in pipeline["Properties"]["Stages"]}


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == kind}


def stage_templates(outdir: Path, stage: str) -> dict[str, dict[str, Any]]:
    """The templates of a stage's nested assembly, by stack name (from its manifest)."""
    folder = outdir / f"assembly-{stage}"
    manifest = json.loads((folder / "manifest.json").read_text())
    return {
        artifact["properties"]["stackName"]: json.loads((folder / artifact["properties"]["templateFile"]).read_text())
        for artifact in manifest["artifacts"].values()
        if artifact["type"] == "aws:cloudformation:stack"
    }


def test_the_pipeline_stack_is_at_the_top_in_the_pipeline_account_and_region(outdir: Path) -> None:
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = {
        artifact["properties"].get("stackName", artifact_id): artifact["environment"]
        for artifact_id, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    # The pipeline and CodePipeline's support stack for the other region's actions; every other stack is staged.
    assert stacks == {
        PIPELINE: "aws://111111111111/eu-west-1",
        f"{PIPELINE}-support-eu-central-1": "aws://111111111111/eu-central-1",
    }
    nested = sorted(a for a, v in manifest["artifacts"].items() if v["type"] == "cdk:cloud-assembly")
    assert nested == sorted(f"assembly-{s['name']}" for s in STAGES)


def test_the_codepipeline_stages_are_in_configuration_order(stages: dict[str, list[dict[str, Any]]]) -> None:
    assert list(stages) == PIPELINE_STAGES


def test_each_configured_stage_deploys_exactly_its_stacks_in_its_wave(stages: dict[str, list[dict[str, Any]]]) -> None:
    config = parse_config(yaml.safe_dump(configuration(), sort_keys=False), "pipeline.yaml")
    planned = planned_stacks(config)
    deployed: dict[str, set[str]] = {}
    for wave, actions in stages.items():
        for action in actions:
            if action["ActionTypeId"]["Category"] == "Deploy" and action["Name"].endswith(".Deploy"):
                deployed.setdefault(wave, set()).add(action["Configuration"]["StackName"])
    expected: dict[str, set[str]] = {}
    for stage in STAGES:
        wave = next(w for w in PIPELINE_STAGES if stage["name"] in w.split("_"))
        expected.setdefault(wave, set()).update(s.name for e in stage["deploys"] for s in resolve_deploys(e, planned))
    assert deployed == expected
    # Every stack of the app is deployed, once.
    assert sorted(n for names in deployed.values() for n in names) == sorted(s.name for s in planned)


def test_each_stage_s_nested_assembly_holds_exactly_its_stacks(outdir: Path) -> None:
    config = parse_config(yaml.safe_dump(configuration(), sort_keys=False), "pipeline.yaml")
    planned = planned_stacks(config)
    for stage in STAGES:
        assert set(stage_templates(outdir, stage["name"])) == {
            s.name for entry in stage["deploys"] for s in resolve_deploys(entry, planned)
        }


def test_an_approval_comes_first_in_exactly_the_stages_marked_for_it(
    stages: dict[str, list[dict[str, Any]]], pipeline_template: dict[str, Any]
) -> None:
    approvals = {
        wave: [a for a in actions if a["ActionTypeId"]["Category"] == "Approval"] for wave, actions in stages.items()
    }
    assert {wave: [a["Name"] for a in found] for wave, found in approvals.items() if found} == {
        "workloads_security-dr": ["Approve-workloads"],
        "partner": ["Approve-partner"],
    }
    (reports,) = [lid for lid in of_type(pipeline_template, "AWS::S3::Bucket") if lid.startswith("DeliveryReports")]
    for wave, stage in (("workloads_security-dr", "workloads"), ("partner", "partner")):
        (approval,) = approvals[wave]
        # Before every deployment of the wave.
        assert approval["RunOrder"] == 1
        assert all(a["RunOrder"] > 1 for a in stages[wave] if a is not approval)
        link = approval["Configuration"]["ExternalEntityLink"]
        assert link == {
            "Fn::Join": [
                "",
                [
                    "https://s3.console.aws.amazon.com/s3/object/",
                    {"Ref": reports},
                    f"?region=eu-west-1&prefix=latest/{stage}/review.html",
                ],
            ]
        }


def test_the_review_runs_before_the_stages_on_every_nested_assembly_and_fails_on_high(
    stages: dict[str, list[dict[str, Any]]], pipeline_template: dict[str, Any]
) -> None:
    (review,) = stages["Review"]
    assert review["ActionTypeId"]["Category"] == "Build"
    project = pipeline_template["Resources"][review["Configuration"]["ProjectName"]["Ref"]]
    commands = json.loads(project["Properties"]["Source"]["BuildSpec"])["phases"]["build"]["commands"]
    assert commands[0] == "make setup"
    for stage in STAGES:
        name = stage["name"]
        for fmt in ("md", "json", "html", "sarif"):
            assert (
                f".venv/bin/kmsflow review cdk.out/assembly-{name} --format {fmt} "
                f"--output reports/{name}/review.{fmt} --fail-on never"
            ) in commands
        gate = f".venv/bin/kmsflow review cdk.out/assembly-{name} --format json --fail-on high > /dev/null"
        # The gate runs after the reports are published, so a failed review can still be read.
        assert commands.index(gate) > max(i for i, c in enumerate(commands) if c.startswith("aws s3 cp"))
    # The execution id comes from the pipeline (an action variable), the bucket from the stack.
    variables = json.loads(review["Configuration"]["EnvironmentVariables"])
    assert {"name": "PIPELINE_EXECUTION_ID", "type": "PLAINTEXT", "value": "#{codepipeline.PipelineExecutionId}"} in (
        variables
    )


def test_the_synth_runs_the_tests_then_the_offline_synth(
    stages: dict[str, list[dict[str, Any]]], pipeline_template: dict[str, Any]
) -> None:
    (synth,) = stages["Build"]
    project = pipeline_template["Resources"][synth["Configuration"]["ProjectName"]["Ref"]]
    buildspec = json.loads(project["Properties"]["Source"]["BuildSpec"])
    assert buildspec["phases"]["build"]["commands"] == ["make test", "make synth"]
    assert buildspec["artifacts"]["base-directory"] == "cdk.out"
    assert project["Properties"]["Environment"]["Image"] == "aws/codebuild/standard:7.0"
    assert project["Properties"]["Environment"]["PrivilegedMode"] is False  # no Docker


def test_the_source_is_the_codeconnections_repository_and_branch(stages: dict[str, list[dict[str, Any]]]) -> None:
    (source,) = stages["Source"]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    configuration_ = source["Configuration"]
    assert (configuration_["ConnectionArn"], configuration_["FullRepositoryId"], configuration_["BranchName"]) == (
        CONNECTION_ARN,
        "example/kmsflow",
        "release",
    )


def test_artifacts_use_a_rotating_retained_cross_account_key(pipeline_template: dict[str, Any]) -> None:
    (pipeline,) = of_type(pipeline_template, "AWS::CodePipeline::Pipeline").values()
    stores = {s["Region"]: s["ArtifactStore"] for s in pipeline["Properties"]["ArtifactStores"]}
    key_id = stores["eu-west-1"]["EncryptionKey"]["Id"]["Fn::GetAtt"][0]
    key = pipeline_template["Resources"][key_id]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Retain", "Retain")
    # Cross-account: the other accounts' deploy roles may decrypt the artifacts.
    principals = json.dumps(key["Properties"]["KeyPolicy"])
    assert "cdk-hnb659fds-deploy-role-222222222222-eu-west-1" in principals
    assert "cdk-hnb659fds-deploy-role-333333333333-eu-west-1" in principals
    for lid, bucket in of_type(pipeline_template, "AWS::S3::Bucket").items():
        assert bucket["DeletionPolicy"] == "Retain", lid
        assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}, lid


def test_the_other_region_s_artifact_key_is_retained_too(outdir: Path) -> None:
    """CodePipeline copies artifacts into a replication bucket of each other region (CDK's support stack)."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    (support_file,) = [
        a["properties"]["templateFile"]
        for a in manifest["artifacts"].values()
        if a["properties"].get("stackName") == f"{PIPELINE}-support-eu-central-1"
    ]
    support = json.loads((outdir / support_file).read_text())
    (key,) = of_type(support, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    assert "cdk-hnb659fds-deploy-role-333333333333-eu-central-1" in json.dumps(key["Properties"]["KeyPolicy"])


def test_the_outputs_name_the_pipeline_and_the_reports_bucket(pipeline_template: dict[str, Any]) -> None:
    outputs = pipeline_template["Outputs"]
    (pipeline_id,) = of_type(pipeline_template, "AWS::CodePipeline::Pipeline")
    assert outputs["PipelineName"]["Value"] == {"Ref": pipeline_id}
    assert outputs["ReportsBucket"]["Value"]["Ref"].startswith("DeliveryReports")
    (pipeline,) = of_type(pipeline_template, "AWS::CodePipeline::Pipeline").values()
    assert pipeline["Properties"]["Name"] == PIPELINE


def test_stacks_in_stages_carry_the_configuration_s_tags(outdir: Path) -> None:
    """Tags are an aspect, which stops at a Stage: each stage is tagged as the app is."""
    for stage in ("security", "partner"):
        for name, template in stage_templates(outdir, stage).items():
            for key in of_type(template, "AWS::KMS::Key").values():
                assert {"Key": "project", "Value": "kmsflow"} in key["Properties"]["Tags"], name


def test_an_approval_comment_names_this_execution_s_report(stages: dict[str, list[dict[str, Any]]]) -> None:
    (approval,) = [a for a in stages["partner"] if a["ActionTypeId"]["Category"] == "Approval"]
    comment = json.dumps(approval["Configuration"]["CustomData"])
    assert "executions/<this execution id>/partner/review.html" in comment
    assert "latest/EXECUTION" in comment


def test_the_replica_of_a_later_stage_reads_its_primary_arn_from_ssm(outdir: Path) -> None:
    primary = stage_templates(outdir, "security")["kmsflow-keys-security-primary"]
    (parameter,) = [
        p
        for p in of_type(primary, "AWS::SSM::Parameter").values()
        if p["Properties"]["Name"].endswith("global-data/arn")
    ]
    assert parameter["Properties"]["Value"]["Fn::GetAtt"][1] == "Arn"
    replicas = stage_templates(outdir, "security-dr")["kmsflow-keys-security-secondary"]
    (replica,) = of_type(replicas, "AWS::KMS::ReplicaKey").values()
    reader_id, attribute = replica["Properties"]["PrimaryKeyArn"]["Fn::GetAtt"]
    reader = replicas["Resources"][reader_id]
    assert (reader["Type"], attribute) == ("Custom::AWS", "Parameter.Value")
    call = json.loads(reader["Properties"]["Create"])
    assert (call["parameters"]["Name"], call["region"]) == ("/kmsflow/keys/global-data/arn", "eu-west-1")


def test_the_workflows_read_keys_of_an_earlier_stage_and_no_stack_imports_across_stages(outdir: Path) -> None:
    workflows = stage_templates(outdir, "workloads")["kmsflow-workflows-workloads-primary"]
    # The sharing key (same region): an SSM parameter type; the destination key (other region): an SDK call.
    assert {p["Default"] for p in workflows["Parameters"].values() if p["Default"].startswith("/kmsflow/")} == {
        "/kmsflow/keys/shared-snapshots/arn"
    }
    calls = [json.loads(r["Properties"]["Create"]) for r in of_type(workflows, "Custom::AWS").values()]
    assert [(c["parameters"]["Name"], c["region"]) for c in calls] == [
        ("/kmsflow/keys/dr-snapshots/arn", "eu-central-1")
    ]
    # CDK refuses a reference across Stages at synth; within a stage its own references stay (no import here:
    # each of these stacks' producers is in an earlier stage).
    replicas = stage_templates(outdir, "security-dr")["kmsflow-keys-security-secondary"]
    for template in (workflows, replicas):
        assert "Fn::ImportValue" not in json.dumps(template)
        assert "Custom::CrossRegionExportReader" not in json.dumps(template)


def test_every_service_path_is_allowed_with_keys_read_across_stages(outdir: Path) -> None:
    """moto enforces no policy: the service-path table answers every request AWS makes for the staged app (nested
    assemblies included) against the synthesized policies. The workflows' roles reach their keys through the ARNs
    read from SSM (an SSM parameter type, an SDK call of another region), which the evaluator resolves to the
    keys the producers published; each near-miss is denied."""
    from kmsflow.policy.assembly import Assembly
    from kmsflow.policy.service_paths import service_paths

    assembly = Assembly.from_directory(outdir)
    rows = service_paths(assembly)
    assert [f"{row}: {row.decide(assembly).reason}" for row in rows if not row.decide(assembly).allowed] == []
    allowed = [f"{r} -- {m.why}" for r in rows for m in r.near_misses if r.decide(assembly, m.request).allowed]
    assert allowed == []
    # The rows that only hold through a stage reference: the workflows' roles using keys of earlier stages ...
    across = [str(row) for row in rows if row.service == "RDS" and "kmsflow-keys-workloads" in row.what]
    assert any("sharedsnapshots" in what for what in across)  # same region: the SSM parameter type
    assert any("drsnapshots" in what for what in across)  # the other region: the SDK call
    # ... the Review step: CodeBuild assumes its role, which writes a report (TLS only) whose data key S3 generates
    # with the role's credentials under the artifact key ...
    review = sorted(row.service for row in rows if "Review" in row.service or row.service == "CodeBuild")
    assert review == ["CodeBuild", "Review step", "S3 for the Review step"]
    # ... each target account's CDK deploy role reading artifacts (both regions' artifact buckets) and using their
    # keys only through S3, with the policy `cdk bootstrap` gives it ...
    reads = sorted(row.what.split(" for ")[1] for row in rows if row.service.startswith("CodePipeline"))
    assert reads == sorted(
        f"arn:aws:iam::{account}:role/cdk-hnb659fds-deploy-role-{account}-{region}"
        for account in ("222222222222", "333333333333")
        for region in ("eu-west-1", "eu-central-1")
    )
    via_s3 = [row for row in rows if row.service == "S3" and "cdk-hnb659fds-deploy-role" in row.what]
    assert len(via_s3) == 6  # three accounts' deploy roles (the pipeline's own too) x two artifact keys
    assert {m.why for row in via_s3 for m in row.near_misses} >= {"called directly, not through the service"}
    # ... and S3 delivering the access logs of the pipeline's own buckets (artifacts, reports).
    logged = sorted(row.what for row in rows if row.service == "S3 server access logging" and PIPELINE in row.what)
    assert [re.sub(r"[0-9a-f]{8}$", "", what) for what in logged] == [
        f"delivers the access logs of arn:aws:s3:::{PIPELINE}-deliveryartifacts",
        f"delivers the access logs of arn:aws:s3:::{PIPELINE}-deliveryreports",
    ]


def test_other_accounts_use_the_artifact_keys_only_through_s3(outdir: Path, pipeline_template: dict[str, Any]) -> None:
    """CDK Pipelines names the target accounts' deploy roles in the artifact keys' policies; kmsflow binds those
    statements to S3 in the key's region (what `cdk bootstrap` allows those roles anyway), so the review finds no
    unscoped cross-account use (KR03)."""
    from kmsflow.review.build import review_assembly

    support = json.loads((outdir / "cross-region-stack-111111111111_eu-central-1.template.json").read_text())
    scoped = []
    for template, region in ((pipeline_template, "eu-west-1"), (support, "eu-central-1")):
        for key in of_type(template, "AWS::KMS::Key").values():
            for statement in key["Properties"]["KeyPolicy"]["Statement"]:
                accounts = set(re.findall(r":iam::(\d{12}):", json.dumps(statement["Principal"])))
                if accounts - {"111111111111"}:
                    assert statement["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}
                    scoped.append((region, sorted(accounts)))
    assert scoped == [
        (region, ["111111111111", "222222222222", "333333333333"]) for region in ("eu-west-1", "eu-central-1")
    ]
    assert [f.rule for key in review_assembly(outdir).keys for f in key.findings] == []


def test_the_review_sees_the_access_a_later_stage_gets_through_ssm(outdir: Path, default_outdir: Path) -> None:
    """`kmsflow review` reads the same assembly model: what the share machine's prepare role may do with the
    sharing key of the earlier `workloads-keys` stage (its IAM policy names the ARN read from SSM) is exactly what
    it may do in the app without stages."""
    from kmsflow.review.build import review_assembly

    role = "arn:aws:iam::222222222222:role/kmsflow-snapshot-share-eu-west-1-prepare-shareable"

    def reach(path: Path) -> set[tuple[str, str]]:
        return {
            (fact.action, fact.via.value)
            for key in review_assembly(path).keys
            if key.key.logical_id.startswith("sharedsnapshotsKey")
            for fact in key.facts
            if fact.principal == role
        }

    staged = reach(outdir)
    assert staged == reach(default_outdir)
    assert ("kms:GenerateDataKeyWithoutPlaintext", "IAM policy") in staged


def test_audit_members_of_a_later_stage_do_not_depend_on_the_central_stack_across_stages(outdir: Path) -> None:
    manifest = json.loads((outdir / "assembly-workloads" / "manifest.json").read_text())
    (member,) = [
        a
        for a in manifest["artifacts"].values()
        if a.get("properties", {}).get("stackName") == "kmsflow-audit-workloads-primary"
    ]
    assert [d for d in member.get("dependencies", []) if not d.endswith(".assets")] == []


def test_the_app_without_codepipeline_is_unchanged(default_outdir: Path, default_templates: dict[str, Any]) -> None:
    """No Stage, no pipeline stack, no key ARN parameter or reader: the default app keeps CDK's references, and
    audit members keep their explicit dependency on the central audit stack."""
    assert not list(default_outdir.glob("assembly-*"))
    assert not [n for n in default_templates if n.startswith("kmsflow-pipeline")]
    text = json.dumps(default_templates)
    assert "/kmsflow/keys/" not in text
    assert "Custom::AWS" not in text
    manifest = json.loads((default_outdir / "manifest.json").read_text())
    assert "kmsflow-audit-security-primary" in manifest["artifacts"]["kmsflow-audit-workloads-primary"]["dependencies"]


def test_the_cli_version_is_the_pinned_one() -> None:
    package = json.loads((ROOT / "package.json").read_text())
    assert package["devDependencies"]["aws-cdk"] == CDK_CLI_VERSION


def _stage(name: str, stacks: set[str], approval: bool = False) -> DeliveryStage:
    return DeliveryStage(name=name, stage=None, approval=approval, stacks=frozenset(stacks))  # type: ignore[arg-type]


def test_waves_join_independent_stages_without_approval_only() -> None:
    a, b, c, d = _stage("a", {"A"}), _stage("b", {"B"}), _stage("c", {"C"}, approval=True), _stage("d", {"D"})
    names = [[s.name for s in wave] for wave in delivery_waves([a, b, c, d], [("D", "A")])]
    # b joins a; c has an approval; d is independent of c.
    assert names == [["a", "b"], ["c", "d"]]
    # A dependency on any stack of the wave, either way round, starts a new wave.
    assert [[s.name for s in w] for w in delivery_waves([a, b, d], [("A", "B")])] == [["a"], ["b", "d"]]
    assert [[s.name for s in w] for w in delivery_waves([a, b, d], [("D", "B")])] == [["a", "b"], ["d"]]


def test_wildcard_findings_are_formatted_as_cdk_nag_formats_them() -> None:
    document = {
        "Statement": [
            {
                "Action": ["s3:GetObject*", "s3:PutObject"],
                "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["B", "Arn"]}, "/*"]]},
            },
            {"Action": "kms:Decrypt", "Resource": ["*", {"Fn::GetAtt": ["K", "Arn"]}]},
            {
                "Action": "sts:AssumeRole",
                "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::1:role/cdk-*"]]},
            },
        ]
    }
    assert wildcard_findings(document) == [
        "Action::s3:GetObject*",
        "Resource::<B.Arn>/*",
        "Resource::*",
        "Resource::arn:<AWS::Partition>:iam::1:role/cdk-*",
    ]
