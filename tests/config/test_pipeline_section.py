"""The `pipeline` section: stages that deploy every stack of the app exactly once, in dependency order, and the
GitHub and CodePipeline settings; every error with its file, line and path."""

from __future__ import annotations

from typing import Any

import pytest

from kmsflow import plan
from tests.support.pipeline_config import codepipeline_section

from .conftest import default_data, dump, expect_issue, line_of, load_error, loads

P = "pipeline.stages"


def stages(*stages: tuple[str, list[str]]) -> list[dict[str, Any]]:
    return [{"name": name, "deploys": deploys} for name, deploys in stages]


#: The default configuration's stacks, account by account: security (keys, central audit), then workloads and
#: partner (their trails deliver into the central bucket; the partner's share targets use the partner's keys).
STAGES = stages(
    ("security", ["security:primary", "security:secondary"]),
    ("workloads", ["workloads:primary", "workloads:secondary"]),
    ("partner", ["partner:primary", "partner:secondary"]),
)


def with_pipeline(stage_list: list[dict[str, Any]] | None = None, **sections: Any) -> str:
    """The default configuration plus a pipeline section (``STAGES`` unless given)."""
    data = default_data()
    data["pipeline"] = {
        "github": {"account": "security", "repository": "example/kmsflow"},
        "stages": STAGES if stage_list is None else stage_list,
        **sections,
    }
    return dump(data)


def test_the_default_configuration_deploys_through_github_stage_by_stage() -> None:
    pipeline = loads(dump(default_data())).pipeline
    assert pipeline is not None
    assert pipeline.codepipeline is None
    assert [(s.name, s.deploys, s.approval) for s in pipeline.stages] == [
        (stage["name"], stage["deploys"], approval) for stage, approval in zip(STAGES, (True, True, False), strict=True)
    ]
    assert (pipeline.github.account, pipeline.github.repository, pipeline.github.branch) == (
        "security",
        "example-org/kmsflow-keys",
        "main",
    )


def test_a_valid_section_with_defaults() -> None:
    data = default_data()
    data["pipeline"] = {
        "stages": [*STAGES[:2], {**STAGES[2], "approval": True}],
        "codepipeline": codepipeline_section(branch="release"),
    }
    config = loads(dump(data))
    pipeline = config.pipeline
    assert [(s.name, s.approval) for s in pipeline.stages] == [
        ("security", False),
        ("workloads", False),
        ("partner", True),
    ]
    assert pipeline.github is None
    assert pipeline.codepipeline.branch == "release"
    github = loads(with_pipeline()).pipeline.github
    assert (github.branch, github.region) == ("main", None)
    every = [s.name for s in plan.planned_stacks(config)]
    assert len(every) == len(set(every)) == 12


def test_stack_names_deploy_single_stacks() -> None:
    loads(
        with_pipeline(
            stages(
                ("security", ["security:primary", "security:secondary"]),
                ("workloads", ["workloads:primary", "workloads:secondary"]),
                ("partner-keys", ["kmsflow-keys-partner-primary", "kmsflow-keys-partner-secondary"]),
                (
                    "partner-rest",
                    [
                        "kmsflow-audit-partner-primary",
                        "kmsflow-share-target-partner-primary",
                        "kmsflow-share-target-partner-secondary",
                    ],
                ),
            )
        )
    )


def test_a_stack_in_no_stage() -> None:
    text = with_pipeline(
        stages(
            ("security", ["security:primary", "security:secondary"]),
            ("workloads", ["workloads:primary", "workloads:secondary"]),
            ("partner", ["partner:primary", "kmsflow-keys-partner-secondary"]),
        )
    )
    expect_issue(
        text,
        P,
        line_of(text, "stages:"),
        "stack 'kmsflow-share-target-partner-secondary' (account 'partner', region 'secondary') is deployed by no "
        "stage; add 'partner:secondary' or 'kmsflow-share-target-partner-secondary' to the deploys of one stage",
    )


