"""The review's reports: Markdown (a pull-request comment), JSON (the model, with a schema), HTML (one
self-contained page) and SARIF 2.1.0 (code scanning). Each renders a :class:`~kmsflow.review.model.Review` to
text, the same text for the same review."""

from __future__ import annotations

from kmsflow.review.exceptions import ReviewError
from kmsflow.review.model import Review
from kmsflow.review.render.html import render_html
from kmsflow.review.render.json_report import render_json
from kmsflow.review.render.markdown import render_markdown
from kmsflow.review.render.sarif import render_sarif

FORMATS = ("md", "json", "html", "sarif")


def render(review: Review, fmt: str, *, full_report: str | None = None) -> str:
    """The report in ``fmt``. ``full_report`` (Markdown only): where the caller writes the full report, named
    by a Markdown report too large for a pull-request comment."""
    if fmt == "md":
        return render_markdown(review, full_report=full_report)
    if fmt == "json":
        return render_json(review)
    if fmt == "html":
        return render_html(review)
    if fmt == "sarif":
        return render_sarif(review)
    raise ReviewError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")
