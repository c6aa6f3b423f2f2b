import numpy as np
import pytest

from trainer.layout import BOARDS, DOC_TABLE, SPECIAL_MOVES, describe_index, gather_index, layout


@pytest.mark.parametrize("board", BOARDS)
def test_block_table_matches_encoding_md(board):
    lay = layout(board)
    blocks, size = DOC_TABLE[board]
    assert [(b.size, b.base) for b in lay.blocks] == blocks
    assert lay.size == size
    assert {"square8": 11081, "hex8": 9525, "square19": 110114, "hexagonal": 140709}[board] == lay.size


@pytest.mark.parametrize("board,n,side", [("square8", 64, 8), ("hex8", 61, 9), ("square19", 361, 19), ("hexagonal", 469, 25)])
def test_cells_and_grid(board, n, side):
    lay = layout(board)
    assert lay.n == n and lay.H == side and lay.W == side
    assert len(set(lay.cell_pix.tolist())) == n
    assert lay.cell_pix.min() >= 0 and lay.cell_pix.max() < side * side
    if lay.hex:
        assert side * side - n == {"hex8": 20, "hexagonal": 156}[board]


def test_square_cell_order():
    lay = layout("square8")
    # cell x*8 + y sits at row y, col x
    x, y = 3, 5
    assert lay.cell_pix[x * 8 + y] == y * 8 + x


def test_hex_cell_order():
    lay = layout("hex8")
    R = 4
    # first cell: q = -4, r from 0 to 4 (|q + r| <= 4) → row r + 4, col 0
    assert lay.cell_pix[0] == (0 + R) * 9 + 0
    assert lay.cell_pix[4] == (4 + R) * 9 + 0
    # q = -3: r from -1 … 4
    assert lay.cell_pix[5] == (-1 + R) * 9 + 1
    # centre cell (0, 0)
    centre = sum(9 - abs(q) for q in range(-4, 0)) + 4
    assert lay.cell_pix[centre] == 4 * 9 + 4


@pytest.mark.parametrize("board", BOARDS)
def test_gather_index_is_a_bijection_onto_head_outputs(board):
    lay = layout(board)
    g = gather_index(board)
    HW = lay.H * lay.W
    assert g.shape == (lay.size,)
    assert np.unique(g).shape[0] == lay.size
    assert g.max() < lay.cell_channels * HW + len(SPECIAL_MOVES)
    cell_part = g[g < lay.cell_channels * HW]
    # every cell-keyed logit comes from a board pixel
    assert np.isin(cell_part % HW, lay.cell_pix).all()
    sp = lay.block("special")
    assert (g[sp.base :] == lay.cell_channels * HW + np.arange(9)).all()


def test_describe_index_move_block():
    lay = layout("square8")
    mv = lay.block("move")
    # from cell 10, direction 2, distance 3 → offset (10*8 + 2)*7 + 2
    idx = mv.base + (10 * 8 + 2) * 7 + 2
    d = describe_index("square8", idx)
    assert d["block"] == "move" and d["cell"] == 10 and d["pixel"] == lay.cell_pix[10]
    assert d["channel"] == mv.channel_base + 2 * 7 + 2
    assert describe_index("square8", lay.size - 1) == {"block": "special", "special": "no_territory_action"}
