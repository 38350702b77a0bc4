"""The ``rnnkit inspect`` page: one self-contained HTML file (inline CSS, script and SVG).

The text, each symbol coloured by a picked unit — the hidden state ``h``, the cell state ``c``
or any gate, of any layer — with the model's probability of each symbol as a bar under it; the
units that track simple features of the text, ranked by correlation (click one to see it); the
gate saturation scatter of Karpathy, Johnson & Fei-Fei (2015), Figure 3. Nothing is fetched:
the page opens from disk in any browser.

A page holds ``units`` units of each layer and kind (the ones the ranking names, then the most
variable ones), each value stored as one character of 64 levels between the unit's extremes,
so a few thousand symbols make a page of a few hundred kilobytes.
"""

from __future__ import annotations

import html
import json

import numpy as np

from ..inspection import FEATURES, SIGMOID_GATES, Key, Trace, UnitScore
from .inspect_assets import SCRIPT, STYLE

__all__ = ["KIND_NAMES", "choose_units", "encode_values", "render_text_page", "saturation_svg"]

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"  # 64 levels
KIND_NAMES = {
    "h": "hidden state",
    "c": "cell state",
    "y": "output",
    "i": "input gate",
    "f": "forget gate",
    "g": "candidate",
    "o": "output gate",
    "r": "reset gate",
    "z": "update gate",
    "n": "candidate",
}
GATE_COLORS = {"i": "#1f77b4", "f": "#d62728", "o": "#2ca02c", "r": "#9467bd", "z": "#ff7f0e"}


def encode_values(v: np.ndarray, signed: bool) -> tuple[float, float, str]:
    """``(lo, hi, one character per step)``: ``v (T,)`` on 64 levels from ``lo`` to ``hi``.

    Signed values get a range symmetric about 0; gates keep ``[0, 1]``.

    >>> encode_values(np.array([0.0, 0.5, 1.0]), signed=False)
    (0.0, 1.0, '0W_')
    """
    if signed:
        m = float(np.abs(v).max()) or 1.0
        lo, hi = -m, m
    else:
        lo, hi = 0.0, 1.0
    k = np.rint((np.clip(v, lo, hi) - lo) / (hi - lo) * 63).astype(np.int64)
    return round(lo, 5), round(hi, 5), "".join(ALPHABET[i] for i in k)


def choose_units(
    trace: Trace, ranked: dict[str, list[UnitScore]], units: int
) -> dict[Key, list[int]]:
    """The units a page holds: for each layer and kind, those the ranking names, then the most
    variable ones up to ``units`` of them."""
    named: dict[Key, list[int]] = {key: [] for key in trace.values}
    for scores in ranked.values():
        for s in scores:
            if s.unit not in named[(s.layer, s.kind)]:
                named[(s.layer, s.kind)].append(s.unit)
    for key, v in trace.values.items():
        target = min(v.shape[1], max(units, len(named[key])))
        for u in np.argsort(-v.std(0), kind="stable"):
            if len(named[key]) >= target:
                break
            if int(u) not in named[key]:
                named[key].append(int(u))
    return {key: sorted(u) for key, u in named.items()}


def saturation_svg(sat: dict[Key, tuple[np.ndarray, np.ndarray]], size: int = 220) -> str:
    """One square SVG per layer: each gate unit a dot at (left-saturated, right-saturated)."""
    layers = sorted({layer for layer, _ in sat})
    pad, side = 30, size - 40
    parts = []
    for layer in layers:
        dots = []
        for (lay, gate), (left, right) in sat.items():
            if lay != layer:
                continue
            for u, (a, b) in enumerate(zip(left, right, strict=True)):
                x, y = pad + a * side, pad - 20 + (1 - b) * side
                dots.append(
                    f'<circle class="pick" data-pick="{layer}.{gate}.{u}" cx="{x:.1f}" '
                    f'cy="{y:.1f}" r="2.6" fill="{GATE_COLORS.get(gate, "#555")}" '
                    f'fill-opacity="0.55"><title>layer {layer} {gate} unit {u}: left {a:.2f}, '
                    f"right {b:.2f}</title></circle>"
                )
        x0, y0, y1 = pad, pad - 20 + side, pad - 20
        parts.append(
            f'<svg width="{size}" height="{size}" viewBox="0 0 {size} {size}" '
            f'role="img"><rect x="{x0}" y="{y1}" width="{side}" height="{side}" fill="#fff" '
            f'stroke="#999"/><line x1="{x0}" y1="{y1}" x2="{x0 + side}" y2="{y0}" '
            f'stroke="#ccc" stroke-dasharray="3 3"/>{"".join(dots)}'
            f'<text x="{x0 + side / 2}" y="{size - 6}" text-anchor="middle">left-saturated '
            f'(&lt; 0.1)</text><text x="10" y="{y1 + side / 2}" text-anchor="middle" '
            f'transform="rotate(-90 10 {y1 + side / 2})">right-saturated (&gt; 0.9)</text>'
            f'<text x="{x0 + 4}" y="{y1 + 12}">layer {layer}</text></svg>'
        )
    gates = sorted({g for _, g in sat}, key=SIGMOID_GATES.index)
    legend = "".join(
        f'<span style="background:{GATE_COLORS[g]}"></span>{g} ({KIND_NAMES[g]})' for g in gates
    )
    return f'<div class="legend">{legend}</div>' + "".join(parts)


