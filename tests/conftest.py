"""Fixtures shared by the test files. A file opts in with ``pytestmark = pytest.mark.usefixtures(...)``
or by naming the fixture as an argument."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Run on one torch thread, restored afterwards. Tiny models run fastest on one thread, and on a
    shared 2-core machine two OpenMP threads spin against the neighbours and run up to 10x slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
