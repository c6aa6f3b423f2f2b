// Policy encoding over the shared reference traces: for every legal move recorded in a trace
// state (square8, hex8) decode(encode(move)) is the same move and no two legal moves of one
// state share an index; square19 / hexagonal traces: every applied move round-trips and the
// engine's own legal sets have no collisions. Plus feature-plane sanity checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readTraceFile } from '../../cli/commands/engine';
import {
  applyMoveTrusted,
  createInitialState,
  legalMoves,
  matchLegalMove,
  moveKey,
  parseMove,
  playRandomGame,
  type BoardType,
  type GameState,
  type Move,
} from '../../engine';
import {
  FEATURE_PLANES,
  GLOBAL_FEATURES,
  NUM_GLOBALS,
  NUM_PLANES,
  decodeMove,
  encodeFeatures,
  encodeGlobals,
  encodeMove,
  featureShape,
  policyLayout,
  policySize,
  spatialLayout,
} from '../../ai/encoding';

const REF = path.resolve(__dirname, '../..', '../shared/ringrift-reference');
const traceFiles = [
  ...fs.readdirSync(path.join(REF, 'traces')).map((f) => path.join(REF, 'traces', f)),
  ...fs.readdirSync(path.join(REF, 'extras')).map((f) => path.join(REF, 'extras', f)),
]
  .filter((f) => /\.jsonl(\.gz)?$/.test(f))
  .sort();

/** Every move of `moves` has a distinct index, and decode(encode(m), state) is m. */
function checkSet(bt: BoardType, state: GameState, moves: Move[], where: string, stats: Map<string, number>, own?: Move[]): void {
  const seen = new Map<number, string>();
  for (const m of moves) {
    const idx = encodeMove(bt, m);
    assert.ok(idx >= 0 && idx < policySize(bt), `${where}: index ${idx} out of range for ${moveKey(m)}`);
    const prev = seen.get(idx);
    assert.equal(prev, undefined, `${where}: ${moveKey(m)} and ${prev} share index ${idx}`);
    seen.set(idx, moveKey(m));
    stats.set(m.type, (stats.get(m.type) ?? 0) + 1);
  }
  // decode with the state for every move (one legal-set scan per state, as decodeMove does)
  const legal = own ?? legalMoves(state);
  const byIdx = new Map<number, Move>();
  for (const lm of legal) byIdx.set(encodeMove(bt, lm), lm);
  for (const m of moves) {
    const back = byIdx.get(encodeMove(bt, m));
    assert.ok(back, `${where}: no legal move decodes ${moveKey(m)}`);
    assert.equal(moveKey(back), moveKey(m), `${where}: decode(encode(m)) differs`);
  }
}

test('trace files are present', () => {
  assert.ok(traceFiles.length >= 11, `found ${traceFiles.length} under ${REF}`);
});

for (const file of traceFiles) {
  test(`policy encoding round trip: ${path.basename(file)}`, () => {
    const games = readTraceFile(file);
    const stats = new Map<string, number>();
    let states = 0;
    for (const g of games) {
      const bt = g.boardType as BoardType;
      const s = createInitialState({ boardType: bt, numPlayers: g.numPlayers, seed: g.seed, rulesOptions: g.rulesOptions ?? {} });
      const snapshot = (legal: string[] | undefined, where: string): void => {
        states++;
        if (legal)
          checkSet(
            bt,
            s,
            legal.map((k) => parseMove(k)),
            where,
            stats,
          );
        else {
          const own = legalMoves(s);
          checkSet(bt, s, own, where, stats, own);
        }
      };
      snapshot(g.initial.legalMoves, `${g.id} initial`);
      for (const st of g.steps) {
        const mv = parseMove(st.move);
        // the applied move itself, decoded through the public decodeMove
        const back = decodeMove(bt, encodeMove(bt, mv), s);
        assert.ok(back, `${g.id} k=${st.k}: decodeMove returned null for ${moveKey(mv)}`);
        assert.equal(moveKey(back), moveKey(mv), `${g.id} k=${st.k}`);
        const legal = matchLegalMove(s, mv);
        assert.ok(legal, `${g.id} k=${st.k}: move not legal`);
        applyMoveTrusted(s, legal);
        if (s.status === 'active') snapshot(st.legalMoves, `${g.id} k=${st.k}`);
      }
    }
    assert.ok(states > 0);
  });
}

