"""The HTML report in a real browser: headless Chromium (the Debian package) loads the page from a file, its DOM
is checked (key sections, matrix cells, a gained row, a high-severity finding) and a screenshot is kept as a test
artifact (tests/review/artifacts/review.png, not committed). Skipped, with the reason printed, only where
Chromium is not installed (``make test`` installs it: ``apt-get install chromium``)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from kmsflow.review.render import render
from tests.review.fixtures import review_with_diff
from tests.review.test_render_html import key_section, matrix_cells, parse

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
TIMEOUT_SECONDS = 60
WINDOW = (1280, 2000)
#: No network, no first-run or background work: the page is a local file and loads nothing.
QUIET_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _chromium() -> str:
    found = str(CHROMIUM) if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if found is None:
        reason = (
            f"{CHROMIUM} is not installed: the HTML report's browser test needs it; install it with "
            "`apt-get install chromium` (Debian; `make test` tries to)"
        )
        print(reason)
        pytest.skip(reason)
    return found


def _run(chromium: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [chromium, *QUIET_FLAGS, f"--user-data-dir={profile}", *arguments]
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}: {result.stderr[-2000:]}"
    return result


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "review.html"
    path.write_text(render(review_with_diff(), "html"), encoding="utf-8")
    return path


def test_dom_in_chromium(page: Path, tmp_path: Path) -> None:
    chromium = _chromium()
    dom = parse(_run(chromium, tmp_path / "profile", "--dump-dom", page.as_uri()).stdout)
    sections = dom.find_all("section", lambda e: "key" in e.classes)
    assert [section.attrs["id"] for section in sections] == [
        "key-AppReplicaStack-DataReplicaE5F6A7B8",
        "key-AppStack-DataKey1A2B3C4D",
        "key-SigningStack-SigningKey9A8B7C6D",
    ]
    cells = matrix_cells(key_section(dom, "key-AppStack-DataKey1A2B3C4D"))
    decrypt = cells[("arn:aws:iam::111111111111:role/DataProcessor", "Decrypt")]
    assert decrypt.classes == {"conditional"}
    assert decrypt.attrs["title"] == "kms:Decrypt when kms:ViaService = rds.eu-west-1.amazonaws.com"
    assert cells[("arn:aws:iam::111111111111:role/KeyAdministrator", "PutKeyPolicy")].classes == {"allowed"}
    gained = dom.find("tr", lambda e: "gained" in e.classes)
    assert [td.text() for td in gained.find_all("td")][:3] == [
        "arn:aws:iam::444444444444:root",
        "Decrypt",
        "AppStack/DataKey1A2B3C4D",
    ]
    high = dom.find("section", lambda e: e.attrs.get("id") == "findings").find("tr", lambda e: "sev-high" in e.classes)
    assert [td.text() for td in high.find_all("td")][:3] == ["high", "KR01", "AppStack/DataKey1A2B3C4D"]


def test_screenshot_is_kept(page: Path, tmp_path: Path) -> None:
    chromium = _chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "review.png"
    screenshot.unlink(missing_ok=True)
    width, height = WINDOW
    _run(
        chromium,
        tmp_path / "profile",
        f"--screenshot={screenshot}",
        f"--window-size={width},{height}",
        page.as_uri(),
    )
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == WINDOW
    assert len(data) > 50_000  # a page of tables, not a blank image