def test_a_stack_in_two_stages() -> None:
    text = with_pipeline(
        [*STAGES[:2], {"name": "partner", "deploys": [*STAGES[2]["deploys"], "kmsflow-keys-security-primary"]}]
    )
    issue = expect_issue(text, f"{P}[2].deploys[2]", line_of(text, "- kmsflow-keys-security-primary"))
    assert issue.message == (
        "stack 'kmsflow-keys-security-primary' is already deployed by stage 'security' "
        "(pipeline.stages[0].deploys[0]); every stack is deployed by exactly one stage; remove it from one of them"
    )


def test_a_place_in_two_stages_names_each_of_its_stacks() -> None:
    text = with_pipeline([*STAGES[:2], {"name": "partner", "deploys": [*STAGES[2]["deploys"], "workloads:primary"]}])
    issue = expect_issue(text, f"{P}[2].deploys[2]", line_of(text, "- workloads:primary", occurrence=2))
    assert issue.message == (
        "stacks 'kmsflow-keys-workloads-primary', 'kmsflow-audit-workloads-primary', "
        "'kmsflow-workflows-workloads-primary' are already deployed by stage 'workloads' "
        "(pipeline.stages[1].deploys[0]); every stack is deployed by exactly one stage; remove it from one of them"
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "security:primry",
            "unknown region 'primry'; did you mean 'primary'?; declared regions: primary, secondary; add it under "
            "regions: or fix the name",
        ),
        (
            "securty:primary",
            "unknown account 'securty'; did you mean 'security'?; declared accounts: security, workloads, partner; "
            "add it under accounts: or fix the name",
        ),
        (
            "kmsflow-keys-security-primry",
            "unknown stack 'kmsflow-keys-security-primry'; did you mean 'kmsflow-keys-security-primary'?; write a "
            "place <account>:<region> (places with stacks: partner:primary, partner:secondary, security:primary, "
            "security:secondary, workloads:primary, workloads:secondary) or the name of a stack the app builds",
        ),
        (
            "kmsflow-ci-security",
            "'kmsflow-ci-security' is the CI stack of pipeline.github: it deploys the stages, so it is deployed by "
            "hand once, not by a stage; remove it",
        ),
    ],
)
def test_an_entry_that_names_nothing_the_app_builds(entry: str, message: str) -> None:
    text = with_pipeline([*STAGES[:2], {"name": "partner", "deploys": [*STAGES[2]["deploys"], entry]}])
    issue = expect_issue(text, f"{P}[2].deploys[2]", line_of(text, f"- {entry}"))
    assert issue.message == message


def test_a_declared_place_without_stacks() -> None:
    data = default_data()
    data["regions"]["third"] = "us-east-1"
    data["pipeline"] = {
        "stages": [*STAGES[:2], {"name": "partner", "deploys": [*STAGES[2]["deploys"], "partner:third"]}]
    }
    text = dump(data)
    issue = expect_issue(text, f"{P}[2].deploys[2]", line_of(text, "- partner:third"))
    assert issue.message == (
        "the app builds no stack in account 'partner', region 'third'; places with stacks: partner:primary, "
        "partner:secondary, security:primary, security:secondary, workloads:primary, workloads:secondary; remove it "
        "or fix the place"
    )


def test_a_replica_stage_before_its_primary() -> None:
    text = with_pipeline(
        stages(
            ("replicas", ["security:secondary"]),
            ("security", ["security:primary"]),
            *[(s["name"], s["deploys"]) for s in STAGES[1:]],
        )
    )
    issue = expect_issue(text, f"{P}[0].deploys[0]", line_of(text, "- security:secondary"))
    assert issue.message == (
        "stack 'kmsflow-keys-security-secondary' is deployed by stage 'replicas', before stage 'security' "
        "(pipeline.stages[1].deploys[0]) deploys 'kmsflow-keys-security-primary'; the replica of key 'global-data' "
        "is created from its primary (keys[3].replicas[0]); deploy it in the same stage or a later one"
    )


