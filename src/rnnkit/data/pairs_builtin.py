"""Built-in translation data, generated and seeded, no download: ``dates``, ``numbers``, ``reverse``.

* ``dates`` — a date written by a human in one of many formats ("3 May 1979", "Thursday, May 3rd
  1979", "03.05.79", "May 3, '79", ...) -> ISO 8601 ("1979-05-03"), dates 1950-2049 (so a two-digit
  year ``yy`` means 19yy from 50 and 20yy below). The numeric formats follow one rule a reader can
  learn: dots put the day first, slashes the month first. The formats in :data:`HELD_OUT_FORMATS`
  are never trained on: the ``test-heldout`` split measures generalisation to unseen formats,
  ``test`` to unseen dates in the seen formats (one date in ten is kept out of training).
  The task of the deeplearning.ai sequence-models course and Géron's *Hands-On ML* (ch. 16).
* ``numbers`` — integers 0..10^9 in digits -> American English words ("1205" -> "one thousand two
  hundred five"); reverse it for words -> digits. The number of digits is drawn uniformly, then
  the number; one number of 10 and above in ten (by a fixed hash) is kept out of training, so the
  test numbers have 2 digits or more (0-9 are all trained on: "zero" is in no other number).
* ``reverse`` — Joey NMT's toy task (``scripts/generate_reverse_task.py``): sequences of integers in
  [0, 50), space-separated, to the same sequence reversed; lengths 1-25 in training, 1-30 in
  validation and test (so the test also measures longer sequences); 50,000 / 1,000 / 1,000 pairs.
  Joey NMT reports 95.42 BLEU greedy after 5 epochs (Kreutzer et al. 2019, docs/tutorial).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError
from .pairs import Pairs

__all__ = [
    "BUILTIN_PAIRS",
    "DATE_FORMATS",
    "HELD_OUT_FORMATS",
    "BuiltinPairs",
    "builtin_pairs",
    "number_to_words",
]

BUILTIN_PAIRS = ("dates", "numbers", "reverse")

MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _fields(d: dt.date) -> dict[str, str]:
    month, day = MONTHS[d.month - 1], DAYS[d.weekday()]
    return {
        "d": str(d.day), "dd": f"{d.day:02d}", "do": _ordinal(d.day),
        "m": str(d.month), "mm": f"{d.month:02d}", "M": month, "Mon": month[:3],
        "yyyy": str(d.year), "yy": f"{d.year % 100:02d}", "D": day, "Dy": day[:3],
    }  # fmt: skip


# name -> format; fields in braces (see _fields)
DATE_FORMATS: dict[str, str] = {
    "d M yyyy": "{d} {M} {yyyy}",
    "dd M yyyy": "{dd} {M} {yyyy}",
    "M d, yyyy": "{M} {d}, {yyyy}",
    "M do, yyyy": "{M} {do}, {yyyy}",
    "D, M do yyyy": "{D}, {M} {do} {yyyy}",
    "Dy d M yyyy": "{Dy} {d} {M} {yyyy}",
    "D d M yyyy": "{D} {d} {M} {yyyy}",
    "Dy, Mon d, yyyy": "{Dy}, {Mon} {d}, {yyyy}",
    "dd.mm.yy": "{dd}.{mm}.{yy}",
    "dd.mm.yyyy": "{dd}.{mm}.{yyyy}",
    "d.m.yyyy": "{d}.{m}.{yyyy}",
    "mm/dd/yyyy": "{mm}/{dd}/{yyyy}",
    "m/d/yy": "{m}/{d}/{yy}",
    "M d, 'yy": "{M} {d}, '{yy}",
    "do of M, yyyy": "{do} of {M}, {yyyy}",
    "the do of M yyyy": "the {do} of {M} {yyyy}",
    "d-Mon-yyyy": "{d}-{Mon}-{yyyy}",
    "dd Mon yy": "{dd} {Mon} {yy}",
    "Mon d yyyy": "{Mon} {d} {yyyy}",
    "yyyy M d": "{yyyy} {M} {d}",
    "yyyy-mm-dd": "{yyyy}-{mm}-{dd}",
    "yyyymmdd": "{yyyy}{mm}{dd}",
    "lower d M yyyy": "{d} {M} {yyyy}|lower",
    "upper M d yyyy": "{M} {d} {yyyy}|upper",
    # held out of training (see HELD_OUT_FORMATS)
    "do M yyyy": "{do} {M} {yyyy}",
    "yyyy.mm.dd": "{yyyy}.{mm}.{dd}",
    "Dy, d Mon 'yy": "{Dy}, {d} {Mon} '{yy}",
}
HELD_OUT_FORMATS = ("do M yyyy", "yyyy.mm.dd", "Dy, d Mon 'yy")


def format_date(d: dt.date, name: str) -> str:
    """``d`` written in format ``name`` of :data:`DATE_FORMATS`.

    >>> format_date(dt.date(1979, 5, 3), "D, M do yyyy")
    'Thursday, May 3rd 1979'
    >>> format_date(dt.date(1979, 5, 3), "dd.mm.yy")
    '03.05.79'
    """
    pattern, _, case = DATE_FORMATS[name].partition("|")
    text = pattern.format(**_fields(d))
    return text.lower() if case == "lower" else text.upper() if case == "upper" else text


_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _below_1000(n: int) -> list[str]:
    words = []
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else ""))
    elif n:
        words.append(_ONES[n])
    return words


def number_to_words(n: int) -> str:
    """American English words for ``0 <= n <= 10**9`` (no "and", hyphens in 21-99).

    >>> number_to_words(123456789)
    'one hundred twenty-three million four hundred fifty-six thousand seven hundred eighty-nine'
    >>> number_to_words(1_000_000_000), number_to_words(0), number_to_words(1205)
    ('one billion', 'zero', 'one thousand two hundred five')
    """
    if not 0 <= n <= 10**9:
        raise ValueError(f"number_to_words: expected 0 <= n <= 10**9, got {n}")
    if n == 0:
        return "zero"
    if n == 10**9:
        return "one billion"
    words = []
    for scale, name in ((10**6, "million"), (10**3, "thousand"), (1, "")):
        part = n // scale % 1000
        if part:
            words += _below_1000(part) + ([name] if name else [])
    return " ".join(words)


def _held(key: int, salt: int) -> bool:
    """A fixed pseudo-random tenth of the keys (SplitMix64 finaliser), kept out of training."""
    z = (key + salt * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) % 10 == 0


@dataclass
class BuiltinPairs:
    """A generated data set: ``train``, ``val`` and test splits (``tests["test"]``, and for
    ``dates`` also ``tests["test-heldout"]``)."""

    name: str
    train: Pairs
    val: Pairs
    tests: dict[str, Pairs] = field(default_factory=dict)


def _pairs(rows: list[tuple[str, str]], name: str, split: str) -> Pairs:
    return Pairs([s for s, _ in rows], [t for _, t in rows],
                 [f"{name}:{split} {i + 1}" for i in range(len(rows))])  # fmt: skip


_DATE0, _DATE_DAYS = dt.date(1950, 1, 1).toordinal(), 36525  # 1950-01-01 .. 2049-12-31


def _dates(rng: np.random.Generator, n: int, test_dates: bool, formats: list[str]) -> Pairs:
    rows: list[tuple[str, str]] = []
    while len(rows) < n:
        ordinal = _DATE0 + int(rng.integers(_DATE_DAYS))
        if _held(ordinal, 1) != test_dates:
            continue
        d = dt.date.fromordinal(ordinal)
        rows.append((format_date(d, formats[int(rng.integers(len(formats)))]), d.isoformat()))
    return _pairs(rows, "dates", "")


def _dates_set(rng: np.random.Generator, size: int) -> BuiltinPairs:
    seen = [f for f in DATE_FORMATS if f not in HELD_OUT_FORMATS]
    return BuiltinPairs(
        "dates",
        _dates(rng, size, False, seen),
        _dates(rng, min(1000, size), True, seen),
        {
            "test": _dates(rng, min(2000, size), True, seen),
            "test-heldout": _dates(rng, min(2000, size), True, list(HELD_OUT_FORMATS)),
        },
    )


def _numbers(rng: np.random.Generator, n: int, test: bool) -> Pairs:
    rows: list[tuple[str, str]] = []
    while len(rows) < n:
        digits = int(rng.integers(1, 11))
        k = 10**9 if digits == 10 else int(rng.integers(10 ** (digits - 1) if digits > 1 else 0,
                                                       10**digits))  # fmt: skip
        if digits == 10 and rng.random() > 0.01:  # one billion: rarely
            continue
        if (k >= 10 and _held(k, 2)) != test:  # 0-9 always trained on: "zero" is only 0
            continue
        rows.append((str(k), number_to_words(k)))
    return _pairs(rows, "numbers", "")


def _numbers_set(rng: np.random.Generator, size: int) -> BuiltinPairs:
    return BuiltinPairs(
        "numbers",
        _numbers(rng, size, False),
        _numbers(rng, min(1000, size), True),
        {"test": _numbers(rng, min(2000, size), True)},
    )


def _reverse(rng: np.random.Generator, n: int, max_len: int) -> Pairs:
    rows = []
    for _ in range(n):
        seq = [str(v) for v in rng.integers(0, 50, int(rng.integers(1, max_len + 1)))]
        rows.append((" ".join(seq), " ".join(reversed(seq))))
    return _pairs(rows, "reverse", "")


def _reverse_set(rng: np.random.Generator, size: int) -> BuiltinPairs:
    return BuiltinPairs(
        "reverse",
        _reverse(rng, size, 25),
        _reverse(rng, 1000, 30),
        {"test": _reverse(rng, 1000, 30)},
    )


_SETS: dict[str, tuple[Callable[[np.random.Generator, int], BuiltinPairs], int]] = {
    "dates": (_dates_set, 20000),
    "numbers": (_numbers_set, 50000),
    "reverse": (_reverse_set, 50000),
}


def _relabel(p: Pairs, name: str, split: str) -> Pairs:
    return Pairs(p.sources, p.targets, [f"{name}:{split} {i + 1}" for i in range(len(p))])


def builtin_pairs(name: str, seed: int = 0, train_size: int = 0) -> BuiltinPairs:
    """Generate the built-in set ``name`` (``train_size`` 0: the default size; the validation and
    test splits have 1,000 and 2,000 pairs (``reverse``: 1,000), or ``train_size`` if fewer).

    >>> d = builtin_pairs("dates", train_size=3)
    >>> len(d.train), sorted(d.tests), d.train.targets[0][4]
    (3, ['test', 'test-heldout'], '-')
    """
    if name not in _SETS:
        raise UserError(f"unknown built-in pair set {name!r} (choose {', '.join(BUILTIN_PAIRS)})")
    make, default = _SETS[name]
    out = make(np.random.default_rng(seed), train_size or default)
    out.train = _relabel(out.train, name, "train")
    out.val = _relabel(out.val, name, "val")
    out.tests = {k: _relabel(v, name, k) for k, v in out.tests.items()}
    return out
