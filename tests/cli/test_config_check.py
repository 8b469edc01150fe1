"""``kmsflow config check`` and the help of every command group, through typer's CliRunner."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kmsflow.cli import app
from kmsflow.policy.rules.policy_size import MAX_POLICY_BYTES

REPO = Path(__file__).resolve().parents[2]
DEFAULT_FILE = REPO / "kmsflow.yaml"

#: What `config check` prints for the embedded default file: one line per key, its settings and its stacks.
DEFAULT_LINES = [
    "  data: SYMMETRIC_DEFAULT ENCRYPT_DECRYPT, rotates every 180 days, policy custom -> kmsflow-keys-security-primary",
    "  release-signing: RSA_3072 SIGN_VERIFY, no rotation, policy custom -> kmsflow-keys-security-primary",
    "  session-tokens: HMAC_256 GENERATE_VERIFY_MAC, no rotation, policy custom -> kmsflow-keys-security-primary",
    "  global-data: SYMMETRIC_DEFAULT ENCRYPT_DECRYPT, rotates every 365 days, policy custom -> "
    "kmsflow-keys-security-primary, kmsflow-keys-security-secondary",
    "  workloads-default: SYMMETRIC_DEFAULT ENCRYPT_DECRYPT, rotates every 365 days, policy default -> "
    "kmsflow-keys-workloads-primary",
    "  shared-snapshots: SYMMETRIC_DEFAULT ENCRYPT_DECRYPT, rotates every 365 days, policy custom -> "
    "kmsflow-keys-workloads-primary",
    "  dr-snapshots: SYMMETRIC_DEFAULT ENCRYPT_DECRYPT, rotates every 365 days, policy custom -> "
    "kmsflow-keys-workloads-secondary",
    "  partner-snapshots: SYMMETRIC_DEFAULT ENCRYPT_DECRYPT, rotates every 365 days, policy custom -> "
    "kmsflow-keys-partner-primary, kmsflow-keys-partner-secondary",
    "  audit: trail kmsflow-audit, 1 alarm subscription(s) -> kmsflow-audit-security-primary",
    "  audit: trail kmsflow-audit of account workloads, delivering to security's bucket -> "
    "kmsflow-audit-workloads-primary",
    "  audit: trail kmsflow-audit of account partner, delivering to security's bucket -> kmsflow-audit-partner-primary",
    "  workflow snapshot-copy: primary -> secondary -> kmsflow-workflows-workloads-primary",
    "  workflow snapshot-share: workloads primary -> partner [primary, secondary] -> "
    "kmsflow-workflows-workloads-primary, kmsflow-share-target-partner-primary, kmsflow-share-target-partner-secondary",
    "  stage security, after approval: kmsflow-keys-security-primary, kmsflow-keys-security-secondary, "
    "kmsflow-audit-security-primary",
    "  stage workloads, after approval: kmsflow-keys-workloads-primary, kmsflow-keys-workloads-secondary, "
    "kmsflow-audit-workloads-primary, kmsflow-workflows-workloads-primary",
    "  stage partner: kmsflow-keys-partner-primary, kmsflow-keys-partner-secondary, kmsflow-audit-partner-primary, "
    "kmsflow-share-target-partner-primary, kmsflow-share-target-partner-secondary",
    "  principals named in key policies (they must exist before `cdk deploy`; README, 'Before deploy'):",
    "    security:role/KeyAdministrator (keys[data], keys[release-signing], keys[session-tokens], keys[global-data], "
    "audit)",
    "    security:role/DataProcessor (keys[data], keys[global-data])",
    "    security:role/AppRuntime (keys[data])",
    "    security:role/ReleaseSigner (keys[release-signing])",
    "    security:role/DeployVerifier (keys[release-signing])",
    "    security:role/TokenService (keys[session-tokens])",
    "    workloads:role/KeyAdministrator (keys[shared-snapshots], keys[dr-snapshots], workflows.snapshot_copy[0], "
    "workflows.snapshot_share[0])",
    "    workloads:role/BackupOperator (keys[shared-snapshots])",
    "    partner:role/KeyAdministrator (keys[partner-snapshots])",
    "    security:role/Auditor (audit)",
]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_check_default_file(runner: CliRunner) -> None:
    result = runner.invoke(app, ["config", "check", str(DEFAULT_FILE)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{DEFAULT_FILE}: valid; 8 key(s), partition aws", *DEFAULT_LINES]
    assert result.stderr == ""


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "variant.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "uncovered"),
    [
        # The member list leaves out the workloads account (three keys and the workflows) and the partner (a key).
        ("  trail_name: kmsflow-audit\n", "  trail_name: kmsflow-audit\n  member_accounts: []\n", "workloads, partner"),
        # No audit at all: every account with a key is uncovered.
        ("audit:\n  account: security", "unused_audit:\n  account: security", None),
    ],
    ids=["member-left-out", "no-audit"],
)
def test_check_warns_about_accounts_no_trail_records(
    runner: CliRunner, tmp_path: Path, old: str, new: str, uncovered: str | None
) -> None:
    if uncovered is None:  # drop the whole audit section
        text = DEFAULT_FILE.read_text(encoding="utf-8")
        start, end = text.index("\naudit:\n"), text.index("\n# Workflows")
        path = tmp_path / "variant.yaml"
        path.write_text(text[:start] + text[end:], encoding="utf-8")
        uncovered = "security, workloads, partner"
    else:
        path = _variant(tmp_path, old, new)
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        f"  warning: no trail records the KMS calls of account(s) {uncovered}, which hold keys or run workflows; "
        "add them to audit.member_accounts (or set audit.organization_trail: true)"
    )


def test_check_default_file_has_every_key_account_audited(runner: CliRunner) -> None:
    result = runner.invoke(app, ["config", "check", str(DEFAULT_FILE)])
    assert "warning" not in result.stdout


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ("[nowhere]", "audit.member_accounts[0]: unknown account 'nowhere'"),
        ("[security]", "audit.member_accounts[0]: 'security' is the audit account itself"),
    ],
)
def test_check_refuses_bad_member_accounts(runner: CliRunner, tmp_path: Path, members: str, message: str) -> None:
    path = _variant(
        tmp_path, "  trail_name: kmsflow-audit\n", f"  trail_name: kmsflow-audit\n  member_accounts: {members}\n"
    )
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_check_reads_kmsflow_yaml_by_default(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "kmsflow.yaml").write_text(DEFAULT_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "kmsflow.yaml: valid; 8 key(s), partition aws"


def test_check_invalid_file(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    text = DEFAULT_FILE.read_text(encoding="utf-8").replace("rotation_days: 180", "rotation_days: 89")
    path.write_text(text, encoding="utf-8")
    line = next(n for n, t in enumerate(text.splitlines(), start=1) if "rotation_days: 89" in t)
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"kmsflow: {path}: 1 configuration error:",
        f"  {path}:{line}: keys[0].rotation_days: rotation_days is 89; allowed: 90 to 2560 days "
        "(KMS's limits; 365 if omitted)",
    ]
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_check_lists_every_problem(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    data = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
    data["keys"][1]["usage"] = "ENCRYPT"
    data["keys"][2]["aliases"] = ["alias/aws/tokens"]
    data["keys"][3]["replicas"] = ["nowhere"]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0] == f"kmsflow: {path}: 4 configuration errors:"
    assert [re.sub(r"^  \S+?:\d+: (\S+): .*$", r"\1", line) for line in lines[1:]] == [
        "keys[1].usage",
        "keys[2].aliases[0]",
        "keys[3].replicas[0]",
        # keys[3]'s replica was the only stack in security:secondary, which the first stage still names.
        "pipeline.stages[0].deploys[1]",
    ]
    assert "Traceback" not in result.output


def test_check_yaml_syntax_error(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("version: 1\naccounts:\n  a: [1, 2\n", encoding="utf-8")
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"kmsflow: {path}: 1 configuration error:\n  {path}:4: (top level): YAML syntax")
    assert "Traceback" not in result.output


def test_check_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"kmsflow: {path}: 1 configuration error:",
        f"  {path}: (top level): cannot read the file: No such file or directory",
    ]
    assert "Traceback" not in result.output


def test_check_a_directory(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "check", str(tmp_path)])
    assert result.exit_code == 2
    assert f"{tmp_path}: (top level): cannot read the file: Is a directory" in result.stderr
    assert "Traceback" not in result.output


def big_policy_file(tmp_path: Path) -> Path:
    """A file whose only key has so many users that its policy is over KMS's size limit."""
    data = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
    users = [f"security:role/application-user-{i:04d}" for i in range(MAX_POLICY_BYTES // 40)]
    data["keys"] = [
        {
            "name": "crowded",
            "account": "security",
            "region": "primary",
            "policy": {"mode": "custom", "administrators": ["security:role/KeyAdministrator"], "users": users},
        }
    ]
    data.pop("workflows", None)  # its destination key is not in this file
    data.pop("pipeline", None)  # its stages deploy the places of the keys removed here
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_check_refuses_a_policy_that_synth_refuses(runner: CliRunner, tmp_path: Path) -> None:
    """`config check` builds the constructs too, so a policy over 32 KB (measured on the built policy) is
    refused as `cdk synth` refuses it."""
    path = big_policy_file(tmp_path)
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2, result.output
    assert "keys[0].policy" in result.stderr
    assert f"KMS allows at most {MAX_POLICY_BYTES}" in result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["--help"], ["Usage: kmsflow", "config", "keys", "Check kmsflow configuration files."], id="root"),
        pytest.param(["config", "--help"], ["Usage: kmsflow config", "check"], id="config"),
        pytest.param(
            ["config", "check", "--help"],
            ["Usage: kmsflow config check", "PATH", "Exit code 0: valid; 2: invalid"],
            id="config-check",
        ),
        pytest.param(["keys", "--help"], ["Usage: kmsflow keys", "import-material"], id="keys"),
    ],
)
def test_help(runner: CliRunner, args: list[str], expected: list[str]) -> None:
    result = runner.invoke(app, args, prog_name="kmsflow", env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert result.exit_code == 0, result.output
    for text in expected:
        assert text in result.stdout, f"{text!r} not in:\n{result.stdout}"


@pytest.mark.parametrize("args", [[], ["config"], ["keys"]], ids=["root", "config", "keys"])
def test_group_without_command_shows_usage(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(app, args, prog_name="kmsflow", env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    # no_args_is_help: the help, and click's exit code for a usage problem.
    assert result.exit_code == 2
    assert f"Usage: {' '.join(['kmsflow', *args])}" in result.output
