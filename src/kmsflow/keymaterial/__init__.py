"""Importing external key material into KMS keys with origin EXTERNAL (``kmsflow keys import-material``).

:mod:`~kmsflow.keymaterial.wrap` holds the pure wrapping functions and the table of what each key spec
accepts; :mod:`~kmsflow.keymaterial.importer` drives the KMS calls.
"""

from __future__ import annotations

from kmsflow.keymaterial.importer import ImportResult, import_key_material
from kmsflow.keymaterial.wrap import MATERIAL_RULES, WRAPPING_ALGORITHMS, MaterialRule, wrap_key_material

__all__ = [
    "MATERIAL_RULES",
    "WRAPPING_ALGORITHMS",
    "ImportResult",
    "MaterialRule",
    "import_key_material",
    "wrap_key_material",
]
