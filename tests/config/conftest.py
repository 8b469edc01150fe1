"""Helpers for the configuration tests: build YAML text, find a line in it, parse it and expect issues.

Inputs start from the accounts and regions of the embedded default ``kmsflow.yaml`` so that the tests read
like the file users copy; each test then states the one thing it changes.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from kmsflow.config import parse_config
from kmsflow.errors import ConfigError, ConfigIssue

REPO = Path(__file__).resolve().parents[2]
DEFAULT_FILE = REPO / "kmsflow.yaml"
SOURCE = "x.yaml"

#: The default file as data (read once; every helper hands out deep copies).
DEFAULT_DATA: dict[str, Any] = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))


def default_data() -> dict[str, Any]:
    """A fresh copy of the default configuration as data."""
    return copy.deepcopy(DEFAULT_DATA)


def key(name: str = "k", **fields: Any) -> dict[str, Any]:
    """A key in account ``security``, region ``primary``; ``fields`` add or override settings."""
    return {"name": name, "account": "security", "region": "primary", **fields}


def custom(**roles: Any) -> dict[str, Any]:
    """A ``policy:`` block with ``mode: custom`` and the given roles."""
    return {"mode": "custom", **roles}


def config(*keys: dict[str, Any], **sections: Any) -> dict[str, Any]:
    """version, the default accounts and regions, then ``keys`` (and any other ``sections``)."""
    data: dict[str, Any] = {
        "version": 1,
        "accounts": copy.deepcopy(DEFAULT_DATA["accounts"]),
        "regions": copy.deepcopy(DEFAULT_DATA["regions"]),
    }
    if keys:
        data["keys"] = list(keys)
    data.update(sections)
    return data


def dump(data: Any) -> str:
    """YAML text in block style, keys in the order given (so that lines can be found by content)."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def line_of(text: str, needle: str, *, occurrence: int | None = None) -> int:
    """The 1-based line of ``text`` containing ``needle``: the only one, or the ``occurrence``-th (from 1)."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    if occurrence is None:
        assert len(found) == 1, f"{needle!r} is on lines {found}, not on exactly one, in:\n{text}"
        return found[0]
    assert len(found) >= occurrence, f"{needle!r} occurs {len(found)} time(s) in:\n{text}"
    return found[occurrence - 1]


def load_error(text: str) -> ConfigError:
    """Parse ``text`` as ``x.yaml``; it must be refused."""
    with pytest.raises(ConfigError) as info:
        parse_config(text, source=SOURCE)
    err = info.value
    assert err.source == SOURCE
    assert err.issues, "a ConfigError without issues"
    return err


def expect_issue(text: str, path: str, line: int | None, *fragments: str) -> ConfigIssue:
    """``text`` is refused with exactly one issue at ``path`` and ``line`` whose message has every fragment.

    The rendered error must show ``x.yaml:<line>: <path>: <message>`` and its header count one error.
    """
    err = load_error(text)
    assert [(i.path, i.line) for i in err.issues] == [(path, line)], err.issues
    issue = err.issues[0]
    for fragment in fragments:
        assert fragment in issue.message, f"{fragment!r} not in {issue.message!r}"
    where = f"{SOURCE}:{line}" if line is not None else SOURCE
    rendered = str(err)
    assert rendered.startswith(f"{SOURCE}: 1 configuration error:\n"), rendered
    assert f"  {where}: {path or '(top level)'}: {issue.message}" in rendered.splitlines(), rendered
    return issue


def loads(text: str) -> Any:
    """Parse ``text``; it must be accepted (the error text is shown otherwise)."""
    try:
        return parse_config(text, source=SOURCE)
    except ConfigError as err:  # pragma: no cover - shown only when a test fails
        pytest.fail(f"expected a valid configuration, got:\n{err}")
