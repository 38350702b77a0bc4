"""Scores of translations: BLEU and chrF (sacrebleu, with its signature), exact match, and a table
by source length.

BLEU (Papineni et al. 2002) and chrF (Popović 2015) come from sacrebleu (Post 2018), the reference
implementation, so the figures compare with published ones; its signature
(``nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0``) says exactly how they were computed.
sacrebleu is an optional extra (``pip install rnnkit[translate]``); without it BLEU and chrF are
left out and exact match is still given. For numbers, :func:`magnitude_errors` counts the worst
kind of mistake (Sproat & Jaitly 2017's "unrecoverable" errors): an output whose value has a
different number of digits from the reference's (another order of magnitude), or that is not a
number at all.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["by_length", "corpus_scores", "have_sacrebleu", "magnitude_errors", "number_value"]


def have_sacrebleu() -> bool:
    try:
        import sacrebleu  # noqa: F401
    except ImportError:
        return False
    return True


def corpus_scores(hyps: Sequence[str], refs: Sequence[str]) -> dict[str, Any]:
    """``{"n", "exact", "bleu", "chrf", "bleu_signature", "chrf_signature"}`` (percentages; BLEU and
    chrF only with sacrebleu installed).

    >>> s = corpus_scores(["a b c d", "x"], ["a b c d", "y"])
    >>> s["n"], s["exact"]
    (2, 50.0)
    """
    n = len(refs)
    out: dict[str, Any] = {
        "n": n,
        "exact": 100.0 * sum(h == r for h, r in zip(hyps, refs, strict=True)) / max(n, 1),
    }
    if n and have_sacrebleu():
        from sacrebleu.metrics import BLEU, CHRF

        bleu, chrf = BLEU(), CHRF()
        out["bleu"] = float(bleu.corpus_score(list(hyps), [list(refs)]).score)
        out["chrf"] = float(chrf.corpus_score(list(hyps), [list(refs)]).score)
        out["bleu_signature"] = str(bleu.get_signature())
        out["chrf_signature"] = str(chrf.get_signature())
    return out


def by_length(
    src_lengths: Sequence[int], hyps: Sequence[str], refs: Sequence[str], bins: int = 6
) -> list[dict[str, Any]]:
    """Scores per band of source length (in symbols): ``bins`` bands of equal width.

    >>> rows = by_length([1, 2, 9], ["a", "b", "c"], ["a", "x", "c"], bins=2)
    >>> [(r["lengths"], r["n"], r["exact"]) for r in rows]
    [('1-5', 2, 50.0), ('6-10', 1, 100.0)]
    """
    top = max(src_lengths, default=1)
    width = max(1, math.ceil(top / bins))
    rows = []
    for lo in range(1, top + 1, width):
        hi = lo + width - 1
        idx = [i for i, n in enumerate(src_lengths) if lo <= n <= hi]
        if idx:
            s = corpus_scores([hyps[i] for i in idx], [refs[i] for i in idx])
            s.pop("bleu_signature", None)
            s.pop("chrf_signature", None)
            rows.append({"lengths": f"{lo}-{hi}", **s})
    return rows


_UNITS = {w: i for i, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"])}  # fmt: skip
_TENS = {w: 10 * i for i, w in enumerate(
    ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]) if w != "_"}  # fmt: skip
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9}


def number_value(text: str) -> int | None:
    """The integer written in digits or in American English words; ``None`` if it is neither.

    >>> number_value("one hundred twenty-three million four"), number_value("4,096")
    (123000004, 4096)
    >>> number_value("twelve hundred hundred") is None
    True
    """
    t = text.strip().replace(",", "")
    if re.fullmatch(r"\d+", t):
        return int(t)
    total, group, last = 0, 0, ""
    for word in t.replace("-", " ").split():
        if word in _UNITS or word in _TENS:
            if last in _UNITS or (last in _TENS and word in _TENS):
                return None
            group += _UNITS.get(word, 0) + _TENS.get(word, 0)
        elif word == "hundred":
            if not 0 < group < 10 or last == "hundred":
                return None
            group *= 100
        elif word in _SCALES:
            if group == 0:
                return None
            total += group * _SCALES[word]
            group = 0
        else:
            return None
        last = word
    if not last:
        return None
    return total + group


def magnitude_errors(hyps: Sequence[str], refs: Sequence[str]) -> int:
    """Outputs with another number of digits than the reference's value, or not a number.

    >>> magnitude_errors(["one hundred", "twelve", "5000", "pear"], ["one hundred", "ten", "500", "7"])
    2
    """
    bad = 0
    for h, r in zip(hyps, refs, strict=True):
        vh, vr = number_value(h), number_value(r)
        if vr is None:
            continue
        if vh is None or len(str(vh)) != len(str(vr)):
            bad += 1
    return bad
