"""Data-parallel training: two gloo processes on the CPU train as one process does on the same global
batch (text: the streams split; tagging: the rows split, unequal token counts weighted), resume
with another number of processes, and a process that dies ends the job with a message.

Tolerance: losses agree to 1e-5 (absolute, on losses near 2-4 nats): the only difference is the
order in which float32 sums are taken (observed: about 1e-7).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from tests.helpers import word_corpus

from rnnkit.cli import main
from rnnkit.cli.train import train_process
from rnnkit.errors import UserError
from rnnkit.runs import release_held_runs
from rnnkit.train.distributed import Dist, _free_port, init_distributed, launch, shard

pytestmark = pytest.mark.usefixtures("one_thread")

TOL = 1e-5
TEXT = {"data": {"seq_len": 8}, "layer": {"hidden_size": 8, "num_layers": 1, "dropout": 0.0},
        "model": {"embedding": 8},
        "train": {"max_steps": 4, "batch_size": 4, "eval_every": 2, "log_every": 1}}  # fmt: skip
TAG = {"layer": {"hidden_size": 8},
       "train": {"max_steps": 4, "batch_size": 8, "eval_every": 2, "log_every": 1}}  # fmt: skip
STOP_AT_2 = {"train": {"max_steps": 2}}
TO_4 = {"train": {"max_steps": 4}}


def _conll(path: Path, n: int = 30) -> Path:
    g = torch.Generator().manual_seed(1)
    words = {"the": "O", "a": "O", "dog": "B-ANIMAL", "cat": "B-ANIMAL", "runs": "O"}
    names, lines = list(words), []
    for _ in range(n):
        for _ in range(int(torch.randint(1, 6, (1,), generator=g))):
            w = names[int(torch.randint(len(names), (1,), generator=g))]
            lines.append(f"{w}\t{words[w]}")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _train(task: str, flags: dict[str, Any], data: Path, out: Path, resume: bool = False) -> None:
    code = train_process(task, flags, [str(data)], str(out), resume, True, "cpu", "fp32", 60.0)
    assert code == 0
    release_held_runs()  # as the CLI does when a command ends


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {s: {**a.get(s, {}), **b.get(s, {})} for s in a.keys() | b.keys()}


def _job(tmp: str) -> None:
    """What each of the two processes runs: the same four trainings, in the same order."""
    t = Path(tmp)
    group = init_distributed(torch.device("cpu"), 60.0)  # one group for the four
    _train("text", TEXT, t / "c.txt", t / "text2")
    _train("tag", TAG, t / "g.conll", t / "tag2")
    _train("text", TO_4, t / "c.txt", t / "one_then_two", resume=True)
    _train("text", _merge(TEXT, STOP_AT_2), t / "c.txt", t / "two_then_one")
    group.close()


def _losses(run: Path) -> list[tuple[int, str, float]]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], k, r[k]) for r in rows for k in ("train_loss", "val_loss") if k in r]


def _same(a: Path, b: Path) -> float:
    la, lb = _losses(a), _losses(b)
    assert [x[:2] for x in la] == [x[:2] for x in lb] and len(la) >= 6
    worst = max(abs(x[2] - y[2]) for x, y in zip(la, lb, strict=True))
    assert worst < TOL, (la, lb)
    return worst


def test_two_processes_train_as_one(tmp_path: Path) -> None:
    word_corpus(tmp_path / "c.txt")
    _conll(tmp_path / "g.conll")
    # one process: the references, and the first half of a run the two processes finish
    _train("text", TEXT, tmp_path / "c.txt", tmp_path / "text1")
    _train("tag", TAG, tmp_path / "g.conll", tmp_path / "tag1")
    _train("text", _merge(TEXT, STOP_AT_2), tmp_path / "c.txt", tmp_path / "one_then_two")
    launch(2, "cpu", _job, (str(tmp_path),))
    # the second half, on one process, of a run the two processes started
    _train("text", TO_4, tmp_path / "c.txt", tmp_path / "two_then_one", resume=True)

    _same(tmp_path / "text1", tmp_path / "text2")
    _same(tmp_path / "tag1", tmp_path / "tag2")
    _same(tmp_path / "text1", tmp_path / "one_then_two")
    _same(tmp_path / "text1", tmp_path / "two_then_one")
    info = json.loads((tmp_path / "one_then_two" / "config.json").read_text())["info"]
    assert [s["processes"] for s in info["trained_on"]] == [1, 2]
    # rank 1 wrote nothing of its own: one metrics file, rows once each
    steps = [r[0] for r in _losses(tmp_path / "text2") if r[1] == "train_loss"]
    assert steps == [1, 2, 3, 4]


def _die(rank_to_die: int) -> None:
    if int(os.environ["RANK"]) == rank_to_die:
        os._exit(3)
    time.sleep(120)  # the launcher must stop this one


def test_a_process_that_dies_ends_the_job() -> None:
    with pytest.raises(UserError, match=r"process 1 died \(exit code 3\); the job was stopped"):
        launch(2, "cpu", _die, (1,))


def test_nproc_error_in_a_process_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--nproc through the CLI: rank 0 refuses a directory that is not a run; rank 1 stops
    with it, and the launcher prints rank 0's message once."""
    corpus = word_corpus(tmp_path / "c.txt")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    argv = ["train", "text", str(corpus), "--out", str(tmp_path / "busy"), "--nproc", "2",
            "--max-steps", "1", "--quiet", "--device", "cpu"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"rnnkit: error: rank 0: {tmp_path / 'busy'}") and "\n" not in err
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


def test_rendezvous_that_never_completes(monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()
    env = {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(port)}  # fmt: skip
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    n = torch.get_num_threads()
    try:
        with pytest.raises(UserError, match=rf"did not all meet at 127.0.0.1:{port} within "
                           r"--dist-timeout 1 s"):  # fmt: skip
            init_distributed(torch.device("cpu"), 1.0)
    finally:
        torch.set_num_threads(n)


def test_shard_splits_rows_and_leaves_the_rest() -> None:
    x = torch.arange(10).view(5, 2)
    parts = [shard({"x": x, "n": 3, "s": torch.tensor(1.0)}, 0, r, 2) for r in range(2)]
    assert [p["x"].tolist() for p in parts] == [[[0, 1], [2, 3], [4, 5]], [[6, 7], [8, 9]]]
    assert parts[1]["n"] == 3 and parts[1]["s"].item() == 1.0
    assert shard(x, 0, 0, 1) is x


def test_one_process_is_no_group() -> None:
    d = Dist()
    assert d.main and not d.active
    assert d.reduce_gradients([], 2.5, 4) == (2.5, 4)
    assert d.agree(1.0, 2.0, True) == (1.0, 2.0, True)
    assert d.gather_rows({"a": torch.ones(1)}, 0)["a"].item() == 1.0
