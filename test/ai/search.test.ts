// PUCT and Gumbel search with a tiny real network find forced wins in 1 and 2 on square8 and hex8.
// The positions come from seeded games (heuristic for odd seeds, random for even ones), checked
// here by brute force: a win in 1 has a move that ends the game for the mover; a win in 2 has none,
// but a move after which every reply leaves the mover a winning move.
import assert from 'node:assert/strict';
import test from 'node:test';
import {
  applyMoveTrusted,
  createInitialState,
  legalMoves,
  moveKey,
  mulberry32,
  type BoardType,
  type GameState,
  type Move,
} from '../../engine';
import { heuristicPlayer, randomPlayer } from '../../ai/players';
import { BatchEvaluator, loadModel } from '../../ai/evaluator';
import { DEFAULT_MCTS, SearchNode, mctsSearch, simulate, terminalValues } from '../../ai/mcts';
import { DEFAULT_GUMBEL, gumbelSearch } from '../../ai/gumbel';
import { fileSha256, tinyModel } from './nnFixture';

function position(board: BoardType, seed: number, ply: number): GameState {
  const s = createInitialState({ boardType: board, numPlayers: 2, seed });
  const rng = mulberry32(seed);
  const player = seed % 2 ? heuristicPlayer : randomPlayer;
  for (let i = 0; i < ply; i++) applyMoveTrusted(s, player.chooseMove(s, legalMoves(s), rng));
  assert.equal(s.status, 'active');
  return s;
}

function wins(s: GameState, m: Move, p: number): boolean {
  const c = s.clone();
  applyMoveTrusted(c, m);
  return c.status !== 'active' && c.winner === p;
}

/** Moves of the mover that win at once. */
function winsIn1(s: GameState): string[] {
  return legalMoves(s)
    .filter((m) => wins(s, m, s.currentPlayer))
    .map(moveKey);
}

/** Moves of the mover after which every reply (whoever makes it) leaves the mover a winning move. */
function winsIn2(s: GameState): string[] {
  const p = s.currentPlayer;
  return legalMoves(s)
    .filter((m) => {
      const c = s.clone();
      applyMoveTrusted(c, m);
      if (c.status !== 'active') return false;
      if (c.currentPlayer === p) return legalMoves(c).some((r) => wins(c, r, p));
      return legalMoves(c).every((r) => {
        const d = c.clone();
        applyMoveTrusted(d, r);
        if (d.status !== 'active') return d.winner === p;
        return d.currentPlayer === p && legalMoves(d).some((x) => wins(d, x, p));
      });
    })
    .map(moveKey);
}

// `gumbel: false`: 21 root actions get 2 simulations each in the first halving phase, too few to see
// a win 3 plies deep (Gumbel's budget goes wide, not deep); PUCT finds it.
const CASES: Array<{ board: BoardType; seed: number; ply: number; depth: 1 | 2; legal: number; winning: number; gumbel?: false }> = [
  { board: 'square8', seed: 27, ply: 174, depth: 1, legal: 9, winning: 2 },
  { board: 'square8', seed: 4, ply: 150, depth: 1, legal: 5, winning: 1 },
  { board: 'square8', seed: 18, ply: 122, depth: 2, legal: 5, winning: 1 },
  { board: 'hex8', seed: 1, ply: 194, depth: 1, legal: 10, winning: 1 },
  { board: 'hex8', seed: 9, ply: 180, depth: 1, legal: 9, winning: 1 },
  { board: 'hex8', seed: 21, ply: 97, depth: 2, legal: 21, winning: 1, gumbel: false },
];

for (const c of CASES) {
  test(`${c.board} seed ${c.seed} ply ${c.ply}: ${c.gumbel === false ? 'mcts finds' : 'mcts and gumbel find'} the forced win in ${c.depth}`, async () => {
    const s = position(c.board, c.seed, c.ply);
    const legal = legalMoves(s);
    const good = c.depth === 1 ? winsIn1(s) : winsIn2(s);
    assert.equal(legal.length, c.legal);
    assert.equal(good.length, c.winning);
    if (c.depth === 2) assert.deepEqual(winsIn1(s), [], 'no win in 1');
    const onnx = await tinyModel(c.board);
    const model = await loadModel({ id: 'tiny', path: onnx, sha256: fileSha256(onnx) }, { boardType: c.board, numPlayers: 2 });
    const ev = new BatchEvaluator(model, { batchSize: 16 });
    const evaluate = (st: GameState) => ev.evaluate(st);
    const prior = await ev.evaluate(s);

    const r = await mctsSearch(s, evaluate, { ...DEFAULT_MCTS, sims: 200 }, mulberry32(1), { noise: false, sample: false });
    assert.equal(r.simulations, 200);
    assert.equal(
      r.visits.reduce((a, b) => a + b, 0),
      200,
    );
    assert.ok(
      good.includes(moveKey(r.moves[r.chosen]!)),
      `mcts chose ${moveKey(r.moves[r.chosen]!)}; visits ${Array.from(r.visits).join(',')}`,
    );

    if (c.gumbel === false) return;
    const g = await gumbelSearch(s, evaluate, { ...DEFAULT_GUMBEL, sims: c.depth === 1 ? 64 : 256, maxConsidered: 32 }, mulberry32(1), {
      noise: false,
    });
    assert.equal(g.simulations, c.depth === 1 ? 64 : 256);
    const considered = Array.from(g.visits).filter((v) => v > 0).length;
    const topK = [...prior.logits.keys()].sort((a, b) => prior.logits[b]! - prior.logits[a]!).slice(0, considered);
    // a move the search considered must be chosen if it wins; Gumbel only sees its top-m actions
    if (topK.some((a) => good.includes(moveKey(prior.moves[a]!)))) {
      assert.ok(good.includes(moveKey(g.moves[g.chosen]!)), `gumbel chose ${moveKey(g.moves[g.chosen]!)}`);
    } else assert.ok(considered < legal.length, 'the winning move was outside the considered actions');
    // the improved policy is a distribution over the legal moves
    assert.equal(g.policy.length, legal.length);
    assert.ok(Math.abs(g.policy.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  });
}

test('backup: every node keeps the per-seat value vector; a terminal leaf uses the engine result', async () => {
  // a position whose winning move ends the game: after search the winning edge's mean value for the
  // mover is exactly +1 (engine result, not the network), and -1 for the other seat
  const s = position('square8', 4, 150);
  const onnx = await tinyModel('square8');
  const model = await loadModel({ id: 'tiny', path: onnx, sha256: fileSha256(onnx) }, { boardType: 'square8', numPlayers: 2 });
  const ev = new BatchEvaluator(model);
  const root = new SearchNode(s.clone());
  root.expand(await ev.evaluate(s));
  await simulate(root, (st) => ev.evaluate(st), 60, { cPuct: 1.5, leafBatch: 4 });
  const me = s.currentPlayer;
  const win = root.moves.findIndex((m) => wins(s, m, me));
  assert.ok(root.N[win]! > 0);
  assert.equal(root.W[win * 2 + me - 1]! / root.N[win]!, 1);
  assert.equal(root.W[win * 2 + (2 - me)]! / root.N[win]!, -1);
  // no virtual visits are left behind, and the visits add up
  assert.ok(Array.from(root.VL).every((v) => v === 0));
  assert.equal(
    Array.from(root.N).reduce((a, b) => a + b, 0),
    60,
  );
  const child = root.child(win);
  assert.deepEqual(Array.from(terminalValues(child.state)), me === 1 ? [1, -1] : [-1, 1]);
});
