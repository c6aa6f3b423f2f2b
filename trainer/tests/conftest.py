"""Synthetic NPZ files in the real rr-npz-v1 layout (ai/ENCODING.md), for unit tests."""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from trainer.layout import ENCODER_VERSION, VALID_CELL_PLANE, layout  # noqa: E402


def write_npz(path, board="square8", players=2, games=6, per_game=20, val_games=1, seed=0, created_at="2026-11-30T00:00:00.000Z", **override):
    """A small NPZ: random sparse planes, a one- or two-hot policy target that depends on the
    planes, rank-style values. Returns the number of positions."""
    rng = np.random.default_rng(seed)
    lay = layout(board)
    N = games * per_game
    f = np.zeros((N, 28, lay.H, lay.W), np.float32)
    f[:, :4] = (rng.random((N, 4, lay.H, lay.W)) < 0.1).astype(np.float32)
    f[:, 16:18] = (rng.random((N, 2, lay.H, lay.W)) < 0.1).astype(np.float32)
    valid = np.zeros(lay.H * lay.W, np.float32)
    valid[lay.cell_pix] = 1
    f[:, VALID_CELL_PLANE] = valid.reshape(lay.H, lay.W)
    f *= valid.reshape(1, 1, lay.H, lay.W)
    g = np.zeros((N, 32), np.float32)
    g[:, 0] = 1
    g[:, 20 : 20 + players] = 1
    g[:, 24 + players - 2] = 1
    g[:, 30] = rng.random(N) * 0.2
    indptr = [0]
    idx, pr = [], []
    for i in range(N):
        cell = int(np.argmax(f[i, 0].reshape(-1)[lay.cell_pix]))
        a = lay.block("place").base + cell * 3
        if i % 3 == 0:
            b = lay.block("special").base + (i % 9)
            idx += sorted([a, b])
            pr += [0.75, 0.25] if a < b else [0.25, 0.75]
        else:
            idx.append(a)
            pr.append(1.0)
        indptr.append(len(idx))
    game_index = np.repeat(np.arange(games), per_game).astype(np.int32)
    game_split = np.zeros(games, np.uint8)
    game_split[:val_games] = 1
    winners = rng.integers(1, players + 1, games)
    vmp = np.zeros((N, 4), np.float32)
    for gi in range(games):
        row = np.full(players, -1.0 if players == 2 else 0.0, np.float32)
        row[winners[gi] - 1] = 1
        vmp[game_index == gi, :players] = row
    ptm = (np.arange(N) % players + 1).astype(np.int8)
    arrays = dict(
        features=f,
        globals=g,
        policy_indptr=np.asarray(indptr, np.int64),
        policy_indices=np.asarray(idx, np.int32),
        policy_probs=np.asarray(pr, np.float32),
        values=vmp[np.arange(N), ptm - 1],
        values_mp=vmp,
        player_to_move=ptm,
        phase=np.zeros(N, np.int8),
        game_index=game_index,
        move_number=np.tile(np.arange(per_game), games).astype(np.int32),
        total_game_moves=np.full(N, per_game, np.int32),
        split=game_split[game_index],
        game_ids=np.asarray([f"g{k}" for k in range(games)]),
        game_split=game_split,
        feature_planes=np.asarray("x"),
        global_features=np.asarray("x"),
        phase_names=np.asarray("ring_placement"),
        board_type=np.asarray(board),
        encoder_version=np.asarray(ENCODER_VERSION),
        format_version=np.asarray("rr-npz-v1"),
        policy_encoding=np.asarray("rr_board_aware_v1"),
        num_players=np.asarray(players, np.int64),
        board_size=np.asarray(lay.W, np.int64),
        policy_size=np.asarray(lay.size, np.int64),
        split_seed=np.asarray(0, np.int64),
        split_ratio=np.asarray(0.8),
        source_db=np.asarray("synthetic.db"),
        source_db_sha256=np.asarray("0" * 64),
        git_commit=np.asarray("test"),
        created_at=np.asarray(created_at),
    )
    for k, v in override.items():
        arrays[k] = v
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return N


@pytest.fixture
def npz(tmp_path):
    p = str(tmp_path / "data.npz")
    write_npz(p)
    return p


def run_cli(argv, capsys):
    """Run the CLI in-process; returns (exit code, list of events)."""
    from trainer.__main__ import main

    rc = main(argv, claim=False)
    out = capsys.readouterr().out
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    return rc, events


SMALL = ["--blocks", "1", "--channels", "8", "--batch-size", "16", "--threads", "1", "--device", "cpu"]
