"""Test helper: the message of a configuration mistake, for tests that assert the class and the exact text."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kmsflow.envelope.exceptions import ConfigurationError


def configuration_error(make: Callable[[], object]) -> str:
    """The message of the :class:`ConfigurationError` that ``make`` raises (the test fails on any other)."""
    with pytest.raises(ConfigurationError) as caught:
        make()
    assert type(caught.value) is ConfigurationError
    return str(caught.value)
