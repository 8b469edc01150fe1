"""The reviewed-assembly digest: what it covers, what it leaves out, and the CLI's exit codes."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kmsflow.cli import app
from kmsflow.delivery.digest import DIGEST_PATTERN, assembly_digest, check_digest
from kmsflow.delivery.exceptions import AssemblyDigestError, DigestMismatchError


@pytest.fixture
def assembly(tmp_path: Path) -> Path:
    out = tmp_path / "cdk.out"
    (out / "asset.abc").mkdir(parents=True)
    (out / "manifest.json").write_text('{"version": "41.0.0"}', encoding="utf-8")
    (out / "kmsflow-keys-a.template.json").write_text('{"Resources": {}}', encoding="utf-8")
    (out / "asset.abc" / "index.py").write_text("def handler(event, context):\n    return 1\n", encoding="utf-8")
    return out


def test_the_same_files_give_the_same_digest_wherever_they_are(assembly: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(assembly, tmp_path / "elsewhere" / "cdk.out")
    digest = assembly_digest(assembly)
    assert DIGEST_PATTERN.match(digest)
    assert assembly_digest(copy) == digest


@pytest.mark.parametrize(
    "change",
    [
        lambda out: (out / "kmsflow-keys-a.template.json").write_text('{"Resources": {"K": {}}}', encoding="utf-8"),
        lambda out: (out / "asset.abc" / "index.py").write_text("def handler(e, c):\n    return 2\n"),
        lambda out: (out / "asset.abc" / "index.py").rename(out / "asset.abc" / "main.py"),
        lambda out: (out / "kmsflow-keys-b.template.json").write_text("{}", encoding="utf-8"),
        lambda out: (out / "asset.abc" / "index.py").unlink(),
    ],
    ids=["template edited", "asset edited", "file renamed", "file added", "file removed"],
)
def test_any_change_to_what_deploys_changes_the_digest(assembly: Path, change: Callable[[Path], object]) -> None:
    before = assembly_digest(assembly)
    change(assembly)
    assert assembly_digest(assembly) != before


def test_moving_bytes_between_files_changes_the_digest(tmp_path: Path) -> None:
    # Sizes are hashed with the names: "ab" + "c" and "a" + "bc" are different assemblies.
    one, two = tmp_path / "one", tmp_path / "two"
    for out, (a, b) in ((one, ("ab", "c")), (two, ("a", "bc"))):
        out.mkdir()
        (out / "manifest.json").write_text("{}", encoding="utf-8")
        (out / "x").write_text(a, encoding="utf-8")
        (out / "y").write_text(b, encoding="utf-8")
    assert assembly_digest(one) != assembly_digest(two)


def test_the_review_reports_are_not_part_of_the_assembly(assembly: Path) -> None:
    before = assembly_digest(assembly)
    for folder in ("review", "review-pr"):
        (assembly / folder).mkdir()
        (assembly / folder / "review.md").write_text("# kmsflow review", encoding="utf-8")
    assert assembly_digest(assembly) == before
    # A nested folder of that name inside an asset is part of what deploys.
    (assembly / "asset.abc" / "review").mkdir()
    (assembly / "asset.abc" / "review" / "x").write_text("x", encoding="utf-8")
    assert assembly_digest(assembly) != before


def test_a_folder_that_is_not_an_assembly_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AssemblyDigestError, match=r"is not a cloud assembly: it has no manifest\.json"):
        assembly_digest(tmp_path)


def test_a_symbolic_link_is_refused(assembly: Path) -> None:
    (assembly / "link.json").symlink_to(assembly / "manifest.json")
    with pytest.raises(AssemblyDigestError, match=r"holds a symbolic link, link\.json"):
        assembly_digest(assembly)


def test_check_names_both_digests(assembly: Path) -> None:
    digest = assembly_digest(assembly)
    assert check_digest(assembly, digest) == digest
    other = "sha256:" + "0" * 64
    with pytest.raises(DigestMismatchError) as caught:
        check_digest(assembly, other)
    assert f"its digest is {digest}, the review's is {other}" in str(caught.value)
    with pytest.raises(AssemblyDigestError, match="is not of the form sha256:<64 lowercase hex digits>"):
        check_digest(assembly, digest.upper())


def test_the_cli_prints_and_checks(assembly: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(app, ["delivery", "digest", str(assembly)])
    assert printed.exit_code == 0, printed.output
    digest = printed.stdout.strip()
    assert digest == assembly_digest(assembly)
    same = runner.invoke(app, ["delivery", "digest", str(assembly), "--expect", digest])
    assert (same.exit_code, same.stdout.strip()) == (0, f"{assembly}: {digest} is the reviewed assembly")
    (assembly / "kmsflow-keys-a.template.json").write_text("{}", encoding="utf-8")
    changed = runner.invoke(app, ["delivery", "digest", str(assembly), "--expect", digest])
    assert changed.exit_code == 1
    assert "is not the reviewed one" in changed.stderr
    unreadable = runner.invoke(app, ["delivery", "digest", str(assembly.parent / "missing")])
    assert unreadable.exit_code == 2
    assert "is not a cloud assembly" in unreadable.stderr