def test_a_workflow_stage_before_its_keys_stages() -> None:
    text = with_pipeline(
        stages(
            ("workflows", ["kmsflow-workflows-workloads-primary"]),
            ("security", ["security:primary", "security:secondary"]),
            ("workloads", ["kmsflow-keys-workloads-primary", "kmsflow-audit-workloads-primary", "workloads:secondary"]),
            ("partner", ["partner:primary", "partner:secondary"]),
        )
    )
    err = load_error(text)
    line = line_of(text, "- kmsflow-workflows-workloads-primary")
    assert [(i.path, i.line, i.message) for i in err.issues] == [
        (
            f"{P}[0].deploys[0]",
            line,
            "stack 'kmsflow-workflows-workloads-primary' is deployed by stage 'workflows', before stage 'workloads' "
            f"(pipeline.stages[2].deploys[{n}]) deploys '{after}'; its snapshot {what} "
            f"({path}); deploy it in the same stage or a later one",
        )
        for n, after, what, path in [
            (
                2,
                "kmsflow-keys-workloads-secondary",
                "copy uses destination key 'dr-snapshots'",
                "workflows.snapshot_copy[0].destination_keys[0]",
            ),
            (
                0,
                "kmsflow-keys-workloads-primary",
                "share uses sharing key 'shared-snapshots'",
                "workflows.snapshot_share[0].sharing_keys[0]",
            ),
        ]
    ]


def test_a_share_target_stage_before_the_keys_it_grants() -> None:
    text = with_pipeline(
        stages(
            ("security", ["security:primary", "security:secondary"]),
            ("workloads", ["workloads:primary", "workloads:secondary", "kmsflow-share-target-partner-primary"]),
            ("partner", ["kmsflow-keys-partner-primary", "kmsflow-audit-partner-primary", "partner:secondary"]),
        )
    )
    issue = expect_issue(text, f"{P}[1].deploys[2]", line_of(text, "- kmsflow-share-target-partner-primary"))
    assert issue.message == (
        "stack 'kmsflow-share-target-partner-primary' is deployed by stage 'workloads', before stage 'partner' "
        "(pipeline.stages[2].deploys[0]) deploys 'kmsflow-keys-partner-primary'; its copy roles use target key "
        "'partner-snapshots' (workflows.snapshot_share[0].targets[0].keys[0]); deploy it in the same stage or a "
        "later one"
    )


def test_an_audit_member_stage_before_the_central_audit() -> None:
    text = with_pipeline(
        stages(
            ("workloads", ["workloads:primary", "workloads:secondary"]),
            ("security", ["security:primary", "security:secondary"]),
            ("partner", ["partner:primary", "partner:secondary"]),
        )
    )
    issue = expect_issue(text, f"{P}[0].deploys[0]", line_of(text, "- workloads:primary"))
    assert issue.message == (
        "stack 'kmsflow-audit-workloads-primary' is deployed by stage 'workloads', before stage 'security' "
        "(pipeline.stages[1].deploys[0]) deploys 'kmsflow-audit-security-primary'; the trail of account 'workloads' "
        "delivers into the central audit bucket (audit); deploy it in the same stage or a later one"
    )


def test_one_stage_may_deploy_a_stack_and_what_it_depends_on() -> None:
    loads(
        with_pipeline(
            stages(
                (
                    "all",
                    [
                        "security:primary",
                        "security:secondary",
                        "workloads:primary",
                        "workloads:secondary",
                        "partner:primary",
                        "partner:secondary",
                    ],
                )
            )
        )
    )


def test_duplicate_stage_names_ignoring_case() -> None:
    text = with_pipeline([*STAGES[:2], {**STAGES[2], "name": "Security"}])
    issue = expect_issue(text, f"{P}[2].name", line_of(text, "name: Security"))
    assert issue.message == (
        "stage name 'Security' is already used by pipeline.stages[0] ('security'); stage names are GitHub "
        "Environment names, which GitHub compares ignoring case; rename one"
    )


