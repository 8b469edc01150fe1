"""The digest of a cloud assembly: what a deploy job checks so that the assembly it deploys is exactly the one the
review job reviewed (no re-synth between review and deploy).

SHA-256 over every file of the assembly in a fixed order: for each file, its path relative to the assembly (``/``
separated), a NUL, its size and a NUL, then its bytes. Paths are sorted as UTF-8 bytes, so the digest does not
depend on the file system's order or the machine. The review's own reports (``review/``, ``review-pr/``) are not
part of what deploys and are left out, so writing them after the digest does not change it. A symbolic link is
refused: an artifact upload would follow or drop it, so the digest could not speak for what deploys.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from kmsflow.delivery.exceptions import AssemblyDigestError, DigestMismatchError

#: Top-level folders of ``cdk.out`` that hold reports about the assembly, not the assembly.
REPORT_FOLDERS = ("review", "review-pr")
#: How a digest is written: the algorithm, a colon, 64 lowercase hex digits.
DIGEST_PREFIX = "sha256:"
DIGEST_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")
#: The file that marks a cloud assembly (``cdk synth`` writes it).
MANIFEST = "manifest.json"


def assembly_files(assembly: Path) -> list[tuple[str, Path]]:
    """The (relative POSIX path, path) of every file the digest covers, sorted by the relative path's bytes."""
    if not (assembly / MANIFEST).is_file():
        raise AssemblyDigestError(
            f"{assembly} is not a cloud assembly: it has no {MANIFEST}; pass the folder `cdk synth` wrote (cdk.out)"
        )
    files: list[tuple[str, Path]] = []
    for path in assembly.rglob("*"):
        relative = path.relative_to(assembly)
        if relative.parts[0] in REPORT_FOLDERS:
            continue
        if path.is_symlink():
            raise AssemblyDigestError(
                f"{assembly} holds a symbolic link, {relative.as_posix()}: an assembly to deploy must hold files "
                "only; synthesize again without linking into it"
            )
        if path.is_file():
            files.append((relative.as_posix(), path))
    return sorted(files, key=lambda item: item[0].encode("utf-8"))


def assembly_digest(assembly: Path) -> str:
    """``sha256:<hex>`` of the assembly at ``assembly`` (see the module's docstring for what is covered)."""
    digest = hashlib.sha256()
    for relative, path in assembly_files(assembly):
        data = path.read_bytes()
        digest.update(relative.encode("utf-8") + b"\0" + str(len(data)).encode("ascii") + b"\0")
        digest.update(data)
    return DIGEST_PREFIX + digest.hexdigest()


def check_digest(assembly: Path, expected: str) -> str:
    """The assembly's digest if it is ``expected``; else :class:`DigestMismatchError` saying both (an unreadable
    assembly or a malformed ``expected``: :class:`AssemblyDigestError`)."""
    if not DIGEST_PATTERN.match(expected):
        raise AssemblyDigestError(
            f"expected digest {expected!r} is not of the form {DIGEST_PREFIX}<64 lowercase hex digits>; pass the "
            "value the review job printed (`kmsflow delivery digest cdk.out`)"
        )
    actual = assembly_digest(assembly)
    if actual != expected:
        raise DigestMismatchError(
            f"the assembly in {assembly} is not the reviewed one: its digest is {actual}, the review's is "
            f"{expected}; deploy only the artifact the review job uploaded, or run the review again"
        )
    return actual
