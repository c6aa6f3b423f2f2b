"""Board geometry and the policy layout of ai/ENCODING.md (encoder rr-enc-v1), rebuilt in Python.

Everything here is derived from the documented facts (cell order, grid, block formulas); the
block table is asserted against the table of ai/ENCODING.md, and test/trainer/policyMap.test.ts
checks the cell of every index against the TS encoder on real moves.

The policy head produces, per grid pixel, one logit channel per within-cell slot of each
cell-keyed block (place 3, move D*maxDist, recovery D*2, line Ld*lineOpts, territory 4*16,
elim 1, forced 1), plus 9 logits for the special moves from a pooled head.
`gather_index()` maps [cell-channel logits flattened channel-major (c*H*W + pixel) ; special
logits] to policy index order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

ENCODER_VERSION = "rr-enc-v1"
NUM_PLANES = 28
NUM_GLOBALS = 32
MAX_PLAYERS = 4
VALID_CELL_PLANE = 24
MAX_PLACEMENT_COUNT = 3
MIN_LINE_LENGTH = 3
REGION_SIZE_BUCKETS = 16
SPECIAL_MOVES = (
    "skip_placement",
    "no_placement_action",
    "swap_sides",
    "skip_capture",
    "no_movement_action",
    "skip_recovery",
    "no_line_action",
    "skip_territory_processing",
    "no_territory_action",
)
BOARDS = ("square8", "hex8", "square19", "hexagonal")

# The table of ai/ENCODING.md ("Sizes per board"): (size, base) per block, and the policy size.
DOC_TABLE = {
    "square8": ([(192, 0), (3584, 192), (1024, 3776), (2048, 4800), (4096, 6848), (64, 10944), (64, 11008), (9, 11072)], 11081),
    "hex8": ([(183, 0), (2928, 183), (732, 3111), (1647, 3843), (3904, 5490), (61, 9394), (61, 9455), (9, 9516)], 9525),
    "square19": (
        [(1083, 0), (51984, 1083), (5776, 53067), (27436, 58843), (23104, 86279), (361, 109383), (361, 109744), (9, 110105)],
        110114,
    ),
    "hexagonal": (
        [(1407, 0), (67536, 1407), (5628, 68943), (35175, 74571), (30016, 109746), (469, 139762), (469, 140231), (9, 140700)],
        140709,
    ),
}
BLOCK_NAMES = ("place", "move", "recovery", "line", "territory", "elim", "forced", "special")


@dataclass(frozen=True)
class Block:
    name: str
    base: int
    size: int
    per_cell: int  # slots per cell (0 for the special block)
    channel_base: int  # first policy-head channel of this block (cell blocks only)


@dataclass(frozen=True)
class Layout:
    board_type: str
    hex: bool
    n: int
    H: int
    W: int
    D: int
    max_dist: int
    line_dirs: int
    max_line: int
    line_opts: int
    cell_pix: np.ndarray = field(repr=False)  # (n,) row*W + col of engine cell i
    blocks: tuple[Block, ...] = field(repr=False)
    size: int = 0
    cell_channels: int = 0  # policy-head channels per pixel

    def block(self, name: str) -> Block:
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(name)


def _cells(board_type: str) -> tuple[bool, int, np.ndarray]:
    """(hex, grid side, cell_pix) in engine cell order."""
    if board_type in ("square8", "square19"):
        size = 8 if board_type == "square8" else 19
        # engine order x*size + y; pixel row = y, col = x
        i = np.arange(size * size)
        x, y = i // size, i % size
        return False, size, (y * size + x).astype(np.int64)
    if board_type in ("hex8", "hexagonal"):
        R = 4 if board_type == "hex8" else 12
        side = 2 * R + 1
        pix = []
        for q in range(-R, R + 1):  # q outer, r inner, cube-constraint |q + r| <= R
            for r in range(max(-R, -q - R), min(R, -q + R) + 1):
                pix.append((r + R) * side + (q + R))
        return True, side, np.asarray(pix, dtype=np.int64)
    raise ValueError(f"unknown board type {board_type!r} (expected one of {', '.join(BOARDS)})")


@lru_cache(maxsize=None)
def layout(board_type: str) -> Layout:
    hex_, side, cell_pix = _cells(board_type)
    n = int(cell_pix.shape[0])
    D = 6 if hex_ else 8
    R = (side - 1) // 2
    max_dist = 2 * R if hex_ else side - 1
    line_dirs = 3 if hex_ else 4
    max_line = side
    line_opts = 2 + (max_line - MIN_LINE_LENGTH + 1)
    per_cell = {
        "place": MAX_PLACEMENT_COUNT,
        "move": D * max_dist,
        "recovery": D * 2,
        "line": line_dirs * line_opts,
        "territory": MAX_PLAYERS * REGION_SIZE_BUCKETS,
        "elim": 1,
        "forced": 1,
    }
    blocks = []
    base = 0
    ch = 0
    for name in BLOCK_NAMES:
        if name == "special":
            blocks.append(Block(name, base, len(SPECIAL_MOVES), 0, -1))
            base += len(SPECIAL_MOVES)
        else:
            k = per_cell[name]
            blocks.append(Block(name, base, n * k, k, ch))
            base += n * k
            ch += k
    lay = Layout(
        board_type=board_type,
        hex=hex_,
        n=n,
        H=side,
        W=side,
        D=D,
        max_dist=max_dist,
        line_dirs=line_dirs,
        max_line=max_line,
        line_opts=line_opts,
        cell_pix=cell_pix,
        blocks=tuple(blocks),
        size=base,
        cell_channels=ch,
    )
    doc_blocks, doc_size = DOC_TABLE[board_type]
    got = [(b.size, b.base) for b in lay.blocks]
    if got != doc_blocks or lay.size != doc_size:
        raise AssertionError(f"{board_type}: policy layout {got} / {lay.size} differs from ai/ENCODING.md {doc_blocks} / {doc_size}")
    return lay


@lru_cache(maxsize=None)
def gather_index(board_type: str) -> np.ndarray:
    """int64 (P,): policy index j takes element gather[j] of [cell logits (C*H*W, channel-major) ; special (9)]."""
    lay = layout(board_type)
    HW = lay.H * lay.W
    out = np.empty(lay.size, dtype=np.int64)
    for b in lay.blocks:
        if b.name == "special":
            out[b.base : b.base + b.size] = lay.cell_channels * HW + np.arange(b.size)
            continue
        # offset inside the block = cell * per_cell + slot (every block formula has this form)
        cell = np.repeat(np.arange(lay.n), b.per_cell)
        slot = np.tile(np.arange(b.per_cell), lay.n)
        out[b.base : b.base + b.size] = (b.channel_base + slot) * HW + lay.cell_pix[cell]
    assert np.unique(out).shape[0] == lay.size
    return out


def describe_index(board_type: str, index: int) -> dict:
    """Block, cell, pixel and slot of one policy index (used by the TS cross-check)."""
    lay = layout(board_type)
    for b in lay.blocks:
        if b.base <= index < b.base + b.size:
            off = index - b.base
            if b.name == "special":
                return {"block": b.name, "special": SPECIAL_MOVES[off]}
            cell, slot = divmod(off, b.per_cell)
            g = int(gather_index(board_type)[index])
            HW = lay.H * lay.W
            return {"block": b.name, "cell": cell, "pixel": g % HW, "channel": g // HW, "slot": slot}
    raise IndexError(f"policy index {index} outside [0, {lay.size}) of {board_type}")
