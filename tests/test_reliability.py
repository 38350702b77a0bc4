"""Run directories under crashes, races, full disks, read-only mounts and closed pipes (issue 14).

Each test here failed before its fix. The ones that need a real full disk or a real read-only
directory mount a small tmpfs (or a read-only bind mount) in a private mount namespace with
``unshare``, and skip cleanly where that is not allowed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors import SafetensorError
from torch import nn

from rnnkit import runs
from rnnkit.cli import main
from rnnkit.data.tables import read_npz
from rnnkit.errors import UserError
from rnnkit.runs import LOCK, atomic_write, check_writable, hold_run, lock_run, save_json
from rnnkit.train import checkpoint as ck
from rnnkit.train import rundir
from rnnkit.train.checkpoint import (
    TrainState,
    find_weights,
    load_checkpoint,
    load_run,
    save_checkpoint,
    start_run,
    write_config,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file locks and signals")


def model_and_adam() -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    return model, torch.optim.Adam(model.parameters(), lr=1e-2)


def save(run: Path, step: int, model: nn.Module | None = None, best: bool = True) -> Path:
    if model is None:
        model, opt = model_and_adam()
    else:
        opt = torch.optim.Adam(model.parameters())
    return save_checkpoint(
        run,
        model=model,
        optimizer=opt,
        state=TrainState(step=step),
        task_state={},
        best_weights=model.state_dict() if best else None,
    )


def a_run(path: Path) -> Path:
    start_run(path, "toy", resume=False)
    write_config(path, {"task": "toy"})
    runs.release_held_runs()
    return path


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def env() -> dict[str, str]:
    """The environment for child processes: this checkout's ``src`` first on the path."""
    src = str(Path(ck.__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


# ----- 1. what a killed save leaves is cleared ---------------------------------------------------


def test_stale_partial_checkpoint_and_temp_files_are_cleared_on_resume(tmp_path: Path) -> None:
    run = a_run(tmp_path / "run")
    save(run, 2)
    partial = run / ".checkpoint-000004.partial"
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"half")
    (run / ".config.json.k3j9x_2a.tmp").write_text("{")
    assert start_run(run, "toy", resume=True) is True
    assert not partial.exists() and not list(run.glob(".*.tmp"))
    save(run, 4)  # before the fix: "File exists", and the work since the resume was lost
    assert json.loads((run / "checkpoint.json").read_text())["dir"] == "checkpoint-000004"
    runs.release_held_runs()


def test_a_save_replaces_a_stale_partial_of_its_own_step(tmp_path: Path) -> None:
    save(tmp_path, 2)
    (tmp_path / ".checkpoint-000004.partial").mkdir()
    save(tmp_path, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-000004", "checkpoint.json"]


# ----- 2. one writer per run directory -----------------------------------------------------------

HOLD = textwrap.dedent(
    """
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, f"{os.getpid()}\\n".encode())
    print("locked", flush=True)
    sys.stdin.read()
    """
)


@contextlib.contextmanager
def held_elsewhere(lock: Path) -> Iterator[int]:
    """Another process holds ``lock`` (as ``hold_run`` does) for the block; yields its PID."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        yield holder.pid
    finally:
        holder.communicate("")


def test_a_run_locked_by_another_process_is_refused_naming_its_pid(tmp_path: Path) -> None:
    run = a_run(tmp_path / "run")
    with (
        held_elsewhere(run / LOCK) as pid,
        pytest.raises(
            UserError, match=rf"run: in use by another rnnkit process \(PID {pid}\); wait"
        ),
    ):
        start_run(run, "toy", resume=True)
    assert start_run(run, "toy", resume=True) is False  # free again once the holder ended
    assert (run / LOCK).read_text() == f"{os.getpid()}\n"
    runs.release_held_runs()
    assert not (run / LOCK).exists()


def test_two_new_runs_into_one_directory_the_second_is_refused(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    with (
        held_elsewhere(fresh / LOCK) as pid,
        pytest.raises(UserError, match=rf"fresh: in use by another rnnkit process \(PID {pid}"),
    ):
        start_run(fresh, "toy", resume=False)


def tiny_npz(path: Path) -> Path:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 4, 2)).astype(np.float32)
    np.savez(path, X=X, y=(X[:, :, 0].sum(1) > 0).astype(np.int64))
    return path


def train_classify(data: Path, run: Path, *flags: str) -> list[str]:
    argv = ["train", "classify", str(data), "--out", str(run), "--hidden-size", "4"]
    return [*argv, "--embedding", "4", "--batch-size", "4", "--eval-every", "2", *flags]


def test_two_resumes_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tiny_npz(tmp_path / "d.npz")
    assert main(train_classify(data, tmp_path / "run", "--max-steps", "2")) == 0
    with held_elsewhere(tmp_path / "run" / LOCK) as pid:
        assert main(train_classify(data, tmp_path / "run", "--max-steps", "4", "--resume")) == 2
    err = capsys.readouterr().err
    assert f"in use by another rnnkit process (PID {pid})" in err and "Traceback" not in err


def test_a_stale_lock_of_a_dead_process_is_broken(tmp_path: Path) -> None:
    run = a_run(tmp_path / "run")
    (run / LOCK).write_text(f"{dead_pid()}\n")
    with lock_run(run):
        assert (run / LOCK).read_text() == f"{os.getpid()}\n"


def test_without_flock_the_pid_decides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_flock(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(runs.fcntl, "flock", no_flock)
    (tmp_path / LOCK).write_text(f"{os.getppid()}\n")  # a live process
    with pytest.raises(
        UserError, match=rf"in use by another rnnkit process \(PID {os.getppid()}\)"
    ):
        hold_run(tmp_path)
    (tmp_path / LOCK).write_text(f"{dead_pid()}\n")
    with lock_run(tmp_path):
        assert (tmp_path / LOCK).read_text() == f"{os.getpid()}\n"


def test_the_lock_is_reentrant_and_the_cli_releases_it(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert start_run(run, "toy", resume=False) is False
    assert start_run(run, "toy", resume=False) is False  # the same process, again: no deadlock
    with lock_run(run):
        pass
    assert (run / LOCK).exists()
    runs.release_held_runs()
    assert not (run / LOCK).exists() and list(run.iterdir()) == []


# ----- 3. a full disk ----------------------------------------------------------------------------


def test_a_safetensors_error_mid_save_is_one_line_and_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save(tmp_path, 5)

    def full(tensors: Any, filename: str, metadata: Any = None) -> None:
        Path(filename).write_bytes(b"half a file")
        raise SafetensorError(
            "Error while serializing: I/O error: No space left on device (os error 28)"
        )

    monkeypatch.setattr(rundir, "save_file", full)
    with pytest.raises(UserError) as info:
        save(tmp_path, 10)
    assert str(info.value) == (
        f"could not save the checkpoint of step 10 in {tmp_path}: No space left on device; "
        "the previous checkpoint (checkpoint-000005) is intact"
    )
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-000005", "checkpoint.json"]
    assert load_checkpoint(tmp_path, *model_and_adam()).state.step == 5


def test_a_full_disk_during_training_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tiny_npz(tmp_path / "d.npz")

    def full(tensors: Any, filename: str, metadata: Any = None) -> None:
        raise SafetensorError("Error while serializing: I/O error: No space left on device")

    monkeypatch.setattr(rundir, "save_file", full)
    argv = train_classify(data, tmp_path / "run", "--max-steps", "2", "--checkpoint-every", "1")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("rnnkit: error: could not save the checkpoint of step 1")
    assert "No space left on device" in err[-1] and "Traceback" not in "".join(err)
    assert not list((tmp_path / "run").glob(".checkpoint-*.partial"))


def _in_namespace(script: str, tmp_path: Path) -> dict[str, Any]:
    """Run ``script`` as root in a private mount namespace; skip where that is not allowed."""
    if shutil.which("unshare") is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("needs unshare and root to mount a tmpfs / read-only bind mount")
    probe = subprocess.run(
        ["unshare", "--mount", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {tmp_path}"],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {probe.stderr.decode().strip()}")
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(script))
    out = subprocess.run(
        ["unshare", "--mount", sys.executable, str(path), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env(),
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_a_real_full_disk_and_a_real_read_only_run(tmp_path: Path) -> None:
    got = _in_namespace(
        """
        import json, os, subprocess, sys, torch
        from pathlib import Path
        from torch import nn
        from rnnkit.errors import UserError
        from rnnkit.runs import save_json
        from rnnkit.train.checkpoint import TrainState, save_checkpoint, start_run, write_config

        base = Path(sys.argv[1])
        disk, ro = base / "disk", base / "ro"
        disk.mkdir(); ro.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(disk)], check=True)
        model = nn.Linear(40, 40)  # 6.6 kB of weights
        opt = torch.optim.Adam(model.parameters())
        def ckpt(step):
            return save_checkpoint(disk, model=model, optimizer=opt, state=TrainState(step=step),
                                   task_state={}, best_weights=model.state_dict())
        out = {}
        ckpt(1)
        st = os.statvfs(disk)
        (disk / "filler").write_bytes(b"x" * (st.f_bavail * st.f_frsize - 20 * 1024))
        try:
            for step in range(2, 10):
                ckpt(step)
            out["full"] = "no error"
        except UserError as e:
            out["full"] = str(e)
        out["after_full"] = sorted(p.name for p in disk.iterdir())
        out["pointer"] = json.loads((disk / "checkpoint.json").read_text())["dir"]

        write_config(ro, {"task": "toy"})
        subprocess.run(["mount", "--bind", str(ro), str(ro)], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True)
        for name, call in [
            ("save_json", lambda: save_json(ro / "x.json", {})),
            ("resume", lambda: start_run(ro, "toy", resume=True)),
        ]:
            try:
                call()
                out[name] = "no error"
            except UserError as e:
                out[name] = str(e)
        print(json.dumps(out))
        """,
        tmp_path,
    )
    assert "No space left on device" in got["full"] and "is intact" in got["full"]
    assert got["pointer"] in got["after_full"]
    assert [n for n in got["after_full"] if n.startswith(".")] == []  # no partial, no temp file
    assert got["save_json"] == (
        f"could not write {tmp_path}/ro/x.json: Read-only file system; the previous version is intact"
    )
    assert got["resume"].startswith(f"{tmp_path}/ro: cannot lock the run directory")
    assert "Read-only file system" in got["resume"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_appending_a_metrics_line_to_a_full_disk_is_one_line() -> None:
    with pytest.raises(
        UserError, match=r"^could not append to /dev/full: No space left on device$"
    ):
        runs.append_jsonl("/dev/full", {"step": 1})


# ----- 4. read-only directories and output paths -------------------------------------------------


def test_atomic_write_in_an_unwritable_directory_is_a_user_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(*args: Any, **kwargs: Any) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(UserError, match=r"could not write .*x\.json: Permission denied"):
        save_json(tmp_path / "x.json", {})
    with pytest.raises(UserError, match=r"could not write .*nodir/y: No such file"):
        monkeypatch.undo()
        atomic_write(tmp_path / "nodir" / "y", lambda tmp: None)


def test_check_writable_names_the_option_and_the_path(tmp_path: Path) -> None:
    assert check_writable(tmp_path / "x.csv") == tmp_path / "x.csv"
    with pytest.raises(UserError, match=r"^--output .*nodir/x\.csv: the directory .*nodir does"):
        check_writable(tmp_path / "nodir" / "x.csv")
    with pytest.raises(UserError, match=r"^--output .*: is a directory"):
        check_writable(tmp_path)
    (tmp_path / "f").write_text("")
    with pytest.raises(UserError, match=r"^--out .*f/x: .*f is not a directory"):
        check_writable(tmp_path / "f" / "x", "--out")


def test_predict_into_a_missing_directory_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tiny_npz(tmp_path / "d.npz")
    assert main(train_classify(data, tmp_path / "run", "--max-steps", "1")) == 0
    capsys.readouterr()
    out = tmp_path / "nodir" / "x.csv"
    assert main(["predict", str(tmp_path / "run"), str(data), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"rnnkit: error: --output {out}: the directory {out.parent} does not exist\n"


# ----- 5. a reader that stops reading ------------------------------------------------------------


@pytest.fixture(scope="module")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("text")
    (base / "c.txt").write_text("the quick brown fox jumps over the lazy dog. " * 30)
    run = base / "run"
    argv = ["train", "text", str(base / "c.txt"), "--out", str(run), "--hidden-size", "8"]
    argv += ["--num-layers", "1", "--embedding", "4", "--seq-len", "8", "--batch-size", "2"]
    argv += ["--quiet"]
    argv += ["--max-steps", "2", "--eval-every", "2"]
    assert main(argv) == 0
    return run


def test_output_into_a_closed_pipe_ends_quietly(text_run: Path) -> None:
    """``rnnkit sample RUN | head -c 0``: the reader is gone before the first write."""
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "wb") as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "rnnkit", "sample", str(text_run), "--length", "3000"],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
            timeout=120,
        )
    assert done.stderr == ""  # before the fix: a BrokenPipeError traceback, exit 1
    assert done.returncode == 141


def test_output_into_a_pipe_closed_midway_ends_quietly(text_run: Path) -> None:
    """``rnnkit sample RUN | head -c 100`` with more output than the pipe holds."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnkit", "sample", str(text_run), "--length", "200000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(),
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert len(proc.stdout.read(100)) == 100
    proc.stdout.close()
    proc.stdout = None  # communicate() reads stderr only
    err = proc.communicate(timeout=120)[1].decode()
    assert proc.returncode in (0, 141)  # 0 when it all fitted in the pipe's buffer
    assert "Traceback" not in err and "Exception ignored" not in err, err