def _ranked_table(ranked: dict[str, list[UnitScore]]) -> str:
    rows = []
    for name, scores in ranked.items():
        label = FEATURES.get(name, name)
        if not scores:
            rows.append(f"<tr><td>{label}</td><td colspan=3>does not vary in this text</td></tr>")
        for s in scores:
            rows.append(
                f'<tr class="pick" data-pick="{s.layer}.{s.kind}.{s.unit}"><td>{label}</td>'
                f"<td>{s.r:+.3f}</td><td>layer {s.layer} {s.kind}</td><td>unit {s.unit}</td></tr>"
            )
    return (
        "<table><tr><th>feature</th><th>r</th><th>kind</th><th>unit</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _json_for_script(data: object) -> str:
    """JSON safe inside ``<script>``: no ``</`` can end the element early."""
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/")


def render_text_page(
    trace: Trace,
    ranked: dict[str, list[UnitScore]],
    sat: dict[Key, tuple[np.ndarray, np.ndarray]],
    *,
    units: int = 8,
    title: str = "rnnkit inspect",
    notes: list[str] | None = None,
) -> str:
    """The page, as a string of HTML."""
    chosen = choose_units(trace, ranked, units)
    best = {(s.layer, s.kind, s.unit): name for name, ss in ranked.items() for s in ss}
    data = {
        "pieces": trace.pieces,
        "unk": trace.unknown,
        "prob": [-1 if np.isnan(p) else round(100 * float(p)) for p in trace.prob],
        "layers": list(range(trace.num_layers)),
        "kinds": trace.kinds,
        "kindNames": {k: KIND_NAMES.get(k, k) for k in trace.kinds},
        "sizes": trace.sizes,
        "signed": {k: k not in SIGMOID_GATES for k in trace.kinds},
        "units": {
            f"{layer}.{kind}": {
                str(u): encode_values(trace.values[(layer, kind)][:, u], kind not in SIGMOID_GATES)
                for u in us
            }
            for (layer, kind), us in chosen.items()
        },
        "tags": {f"{layer}.{kind}.{u}": FEATURES[n] for (layer, kind, u), n in best.items()},
        "ranked": [
            {"layer": s.layer, "kind": s.kind, "unit": s.unit, "r": s.r, "feature": s.feature}
            for ss in sorted(ranked.values(), key=lambda ss: -abs(ss[0].r) if ss else 0)
            for s in ss[:1]
        ],
    }
    notes = list(notes or [])
    shown = len(trace.pieces)
    note_html = "".join(f'<div class="note">{html.escape(n)}</div>' for n in notes)
    sat_html = (
        "<h2>Gate saturation (Karpathy et al. 2015, Fig. 3)</h2>"
        "<p>Each dot is one gate unit: how often it is below 0.1 (x) and above 0.9 (y) on this "
        "text. Click a dot to see the unit.</p>" + saturation_svg(sat)
        if sat
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<script>window.onerror=function(m){{var r=document.documentElement;
r.setAttribute("data-errors",(r.getAttribute("data-errors")||"")+m+";");}};</script>
<style>{STYLE}</style></head>
<body><header><h1>{html.escape(title)}</h1>
<div>{shown:,} {trace.level} symbols; a {trace.num_layers}-layer {html.escape(trace.cell)};
{units} units of each layer and kind on this page (those the table names, then the most
variable); background: the picked unit's value (red +, blue &minus;; gates: green 0&rarr;1);
bar under each symbol: the probability the model gave it (red low, green high).</div>
{note_html}</header>
<main><div id="left"><div id="controls">
<label>layer <select id="layer"></select></label><label>kind <select id="kind"></select></label>
<label>unit <select id="unit"></select></label><label>colour by <select id="color"></select>
</label><div id="info"></div></div><div id="text"></div></div>
<div id="right"><h2>Units that track the text</h2>
<p>Pearson's r between a unit's value and a feature of the text at each symbol; click a row.</p>
{_ranked_table(ranked)}{sat_html}</div></main>
<script type="application/json" id="data">{_json_for_script(data)}</script>
<script>{SCRIPT}</script></body></html>
"""
