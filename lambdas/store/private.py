"""Owner-only files and directories of the local data directory.

The data directory holds live session tickets, password hashes, queued customer records and the
ZOHO access token, so it is created 0700 and every file in it 0600, whatever the umask. A file
or directory left group- or world-accessible by an earlier release (or by hand) is tightened
with a logged warning rather than refused: unlike the secrets file, whose secrets should be
rotated if it was ever readable, refusing to start would only keep the relay down while leaving
the data exposed.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
_LOOSE = stat.S_IRWXG | stat.S_IRWXO


def private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) if missing, or tighten it if it is ours and loose.

    Missing parents are created with the default mode: they are not the relay's to protect.
    """
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        tighten(path, DIR_MODE)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return private_dir(path)
    else:
        # mkdir's mode is filtered by the umask, which can only remove bits; chmod anyway so
        # the mode is exactly 0700 however the process was started.
        os.chmod(path, DIR_MODE)
    return path


def tighten(path: Path, mode: int) -> None:
    """Chmod ``path`` to ``mode`` if group or others can reach it (warning); missing is fine."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if not st.st_mode & _LOOSE:
        return
    if st.st_uid != os.geteuid():
        # Not ours to change (and chmod would fail): say so, the operator has to fix it.
        log.warning(
            "%s is accessible to group or others (mode %04o) and owned by another user; "
            "it holds relay data: run `chmod %o %s` as its owner",
            path,
            stat.S_IMODE(st.st_mode),
            mode,
            path,
        )
        return
    log.warning(
        "%s was accessible to group or others (mode %04o); tightened to %04o",
        path,
        stat.S_IMODE(st.st_mode),
        mode,
    )
    os.chmod(path, mode)


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if missing, or tighten an existing one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        tighten(path, FILE_MODE)
    else:
        os.close(fd)
        os.chmod(path, FILE_MODE)  # exact, whatever the umask


def write_private_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (created 0600 before anything is written)."""
    create_private_file(path)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
