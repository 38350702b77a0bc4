"""Run directories, written so that nothing a user made is ever half-written.

A run is a directory: ``config.json`` (what was trained, and how), ``model.safetensors`` (weights),
task files such as ``vocab.json``, ``metrics.jsonl`` (one JSON object per evaluation) and pictures.
Every file is written to a temporary name in the same directory, flushed to disk and renamed over
the old one (``os.replace`` is atomic on POSIX), so a crash or a full disk leaves the previous
version intact. Loading never unpickles: tensors come from safetensors, everything else from JSON.

A process that trains in a run directory holds an advisory lock on it (:func:`hold_run`,
:func:`lock_run`): ``fcntl.flock`` on ``RUN/.lock``, which holds the holder's PID. The kernel drops
the lock when its holder exits, however it exits, so a lock file left by a killed process is
simply taken over. Only the lock's holder clears the leftovers of interrupted writes
(:func:`clear_leftovers`). See ``docs/RUNS.md`` for what a run directory guarantees.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import UserError

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows: no advisory locks; runs are not locked there)
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "LOCK",
    "RunLock",
    "append_jsonl",
    "atomic_write",
    "check_writable",
    "clear_leftovers",
    "hold_run",
    "load_json",
    "load_tensors",
    "lock_run",
    "read_jsonl",
    "release_held_runs",
    "save_json",
    "save_tensors",
]


_TMP_SUFFIX = ".tmp"
_RUST_IO = re.compile(r"I/O error: (.*?)(?: \(os error \d+\))?$")


def write_error_reason(e: BaseException) -> str:
    """The reason of a failed write in a few words: ``No space left on device``.

    >>> write_error_reason(OSError(28, "No space left on device"))
    'No space left on device'
    >>> write_error_reason(SafetensorError(
    ...     "Error while serializing: I/O error: No space left on device (os error 28)"))
    'No space left on device'
    """
    if isinstance(e, OSError):
        return e.strerror or str(e)
    match = _RUST_IO.search(str(e))
    return match.group(1) if match else str(e)


def _file_mode() -> int:
    """The mode ``open()`` gives a new file: 0666 less the process's umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` to produce the file at a temporary path, then rename it to ``path``.

    Raises:
        UserError: when writing fails (a full disk, a read-only or missing directory, or an
            error of the safetensors writer); ``path`` keeps its old content and the temporary
            file is removed.
    """
    path = Path(path)
    tmp: Path | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=_TMP_SUFFIX, dir=path.parent
        )
        os.close(fd)
        tmp = Path(tmp_name)
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; a user's files follow their umask
        os.replace(tmp, path)
    except (OSError, SafetensorError) as e:
        raise UserError(
            f"could not write {path}: {write_error_reason(e)}; the previous version is intact"
        ) from e
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def save_json(path: str | Path, obj: Any) -> None:
    text = json.dumps(obj, indent=2, sort_keys=True) + "\n"

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(path, write)


def load_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise UserError(f"{path}: file not found") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid JSON ({e})") from e
    except RecursionError as e:
        raise UserError(f"{path}: not valid JSON (nested too deeply)") from e
    except OSError as e:
        raise UserError(f"{path}: cannot read it: {e.strerror or e}") from e


def save_tensors(
    path: str | Path, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None
) -> None:
    """Save tensors as safetensors (contiguous CPU copies), atomically."""
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(flat, str(tmp), metadata=dict(metadata or {})))


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a safetensors file; a missing, truncated or corrupted file is a :class:`UserError`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(
            f"{path}: not a readable safetensors file (truncated or corrupted?): {e}"
        ) from e


def append_jsonl(path: str | Path, record: Mapping[str, Any]) -> None:
    """Append one JSON line (a single small write, flushed).

    Raises:
        UserError: the write failed (a full disk, a read-only directory); a torn line it may
            leave is skipped by :func:`read_jsonl`.
    """
    line = json.dumps(record, sort_keys=True) + "\n"
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
    except OSError as e:
        raise UserError(f"could not append to {path}: {write_error_reason(e)}") from e


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON Lines file, one a line; a missing file has none.

    A line that does not parse ends the reading: a torn last line from a crash keeps what came
    before it.

    Raises:
        UserError: the file is not UTF-8 text, or a line holds JSON that is not an object.
    """
    path = Path(path)
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    except OSError as e:
        raise UserError(f"{path}: cannot read it: {e.strerror or e}") from e
    rows = []
    for k, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                break  # a torn last line from a crash: keep what came before
            if not isinstance(row, dict):
                raise UserError(
                    f"{path} line {k}: expected a JSON object, got {type(row).__name__}"
                )
            rows.append(row)
    return rows


# ----- leftovers, output paths -------------------------------------------------------------------