test('every move type is covered by the traces on square8 and hex8 or by a layout block', () => {
  for (const bt of ['square8', 'square19', 'hex8', 'hexagonal'] as BoardType[]) {
    const L = policyLayout(bt);
    const types = new Set(L.blocks.flatMap((b) => b.moveTypes));
    assert.equal(types.size, 19, `${bt}: ${[...types].join(',')}`);
    let sum = 0;
    for (const b of L.blocks) {
      assert.equal(b.base, sum);
      sum += b.size;
    }
    assert.equal(sum, L.size);
  }
});

test('stateless decode: place_ring, move_stack and bookkeeping moves decode exactly', () => {
  for (const bt of ['square8', 'hex8', 'square19', 'hexagonal'] as BoardType[]) {
    const r = playRandomGame({ boardType: bt, numPlayers: 2, seed: 7, maxMoves: 200 });
    for (const m of r.moves) {
      if (!['place_ring', 'move_stack', 'no_line_action', 'no_territory_action', 'skip_capture', 'no_placement_action'].includes(m.type))
        continue;
      const back = decodeMove(bt, encodeMove(bt, m), null, { player: m.player });
      assert.equal(moveKey(back!), moveKey(m), `${bt} ${moveKey(m)}`);
    }
    // every index decodes statelessly to something that encodes back to it (or null off-board)
    const L = policyLayout(bt);
    for (let i = 0; i < L.size; i += bt === 'square19' || bt === 'hexagonal' ? 7 : 1) {
      const m = decodeMove(bt, i);
      if (m === null) continue;
      if (m.type === 'choose_territory_option') continue; // size bucket is not in the skeleton
      if (m.type === 'choose_line_option') continue; // segment offset is not in the skeleton
      assert.equal(encodeMove(bt, m), i, `${bt} index ${i}: ${moveKey(m)}`);
    }
  }
});

test('encodeMove rejects moves that have no place on the board', () => {
  assert.throws(() => encodeMove('square8', { type: 'place_ring', player: 1, to: { x: 8, y: 0 } }), /not a cell/);
  assert.throws(
    () => encodeMove('square8', { type: 'move_stack', player: 1, from: { x: 0, y: 0 }, to: { x: 1, y: 2 } }),
    /not a straight move/,
  );
  assert.throws(() => encodeMove('square8', { type: 'bogus' as never, player: 1, to: { x: 0, y: 0 } }), /unknown move type/);
});

test('feature planes and globals: shapes, seat rotation, value ranges', () => {
  assert.equal(FEATURE_PLANES.length, NUM_PLANES);
  assert.equal(GLOBAL_FEATURES.length, NUM_GLOBALS);
  for (const bt of ['square8', 'hex8', 'square19', 'hexagonal'] as BoardType[]) {
    const [C, H, W] = featureShape(bt);
    const lay = spatialLayout(bt);
    assert.equal(C, NUM_PLANES);
    assert.equal(new Set(lay.cellPix).size, lay.n, `${bt}: cells map to distinct pixels`);
    const r = playRandomGame({ boardType: bt, numPlayers: 3, seed: 3, maxMoves: 120 });
    const s = r.state;
    const f = new Float32Array(C * H * W);
    encodeFeatures(s, f, 0);
    for (const v of f) assert.ok(v >= 0 && v <= 1);
    // valid-cell plane counts the cells
    const valid = f.subarray(24 * H * W, 25 * H * W).reduce((a, b) => a + b, 0);
    assert.equal(valid, lay.n);
    // stacks of the player to move are on plane 0
    let mine = 0;
    for (let i = 0; i < lay.n; i++) if (s.ctrl[i] === s.currentPlayer) mine++;
    assert.equal(
      f.subarray(0, H * W).reduce((a, b) => a + b, 0),
      mine,
    );
    const gl = new Float32Array(NUM_GLOBALS);
    encodeGlobals(s, gl, 0);
    for (const v of gl) assert.ok(v >= 0 && v <= 1);
    assert.equal(gl[8 + 16 + 1], 1, 'players_3 set');
  }
  // the initial square8 state: everything empty, player to move has a full hand
  const s0 = createInitialState({ boardType: 'square8', numPlayers: 2 });
  const gl = new Float32Array(NUM_GLOBALS);
  encodeGlobals(s0, gl);
  assert.equal(gl[0], 1);
  assert.equal(gl[8], 1);
  assert.equal(gl[9], 1);
});
