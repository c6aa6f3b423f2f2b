"""JSON-lines events on stdout. Stray library output goes to stderr so stdout stays parseable."""
from __future__ import annotations

import json
import math
import os
import sys

_out = None


def claim_stdout() -> None:
    """Keep the real stdout for events only; anything else written to fd 1 lands on stderr."""
    global _out
    if _out is not None:
        return
    sys.stdout.flush()
    fd = os.dup(1)
    os.dup2(2, 1)
    _out = os.fdopen(fd, "w", buffering=1, encoding="utf-8")
    sys.stdout = sys.stderr


def _clean(x):
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def emit(event: str, **fields) -> None:
    line = json.dumps(_clean({"event": event, **fields}), allow_nan=False)
    (_out or sys.stdout).write(line + "\n")
    (_out or sys.stdout).flush()
