"""The GitHub Actions the generated workflows use, each pinned by the full commit SHA of a released tag.

A tag can be moved by whoever controls the action's repository; a commit cannot. The version comment after each
SHA is for the reader and for Dependabot/Renovate, which update both together. Each SHA was checked against
public workflows that pin the same commit with the same version comment (the closing note of issue 13 lists them);
update them here, then `make workflows`, never in the generated files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: A full commit SHA: 40 lowercase hex digits (GitHub accepts nothing shorter as an immutable pin).
SHA_PATTERN = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class PinnedAction:
    """``name`` (``owner/repo`` or ``owner/repo/path``) at commit ``sha``, released as ``version``."""

    name: str
    sha: str
    version: str

    def __post_init__(self) -> None:
        if not SHA_PATTERN.match(self.sha):
            raise ValueError(f"{self.name}: {self.sha!r} is not a full commit SHA (40 lowercase hex digits)")

    @property
    def uses(self) -> str:
        """The ``uses:`` value, with the version as a YAML comment."""
        return f"{self.name}@{self.sha} # {self.version}"


CHECKOUT = PinnedAction("actions/checkout", "11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2")
SETUP_PYTHON = PinnedAction("actions/setup-python", "0b93645e9fea7318ecaed2b359559ac225c90a2b", "v5.3.0")
UPLOAD_ARTIFACT = PinnedAction("actions/upload-artifact", "ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2")
DOWNLOAD_ARTIFACT = PinnedAction("actions/download-artifact", "d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0")
GITHUB_SCRIPT = PinnedAction("actions/github-script", "60a0d83039c74a4aee543508d2ffcb1c3799cdea", "v7.0.1")
UPLOAD_SARIF = PinnedAction("github/codeql-action/upload-sarif", "48ab28a6f5dbc2a99bf1e0131198dd8f1df78169", "v3.28.0")
CONFIGURE_AWS_CREDENTIALS = PinnedAction(
    "aws-actions/configure-aws-credentials", "7474bc4690e29a8392af63c5b98e7449536d5c3a", "v4.3.1"
)

ALL = (
    CHECKOUT,
    SETUP_PYTHON,
    UPLOAD_ARTIFACT,
    DOWNLOAD_ARTIFACT,
    GITHUB_SCRIPT,
    UPLOAD_SARIF,
    CONFIGURE_AWS_CREDENTIALS,
)
