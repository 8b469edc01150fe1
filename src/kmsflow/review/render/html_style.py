"""The HTML report's stylesheet, inlined in the page (the page loads nothing: it is read offline, attached to a
ticket or opened from a CI artifact)."""

from __future__ import annotations

CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --head: #f6f8fa;
  --high: #cf222e; --medium: #bc4c00; --low: #9a6700; --info: #0969da;
  --gained: #dafbe1; --lost: #ffebe9; --narrowed: #ddf4ff; --widened: #fff8c5; --conditional: #fff8c5; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); margin: 0 auto;
  padding: 1.5rem; max-width: 1400px; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .4rem; }
p { margin: .3rem 0; }
.muted, .source, .arn, .note { color: var(--muted); }
.arn, code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; word-break: break-all; }
nav ul { margin: .25rem 0; padding-left: 1.2rem; columns: 2; }
table { border-collapse: collapse; margin: .4rem 0 1rem; width: 100%; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
thead th { background: var(--head); position: sticky; top: 0; }
td { overflow-wrap: break-word; }
.sev { font-weight: 600; text-transform: uppercase; font-size: 12px; }
tr.sev-high .sev { color: var(--high); } tr.sev-medium .sev { color: var(--medium); }
tr.sev-low .sev { color: var(--low); } tr.sev-info .sev { color: var(--info); }
tr.sev-high { box-shadow: inset 4px 0 var(--high); } tr.sev-medium { box-shadow: inset 4px 0 var(--medium); }
tr.sev-low { box-shadow: inset 4px 0 var(--low); } tr.sev-info { box-shadow: inset 4px 0 var(--info); }
tr.gained { background: var(--gained); } tr.lost { background: var(--lost); }
tr.narrowed { background: var(--narrowed); } tr.widened, tr.changed { background: var(--widened); }
table.matrix { width: auto; }
table.matrix th[scope=row] { font-weight: normal; max-width: 36rem; }
table.matrix td { text-align: center; min-width: 4.5rem; }
td.allowed, .legend .allowed { background: var(--gained); font-weight: 600; }
td.conditional, .legend .conditional { background: var(--conditional); font-weight: 600; cursor: help; }
.label { display: inline-block; background: var(--head); border: 1px solid var(--line); border-radius: 1rem;
  padding: 0 .5rem; font-size: 12px; color: var(--muted); margin-left: .25rem; }
ul.settings { display: flex; flex-wrap: wrap; gap: .3rem; list-style: none; padding: 0; margin: .4rem 0; }
ul.settings li { border: 1px solid var(--line); border-radius: .3rem; padding: .05rem .45rem; background: var(--head); }
.legend span { display: inline-block; padding: 0 .4rem; margin-right: .4rem; border: 1px solid var(--line); }
footer { margin-top: 2rem; color: var(--muted); font-size: 12px; }
@media print { thead th { position: static; } }
"""