# ----- 6. weights after a SIGKILL ----------------------------------------------------------------


def test_a_run_killed_before_writing_its_weights_loads_the_latest_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = a_run(tmp_path / "run")
    model, _ = model_and_adam()
    save(run, 3, model, best=False)
    assert find_weights(run) == run / "checkpoint-000003" / "model.safetensors"
    save(run, 6, model)
    loaded = load_run(run, "toy")  # before the fix: "training has not saved any weights"
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.weights[k], v)
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == (
        f"rnnkit: note: {run} has no model.safetensors (training was stopped before writing it); "
        "using the best weights so far of checkpoint-000006"
    )
    (run / "checkpoint.json").unlink()  # a pointer lost too: the newest complete directory
    assert find_weights(run) == run / "checkpoint-000006" / "best.safetensors"
    ck.save_weights(run / "model.safetensors", model)
    assert find_weights(run) == run / "model.safetensors"
    assert capsys.readouterr().err.count("note") == 1


def test_sample_falls_back_to_the_checkpoint(
    text_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "killed"
    shutil.copytree(text_run, run)
    (run / "model.safetensors").unlink()
    capsys.readouterr()
    assert main(["sample", str(run), "--length", "5"]) == 0
    out = capsys.readouterr()
    assert "using the best weights so far of checkpoint-000002" in out.err
    assert len(out.out) >= 5


def test_a_config_edited_to_a_huge_size_is_refused_before_allocating(tmp_path: Path) -> None:
    ck.save_weights(tmp_path / "w.safetensors", nn.LSTM(3, 8))
    ck.check_weights_fit(tmp_path / "w.safetensors", lambda: nn.LSTM(3, 8))
    with pytest.raises(UserError, match=r"w\.safetensors: weight_ih_l0 has shape \(32, 3\), .*"
                       r"needs \(4000000, 3\)"):  # fmt: skip
        ck.check_weights_fit(tmp_path / "w.safetensors", lambda: nn.LSTM(3, 10**6))  # 16 TB
    with pytest.raises(
        UserError, match=r"w\.safetensors: the model in config.json cannot be built"
    ):
        ck.check_weights_fit(tmp_path / "w.safetensors", lambda: nn.LSTM(3, 10**9))
    with pytest.raises(UserError, match=r"w\.safetensors: does not fit .* lacks 'bias_hh_l1'"):
        ck.check_weights_fit(tmp_path / "w.safetensors", lambda: nn.LSTM(3, 8, num_layers=2))


# ----- 7. npz files that are not what they say ---------------------------------------------------


def test_an_npy_named_npz_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros((2, 3, 1)))
    with pytest.raises(UserError, match=r"d\.npz: a single \.npy array, not an \.npz archive"):
        read_npz(path)


