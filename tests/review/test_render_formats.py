"""``render``: one entry point for the four formats, and a clear error for any other."""

from __future__ import annotations

import pytest

from kmsflow.review.exceptions import ReviewError
from kmsflow.review.render import FORMATS, render
from kmsflow.review.render.html import render_html
from kmsflow.review.render.json_report import render_json
from kmsflow.review.render.markdown import render_markdown
from kmsflow.review.render.sarif import render_sarif
from tests.review.fixtures import review_with_diff


def test_formats() -> None:
    assert FORMATS == ("md", "json", "html", "sarif")
    review = review_with_diff()
    assert render(review, "md") == render_markdown(review)
    assert render(review, "json") == render_json(review)
    assert render(review, "html") == render_html(review)
    assert render(review, "sarif") == render_sarif(review)


def test_unknown_format_names_the_value_and_the_choices() -> None:
    with pytest.raises(ReviewError) as raised:
        render(review_with_diff(), "pdf")
    assert str(raised.value) == "unknown report format 'pdf': use one of md, json, html, sarif"