def clear_leftovers(directory: str | Path) -> list[Path]:
    """Remove the temporary files of interrupted :func:`atomic_write` calls in ``directory``.

    Call it only while holding the directory's lock (another writer's temporary files are not
    leftovers). Returns what was removed.
    """
    removed = []
    for p in Path(directory).glob(f".*{_TMP_SUFFIX}"):
        if p.is_file() and not p.is_symlink():
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed


def check_writable(path: str | Path, option: str = "--output") -> Path:
    """Check, before any work, that a file can be created or replaced at ``path``.

    Raises:
        UserError: naming ``option`` and the path: its directory is missing, not a directory or
            not writable, or ``path`` is a directory.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> check_writable(d / "out.csv") == d / "out.csv"
    True
    >>> check_writable(d / "nodir" / "x.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rnnkit.errors.UserError: --output .../nodir/x.csv: the directory .../nodir does not exist
    """
    path = Path(path)
    parent = path.parent
    where = f"{option} {path}"
    if path.is_dir():
        raise UserError(f"{where}: is a directory; give a file name")
    if not parent.exists():
        raise UserError(f"{where}: the directory {parent} does not exist")
    if not parent.is_dir():
        raise UserError(f"{where}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UserError(f"{where}: permission denied (cannot write in {parent})")
    return path


# ----- the run lock ------------------------------------------------------------------------------

LOCK = ".lock"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


class RunLock:
    """An advisory lock on a run directory: ``fcntl.flock`` on ``RUN/.lock``, which holds the PID.

    Re-entrant within a process (see :func:`hold_run`); the file is removed on the last release.
    Where the file system has no ``flock`` the PID alone decides: a lock whose process is gone is
    stale and is broken.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.path = run_dir / LOCK
        self.depth = 0
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self.depth > 0

    def _holder(self) -> str:
        try:
            text = self.path.read_text(encoding="utf-8").split()
        except (OSError, UnicodeDecodeError):
            text = []
        return f"PID {text[0]}" if text and text[0].isdigit() else "PID unknown"

    def _busy(self) -> UserError:
        return UserError(
            f"{self.run_dir}: in use by another rnnkit process ({self._holder()}); wait for it to "
            "finish, or stop it"
        )

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise UserError(
                f"{self.run_dir}: cannot lock the run directory ({self.path}: {e.strerror or e})"
            ) from e

    def _flock(self, fd: int) -> bool:
        """Take the flock; False when the file system cannot lock (then the PID decides)."""
        if fcntl is None:  # pragma: no cover
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise self._busy() from None
            return False  # ENOLCK, EOPNOTSUPP ...: no flock here
        return True

    def acquire(self) -> None:
        if self.depth:
            self.depth += 1
            return
        for _ in range(10):  # the holder may remove the file between our open and flock
            fd = self._open()
            locked = self._flock(fd)
            if not locked:
                holder = self._holder().removeprefix("PID ")
                if holder.isdigit() and int(holder) != os.getpid() and _pid_alive(int(holder)):
                    os.close(fd)
                    raise self._busy()
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd, self.depth = fd, 1
            return
        raise self._busy()  # pragma: no cover (ten races in a row)

    def release(self) -> None:
        if not self.depth:
            return
        self.depth -= 1
        if self.depth or self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()  # while still locked, so no one else holds the unlinked file
        os.close(self._fd)
        self._fd = None
        _HELD.pop(self.run_dir, None)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


_HELD: dict[Path, RunLock] = {}


def hold_run(run_dir: str | Path) -> RunLock:
    """Lock ``run_dir`` (an existing directory) for this process until :func:`release_held_runs`.

    Calling it again for the same directory in the same process does not block (the lock is
    re-entrant); each call needs one ``release()``, or :func:`release_held_runs` drops them all.

    Raises:
        UserError: another process holds the lock (the message names its PID), or the lock file
            cannot be created (e.g. a read-only directory).
    """
    key = Path(os.path.realpath(run_dir))
    lock = _HELD.get(key)
    if lock is None:
        lock = RunLock(key)
    lock.acquire()
    _HELD[key] = lock
    return lock


@contextlib.contextmanager
def lock_run(run_dir: str | Path) -> Iterator[RunLock]:
    """``with lock_run(run_dir): ...``: hold the run's lock for the block (see :func:`hold_run`).

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> with lock_run(d) as lock:
    ...     (d / LOCK).read_text() == f"{os.getpid()}\\n"
    True
    >>> (d / LOCK).exists()
    False
    """
    lock = hold_run(run_dir)
    try:
        yield lock
    finally:
        lock.release()


def release_held_runs() -> None:
    """Release every run lock this process holds (the CLI calls it when a command ends)."""
    for lock in list(_HELD.values()):
        lock.depth = min(lock.depth, 1)
        lock.release()