@pytest.mark.parametrize("keep", [10, 100, 300, -30])
def test_a_truncated_npz_is_refused_by_name(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros((4, 3, 2)), y=np.arange(4))
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(UserError, match=r"d\.npz: not a readable \.npz file"):
        read_npz(path)


def test_a_damaged_compressed_npz_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez_compressed(path, X=np.arange(600.0).reshape(20, 10, 3), y=np.arange(20))
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("X.npy")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for k in range(start + 10, start + 40):
        data[k] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match=r"d\.npz: not a readable \.npz file"):
        read_npz(path)


@pytest.mark.parametrize(("bad", "shown"), [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_non_finite_targets_name_the_index(tmp_path: Path, bad: float, shown: str) -> None:
    path = tmp_path / "d.npz"
    y = np.array([0.0, 1.0, 1.0, bad, 0.0])
    np.savez(path, X=np.zeros((5, 3)), y=y)
    with pytest.raises(UserError, match=rf"d\.npz: y\[3\] is {shown}; targets must be finite"):
        read_npz(path)


def test_complex_or_out_of_range_inputs_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros((2, 3), dtype=np.complex64), y=np.arange(2))
    with pytest.raises(UserError, match=r"d\.npz: X must be numeric"):
        read_npz(path)
    X = np.zeros((2, 3))
    X[1, 2] = 1e300  # finite in float64, inf as float32
    np.savez(path, X=X, y=np.arange(2))
    with pytest.raises(UserError, match=r"X\[1, 2, 0\] is 1e\+300 \(sequence 1, step 2\)"):
        read_npz(path)


def test_atomic_writes_leave_files_with_the_usual_permissions(tmp_path: Path) -> None:
    import os
    import stat

    from rnnkit.runs import save_json

    umask = os.umask(0o022)
    os.umask(umask)
    save_json(tmp_path / "a.json", {"x": 1})
    mode = stat.S_IMODE((tmp_path / "a.json").stat().st_mode)
    assert mode == 0o666 & ~umask  # as open() would make it, not mkstemp's 0600
