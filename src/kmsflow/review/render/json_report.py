"""The JSON report: the model as data (:func:`kmsflow.review.model.to_data`), ``schema_version`` first, objects'
keys in the model's field order. Its shape is documented, field by field, in ``review/schema.json``."""

from __future__ import annotations

import json
from typing import Any

from kmsflow.review.model import Review, to_data


def report_data(review: Review) -> dict[str, Any]:
    data: dict[str, Any] = to_data(review)
    return {"schema_version": data.pop("schema_version"), **data}


def render_json(review: Review) -> str:
    return json.dumps(report_data(review), indent=2, sort_keys=False, ensure_ascii=False) + "\n"
