"""Member slots: a stable number per running member of a group on one machine.

The Kafka transactional id of a member is ``signalhub-<group>-<host>-<dir>-<slot>`` (``dir``:
a hash of the state directory's absolute path). A process
takes the lowest slot whose lock file (``<state dir>/slots/<group>-<n>.lock``) no other
live process holds (``flock``: the kernel frees it when the process dies, even by
SIGKILL). So an instance started after a crash takes the dead one's slot and id, and
its ``init_transactions`` aborts what the dead one left open and fences it; two live
members never share an id.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from hub.sqlite import private_dir
from hub.state_layout import StateLayout

__all__ = ["MemberSlot", "claim_slot"]

_MAX_SLOTS = 1024


@dataclass
class MemberSlot:
    group: str
    number: int
    folder: Path
    _file: IO[bytes]

    @property
    def transactional_id(self) -> str:
        host = socket.gethostname().split(".")[0] or "host"
        where = hashlib.sha256(str(self.folder.resolve()).encode()).hexdigest()[:8]
        return f"signalhub-{self.group}-{host}-{where}-{self.number}"

    def release(self) -> None:
        if not self._file.closed:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()


def claim_slot(state_dir: Path, group: str) -> MemberSlot:
    """The lowest free slot of ``group`` under ``state_dir`` (held until released or
    the process ends)."""
    folder = StateLayout.slots(state_dir)
    private_dir(folder)
    for number in range(_MAX_SLOTS):
        path = folder / f"{group}-{number}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        handle = os.fdopen(fd, "r+b")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return MemberSlot(group, number, folder, handle)
    raise RuntimeError(f"no free member slot for group {group} under {folder}")
