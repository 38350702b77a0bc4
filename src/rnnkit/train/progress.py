"""A live progress display for training: a tqdm bar on a terminal, periodic lines elsewhere.

On a terminal the bar shows the fraction done (of ``--max-steps`` or of ``--time-budget``,
whichever is closer to its end), the step, the running loss, the throughput and the time left.
When the stream is not a terminal (a pipe, a log file, a test), the same text is printed as a
plain line every ``interval`` seconds instead, so logs stay readable.

>>> import io
>>> out = io.StringIO()
>>> p = Progress(max_steps=10, unit="char", stream=out, interval=0)
>>> p.update(step=5, elapsed=2.0, loss=1.25, rate=1500.0)
>>> print(out.getvalue().strip())
step 5/10 | loss 1.250 | 1.5k chars/s | 0:00:02 elapsed, 0:00:02 left
>>> p.close()
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

__all__ = ["Progress", "format_count", "format_duration", "format_rate"]


def format_rate(x: float) -> str:
    """``1234.5 -> '1.2k'``, ``2.5e6 -> '2.50M'``, ``12.3 -> '12.3'``.

    >>> format_rate(35210.0), format_rate(2.5e6), format_rate(12.34)
    ('35.2k', '2.50M', '12.3')
    """
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.1f}"


def format_count(n: float) -> str:
    """Like :func:`format_rate`, without a decimal below 1000: ``800 -> '800'``."""
    return f"{n:.0f}" if n < 1e3 else format_rate(n)


def format_duration(seconds: float) -> str:
    """``h:mm:ss``.

    >>> format_duration(3725.2)
    '1:02:05'
    """
    s = max(0, round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Progress:
    """Show training progress on ``stream`` (stdout by default).

    Args:
        max_steps: the step limit, or 0 for none.
        time_budget: the time limit in seconds, or 0 for none.
        unit: what the throughput counts, singular (``"char"`` shows ``chars/s``).
        stream: where to write; a tqdm bar when it is a terminal, lines otherwise.
        interval: seconds between lines when not on a terminal (0: every update).
        enabled: False shows nothing (notes are still printed).
    """

    def __init__(
        self,
        max_steps: int = 0,
        time_budget: float = 0.0,
        unit: str = "unit",
        stream: TextIO | None = None,
        interval: float = 10.0,
        enabled: bool = True,
    ) -> None:
        self.max_steps = max_steps
        self.time_budget = time_budget
        self.unit = unit
        self.stream = stream if stream is not None else sys.stdout
        self.interval = interval
        self.enabled = enabled
        self._last = -float("inf")
        self._start: tuple[int, float] | None = None  # (step, elapsed) at the first update
        isatty = getattr(self.stream, "isatty", None)
        self._bar: tqdm | None = None
        if enabled and isatty is not None and isatty():
            self._bar = tqdm(
                total=1000,
                file=self.stream,
                bar_format="{percentage:3.0f}%|{bar:24}| {desc}",
                dynamic_ncols=True,
                leave=True,
            )

    def fraction(self, step: int, elapsed: float) -> float | None:
        """The fraction of the run done, or None when there is no limit."""
        parts = []
        if self.max_steps:
            parts.append(step / self.max_steps)
        if self.time_budget:
            parts.append(elapsed / self.time_budget)
        return min(1.0, max(parts)) if parts else None

    def time_left(self, step: int, elapsed: float) -> float | None:
        """Seconds until the nearer limit, at the pace since the first update (or since step 0)."""
        left = []
        if self.time_budget:
            left.append(self.time_budget - elapsed)
        if self.max_steps and step > 0:
            s0, e0 = self._start if self._start is not None and step > self._start[0] else (0, 0.0)
            pace = (elapsed - e0) / (step - s0)  # seconds per step
            left.append((self.max_steps - step) * pace)
        return max(0.0, min(left)) if left else None

    def text(self, step: int, elapsed: float, loss: float, rate: float) -> str:
        steps = f"step {step:,}" + (f"/{self.max_steps:,}" if self.max_steps else "")
        left = self.time_left(step, elapsed)
        when = format_duration(elapsed) + " elapsed"
        if left is not None:
            when += f", {format_duration(left)} left"
        return f"{steps} | loss {loss:.3f} | {format_rate(rate)} {self.unit}s/s | {when}"

    def update(
        self, step: int, elapsed: float, loss: float, rate: float, force: bool = False
    ) -> None:
        """Report the state after ``step``; drawn at most every 0.2 s (a bar) or ``interval`` s."""
        if not self.enabled:
            return
        if self._start is None:
            self._start = (step, elapsed)
        now = time.monotonic()
        gap = 0.2 if self._bar is not None else self.interval
        if not force and now - self._last < gap:
            return
        self._last = now
        text = self.text(step, elapsed, loss, rate)
        if self._bar is None:
            print(text, file=self.stream, flush=True)
            return
        frac = self.fraction(step, elapsed)
        self._bar.n = round(1000 * frac) if frac is not None else 0
        self._bar.set_description_str(text, refresh=False)
        self._bar.refresh()

    def note(self, message: str) -> None:
        """Print a line (above the bar, on a terminal)."""
        if self._bar is not None:
            self._bar.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
