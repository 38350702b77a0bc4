"""The ``rnnkit inspect`` page in a real browser: headless Chromium loads it with no JavaScript
error, picking a unit (through the URL hash, which drives the pickers' own change events)
changes the colours, and a screenshot is not blank. Skipped when no Chromium is installed
(``apt-get install chromium``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.data.vocab import Vocabulary
from rnnkit.inspection import saturation, text_features, trace_text, unit_correlations
from rnnkit.models import LanguageModel
from rnnkit.viz.inspect_page import render_text_page

BROWSER = next(
    (b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None
)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium (apt-get install chromium)")

TEXT = 'def f(x):\n    return "a (b)" + g(x[1])\n' * 12


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    vocab = Vocabulary.from_tokens(list(TEXT), "char")
    lm = LanguageModel(len(vocab), rnnkit.LSTM(6, 12, num_layers=2), embed=6)
    trace = trace_text(lm, vocab, TEXT + "é")
    ranked = unit_correlations(trace, text_features(trace.pieces))
    html = render_text_page(trace, ranked, saturation(trace), units=4, notes=["a note"])
    path = tmp_path_factory.mktemp("page") / "inspect.html"
    path.write_text(html, encoding="utf-8")
    return path


def _chromium(page: Path, tmp: Path, *args: str, hash: str = "") -> subprocess.CompletedProcess:
    assert BROWSER is not None
    return subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr", "--v=0", *args,
         page.as_uri() + hash],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _colours(dom: str) -> list[str]:
    return re.findall(r'<span class="s[^"]*" data-t="\d+" style="([^"]*)"', dom)


def _root(dom: str) -> str:
    match = re.search(r"<html[^>]*>", dom)
    assert match is not None
    return match.group(0)


def test_page_loads_without_javascript_errors(page: Path, tmp_path: Path) -> None:
    done = _chromium(page, tmp_path, "--dump-dom", hash="#layer=1&kind=o&unit=999")
    assert done.returncode == 0, done.stderr[-2000:]
    root = _root(done.stdout)
    assert 'data-ready="1"' in root and "data-errors" not in root
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "Uncaught" in line or "Error" in line], console
    assert len(_colours(done.stdout)) == len(TEXT) + 1
    assert 'class="s unk"' in done.stdout
    # a unit the page does not hold: the kind's first unit is shown, and the page says so
    assert re.search(r'data-selected="1\.o\.\d+"', root)
    assert "unit 999 is not on this page" in done.stdout


def test_picking_a_unit_changes_the_colours(page: Path, tmp_path: Path) -> None:
    data = json.loads(re.search(r'id="data">(.*?)</script>', page.read_text(), re.S).group(1))  # type: ignore[union-attr]
    c0, f1 = (sorted(data["units"][key], key=int)[-1] for key in ("0.c", "1.f"))
    doms = {}
    for pick in (f"layer=0&kind=c&unit={c0}", f"layer=1&kind=f&unit={f1}"):
        done = _chromium(page, tmp_path, "--dump-dom", hash="#" + pick)
        assert done.returncode == 0, done.stderr[-2000:]
        doms[pick] = done.stdout
    assert f'data-selected="0.c.{c0}"' in _root(doms[f"layer=0&kind=c&unit={c0}"])
    assert f'data-selected="1.f.{f1}"' in _root(doms[f"layer=1&kind=f&unit={f1}"])
    colours = [_colours(d) for d in doms.values()]
    assert all(len(c) == len(TEXT) + 1 for c in colours)
    assert colours[0] != colours[1]
    first = data["ranked"][0]  # with no hash: the unit that tracks a feature best
    done = _chromium(page, tmp_path, "--dump-dom")
    assert f'data-selected="{first["layer"]}.{first["kind"]}.{first["unit"]}"' in _root(done.stdout)
    assert len(set(colours[0])) > 10  # a unit's value varies over the text: many shades


def test_screenshot_is_not_blank(page: Path, tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / "shot.png"
    done = _chromium(page, tmp_path, f"--screenshot={shot}", "--window-size=1000,700")
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float64)
    assert pixels.shape[:2] == (700, 1000)
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
