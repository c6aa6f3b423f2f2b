// The trainer's policy map (trainer/layout.py) against the TS encoder: block table, cell → pixel
// order, and for every legal move of real games the cell the Python map assigns to the move's
// index is the move's own cell (from / to / line start / region cell), special moves go to the
// pooled head under their own name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { applyMoveTrusted, createInitialState, getGeometry, mulberry32, type BoardType, type Move, type Position } from '../../engine';
import { encodeLegalMoves, policyLayout, spatialLayout } from '../../ai/encoding';

const ROOT = path.resolve(__dirname, '../..');
const PYTHON = path.join(ROOT, '.venv/bin/python');

const PY = `
import json, sys
from trainer.layout import layout, describe_index
req = json.load(sys.stdin)
out = {}
for board, indices in req.items():
    lay = layout(board)
    out[board] = {
        "blocks": [[b.name, b.base, b.size] for b in lay.blocks],
        "size": lay.size,
        "cell_pix": lay.cell_pix.tolist(),
        "described": [describe_index(board, i) for i in indices],
    }
print(json.dumps(out))
`;

interface Checked {
  index: number;
  move: Move;
  /** the cells the index may name (one, except line moves: the line's cells) */
  cells: number[];
  special?: string;
}

function expectedCells(bt: BoardType, m: Move): { cells: number[]; special?: string } {
  const g = getGeometry(bt);
  const at = (p: Position | undefined): number => g.indexOf(p!);
  switch (m.type) {
    case 'place_ring':
    case 'eliminate_rings_from_stack':
    case 'forced_elimination':
      return { cells: [at(m.to)] };
    case 'move_stack':
    case 'overtaking_capture':
    case 'continue_capture_segment':
    case 'recovery_slide':
      return { cells: [at(m.from)] };
    case 'process_line':
    case 'choose_line_option':
      return { cells: (m.formedLines?.[0]?.positions ?? [m.to]).map((p) => at(p)) };
    case 'choose_territory_option':
      return { cells: [at(m.disconnectedRegions?.[0]?.spaces?.[0] ?? m.to)] };
    default:
      return { cells: [], special: m.type };
  }
}

function collect(bt: BoardType, numPlayers: number, seed: number, maxMoves: number, into: Checked[]): void {
  const s = createInitialState({ boardType: bt, numPlayers, seed, rulesOptions: numPlayers === 2 ? { swapRuleEnabled: true } : {} });
  const rng = mulberry32(seed);
  for (let k = 0; k < maxMoves && s.status === 'active'; k++) {
    const { moves, indices } = encodeLegalMoves(s);
    moves.forEach((m, i) => into.push({ index: indices[i], move: m, ...expectedCells(bt, m) }));
    applyMoveTrusted(s, moves[Math.floor(rng() * moves.length)]);
  }
}

test('trainer policy map: block table, cell order and the cell of every legal move index match the TS encoder', () => {
  const boards: Array<[BoardType, number, number[], number]> = [
    ['square8', 2, [1, 2, 3, 4, 5, 6], 3000],
    ['square8', 3, [7, 8], 3000],
    ['hex8', 2, [1, 2, 3, 4], 3000],
    ['square19', 2, [1], 250],
    ['hexagonal', 3, [1], 250],
  ];
  const checked = new Map<BoardType, Checked[]>();
  for (const [bt, np, seeds, max] of boards) {
    const list = checked.get(bt) ?? [];
    for (const seed of seeds) collect(bt, np, seed, max, list);
    checked.set(bt, list);
  }
  const req = Object.fromEntries([...checked].map(([bt, list]) => [bt, list.map((c) => c.index)]));
  const res = spawnSync(PYTHON, ['-c', PY], {
    input: JSON.stringify(req),
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: ROOT },
    maxBuffer: 1 << 28,
  });
  assert.equal(res.status, 0, res.stderr);
  const py = JSON.parse(res.stdout) as Record<
    string,
    {
      blocks: Array<[string, number, number]>;
      size: number;
      cell_pix: number[];
      described: Array<{ block: string; cell?: number; pixel?: number; special?: string }>;
    }
  >;
  const blockOf = (bt: BoardType, idx: number) => policyLayout(bt).blocks.find((b) => idx >= b.base && idx < b.base + b.size)!.name;
  const seenBlocks = new Map<BoardType, Set<string>>();
  for (const [bt, list] of checked) {
    const L = policyLayout(bt);
    const p = py[bt];
    assert.deepEqual(
      p.blocks,
      L.blocks.map((b) => [b.name, b.base, b.size]),
    );
    assert.equal(p.size, L.size);
    assert.deepEqual(p.cell_pix, [...spatialLayout(bt).cellPix]);
    const pix = spatialLayout(bt).cellPix;
    const seen = new Set<string>();
    list.forEach((c, i) => {
      const d = p.described[i];
      assert.equal(d.block, blockOf(bt, c.index), `${bt} ${c.move.type}: block`);
      seen.add(d.block);
      if (c.special !== undefined) {
        assert.equal(d.special, c.special, `${bt}: special index ${c.index}`);
        return;
      }
      assert.ok(c.cells.includes(d.cell!), `${bt} ${c.move.type} index ${c.index}: map says cell ${d.cell}, move has ${c.cells.join(',')}`);
      assert.equal(d.pixel, pix[d.cell!], `${bt} ${c.move.type}: pixel of cell ${d.cell}`);
    });
    seenBlocks.set(bt, seen);
  }
  // the games reach every kind of move on the small boards
  for (const b of ['place', 'move', 'line', 'territory', 'elim', 'special']) assert.ok(seenBlocks.get('square8')!.has(b), `square8 ${b}`);
  for (const b of ['place', 'move', 'special']) assert.ok(seenBlocks.get('hexagonal')!.has(b), `hexagonal ${b}`);
  assert.ok(checked.get('square8')!.length > 5000);
});
