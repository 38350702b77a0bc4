"""The inline style sheet and script of the ``rnnkit inspect`` page (no network, no library).

The script reads the page's JSON (``<script id="data">``), writes one ``<span>`` per symbol and
colours each by the picked unit's value: red for positive and blue for negative values of
``h``, ``c``, ``g``, ``n`` (the unit's own largest magnitude is full colour), green from 0 to 1
for the sigmoid gates. A coloured bar under each symbol is the probability the model gave it
(red: unlikely, green: likely). The URL hash picks a unit (``#layer=0&kind=c&unit=5``, or
``#color=prob``), through the pickers' own change events, so a test can drive the page; the
root element carries ``data-ready``, ``data-selected`` and ``data-errors`` for it to read.
"""

__all__ = ["SCRIPT", "STYLE"]

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{padding:10px 16px;background:#263238;color:#eceff1}
header h1{font-size:17px;margin:0 0 4px}
header .note{color:#ffcc80}
main{display:flex;gap:16px;padding:12px 16px;align-items:flex-start}
#left{flex:1 1 auto;min-width:0}
#right{flex:0 0 360px}
#controls{position:sticky;top:0;background:#fafafa;padding:6px 0;z-index:2}
#controls label{margin-right:10px}
#text{font:13px/1.9 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;
 word-break:break-all;background:#fff;border:1px solid #ddd;padding:8px}
#text span.s{border-bottom:3px solid transparent}
#text span.unk{outline:1px dashed #b71c1c}
#text span.nl{color:#bbb}
#info{font:12px ui-monospace,monospace;min-height:1.4em;color:#455a64}
table{border-collapse:collapse;font-size:12px;width:100%}
td,th{padding:2px 5px;border-bottom:1px solid #eee;text-align:left}
tr.pick{cursor:pointer}
tr.pick:hover{background:#e3f2fd}
.legend span{display:inline-block;width:14px;height:10px;margin:0 3px 0 8px}
svg text{font:10px system-ui,sans-serif}
svg circle.pick{cursor:pointer}
h2{font-size:14px;margin:14px 0 4px}
"""

SCRIPT = r"""
(function () {
  var root = document.documentElement;
  var D = JSON.parse(document.getElementById("data").textContent);
  var A = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";
  var text = document.getElementById("text"), info = document.getElementById("info");
  var layerSel = document.getElementById("layer"), kindSel = document.getElementById("kind");
  var unitSel = document.getElementById("unit"), colorSel = document.getElementById("color");
  var spans = [], current = null, missing = "";
  function decode(u) {
    var lo = u[0], hi = u[1], s = u[2], out = new Float32Array(s.length);
    for (var t = 0; t < s.length; t++) out[t] = lo + (hi - lo) * A.indexOf(s[t]) / 63;
    return out;
  }
  function probColor(p) {
    if (p < 0) return "transparent";
    return "hsl(" + Math.round(120 * p) + ",75%,45%)";
  }
  function unitColor(v, signed, scale) {
    if (!signed) return "rgba(27,120,55," + Math.max(0, Math.min(1, v)).toFixed(3) + ")";
    var a = Math.min(1, Math.abs(v) / (scale || 1));
    return v >= 0 ? "rgba(198,40,40," + a.toFixed(3) + ")" : "rgba(21,101,192," + a.toFixed(3) + ")";
  }
  var frag = document.createDocumentFragment();
  var unk = {};
  D.unk.forEach(function (t) { unk[t] = 1; });
  D.pieces.forEach(function (piece, t) {
    var s = document.createElement("span");
    s.className = "s" + (unk[t] ? " unk" : "");
    s.dataset.t = t;
    if (piece === "\n") {
      s.className += " nl";
      s.textContent = "\u21b5";
      frag.appendChild(s);
      frag.appendChild(document.createTextNode("\n"));
    } else {
      s.textContent = piece;
      frag.appendChild(s);
    }
    s.style.borderBottomColor = probColor(D.prob[t] / 100);
    spans.push(s);
  });
  text.appendChild(frag);
  function fill(sel, values, labels) {
    sel.innerHTML = "";
    values.forEach(function (v, k) {
      var o = document.createElement("option");
      o.value = v;
      o.textContent = labels ? labels[k] : v;
      sel.appendChild(o);
    });
  }
  function refreshUnits() {
    var key = layerSel.value + "." + kindSel.value, units = Object.keys(D.units[key] || {});
    var was = unitSel.value;
    units.sort(function (a, b) { return a - b; });
    fill(unitSel, units, units.map(function (u) {
      return u + (D.tags[key + "." + u] ? " (" + D.tags[key + "." + u] + ")" : "");
    }));
    if (units.indexOf(was) >= 0) unitSel.value = was;  // the same unit number, if held
  }
  function paint() {
    var key = layerSel.value + "." + kindSel.value, u = unitSel.value;
    if (colorSel.value === "prob") {
      spans.forEach(function (s, t) { s.style.backgroundColor = probColor(D.prob[t] / 100); });
      current = null;
      root.setAttribute("data-selected", "prob");
      info.textContent = "background: the probability the model gave each symbol";
      return;
    }
    var entry = (D.units[key] || {})[u];
    if (!entry) return;
    var v = decode(entry), signed = D.signed[kindSel.value], scale = Math.max(-entry[0], entry[1]);
    current = v;
    spans.forEach(function (s, t) { s.style.backgroundColor = unitColor(v[t], signed, scale); });
    root.setAttribute("data-selected", key + "." + u);
    info.textContent = "layer " + layerSel.value + ", " + kindSel.value + " unit " + u + " of " +
      D.sizes[kindSel.value] + ": range " + entry[0].toFixed(3) + " .. " + entry[1].toFixed(3) +
      missing;
  }
  function pick(layer, kind, unit, color) {
    if (layer !== undefined) { layerSel.value = layer; }
    if (kind !== undefined) { kindSel.value = kind; }
    refreshUnits();
    missing = "";
    if (unit !== undefined) {
      unitSel.value = unit;
      if (unitSel.value !== String(unit)) {  // not on this page: the kind's first unit instead
        unitSel.selectedIndex = 0;
        missing = " (unit " + unit + " is not on this page; rnnkit inspect --units N holds more)";
      }
    }
    if (color !== undefined) { colorSel.value = color; }
    colorSel.dispatchEvent(new Event("change"));
  }
  fill(layerSel, D.layers.map(String), D.layers.map(function (l) { return "layer " + l; }));
  fill(kindSel, D.kinds, D.kinds.map(function (k) { return k + " (" + D.kindNames[k] + ")"; }));
  fill(colorSel, ["unit", "prob"], ["a unit's value", "p(symbol)"]);
  layerSel.addEventListener("change", function () { refreshUnits(); paint(); });
  kindSel.addEventListener("change", function () { refreshUnits(); paint(); });
  unitSel.addEventListener("change", paint);
  colorSel.addEventListener("change", paint);
  text.addEventListener("mouseover", function (e) {
    var s = e.target, t = s.dataset ? s.dataset.t : undefined;
    if (t === undefined) return;
    var p = D.prob[t] < 0 ? "-" : (D.prob[t] / 100).toFixed(2);
    s.title = "#" + t + " " + JSON.stringify(D.pieces[t]) + (unk[t] ? " <unk>" : "") +
      "  p=" + p + (current ? "  value=" + current[t].toFixed(3) : "");
  });
  document.querySelectorAll("[data-pick]").forEach(function (el) {
    el.addEventListener("click", function () {
      var p = el.getAttribute("data-pick").split(".");
      pick(p[0], p[1], p[2], "unit");
    });
  });
  function fromHash() {
    var h = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i > 0) h[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1));
    });
    return h;
  }
  function applyHash() {
    var h = fromHash();
    if (!Object.keys(h).length) return;
    pick(h.layer, h.kind, h.unit, h.color || (h.unit !== undefined ? "unit" : undefined));
  }
  var first = D.ranked.length ? D.ranked[0] : null;
  if (first) pick(String(first.layer), first.kind, String(first.unit), "unit");
  else pick(undefined, undefined, undefined, "unit");
  applyHash();
  window.addEventListener("hashchange", applyHash);
  root.setAttribute("data-ready", "1");
})();
"""
