"""Golden reports: the default app's review in all four formats, byte for byte.

A change to the default configuration, the constructs or the review shows here as a diff of the reports a
reviewer would read. When the change is intended, rewrite the files and read their diff before committing:

    KMSFLOW_UPDATE_GOLDEN=1 .venv/bin/pytest tests/review/test_golden.py
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from kmsflow.review.model import Review
from kmsflow.review.render import FORMATS, render

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("KMSFLOW_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("output_format", FORMATS)
def test_the_default_app_report_matches_its_golden_file(default_review: Review, output_format: str) -> None:
    # The assembly's directory is a temporary one: the reports name it as a user's would, "cdk.out".
    review = dataclasses.replace(default_review, source="cdk.out")
    text = render(review, output_format, full_report="cdk.out/review/review.html")
    golden = GOLDEN / f"default.{output_format}"
    if UPDATE:
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"{golden} is missing: run with KMSFLOW_UPDATE_GOLDEN=1 to write it"
    assert text == golden.read_text(encoding="utf-8"), f"{golden.name} differs (see this module's docstring)"
    assert render(review, output_format, full_report="cdk.out/review/review.html") == text  # deterministic


def test_the_default_and_changed_json_reports_follow_the_schema(
    default_review: Review, baseline_outdir: Path, changed_outdir: Path
) -> None:
    import json
    from importlib import resources

    import jsonschema

    from kmsflow.review.build import review_assembly

    schema = json.loads(resources.files("kmsflow.review").joinpath("schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    with_diff = review_assembly(changed_outdir, baseline=baseline_outdir)
    for review in (default_review, with_diff):
        errors = [error.message for error in validator.iter_errors(json.loads(render(review, "json")))]
        assert errors == []
