"""The advisory lock that makes one process at a time write an output.

:func:`output_lock` holds an ``fcntl`` lock on ``.NAME.lock`` beside the output (the file
holds the owner's pid, and is removed on release); a second process is refused with
:class:`~hurricane_ode.errors.OutputLockedError` naming that pid. The lock is re-entrant
within a process (the CLI holds it for a whole run, the writers take it again). Taking it
cleans the temporaries a killed run left (:func:`hurricane_ode.outputs.clean_stale`).
:func:`locked_output` wraps a function that writes the output named by one of its arguments.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hurricane_ode.errors import OutputLockedError
from hurricane_ode.outputs import check_parent, check_replaceable, clean_stale, restate_os_error

try:  # POSIX; elsewhere outputs are still atomic but not locked
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["output_lock", "locked_output"]

_HELD: dict[str, list] = {}  # lock file -> [file descriptor, depth] held by this process
_HELD_GUARD = threading.Lock()


@contextmanager
def output_lock(path: str | os.PathLike, make_parents: bool = False) -> Iterator[Path]:
    """Hold the advisory lock of output ``path`` (re-entrant within this process).

    On first acquisition, stale temporaries of the output are removed (:func:`clean_stale`).

    Parameters
    ----------
    path
        The output path; the lock file is ``.NAME.lock`` beside it.
    make_parents
        Create a missing parent directory (else it is refused, naming ``path``).

    Yields
    ------
    Path
        ``path`` as a Path.

    Raises
    ------
    OutputLockedError
        Another process holds the lock ("... is being written by process PID").
    """
    path = Path(path).expanduser()
    check_parent(path, make_parents)
    lock = path.parent / f".{path.name}.lock"
    key = os.path.realpath(lock)  # one key per file, however the path is spelled
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is not None:
            held[1] += 1
    if held is None:
        fd = _acquire(lock, path)
        with _HELD_GUARD:
            _HELD[key] = [fd, 1]
        try:
            clean_stale(path)
        except BaseException:
            _release(key, lock)
            raise
    try:
        yield path
    finally:
        _release(key, lock)


def locked_output(param: str = "output", make_parents: bool = False) -> Callable:
    """Decorator: run the function under :func:`output_lock` of its argument ``param``.

    Something not written by hurricane_ode at that path is refused first
    (:func:`check_replaceable`), whatever the function's ``overwrite``.

    Parameters
    ----------
    param
        Name of the function's parameter that holds the output path.
    make_parents
        Create a missing parent directory of the output.

    Returns
    -------
    callable
        The decorator.
    """

    def deco(fn: Callable) -> Callable:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            output = signature.bind(*args, **kwargs).arguments[param]
            with output_lock(output, make_parents=make_parents) as path:
                check_replaceable(path)
                return fn(*args, **kwargs)

        return wrapper

    return deco


def _acquire(lock: Path, path: Path) -> int:
    for _ in range(10):
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise restate_os_error(path, exc) from exc
        if fcntl is None:  # pragma: no cover
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise OutputLockedError(
                f"output {path} is being written by process {pid} (lock {lock}); "
                "wait for it to finish or choose another output"
            ) from None
        try:  # the holder before us may have unlinked the file we opened: retry on the new one
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)
    raise OutputLockedError(f"output {path}: could not take the lock {lock} (contended)")


def _release(key: str, lock: Path) -> None:
    with _HELD_GUARD:
        held = _HELD[key]
        held[1] -= 1
        if held[1] > 0:
            return
        del _HELD[key]
    try:
        lock.unlink()  # while still locked, so nobody can hold a lock on the unlinked file
    except OSError:
        pass
    os.close(held[0])
