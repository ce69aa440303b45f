"""Atomic file replacement: write a temporary file, flush it to disk, rename it over the target.

Temporary files are named after the process writing them, so a later save into the
same folder can remove those left behind by processes that were killed mid-write.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import stat
from contextlib import contextmanager

TEMPORARY_PREFIX = ".tmp-chainrule-"
_TEMPORARY = re.compile(re.escape(TEMPORARY_PREFIX) + r"(\d+)-[0-9a-f]{16}-(.*)\Z", re.DOTALL)


@contextmanager
def atomic_writer(path):
    """A binary file that replaces ``path`` only once fully written and flushed to disk.

    Readers see the old file or the new one, never half of one; a failure while
    writing leaves the old file as it was. Like ``open(path, "wb")``, a symlink is
    written through (its target is replaced, the link kept), an existing file keeps
    its permission bits and a new one gets them from the umask.
    """
    target = os.path.realpath(os.fspath(path))
    directory = os.path.dirname(target)
    remove_orphaned_temporaries(directory)
    temporary = os.path.join(directory, f"{TEMPORARY_PREFIX}{os.getpid()}-"
                                        f"{secrets.token_hex(8)}-{_host()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            _copy_mode(target, temporary)
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _copy_mode(target: str, temporary: str) -> None:
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return  # a new file: os.open already applied the umask to 0o666
    os.chmod(temporary, mode)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname())


def remove_orphaned_temporaries(directory: str) -> None:
    """Delete this machine's temporary files in ``directory`` whose process has ended."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    host = _host()
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match and match.group(2) == host and not _process_exists(int(match.group(1))):
            try:
                os.unlink(entry.path)
            except OSError:
                pass  # another process cleaned it up first


def _process_exists(pid: int) -> bool:
    if os.name != "posix" or pid == os.getpid():
        return True  # on Windows os.kill(pid, 0) would terminate the process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True  # e.g. another user's process
    return True


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
