"""Atomic file writes (temp + fsync + rename) and checkpoint save/load."""
from __future__ import annotations

import errno
import glob
import io
import os
import random

import numpy as np
import torch

from .errors import TrainerError, bad_input

CHECKPOINT_FORMAT = "rr-trainer-ckpt-v1"
CHECKPOINT_NAME = "checkpoint.pt"
_CHUNK = 1 << 20


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view[:_CHUNK])
        view = view[n:]


def _tmp_name(path: str) -> str:
    d, base = os.path.split(os.path.abspath(path))
    return os.path.join(d, f".{base}.tmp-{os.getpid()}")


def remove_stale_temps(path: str) -> None:
    d, base = os.path.split(os.path.abspath(path))
    for t in glob.glob(os.path.join(d, f".{glob.escape(base)}.tmp-*")):
        try:
            os.unlink(t)
        except FileNotFoundError:
            pass


def atomic_write_bytes(path: str, data: bytes | memoryview, what: str = "file", step: int | None = None) -> None:
    """Write `data` to `path` atomically. The old file (if any) stays intact until the rename.
    ENOSPC/EDQUOT become TrainerError('disk_full'); the temp file is removed on any failure."""
    tmp = _tmp_name(path)
    fd = -1
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        _write_all(fd, data)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
        dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except BaseException as e:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise TrainerError("disk_full", f"no space left on the device writing {what} {path}; the previous one is intact", step) from None
        raise


def atomic_copy_file(src: str, path: str, what: str, step: int | None = None) -> None:
    with open(src, "rb") as f:
        data = f.read()
    atomic_write_bytes(path, data, what, step)


def rng_state() -> dict:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    st = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": [list(x) if isinstance(x, tuple) else x for x in random.getstate()],
    }
    if torch.cuda.is_available():
        st["cuda"] = [s for s in torch.cuda.get_rng_state_all()]
    return st


def set_rng_state(st: dict) -> None:
    torch.set_rng_state(st["torch"])
    n = st["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    py = st["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in st and torch.cuda.is_available() and len(st["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(st["cuda"])


def save_checkpoint(path: str, payload: dict, step: int) -> None:
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getbuffer(), "checkpoint", step)


def load_checkpoint(path: str) -> dict:
    if not os.path.isfile(path):
        raise bad_input(f"checkpoint {path} does not exist")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise bad_input(f"checkpoint {path} cannot be read: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise bad_input(f"{path} is not a trainer checkpoint ({CHECKPOINT_FORMAT})")
    return ck