@pytest.mark.parametrize("repository", ["kmsflow", "example/kmsflow/extra", "example/*", "-x/kmsflow"])
def test_a_repository_that_is_not_owner_slash_name(repository: str) -> None:
    text = with_pipeline(github={"account": "security", "repository": repository})
    issue = expect_issue(text, "pipeline.github.repository", line_of(text, "repository:"))
    assert issue.message == (
        f"got {repository!r}, which is not allowed here; write the repository as 'owner/name' (the owner: letters, "
        "digits and '-'; the name: letters, digits, '.', '_' and '-')"
    )


def test_a_branch_with_a_wildcard() -> None:
    text = with_pipeline(github={"account": "security", "repository": "example/kmsflow", "branch": "release/*"})
    issue = expect_issue(text, "pipeline.github.branch", line_of(text, "branch:"))
    assert issue.message.startswith("got 'release/*', which is not allowed here; write one branch name exactly")


def test_a_stage_name_that_is_not_a_name() -> None:
    text = with_pipeline([*STAGES[:2], {**STAGES[2], "name": "partner stage"}])
    issue = expect_issue(text, f"{P}[2].name", line_of(text, "name: partner stage"))
    assert issue.message.startswith("got 'partner stage', which is not allowed here; use letters, digits and '-'")


def test_a_connection_arn_that_is_not_one() -> None:
    section = {
        "account": "security",
        "region": "primary",
        "connection_arn": "arn:aws:codecommit:eu-west-1:111111111111:kmsflow",
        "repository": "example/kmsflow",
    }
    text = with_pipeline(codepipeline=section)
    issue = expect_issue(text, "pipeline.codepipeline.connection_arn", line_of(text, "connection_arn:"))
    assert "write a CodeConnections connection ARN" in issue.message


def test_pipeline_accounts_and_regions_are_declared() -> None:
    text = with_pipeline(github={"account": "securty", "region": "secondry", "repository": "example/kmsflow"})
    err = load_error(text)
    assert [(i.path, i.line, i.message.split(";")[:2]) for i in err.issues] == [
        (
            "pipeline.github.account",
            line_of(text, "account: securty"),
            ["unknown account 'securty'", " did you mean 'security'?"],
        ),
        (
            "pipeline.github.region",
            line_of(text, "region: secondry"),
            ["unknown region 'secondry'", " did you mean 'secondary'?"],
        ),
    ]


def test_at_least_one_stage() -> None:
    text = with_pipeline([])
    expect_issue(text, P, line_of(text, "stages:"), "name at least one stage")


def test_github_and_codepipeline_do_not_both_deploy() -> None:
    text = with_pipeline(codepipeline=codepipeline_section())
    issue = expect_issue(text, "pipeline.codepipeline", line_of(text, "codepipeline:"))
    assert "pipeline.github and pipeline.codepipeline both deploy the stages" in issue.message
    assert "keep one" in issue.message


def test_stage_stacks_resolve_each_stage_in_planned_order() -> None:
    """kmsflow.plan.stage_stacks: what the deploy workflow, the CI role and the CDK Pipelines layout all read."""
    config = loads(with_pipeline())
    stacks = {stage: [s.name for s in planned] for stage, planned in plan.stage_stacks(config).items()}
    assert stacks == {
        "security": [
            "kmsflow-keys-security-primary",
            "kmsflow-keys-security-secondary",
            "kmsflow-audit-security-primary",
        ],
        "workloads": [
            "kmsflow-keys-workloads-primary",
            "kmsflow-keys-workloads-secondary",
            "kmsflow-audit-workloads-primary",
            "kmsflow-workflows-workloads-primary",
        ],
        "partner": [
            "kmsflow-keys-partner-primary",
            "kmsflow-keys-partner-secondary",
            "kmsflow-audit-partner-primary",
            "kmsflow-share-target-partner-primary",
            "kmsflow-share-target-partner-secondary",
        ],
    }
    data = default_data()
    del data["pipeline"]
    assert plan.stage_stacks(loads(dump(data))) == {}
