"""Checkpoints: exact round trips, atomicity under a full disk, corrupted and foreign files."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from rnnkit.errors import UserError
from rnnkit.train import checkpoint as ck
from rnnkit.train import rundir
from rnnkit.train.checkpoint import (
    TrainState,
    load_checkpoint,
    load_run,
    read_config,
    save_checkpoint,
    save_weights,
    start_run,
    write_config,
)


def model_and_adam(seed: int = 0) -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(5, 3)).pow(2).sum().backward()
        opt.step()
    return model, opt


def save(run: Path, model: nn.Module, opt: torch.optim.Optimizer, step: int, **task: Any) -> Path:
    return save_checkpoint(
        run,
        model=model,
        optimizer=opt,
        state=TrainState(step=step, best_val=1.5),
        task_state=task,
        best_weights=model.state_dict(),
    )


def test_round_trip_restores_weights_optimizer_counters_task_state_and_rng(tmp_path: Path) -> None:
    model, opt = model_and_adam()
    torch.manual_seed(123)
    save(tmp_path, model, opt, 7, position=3, carry=torch.arange(4.0))
    expected_draw = torch.rand(3)
    fresh, fresh_opt = model_and_adam(seed=1)
    torch.manual_seed(999)
    got = load_checkpoint(tmp_path, fresh, fresh_opt)
    assert got.state.step == 7 and got.state.best_val == 1.5
    assert got.task_state["position"] == 3 and torch.equal(
        got.task_state["carry"], torch.arange(4.0)
    )
    assert torch.equal(torch.rand(3), expected_draw)  # the RNG continues where it was saved
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    sa, sb = opt.state_dict(), fresh_opt.state_dict()
    for i in sa["state"]:
        for k, v in sa["state"][i].items():
            assert torch.equal(v, sb["state"][i][k])
    assert sa["param_groups"] == sb["param_groups"]


def test_checkpoint_files_never_pickle(tmp_path: Path) -> None:
    model, opt = model_and_adam()
    path = save(tmp_path, model, opt, 1)
    names = sorted(p.name for p in path.iterdir())
    assert names == [
        "best.safetensors",
        "model.safetensors",
        "optimizer.json",
        "optimizer.safetensors",
        "train_state.json",
        "train_state.safetensors",
    ]
    json.loads((path / "optimizer.json").read_text())


def test_new_checkpoint_replaces_the_old_one(tmp_path: Path) -> None:
    model, opt = model_and_adam()
    save(tmp_path, model, opt, 5)
    save(tmp_path, model, opt, 10)
    save(tmp_path, model, opt, 10)  # the same step again (e.g. a final save)
    dirs = [p.name for p in tmp_path.iterdir() if p.is_dir()]
    assert len(dirs) == 1 and dirs[0].startswith("checkpoint-000010")
    assert json.loads((tmp_path / "checkpoint.json").read_text())["dir"] == dirs[0]


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_full_disk_mid_save_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int
) -> None:
    model, opt = model_and_adam()
    save(tmp_path, model, opt, 5)
    good = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    real, calls = rundir.save_file, []

    def flaky(tensors: dict[str, torch.Tensor], filename: str, metadata: Any = None) -> None:
        calls.append(filename)
        if len(calls) == fail_at:
            Path(filename).write_bytes(b"half a file")
            raise OSError(errno.ENOSPC, "No space left on device")
        real(tensors, filename, metadata=metadata)

    monkeypatch.setattr(rundir, "save_file", flaky)
    with pytest.raises(
        UserError,
        match=r"step 10 .*No space left on device; the previous checkpoint \(checkpoint-000005\) is intact",
    ):
        save(tmp_path, model, opt, 10)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-000005", "checkpoint.json"]
    fresh, fresh_opt = model_and_adam(seed=3)
    assert load_checkpoint(tmp_path, fresh, fresh_opt).state.step == 5
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, good[k])


def test_corrupted_tensor_bytes_are_caught_by_the_checksum(tmp_path: Path) -> None:
    model, _ = model_and_adam()
    save_weights(tmp_path / "model.safetensors", model)
    data = bytearray((tmp_path / "model.safetensors").read_bytes())
    data[-3] ^= 0xFF  # inside the last tensor's bytes
    (tmp_path / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(UserError, match=r"model\.safetensors: corrupted"):
        ck.load_checked(tmp_path / "model.safetensors")


def test_truncated_file_is_a_user_error(tmp_path: Path) -> None:
    model, opt = model_and_adam()
    path = save(tmp_path, model, opt, 4)
    target = path / "optimizer.safetensors"
    target.write_bytes(target.read_bytes()[:50])
    with pytest.raises(UserError, match=r"optimizer\.safetensors: not a readable safetensors file"):
        load_checkpoint(tmp_path, *model_and_adam())


def test_weights_of_another_shape_name_the_tensor(tmp_path: Path) -> None:
    model, _ = model_and_adam()
    save_weights(tmp_path / "w.safetensors", model)
    other = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    with pytest.raises(UserError, match=r"w\.safetensors: 0\.weight has shape \(4, 3\)"):
        ck.load_weights(tmp_path / "w.safetensors", other)


def test_runs_of_another_task_and_non_runs_are_refused(tmp_path: Path) -> None:
    write_config(tmp_path, {"task": "classify"})
    with pytest.raises(UserError, match=r"is a 'classify' run, not a 'text' run"):
        load_run(tmp_path, task="text")
    with pytest.raises(UserError, match="no such run directory"):
        read_config(tmp_path / "missing_dir")
    (tmp_path / "x").mkdir()
    with pytest.raises(UserError, match=r"not a run directory \(no config\.json\)"):
        read_config(tmp_path / "x")


def test_start_run_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty; choose another --out"):
        start_run(tmp_path, "text", resume=False)
    assert start_run(tmp_path / "new", "text", resume=False) is False
    assert (tmp_path / "new").is_dir()
    with pytest.raises(UserError, match="no run to resume"):
        start_run(tmp_path / "absent", "text", resume=True)
