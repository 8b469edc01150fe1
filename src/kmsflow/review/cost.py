"""A key's estimated monthly cost from the AWS KMS price model (key storage only, never its requests).

The prices, as published in 2024 (USD, the same in every commercial region that lists them):

- https://aws.amazon.com/kms/pricing/ ("Key storage"): "Each AWS KMS key that you create in AWS KMS costs
  $1/month (prorated hourly)", the same for symmetric, asymmetric, HMAC, imported-material keys and "multi-Region
  keys (each primary and each replica multi-Region key)"; "If you enable automatic key rotation, each newly
  generated backing key costs an additional $1/month". The AWS KMS API Reference (ReplicateKey) says the same of
  replicas: KMS pricing "for KMS keys appl[ies] to each primary and replica key".
- https://aws.amazon.com/blogs/security/the-curious-case-of-faster-aws-kms-symmetric-key-rotation/ (April 2024):
  "a new limit on the price of all symmetric keys that have had two or more rotations (including existing
  keys)": the first and the second rotation each add $1/month, later rotations add nothing, so a rotating key
  costs at most $3/month.

So a key costs $1.00 from the day it is created; a rotating key $2.00 after its first rotation (one rotation
period later) and $3.00 from its second on. A replica of a rotating primary is rotated with it (KMS shares the
rotation status) and is billed for its own material the same way. Requests (``Encrypt``, ``Decrypt``...) are
not estimated: their number is not in a template.
"""

from __future__ import annotations

from decimal import Decimal

from kmsflow.review.model import Cost, CostLine, KeyInfo

#: USD per key per month (aws.amazon.com/kms/pricing, "Key storage", 2024): every customer managed key,
#: each multi-Region primary and each replica alike.
KEY_MONTHLY_USD = Decimal("1.00")
#: USD per month added by each rotated key material version (same page).
ROTATED_MATERIAL_MONTHLY_USD = Decimal("1.00")
#: Rotations that add to the price; later ones are free (AWS Security Blog, "The curious case of faster AWS KMS
#: symmetric key rotation", April 2024: the price is capped once a key has had two rotations).
BILLED_ROTATIONS = 2

PRICE_DATE = "2024"

_CENT = Decimal("0.01")


def key_cost(key: KeyInfo) -> Cost:
    """The key's monthly cost now and once rotation has reached its price cap, with one line per item."""
    item = "replica" if key.primary is not None else "key"
    lines = [CostLine(item=item, quantity=1, monthly_usd=_usd(KEY_MONTHLY_USD))]
    now = KEY_MONTHLY_USD
    steady = KEY_MONTHLY_USD
    if key.rotation:
        rotated = ROTATED_MATERIAL_MONTHLY_USD * BILLED_ROTATIONS
        lines.append(CostLine(item="rotated key material", quantity=BILLED_ROTATIONS, monthly_usd=_usd(rotated)))
        steady += rotated
    return Cost(
        lines=tuple(lines),
        monthly_usd=_usd(now),
        steady_state_monthly_usd=_usd(steady),
        note=_note(key),
    )


def _note(key: KeyInfo) -> str:
    parts = [
        f"Estimate from the AWS KMS list prices of {PRICE_DATE} (USD; prices can differ by region and in the China "
        "regions, and change: check aws.amazon.com/kms/pricing).",
        f"Key storage only: requests are not estimated (each {_usd(KEY_MONTHLY_USD)} USD key is billed whether "
        "it is used or not, until it is scheduled for deletion).",
    ]
    if key.rotation:
        period = f"every {key.rotation_period_days} days" if key.rotation_period_days else "on its schedule"
        parts.append(
            f"The key rotates {period}: its first and second rotation each add "
            f"{_usd(ROTATED_MATERIAL_MONTHLY_USD)} USD a month, later rotations add nothing "
            f"(steady state {_usd(KEY_MONTHLY_USD + ROTATED_MATERIAL_MONTHLY_USD * BILLED_ROTATIONS)} USD)."
        )
    if key.primary is not None:
        parts.append("A multi-Region replica is billed as a key of its own, apart from its primary.")
    return " ".join(parts)


def _usd(amount: Decimal) -> str:
    """Two decimals as text: ``Decimal("1")`` -> ``"1.00"``."""
    return str(amount.quantize(_CENT))
