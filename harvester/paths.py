"""What stands between a path and its use, in words: checked before anything is written.

``harvester run`` used to find out mid-run that its output folder was a file or read-only (a
traceback after the first page was bought), and SQLite says "unable to open database file" for a
dozen different reasons. These helpers look without touching: ``os.stat`` and ``os.access``
(which honours read-only mounts and the caller's capabilities, root's included), never a probe
file, so a refused run leaves the disk exactly as it was.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


def os_words(exc: OSError) -> str:
    """An ``OSError`` met while reaching a path, as a short phrase."""
    if exc.errno == errno.ELOOP:
        return "is a symlink loop"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "cannot be reached: permission denied"
    if exc.errno == errno.ENOTDIR:
        return "cannot be reached: a part of the path is a file, not a folder"
    if exc.errno == errno.ENAMETOOLONG:
        return "is too long a path"
    return f"cannot be opened: {exc.strerror or exc}"


def creatable_problem(path: Path) -> str | None:
    """Why ``path`` (which does not exist) could not be created, or None.

    Walks up to the nearest existing folder: it must be a folder this process may write in
    (the folders between are created with it).
    """
    folder = path.parent
    while True:
        try:
            st = os.stat(folder)
            break
        except FileNotFoundError:
            if folder == folder.parent:
                return "cannot be created: no existing folder above it"
            folder = folder.parent
        except OSError as exc:
            return f"cannot be created: {folder} {os_words(exc)}"
    if not stat.S_ISDIR(st.st_mode):
        return f"cannot be created: {folder} is a file, not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot be created: the folder {folder} is not writable"
    return None


def folder_problem(path: Path) -> str | None:
    """Why ``path`` cannot be used as a folder to write files in, or None.

    It must be a writable folder, or not exist yet and be creatable.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if path.is_symlink():
            return f"is a broken symlink (it points to {os.readlink(path)!r})"
        return creatable_problem(path)
    except OSError as exc:
        return os_words(exc)
    if not stat.S_ISDIR(st.st_mode):
        return "is a file, not a folder" if stat.S_ISREG(st.st_mode) else "is not a folder"
    if not os.access(path, os.W_OK | os.X_OK):
        return "is not writable"
    return None


def writable_file_problem(path: Path) -> str | None:
    """Why an existing ``path`` cannot be read and written as a regular file, or None if it can
    (or does not exist)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if path.is_symlink():
            return f"is a broken symlink (it points to {os.readlink(path)!r})"
        return None
    except OSError as exc:
        return os_words(exc)
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    if not os.access(path, os.R_OK):
        return "cannot be read: permission denied"
    if not os.access(path, os.W_OK):
        return "cannot be written: permission denied"
    return None
