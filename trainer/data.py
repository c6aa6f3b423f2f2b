"""NPZ loading (rr-npz-v1), the recent-files window, the by-game split and batch assembly.

See trainer/README.md ("Data") for the window rule. Everything a batch needs is gathered with
numpy fancy indexing: no Python loop per sample.
"""
from __future__ import annotations

import hashlib
import os
import re
import zipfile
from dataclasses import dataclass, field

import numpy as np

from .errors import bad_input
from .layout import ENCODER_VERSION, MAX_PLAYERS, NUM_GLOBALS, NUM_PLANES, layout

REQUIRED = (
    "features",
    "globals",
    "policy_indptr",
    "policy_indices",
    "policy_probs",
    "values_mp",
    "player_to_move",
    "phase",
    "split",
    "board_type",
    "num_players",
    "encoder_version",
    "policy_size",
    "created_at",
)


def parse_config_key(key: str) -> tuple[str, int]:
    m = re.fullmatch(r"(square8|square19|hex8|hexagonal)_([234])p", key or "")
    if not m:
        raise bad_input(f"--config-key {key!r} is not <board>_<n>p with board square8|square19|hex8|hexagonal and n 2..4")
    return m.group(1), int(m.group(2))


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class NpzInfo:
    path: str
    created_at: str
    positions: int
    sha256: str = ""
    used: int = 0  # newest positions taken into the window
    start: int = 0  # first position used (positions - used)


def _scalar(z, key, path):
    a = z[key]
    if a.shape != ():
        raise bad_input(f"{path}: array {key!r} should be a scalar, has shape {a.shape}")
    return a.item()


def _open(path: str):
    if not os.path.isfile(path):
        raise bad_input(f"NPZ {path} does not exist")
    try:
        z = np.load(path, allow_pickle=False)
    except Exception as e:  # BadZipFile, ValueError, OSError, EOFError …
        raise bad_input(f"NPZ {path} cannot be read (corrupt or truncated?): {type(e).__name__}: {e}") from None
    if not hasattr(z, "files"):
        raise bad_input(f"{path} is a single .npy array, not an NPZ archive")
    return z


def read_info(path: str, board_type: str, num_players: int) -> NpzInfo:
    """Metadata of one NPZ, refusing another config, encoder or policy size."""
    z = _open(path)
    try:
        missing = [k for k in REQUIRED if k not in z.files]
        if missing:
            raise bad_input(f"NPZ {path} lacks arrays {', '.join(missing)} (not an rr-npz-v1 export?)")
        try:
            bt = str(_scalar(z, "board_type", path))
            npl = int(_scalar(z, "num_players", path))
            enc = str(_scalar(z, "encoder_version", path))
            psz = int(_scalar(z, "policy_size", path))
            created = str(_scalar(z, "created_at", path))
            n = int(z["player_to_move"].shape[0])
        except zipfile.BadZipFile as e:
            raise bad_input(f"NPZ {path} is corrupt: {e}") from None
        lay = layout(board_type)
        if bt != board_type or npl != num_players:
            raise bad_input(f"NPZ {path} holds {bt}_{npl}p data, not {board_type}_{num_players}p (--config-key)")
        if enc != ENCODER_VERSION:
            raise bad_input(f"NPZ {path} has encoder_version {enc}, this trainer reads {ENCODER_VERSION}")
        if psz != lay.size:
            raise bad_input(f"NPZ {path} has policy_size {psz}, {board_type} needs {lay.size}")
        return NpzInfo(path=path, created_at=created, positions=n)
    finally:
        z.close()


def choose_window(infos: list[NpzInfo], window_positions: int) -> list[NpzInfo]:
    """Newest files first (created_at, then path, descending): whole files until the window is
    full, then the newest positions (the file's tail) of the next one."""
    order = sorted(infos, key=lambda i: (i.created_at, i.path), reverse=True)
    left = window_positions
    chosen = []
    for info in order:
        if left <= 0:
            break
        take = min(info.positions, left)
        if take <= 0:
            continue
        info.used = take
        info.start = info.positions - take
        chosen.append(info)
        left -= take
    return chosen


