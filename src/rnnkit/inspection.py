"""Look inside a trained language model: every unit's state and gates on a text, what they track.

:func:`trace_text` runs a :class:`~rnnkit.models.LanguageModel` over a text once and keeps, for
every layer, every step's state (``h``; ``c`` for LSTM; ``y`` for Jordan) and gate values
(LSTM ``i, f, g, o``; GRU ``r, z, n``) from the layer's ``return_states=True,
return_gates=True``, and the probability the model gave each symbol before reading it.

:func:`text_features` measures simple properties of the text at each symbol — inside quotes,
inside brackets and their depth, position in the line, indentation, start of a word — and
:func:`unit_correlations` ranks the units whose value follows one of them (Pearson's r), as
Karpathy, Johnson & Fei-Fei (2015, "Visualizing and Understanding Recurrent Networks") found
cells tracking quotes, line length and bracket depth. :func:`saturation` gives each sigmoid gate
unit's fraction of time left-saturated (< 0.1) and right-saturated (> 0.9), their Figure 3.

Shape letters: ``T`` symbols, ``H`` units of one kind in one layer.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .data.vocab import UNK, Vocabulary, tokenize
from .kernels import SlowPathWarning
from .models.language_model import LanguageModel

__all__ = [
    "FEATURES",
    "MAX_SYMBOLS",
    "SIGMOID_GATES",
    "Trace",
    "UnitScore",
    "saturation",
    "text_features",
    "trace_text",
    "unit_correlations",
]

MAX_SYMBOLS = 5000  # longest text a page shows (the rest is cut, and the page says so)
SIGMOID_GATES = ("i", "f", "o", "r", "z")  # gates in [0, 1]; g and n are tanh candidates
FEATURES = {
    "in_quotes": "inside quotes",
    "in_brackets": "inside brackets",
    "bracket_depth": "bracket depth",
    "line_position": "position in line",
    "indentation": "indentation",
    "word_start": "start of word",
}

Key = tuple[int, str]  # (layer, kind): kind a state name or a gate name


@dataclass
class Trace:
    """A language model's insides over one text.

    Attributes:
        pieces: the text each symbol shows (``<unk>`` for a symbol outside the vocabulary).
        unknown: positions of symbols read as ``<unk>``.
        values: ``{(layer, kind): (T, H)}`` float32, kinds in the layer's order (states, gates).
        kinds: the kinds of each layer, in order.
        prob: ``(T,)`` the probability the model gave symbol ``t`` after reading ``0..t-1``
            (``nan`` for the first symbol, which nothing predicted).
        total: symbols in the text before it was capped at ``max_symbols``.
    """

    pieces: list[str]
    unknown: list[int]
    values: dict[Key, np.ndarray]
    kinds: list[str]
    prob: np.ndarray
    total: int
    level: str = "char"
    cell: str = ""
    sizes: dict[str, int] = field(default_factory=dict)

    @property
    def capped(self) -> bool:
        return self.total > len(self.pieces)

    @property
    def num_layers(self) -> int:
        return 1 + max(layer for layer, _ in self.values)


def _pieces(vocab: Vocabulary, tokens: list[str], ids: list[int]) -> list[str]:
    """What each symbol shows: the token (words spaced as they are joined), ``<unk>`` if unknown."""
    out: list[str] = []
    for n, (tok, i) in enumerate(zip(tokens, ids, strict=True)):
        shown = UNK if i == vocab.unk_index and tok != UNK else tok
        if vocab.level != "char":
            shown = vocab.piece(ids[n - 1] if n else None, i) if shown != UNK else shown
            if shown == UNK and n and tokens[n - 1] != "\n":
                shown = " " + UNK
        out.append(shown)
    return out


@torch.no_grad()
def trace_text(
    model: LanguageModel, vocab: Vocabulary, text: str, max_symbols: int = MAX_SYMBOLS
) -> Trace:
    """Run ``model`` over ``text`` (its first ``max_symbols`` symbols) from the initial state.

    Raises:
        ValueError: the text has no symbols.

    >>> import rnnkit
    >>> v = Vocabulary.from_tokens(list("ab()"), "char")
    >>> lm = LanguageModel(len(v), rnnkit.GRU(4, 3), embed=4)
    >>> t = trace_text(lm, v, "a(b)x")
    >>> t.kinds, t.values[(0, "z")].shape, t.pieces[-1]
    (['h', 'r', 'z', 'n'], (5, 3), '<unk>')
    """
    tokens = tokenize(text, vocab.level)
    if not tokens:
        raise ValueError("the text has no symbols")
    total = len(tokens)
    tokens = tokens[:max_symbols]
    ids = vocab.encode_tokens(tokens)
    was = model.training
    model.eval()
    try:
        x = torch.tensor(ids, dtype=torch.long, device=model.head.weight.device)[:, None]  # (T, 1)
        e = model.embed(x) if model.embed is not None else F.one_hot(x, model.vocab_size).float()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SlowPathWarning)
            out, _, steps, gates = model.rnn(e, return_states=True, return_gates=True)
        logp = model.head(out).log_softmax(-1)[:, 0]  # (T, V)
    finally:
        model.train(was)
    prob = np.full(len(ids), math.nan)
    prob[1:] = logp[:-1].gather(1, x[1:]).squeeze(1).exp().cpu().numpy()
    layer = model.rnn
    names = list(layer.state_names)
    kinds = names + list(gates)
    values: dict[Key, np.ndarray] = {}
    sizes: dict[str, int] = {}
    for k, name in enumerate(names):
        for n in range(steps[k].shape[0]):  # (L, T, 1, size)
            values[(n, name)] = steps[k][n, :, 0].float().cpu().numpy()
        sizes[name] = int(steps[k].shape[-1])
    for name, g in gates.items():
        for n in range(g.shape[0]):
            values[(n, name)] = g[n, :, 0].float().cpu().numpy()
        sizes[name] = int(g.shape[-1])
    unknown = [n for n, i in enumerate(ids) if i == vocab.unk_index and tokens[n] != UNK]
    return Trace(
        _pieces(vocab, tokens, ids),
        unknown,
        values,
        kinds,
        prob,
        total,
        vocab.level,
        type(layer).__name__,
        sizes,
    )


def _quoted(text: str) -> np.ndarray:
    """1 for each character inside a quoted string, its quotes included."""
    inside = np.zeros(len(text))
    quote = ""  # the open string's delimiter: a quote character, a triple quote, or ""
    i = 0
    while i < len(text):
        ch = text[i]
        if not quote:
            if ch in "\"'" and not (ch == "'" and i and text[i - 1].isalnum()):  # not an apostrophe
                quote = ch * 3 if text.startswith(ch * 3, i) else ch
                inside[i : i + len(quote)] = 1
                i += len(quote)
                continue
        elif text.startswith(quote, i):
            inside[i : i + len(quote)] = 1
            i += len(quote)
            quote = ""
            continue
        elif ch == "\n" and len(quote) == 1:
            quote = ""  # a one-line string ends at the line's end
        else:
            skip = 2 if ch == "\\" else 1  # an escaped character stays inside
            inside[i : i + skip] = 1
            i += skip
            continue
        i += 1
    return inside


def text_features(pieces: list[str]) -> dict[str, np.ndarray]:
    """Simple properties of the text at each symbol (after reading it), ``{name: (T,)}``.

    * ``in_quotes``: 1 inside a quoted string, quotes included. A ``"`` or ``'`` opens one
      unless it is an apostrophe (a ``'`` after a letter or digit); the same delimiter closes
      it; a line break ends it, except for triple quotes, which run to their closing triple.
    * ``bracket_depth``: open ``( [ {`` minus closed ones outside strings (never below 0);
      ``in_brackets``: depth > 0.
    * ``line_position``: characters since the line began (0 on the first one).
    * ``indentation``: the spaces and tabs the current line began with, so far.
    * ``word_start``: 1 on a letter or digit that follows none.

    >>> f = text_features(list('a("b")\\n  x'))
    >>> f["in_quotes"].tolist()
    [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    >>> f["bracket_depth"].tolist()
    [0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    >>> f["indentation"].tolist(), f["word_start"].tolist()[-3:]
    ([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 2.0], [0.0, 0.0, 1.0])
    """
    text = "".join(pieces)
    quoted = _quoted(text)
    per_char = {name: np.zeros(len(text)) for name in FEATURES}
    depth = pos = indent = 0
    leading = True
    prev = "\n"
    for i, ch in enumerate(text):
        if ch == "\n":
            pos, indent, leading = 0, 0, True
        else:
            if leading and ch in " \t":
                indent += 1
            else:
                leading = False
            if not quoted[i]:
                depth = depth + 1 if ch in "([{" else max(0, depth - 1) if ch in ")]}" else depth
            pos += 1
        per_char["bracket_depth"][i] = depth
        per_char["line_position"][i] = max(pos - 1, 0)
        per_char["indentation"][i] = indent
        per_char["word_start"][i] = float(ch.isalnum() and not (prev.isalnum() or prev == "_"))
        prev = ch
    per_char["in_quotes"] = quoted
    per_char["in_brackets"] = (per_char["bracket_depth"] > 0).astype(np.float64)
    # each symbol takes its last character's values; word_start its first's
    ends = np.cumsum([len(p) for p in pieces]) - 1
    starts = ends - np.array([len(p) for p in pieces]) + 1
    out = {name: v[ends] if len(text) else np.zeros(len(pieces)) for name, v in per_char.items()}
    firsts = [s + len(p) - len(p.lstrip(" ")) for s, p in zip(starts, pieces, strict=True)]
    out["word_start"] = per_char["word_start"][np.minimum(firsts, np.maximum(ends, 0))]
    return out


@dataclass(frozen=True)
class UnitScore:
    """One unit's Pearson correlation with one feature of the text."""

    feature: str
    layer: int
    kind: str
    unit: int
    r: float


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson's r of every column of ``a (T, H)`` with ``b (T,)``; 0 where either is constant."""
    a = a - a.mean(0)
    b = b - b.mean()
    den = np.sqrt((a * a).sum(0) * (b * b).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b[:, None]).sum(0) / den
    return np.where(den > 1e-12, r, 0.0)


def unit_correlations(
    trace: Trace, features: dict[str, np.ndarray], top: int = 3
) -> dict[str, list[UnitScore]]:
    """For each feature that varies in the text, the ``top`` units of any layer and kind whose
    value correlates most with it (by ``|r|``); a feature constant over the text maps to ``[]``.

    >>> tr = Trace(["a"] * 4, [], {(0, "h"): np.array([[0., 1.], [1., 0.], [0., 1.], [1., 0.]])},
    ...            ["h"], np.zeros(4), 4)
    >>> [(s.unit, round(s.r, 3)) for s in unit_correlations(tr, {"x": np.array([0., 1, 0, 1])})["x"]]
    [(0, 1.0), (1, -1.0)]
    """
    ranked: dict[str, list[UnitScore]] = {}
    for name, f in features.items():
        if np.ptp(f) == 0:
            ranked[name] = []
            continue
        scores = [
            UnitScore(name, layer, kind, int(u), float(r))
            for (layer, kind), v in trace.values.items()
            for u, r in enumerate(_pearson(v.astype(np.float64), f))
        ]
        scores.sort(key=lambda s: (-abs(s.r), s.layer, s.kind, s.unit))
        ranked[name] = scores[:top]
    return ranked


def saturation(
    trace: Trace, low: float = 0.1, high: float = 0.9
) -> dict[Key, tuple[np.ndarray, np.ndarray]]:
    """Each sigmoid gate unit's fraction of steps below ``low`` and above ``high``.

    Returns:
        ``{(layer, gate): (left (H,), right (H,))}`` for the gates ``i, f, o`` (LSTM) and
        ``r, z`` (GRU); the tanh candidates ``g``, ``n`` are left out, as in Karpathy et al.
        (2015), Figure 3.

    >>> tr = Trace(["a"] * 4, [], {(0, "f"): np.array([[0.05], [0.5], [0.95], [0.99]])},
    ...            ["f"], np.zeros(4), 4)
    >>> {k: (l.tolist(), r.tolist()) for k, (l, r) in saturation(tr).items()}
    {(0, 'f'): ([0.25], [0.5])}
    """
    return {
        key: ((v < low).mean(0), (v > high).mean(0))
        for key, v in trace.values.items()
        if key[1] in SIGMOID_GATES and key[1] in trace.kinds
    }
