"""``kmsflow review`` on generated assemblies of 50, 500 and 5,000 keys, beside ``json.load`` of the same templates.

For each size, :func:`bench.review_assemblies.write_assembly` writes the assembly and its changed variant into a
temporary directory; then, in this process and in the same run, three things are timed (best of 3 rounds for
50 and 500 keys, one round for 5,000; rounds interleave the three):

- **json.load**: ``json.load`` of every template the manifest lists (the floor: reading the input at all);
- **review**: :func:`kmsflow.review.build.review_assembly` of the assembly (the library call behind the CLI,
  without the CLI process and without rendering);
- **--baseline**: ``review_assembly(changed, baseline=assembly)``: two assemblies reviewed and diffed.

The table shows seconds, the ratio review / json.load, the statements of all key and IAM policies and the review
time per 1,000 statements (flat across sizes when the cost is linear in statements). Target (issue 11): the
review of 500 keys under 2 s; :func:`main` prints ``TARGET MISSED`` and returns 1 otherwise. Runs alone
(``.venv/bin/python bench/review_bench.py``) or from ``bench/run.py``. ``BENCH_REVIEW_KEYS=50,500`` changes the
sizes. Results go to ``bench/out/review_results.json``.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Run as a script: make the repository root importable for ``bench.*``.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.review_assemblies import count_statements, template_files, write_assembly
from kmsflow.review.model import Review

OUT = Path(__file__).resolve().parent / "out"
SIZES = (50, 500, 5000)
TARGET_KEYS = 500
TARGET_SECONDS = 2.0
ROUNDS_UP_TO_500 = 3


@dataclass(frozen=True)
class Row:
    keys: int
    stacks: int
    statements: int  # in the assembly; the --baseline run reads this many and the variant's
    rounds: int
    json_load_s: float
    review_s: float
    baseline_s: float
    diff: str  # what the --baseline run found, as counts

    @property
    def ratio(self) -> float:
        return self.review_s / self.json_load_s

    @property
    def ms_per_1000_statements(self) -> float:
        return self.review_s * 1000 / (self.statements / 1000)


def main() -> int:
    from kmsflow.review.build import review_assembly  # imported before any clock starts

    sizes = _sizes()
    print(f"kmsflow review on generated assemblies ({', '.join(f'{n:,}' for n in sizes)} keys)", flush=True)
    with tempfile.TemporaryDirectory(prefix="kmsflow-review-bench-") as tmp:
        rows = []
        for keys in sizes:
            row = measure(Path(tmp) / f"keys-{keys}", keys, review_assembly)
            rows.append(row)
            print(f"  {keys:,} keys done: review {row.review_s:.3f} s", flush=True)
    print(table(rows))
    OUT.mkdir(exist_ok=True)
    data = [{**asdict(row), "ratio": row.ratio, "ms_per_1000_statements": row.ms_per_1000_statements} for row in rows]
    (OUT / "review_results.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return verdict(rows)


def measure(directory: Path, keys: int, review: Callable[..., Review]) -> Row:
    """Write the assembly (``directory/base``) and its variant (``directory/changed``) and time the three."""
    base, changed = directory / "base", directory / "changed"
    write_assembly(base, keys)
    write_assembly(changed, keys, variant=1)
    templates = template_files(base)
    statements = count_statements([json.loads(path.read_text(encoding="utf-8")) for path in templates])
    rounds = ROUNDS_UP_TO_500 if keys <= TARGET_KEYS else 1
    best = {"json": float("inf"), "review": float("inf"), "baseline": float("inf")}
    result: Review | None = None
    for _ in range(rounds):
        best["json"] = min(best["json"], _timed(lambda: _load_all(templates))[0])
        seconds, reviewed = _timed(lambda: review(base))
        best["review"] = min(best["review"], seconds)
        _check_keys(reviewed, keys)
        seconds, result = _timed(lambda: review(changed, baseline=base))
        best["baseline"] = min(best["baseline"], seconds)
    return Row(
        keys=keys,
        stacks=len(templates),
        statements=statements,
        rounds=rounds,
        json_load_s=best["json"],
        review_s=best["review"],
        baseline_s=best["baseline"],
        diff=_diff_counts(result),
    )


def table(rows: list[Row]) -> str:
    header = (
        f"{'keys':>6} {'stacks':>6} {'statements':>10} {'json.load s':>11} {'review s':>9} {'ratio':>6} "
        f"{'ms/1k stmts':>11} {'--baseline s':>12}  diff (--baseline)"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row.keys:>6,} {row.stacks:>6} {row.statements:>10,} {row.json_load_s:>11.3f} {row.review_s:>9.3f} "
            f"{row.ratio:>5.0f}x {row.ms_per_1000_statements:>11.1f} {row.baseline_s:>12.3f}  {row.diff}"
        )
    lines.append("ratio = review / json.load of the same templates; best of 3 rounds up to 500 keys, 1 round above.")
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        growth = last.ms_per_1000_statements / first.ms_per_1000_statements
        lines.append(
            f"linearity: time per statement at {last.keys:,} keys is {growth:.2f}x that at {first.keys:,} keys "
            "(1.00x = linear in statements)"
        )
    return "\n".join(lines)


def verdict(rows: list[Row]) -> int:
    """0 when the review of :data:`TARGET_KEYS` keys takes under :data:`TARGET_SECONDS`, else 1."""
    target = next((row for row in rows if row.keys == TARGET_KEYS), None)
    if target is None:
        print(f"target not checked: {TARGET_KEYS} keys not among the sizes")
        return 0
    if target.review_s >= TARGET_SECONDS:
        print(f"TARGET MISSED: review of {TARGET_KEYS} keys took {target.review_s:.3f} s (target < {TARGET_SECONDS} s)")
        return 1
    print(f"target met: review of {TARGET_KEYS} keys in {target.review_s:.3f} s (target < {TARGET_SECONDS} s)")
    return 0


def _sizes() -> tuple[int, ...]:
    raw = os.environ.get("BENCH_REVIEW_KEYS")
    if not raw:
        return SIZES
    try:
        sizes = tuple(int(part) for part in raw.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise SystemExit(f"BENCH_REVIEW_KEYS={raw!r}: expected key counts separated by commas, such as '50,500'")
    return sizes


def _timed(work: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()  # each measurement starts without the previous one's garbage
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def _load_all(paths: list[Path]) -> int:
    count = 0
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            count += len(json.load(handle))
    return count


def _check_keys(review: Review, keys: int) -> None:
    """A review that misses keys would be fast for the wrong reason."""
    if len(review.keys) != keys:
        raise SystemExit(f"the review found {len(review.keys)} keys in an assembly of {keys}")


def _diff_counts(review: Review | None) -> str:
    diff = review.diff if review is not None else None
    if diff is None:
        return "no diff"
    return (
        f"+{len(diff.gained)} -{len(diff.lost)} facts, {len(diff.conditions)} conditions, "
        f"{len(diff.settings)} settings, {len(diff.findings_new)} new / {len(diff.findings_resolved)} resolved findings"
    )


if __name__ == "__main__":
    sys.exit(main())
