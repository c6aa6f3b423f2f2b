"""Exit when the worker that started us dies.

The worker spawns the trainer in its own process group (so cancelling kills the whole group) with
stdin as a pipe and RINGRIFT_TRAINER_WATCH_STDIN=1. A SIGKILLed worker cannot kill its children, but
the kernel closes its end of the pipe: stdin reaches EOF and the trainer exits at once, before the
retried activity starts a second trainer in the same run folder.
"""
from __future__ import annotations

import os
import sys
import threading

ENV = "RINGRIFT_TRAINER_WATCH_STDIN"
EXIT_CODE = 70


def _watch(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except OSError:
        pass
    os._exit(EXIT_CODE)  # no cleanup: the last checkpoint on disk is complete (temp + rename)


def start_parent_watch() -> bool:
    """Starts the watcher thread when the worker asked for it; returns whether it runs."""
    if os.environ.get(ENV) != "1" or sys.stdin is None:
        return False
    threading.Thread(target=_watch, args=(sys.stdin.fileno(),), name="parent-watch", daemon=True).start()
    return True
