"""Atomic file writes, and the check that a path can be written, made before any work.

`atomic_write` writes a temporary file beside its target and renames it over the target, so a
crash at any instant leaves either the old file or the new one. The temporary file's name says
which process wrote it (`.NAME.HOST-PID.XXXXXXXX.tmp`): one left by a process killed mid-write
(SIGKILL, a lost machine) is removed by the next write of the same target on that host, once
that process no longer runs. Temporary files of other hosts (a shared file system) and of
attnclf before it named its own are left alone.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import AttnclfError, first_line


class UnwritableError(AttnclfError, OSError):
    """A path that cannot be written: one `error:` line for the command line, and still an
    OSError for a caller that shrugs off an unwritable place (a read-only cache)."""


def check_writable(path: str | Path, option: str, *, folder: bool) -> None:
    """Fail now, with one line naming `option`, when `path` cannot be written as a folder
    (`folder=True`) or as a file: it exists as the other kind, lies under a file, or the
    nearest folder that exists refuses a new file (permissions, a read-only or virtual file
    system such as /proc). Leaves nothing behind."""
    path = Path(path)
    existing = path if folder else path.parent
    try:
        if folder and path.exists() and not path.is_dir():
            raise AttnclfError(f"{option} {path} is a file, not a folder; name a folder")
        if not folder and path.is_dir():
            raise AttnclfError(f"{option} {path} is a folder; name a file (in it, or elsewhere)")
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise AttnclfError(
                f"{option} {path} lies under {existing}, which is a file, not a folder"
            )
        fd, probe = tempfile.mkstemp(prefix=".attnclf-probe-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise AttnclfError(
            f"{option} {path}: cannot write in {existing} "
            f"({error.strerror or first_line(error)}); choose a place you may write to"
        ) from None


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` on a temporary file beside `path`, flush it to disk, then rename it.
    A path that cannot be written is an UnwritableError (an AttnclfError and an OSError)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(path)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.name}.{_owner()}.", suffix=".tmp", dir=path.parent
        )
    except OSError as error:
        raise _unwritable(path, error) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        tmp.chmod(0o666 & ~_umask())  # mkstemp makes 0600; give it what open() would have
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        try:
            os.replace(tmp, path)
        except OSError as error:  # the target is a folder, say
            raise _unwritable(path, error) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(path, write)


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:32]


def _owner() -> str:
    """This process, as the names of its temporary files say it: HOST-PID (a forked child is
    asked again, so it names itself)."""
    return f"{_host()}-{os.getpid()}"


def _remove_stale_temporaries(path: Path) -> None:
    """Remove the temporary files beside `path` that a process of this host left when it was
    killed mid-write: named for `path`, by a process that no longer runs."""
    prefix, host = f".{path.name}.", _host()
    with os.scandir(path.parent) as entries:
        names = [e.name for e in entries if e.name.startswith(prefix) and e.name.endswith(".tmp")]
    for name in names:
        owner = name[len(prefix) : -len(".tmp")].rpartition(".")[0]  # HOST-PID of HOST-PID.XXX
        owner_host, _, pid = owner.rpartition("-")
        if owner_host == host and pid.isdigit() and not _running(int(pid)):
            (path.parent / name).unlink(missing_ok=True)


def _running(pid: int) -> bool:
    if os.name != "posix":
        return True  # os.kill(pid, 0) would end the process on Windows; keep its files
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _unwritable(path: Path, error: OSError) -> UnwritableError:
    return UnwritableError(
        f"cannot write {path} ({error.strerror or first_line(error)}); check that its folder "
        "is a folder you may write to"
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