def memory_window_cap(board_type: str) -> int:
    """Positions whose feature planes fit in a quarter of the machine's memory."""
    lay = layout(board_type)
    per = NUM_PLANES * lay.H * lay.W * 4
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        total = 8 << 30
    return max(1, int(total // 4 // per))


@dataclass
class Dataset:
    board_type: str
    num_players: int
    features: np.ndarray  # (N, 28, H, W) float32
    globals: np.ndarray  # (N, 32) float32
    indptr: np.ndarray  # (N+1,) int64
    indices: np.ndarray  # (nnz,) int64
    probs: np.ndarray  # (nnz,) float32
    values_rel: np.ndarray  # (N, 4) float32, relative seats, 0 beyond num_players
    phase: np.ndarray  # (N,) int64
    split: np.ndarray  # (N,) uint8
    target_top: np.ndarray  # (N,) int64 most probable target index
    target_nnz: np.ndarray  # (N,) int64
    legal_count: np.ndarray | None  # (N,) if the NPZ carries legal move counts
    files: list[NpzInfo] = field(default_factory=list)

    @property
    def n(self) -> int:
        return int(self.features.shape[0])

    def split_indices(self):
        return np.flatnonzero(self.split == 0), np.flatnonzero(self.split == 1)


def _load_part(info: NpzInfo, board_type: str, num_players: int):
    lay = layout(board_type)
    z = _open(info.path)
    try:
        a = {}
        for k in ("features", "globals", "policy_indptr", "policy_indices", "policy_probs", "values_mp", "player_to_move", "phase", "split"):
            a[k] = z[k]
        if "legal_count" in z.files:
            a["legal_count"] = z["legal_count"]
    except Exception as e:
        raise bad_input(f"NPZ {info.path} cannot be read (corrupt or truncated?): {type(e).__name__}: {e}") from None
    finally:
        z.close()
    N = info.positions
    f = a["features"]
    if f.dtype != np.float32 or f.shape != (N, NUM_PLANES, lay.H, lay.W):
        raise bad_input(f"NPZ {info.path}: features {f.dtype} {f.shape}, expected float32 ({N}, {NUM_PLANES}, {lay.H}, {lay.W})")
    g = a["globals"]
    if g.shape != (N, NUM_GLOBALS):
        raise bad_input(f"NPZ {info.path}: globals {g.shape}, expected ({N}, {NUM_GLOBALS})")
    ip, ix, pr = a["policy_indptr"].astype(np.int64), a["policy_indices"].astype(np.int64), a["policy_probs"].astype(np.float32)
    if ip.shape != (N + 1,) or ip[0] != 0 or ip[-1] != ix.shape[0] or ix.shape != pr.shape or np.any(np.diff(ip) < 1):
        raise bad_input(f"NPZ {info.path}: policy CSR arrays are inconsistent (indptr {ip.shape}, indices {ix.shape}, probs {pr.shape})")
    if ix.size and (ix.min() < 0 or ix.max() >= lay.size):
        raise bad_input(f"NPZ {info.path}: policy index outside [0, {lay.size})")
    if a["values_mp"].shape != (N, MAX_PLAYERS):
        raise bad_input(f"NPZ {info.path}: values_mp {a['values_mp'].shape}, expected ({N}, 4)")
    ptm = a["player_to_move"].astype(np.int64)
    if N and (ptm.min() < 1 or ptm.max() > num_players):
        raise bad_input(f"NPZ {info.path}: player_to_move outside 1..{num_players}")
    s = a["split"]
    if s.shape != (N,) or (N and s.max() > 1):
        raise bad_input(f"NPZ {info.path}: split must be (N,) of 0 (train) / 1 (val)")
    lo = info.start
    # the window takes the file's newest `used` positions
    ip_part = ip[lo : N + 1]
    nz0, nz1 = int(ip_part[0]), int(ip_part[-1])
    part = {
        "features": f[lo:],
        "globals": g[lo:].astype(np.float32, copy=False),
        "indptr": ip_part - nz0,
        "indices": ix[nz0:nz1],
        "probs": pr[nz0:nz1],
        "values_mp": a["values_mp"][lo:].astype(np.float32, copy=False),
        "ptm": ptm[lo:],
        "phase": a["phase"][lo:].astype(np.int64),
        "split": s[lo:].astype(np.uint8),
        "legal_count": a["legal_count"][lo:].astype(np.int64) if "legal_count" in a else None,
    }
    return part


def relative_values(values_mp: np.ndarray, ptm: np.ndarray, num_players: int) -> np.ndarray:
    """rel[s] = values_mp[(player_to_move - 1 + s) mod n] for s < n (ai/MODEL.md)."""
    N = values_mp.shape[0]
    rel = np.zeros((N, MAX_PLAYERS), dtype=np.float32)
    for s in range(num_players):
        rel[:, s] = values_mp[np.arange(N), (ptm - 1 + s) % num_players]
    return rel


def load_dataset(paths: list[str], config_key: str, window_positions: int, hash_files: bool = True) -> Dataset:
    board_type, num_players = parse_config_key(config_key)
    if not paths:
        raise bad_input("no --npz file given")
    infos = [read_info(p, board_type, num_players) for p in paths]
    seen = set()
    for i in infos:
        rp = os.path.realpath(i.path)
        if rp in seen:
            raise bad_input(f"NPZ {i.path} is given twice")
        seen.add(rp)
    chosen = choose_window(infos, window_positions)
    if not chosen:
        raise bad_input(f"the NPZ files hold no positions ({', '.join(paths)})")
    parts = [_load_part(i, board_type, num_players) for i in chosen]
    if hash_files:
        for i in chosen:
            i.sha256 = file_sha256(i.path)
    feats = np.concatenate([p["features"] for p in parts]) if len(parts) > 1 else parts[0]["features"]
    offs = np.cumsum([0] + [p["indices"].shape[0] for p in parts])
    indptr = np.concatenate([parts[0]["indptr"][:1]] + [p["indptr"][1:] + offs[k] for k, p in enumerate(parts)])
    cat = lambda k: np.concatenate([p[k] for p in parts])  # noqa: E731
    indices, probs = cat("indices"), cat("probs")
    N = feats.shape[0]
    lens = np.diff(indptr)
    # most probable target per sample: sort by (row, -prob) and take each row's first entry
    rows = np.repeat(np.arange(N), lens)
    order = np.lexsort((-probs, rows))
    target_top = indices[order[indptr[:-1]]]
    legal = None
    if all(p["legal_count"] is not None for p in parts):
        legal = cat("legal_count")
    return Dataset(
        board_type=board_type,
        num_players=num_players,
        features=feats,
        globals=cat("globals"),
        indptr=indptr,
        indices=indices,
        probs=probs,
        values_rel=relative_values(cat("values_mp"), cat("ptm"), num_players),
        phase=cat("phase"),
        split=cat("split"),
        target_top=target_top,
        target_nnz=lens.astype(np.int64),
        legal_count=legal,
        files=chosen,
    )


@dataclass
class Batch:
    features: np.ndarray
    globals: np.ndarray
    rows: np.ndarray  # target CSR expanded: row, column, probability per nonzero
    cols: np.ndarray
    probs: np.ndarray
    values: np.ndarray
    top: np.ndarray


def make_batch(ds: Dataset, idx: np.ndarray) -> Batch:
    """Gather one batch (vectorised; idx need not be sorted)."""
    starts = ds.indptr[idx]
    lens = ds.indptr[idx + 1] - starts
    total = int(lens.sum())
    first = np.cumsum(lens) - lens
    pos = np.repeat(starts - first, lens) + np.arange(total)
    return Batch(
        features=ds.features[idx],
        globals=ds.globals[idx],
        rows=np.repeat(np.arange(idx.shape[0]), lens),
        cols=ds.indices[pos],
        probs=ds.probs[pos],
        values=ds.values_rel[idx],
        top=ds.target_top[idx],
    )


class DataOrder:
    """Seeded order of training positions: epoch e is permutation(seed, e) of the train indices;
    step s takes positions [s*B, (s+1)*B) of the endless concatenation. A pure function of
    (seed, step), so a resumed run continues exactly where it stopped."""

    def __init__(self, train_idx: np.ndarray, batch_size: int, seed: int):
        self.train_idx = train_idx
        self.B = batch_size
        self.seed = seed
        self._perm_cache: dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        p = self._perm_cache.get(epoch)
        if p is None:
            rng = np.random.Generator(np.random.PCG64([self.seed, epoch]))
            p = self.train_idx[rng.permutation(self.train_idx.shape[0])]
            self._perm_cache = {epoch: p}  # keep only the current epoch
        return p

    def batch_indices(self, step: int) -> np.ndarray:
        n = self.train_idx.shape[0]
        out = np.empty(self.B, dtype=np.int64)
        pos = step * self.B
        filled = 0
        while filled < self.B:
            e, off = divmod(pos, n)
            take = min(self.B - filled, n - off)
            out[filled : filled + take] = self._perm(e)[off : off + take]
            filled += take
            pos += take
        return out

    def state(self, step: int) -> dict:
        return {"seed": self.seed, "batch_size": self.B, "n_train": int(self.train_idx.shape[0]), "next_step": step}


class DeviceData:
    """The window held as torch tensors on the training device, batches gathered there (used on
    CUDA when the window fits in a part of the free GPU memory: no host copies per step)."""

    def __init__(self, ds: Dataset, device):
        import torch

        self.device = device
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)  # noqa: E731
        self.features = t(ds.features)
        self.globals = t(ds.globals)
        self.values = t(ds.values_rel)
        self.top = t(ds.target_top)
        self.indptr = t(ds.indptr)
        self.indices = t(ds.indices)
        self.probs = t(ds.probs)

    @staticmethod
    def nbytes(ds: Dataset) -> int:
        return sum(a.nbytes for a in (ds.features, ds.globals, ds.values_rel, ds.target_top, ds.indptr, ds.indices, ds.probs))

    def batch(self, idx_np: np.ndarray) -> dict:
        import torch

        idx = torch.from_numpy(idx_np).to(self.device, non_blocking=True)
        starts = self.indptr[idx]
        lens = self.indptr[idx + 1] - starts
        first = torch.cumsum(lens, 0) - lens
        rows = torch.repeat_interleave(torch.arange(idx.shape[0], device=self.device), lens)
        pos = torch.repeat_interleave(starts - first, lens) + torch.arange(rows.shape[0], device=self.device)
        return {
            "features": self.features.index_select(0, idx),
            "globals": self.globals.index_select(0, idx),
            "rows": rows,
            "cols": self.indices[pos],
            "probs": self.probs[pos],
            "values": self.values.index_select(0, idx),
            "top": self.top.index_select(0, idx),
        }
