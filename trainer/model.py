"""Residual CNN policy/value net (one per board), AlphaZero-style conv policy head.

Inputs: features (N, 28, H, W), globals (N, 32). Outputs: policy logits (N, P) over the board's
whole policy layout, value (N, 4) tanh per relative seat. See ai/MODEL.md and trainer/README.md.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .layout import NUM_GLOBALS, NUM_PLANES, SPECIAL_MOVES, VALID_CELL_PLANE, gather_index, layout

PRESETS = {
    "cpu": {"blocks": 4, "channels": 48},
    "gpu": {"blocks": 10, "channels": 128},
}
DEFAULT_PRESET = "cpu"
VALUE_HIDDEN = 128
VALUE_DROPOUT = 0.0


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.c1 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(ch)
        self.c2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.b2 = nn.BatchNorm2d(ch)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(x + y) * mask


class PolicyValueNet(nn.Module):
    def __init__(self, board_type: str, blocks: int, channels: int, value_hidden: int = VALUE_HIDDEN, value_dropout: float = VALUE_DROPOUT):
        super().__init__()
        lay = layout(board_type)
        self.board_type = board_type
        self.blocks_n = blocks
        self.channels = channels
        self.H, self.W = lay.H, lay.W
        self.policy_size = lay.size
        self.cell_channels = lay.cell_channels
        ch = channels
        self.stem = nn.Conv2d(NUM_PLANES, ch, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(ch)
        self.globals_in = nn.Linear(NUM_GLOBALS, ch)  # a bias plane per channel
        self.trunk = nn.ModuleList(ResBlock(ch) for _ in range(blocks))
        # policy: per-pixel slots of the cell-keyed blocks
        self.p_conv = nn.Conv2d(ch, ch, 1, bias=False)
        self.p_bn = nn.BatchNorm2d(ch)
        self.p_out = nn.Conv2d(ch, lay.cell_channels, 1)
        # special moves and value: masked mean + max pooling of the trunk, plus globals
        pooled = 2 * ch + NUM_GLOBALS
        self.s_out = nn.Sequential(nn.Linear(pooled, 64), nn.ReLU(), nn.Linear(64, len(SPECIAL_MOVES)))
        self.v_head = nn.Sequential(nn.Dropout(value_dropout), nn.Linear(pooled, value_hidden), nn.ReLU(), nn.Dropout(value_dropout), nn.Linear(value_hidden, 4))
        self.register_buffer("gather", torch.from_numpy(gather_index(board_type)), persistent=False)

    def architecture(self) -> dict:
        return {
            "kind": "resnet_conv_policy",
            "board_type": self.board_type,
            "blocks": self.blocks_n,
            "channels": self.channels,
            "policy_cell_channels": self.cell_channels,
            "policy_size": self.policy_size,
            "input_planes": NUM_PLANES,
            "input_globals": NUM_GLOBALS,
            "grid": [self.H, self.W],
        }

    def forward(self, features: torch.Tensor, globals_: torch.Tensor):
        mask = features[:, VALID_CELL_PLANE : VALID_CELL_PLANE + 1]
        x = self.stem_bn(self.stem(features)) + self.globals_in(globals_)[:, :, None, None]
        x = F.relu(x) * mask
        for blk in self.trunk:
            x = blk(x, mask)
        n_cells = mask.sum(dim=(2, 3)).clamp_min(1.0)
        mean = x.sum(dim=(2, 3)) / n_cells
        mx = x.amax(dim=(2, 3))  # x >= 0 and 0 off the board, so off-board pixels never win
        pooled = torch.cat([mean, mx, globals_], dim=1)
        p = self.p_out(F.relu(self.p_bn(self.p_conv(x))))
        flat = torch.cat([p.flatten(1), self.s_out(pooled)], dim=1)
        policy = flat.index_select(1, self.gather)
        value = torch.tanh(self.v_head(pooled))
        return policy, value


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
