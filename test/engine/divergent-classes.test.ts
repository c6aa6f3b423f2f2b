// The classes of rules divergence found by differential play against the reference engine
// (../shared/ringrift-reference/divergent, see its README "Games found by differential play"),
// each pinned by a position taken from one of those games (board copied from the trace, stacks
// in the reference's stack-map order, recorded fingerprint after the move), plus constructed
// positions for the rare paths the same causes reach (line recoveries, 3–4 players on every board).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMove, fingerprint, legalMoves, moveKey, stateFromSerialized, toSerializedState } from '../../engine';
import type { BoardType, GameState, Move } from '../../engine';
import { at, find, keys, mk, types, type BoardSpec } from './helpers';

const bk = (type: string, player: number) => ({ type, player, to: at(0, 0) }) as never;
const idx = (s: GameState, x: number, y: number, z?: number) => s.geo.indexOf(at(x, y, z));
/** the stacks section of the fingerprint (cell:controller:height:cap) */
const stacksOf = (s: GameState) => fingerprint(s).split('#')[2];

// ─────────────── A: process_line on a line longer than the required length (hex8, 3–4 players) ───────────────

test('A: hex8 3p — process_line on a length-4 line (required 3) is a no-op; segments of 3 collapse without cost', () => {
  // rr-hex8-3p-s200027, before step 30: P1's line (0,0,0)…(3,0,-3) of length 4
  const spec: BoardSpec = {
    boardType: 'hex8',
    numPlayers: 3,
    stacks: { '2,-4,2': [2, 1], '2,-2,0': [3], '-2,4,-2': [3, 1], '-3,0,3': [1, 2] },
    markers: {
      '0,0,0': 1,
      '0,4,-4': 1,
      '1,-2,1': 2,
      '1,0,-1': 1,
      '1,1,-2': 3,
      '1,2,-3': 3,
      '2,-1,-1': 3,
      '2,0,-2': 1,
      '2,2,-4': 1,
      '3,0,-3': 1,
    },
    ringsInHand: [15, 16, 16],
    currentPlayer: 1,
    phase: 'line_processing',
  };
  const s = mk(spec);
  const before = keys(s);
  // process_line + collapse-all + the two length-3 segments (the trace's legalMoveCount 4)
  assert.equal(before.length, 4);
  const pl = find(s, (m) => m.type === 'process_line');
  assert.equal(pl.formedLines![0].length, 4);
  const t = applyMove(s, pl);
  assert.equal(
    fingerprint(t),
    '1:line_processing:active:0#1:15:0:0|2:16:0:0|3:16:0:0#-2,4,-2:3:2:1|-3,0,3:1:2:1|2,-2,0:3:1:1|2,-4,2:2:2:1#0,0,0:1|0,4,-4:1|1,-2,1:2|1,0,-1:1|1,1,-2:3|1,2,-3:3|2,-1,-1:3|2,0,-2:1|2,2,-4:1|3,0,-3:1#',
  );
  assert.deepEqual(keys(t), before);
  // a minimum-collapse segment: 3 markers, no reward elimination
  const seg = find(s, (m) => m.type === 'choose_line_option' && m.collapsedMarkers!.length === 3 && m.collapsedMarkers![0].x === 1);
  const u = applyMove(s, seg);
  assert.equal(u.territory[1], 3);
  assert.equal(u.pendingLineReward, false);
  assert.equal(u.marker[idx(u, 0, 0, 0)], 1);
  // collapse-all costs a ring
  const all = find(s, (m) => m.type === 'choose_line_option' && m.collapsedMarkers!.length === 4);
  const v = applyMove(s, all);
  assert.equal(v.territory[1], 4);
  assert.equal(v.pendingLineReward, true);
});

/** a straight marker line of `len` cells for player 1 starting at the board's origin side */
function lineSpec(bt: BoardType, np: number, len: number): BoardSpec {
  const hex = bt === 'hex8' || bt === 'hexagonal';
  const markers: Record<string, number> = {};
  for (let i = 0; i < len; i++) markers[hex ? `${i - 2},0,${2 - i}` : `${i},0`] = 1;
  const far = bt === 'hex8' ? 4 : bt === 'hexagonal' ? 12 : bt === 'square8' ? 7 : 18;
  const stacks: Record<string, number[]> = hex
    ? { [`0,${far},${-far}`]: [1, 1], [`0,${-far},${far}`]: [2] }
    : { [`${far},${far}`]: [1, 1], [`0,${far}`]: [2] };
  for (let p = 3; p <= np; p++) stacks[hex ? `${-far},${far - p + 2},${p - 2}` : `${p},${far}`] = [p];
  return { boardType: bt, numPlayers: np, stacks, markers, ringsInHand: Array(np).fill(2), currentPlayer: 1, phase: 'line_processing' };
}

for (const bt of ['square8', 'square19', 'hex8', 'hexagonal'] as const) {
  for (const np of [3, 4]) {
    const L = bt === 'square8' || bt === 'hex8' ? 3 : 4;
    test(`A: ${bt} ${np}p — exact line (${L}) processes; a line of ${L + 1} is over-long for process_line`, () => {
      const exact = mk(lineSpec(bt, np, L));
      const pl = legalMoves(exact).find((m) => m.type === 'process_line');
      if (bt === 'hex8') {
        // the reference's core finder uses the base length 4 there: a 3-line only via choose_line_option
        assert.equal(pl, undefined);
        assert.deepEqual(types(exact), ['choose_line_option']);
      } else {
        const t = applyMove(exact, pl!);
        assert.equal(t.territory[1], L);
        assert.equal(t.pendingLineReward, true);
      }
      const long = mk(lineSpec(bt, np, L + 1));
      const segs = legalMoves(long).filter((m) => m.type === 'choose_line_option');
      assert.equal(segs.length, 3); // collapse-all + 2 segments of L
      const lpl = legalMoves(long).find((m) => m.type === 'process_line');
      assert.ok(lpl, 'process_line is offered for the over-long line');
      const same = applyMove(long, lpl);
      assert.equal(fingerprint(same), fingerprint(long));
      assert.equal(same.phase, 'line_processing');
    });
  }
}

// ─────────────── B: recovery extraction stack and strike eliminations ───────────────

test('B: stack_strike extracts from the struck stack when it held the buried ring (whole stack gone, 2 rings)', () => {
  // rr-square8-4p-s200605, step 19: P1 (17 in hand, no stack) strikes (7,0) = P2 on top of P1
  const s = mk({
    numPlayers: 4,
    stacks: { '7,0': [2, 1], '1,1': [3], '4,6': [4] },
    markers: { '4,0': 4, '5,1': 3, '5,2': 2, '6,0': 1, '7,2': 2 },
    ringsInHand: [17, 17, 17, 17],
    currentPlayer: 1,
    phase: 'movement',
  });
  const strike = find(s, (m) => m.type === 'recovery_slide' && m.recoveryMode === 'stack_strike' && m.to.x === 7 && m.to.y === 0);
  const t = applyMove(s, strike);
  assert.equal(
    fingerprint(t),
    '1:line_processing:active:0#1:17:2:0|2:17:0:0|3:17:0:0|4:17:0:0#1,1:3:1:1|4,6:4:1:1#4,0:4|5,1:3|5,2:2|7,2:2#',
  );
});

test('B: stack_strike — the extraction stack is chosen from the stacks before the strike, in stack-map order', () => {
  // like rr-square8-2p-s200051 step 175: the struck stack (7,6) is P2 on P1 on P2 and comes first
  const s = mk({
    stacks: { '7,6': [2, 1, 2], '6,5': [2, 1, 2, 2] },
    markers: { '6,6': 1 },
    ringsInHand: [0, 5],
    currentPlayer: 1,
    phase: 'movement',
  });
  const strikeAt76 = (m: Move) => m.type === 'recovery_slide' && m.recoveryMode === 'stack_strike' && m.to.x === 7;
  const t = applyMove(s, find(s, strikeAt76));
  assert.deepEqual(t.rings[idx(t, 7, 6)], [2]); // top P2 struck off, then P1's ring extracted
  assert.equal(t.height[idx(t, 6, 5)], 4);
  assert.equal(t.eliminated[1], 2);
  // with the other stack first in map order, the extraction comes from it instead
  const s2 = mk({
    stacks: { '6,5': [2, 1, 2, 2], '7,6': [2, 1, 2] },
    markers: { '6,6': 1 },
    ringsInHand: [0, 5],
    currentPlayer: 1,
    phase: 'movement',
  });
  const t2 = applyMove(s2, find(s2, strikeAt76));
  assert.deepEqual(t2.rings[idx(t2, 7, 6)], [2, 1]); // P1 now on top: control passes to P1
  assert.deepEqual(t2.rings[idx(t2, 6, 5)], [2, 2, 2]);
  assert.equal(t2.eliminated[1], 2);
});

test('B: a captured stack that survives moves behind the landing stack in extraction order (fallback slide)', () => {
  // like rr-square8-4p-s200253 / rr-square8-2p-s200726: P1 has buried rings in A (older) and B
  const s = mk({
    numPlayers: 3,
    stacks: { '2,2': [2, 2, 1], '5,5': [2, 1], '2,0': [3, 3], '7,7': [2] },
    markers: { '7,0': 1 },
    ringsInHand: [0, 5, 5],
    currentPlayer: 3,
    phase: 'movement',
  });
  const t = applyMove(s, { type: 'overtaking_capture', player: 3, from: at(2, 0), captureTarget: at(2, 2), to: at(2, 3) } as Move);
  const snap = toSerializedState(t) as unknown as { board: { stacks: Record<string, unknown> } };
  assert.deepEqual(Object.keys(snap.board.stacks), ['5,5', '7,7', '2,3', '2,2']);
  // P1's turn (same board): the fallback slide extracts from B (5,5), the first eligible stack
  const p1 = stateFromSerialized({ ...(snap as object), currentPlayer: 1, currentPhase: 'movement', moveHistory: [] } as never);
  const u = applyMove(
    p1,
    find(p1, (m) => m.type === 'recovery_slide' && m.recoveryMode === 'fallback'),
  );
  assert.deepEqual(u.rings[idx(u, 5, 5)], [2]);
  assert.deepEqual(u.rings[idx(u, 2, 2)], [1, 2]);
  assert.equal(u.eliminated[1], 1);
});

// ─────────────── C: the turn after a forced elimination ───────────────

const C_COLLAPSED: Record<string, number> = {
  '-4,0,4': 1, '-4,1,3': 1, '-4,2,2': 1, '-4,3,1': 1, '-4,4,0': 2, '-3,-1,4': 1, '-3,0,3': 1, '-3,1,2': 1, '-3,2,1': 1,
  '-3,3,0': 2, '-3,4,-1': 1, '-2,-2,4': 2, '-2,-1,3': 1, '-2,0,2': 1, '-2,1,1': 1, '-2,2,0': 1, '-2,3,-1': 1, '-2,4,-2': 1,
  '-1,-3,4': 2, '-1,-2,3': 1, '-1,-1,2': 2, '-1,0,1': 1, '-1,1,0': 1, '-1,2,-1': 4, '0,-4,4': 2, '0,-3,3': 1, '0,-2,2': 1,
  '0,-1,1': 1, '0,0,0': 4, '0,1,-1': 4, '1,-4,3': 2, '1,-3,2': 2, '1,-2,1': 1, '1,-1,0': 4, '1,0,-1': 4, '1,1,-2': 3,
  '1,2,-3': 3, '1,3,-4': 3, '2,-4,2': 4, '2,-3,1': 4, '2,-2,0': 1, '2,-1,-1': 3, '2,0,-2': 4, '2,1,-3': 3, '2,2,-4': 3,
  '3,-4,1': 4, '3,-3,0': 3, '3,-2,-1': 3, '3,-1,-2': 4, '3,0,-3': 3, '3,1,-4': 3, '4,-4,0': 3, '4,-3,-1': 3,
  '4,-2,-2': 4, '4,-1,-3': 3, '4,0,-4': 3,
}; // prettier-ignore

test('C: hex8 4p — after a forced elimination the turn passes over players with no rings anywhere', () => {
  // rr-hex8-4p-s200027, step 352: P3 forced-eliminates; P4 and P1 have no ring in hand or on the board
  const s = mk({
    boardType: 'hex8',
    numPlayers: 4,
    stacks: { '-1,4,-3': [3, 2], '0,4,-4': [3, 3, 3] },
    markers: { '-1,3,-2': 2, '0,2,-2': 4 },
    collapsed: C_COLLAPSED,
    ringsInHand: [0, 1, 0, 0],
    eliminated: [19, 14, 15, 18],
    territory: [23, 8, 14, 11],
    currentPlayer: 3,
    phase: 'forced_elimination',
  });
  const fe = find(s, (m) => m.type === 'forced_elimination' && m.to.x === -1);
  const t = applyMove(s, fe);
  assert.equal(t.currentPlayer, 2);
  assert.equal(t.phase, 'ring_placement');
  assert.equal(
    fingerprint(t).split('#').slice(0, 3).join('#'),
    '2:ring_placement:active:0#1:0:19:23|2:1:14:8|3:0:16:14|4:0:18:11#-1,4,-3:2:1:1|0,4,-4:3:3:3',
  );
  assert.equal(legalMoves(t).length, 2); // the trace's legalMoveCount
});

test('C: a player whose only rings are buried still gets the turn after a forced elimination', () => {
  const s = mk({
    boardType: 'hex8',
    numPlayers: 4,
    stacks: { '-1,4,-3': [3, 2], '0,4,-4': [3, 3, 4] },
    markers: { '-1,3,-2': 2, '0,2,-2': 4 },
    collapsed: C_COLLAPSED,
    ringsInHand: [0, 1, 0, 0],
    currentPlayer: 3,
    phase: 'forced_elimination',
  });
  const t = applyMove(
    s,
    find(s, (m) => m.type === 'forced_elimination' && m.to.x === -1),
  );
  assert.equal(t.currentPlayer, 4); // P4 has a buried ring: not skipped
});

test('C: square8 4p — forced elimination skips a player with nothing left, in seat order', () => {
  // P1 boxed in by P3's cap-3 stacks, no rings in hand; P2 has nothing at all; P3 and P4 play on
  const s = mk({
    numPlayers: 4,
    stacks: { '0,0': [1, 3], '1,0': [3, 3, 3], '0,1': [3, 3, 3], '1,1': [3, 3, 3], '7,7': [4] },
    ringsInHand: [0, 0, 2, 2],
    currentPlayer: 1,
    phase: 'ring_placement',
  });
  let t = applyMove(s, bk('no_placement_action', 1));
  t = applyMove(t, bk('no_movement_action', 1));
  t = applyMove(t, bk('no_line_action', 1));
  assert.equal(t.phase, 'forced_elimination');
  t = applyMove(t, legalMoves(t)[0]);
  assert.equal(t.currentPlayer, 3);
});

// ─────────────── D: option-2 line recovery slides name their collapse positions ───────────────

const D_SPEC: BoardSpec = {
  // rr-square8-4p-s200423, before step 63: P3 (no stack, 15 in hand) can slide (5,6) or (7,7) to (6,6)
  numPlayers: 4,
  stacks: { '0,7': [1], '0,6': [2], '1,7': [4], '7,2': [1, 3, 2], '0,0': [2], '0,2': [4, 3, 3] },
  markers: {
    '1,2': 1,
    '1,3': 1,
    '2,0': 4,
    '2,7': 1,
    '3,4': 2,
    '4,4': 3,
    '5,0': 4,
    '5,2': 2,
    '5,5': 3,
    '5,6': 3,
    '5,7': 2,
    '7,0': 4,
    '7,6': 2,
    '7,7': 3,
  },
  collapsed: { '3,5': 4, '5,4': 1 },
  ringsInHand: [14, 14, 15, 16],
  eliminated: [2, 1, 0, 0],
  territory: [1, 0, 0, 1],
  currentPlayer: 3,
  phase: 'movement',
};

test('D: square8 4p — the option-2 line recovery slide carries collapsePositions (first segment of the line)', () => {
  const s = mk(D_SPEC);
  const rec = legalMoves(s).filter((m) => m.type === 'recovery_slide');
  assert.deepEqual(
    rec.map((m) => moveKey(m)),
    [
      '{"collapsePositions":[{"x":4,"y":4},{"x":5,"y":5},{"x":6,"y":6}],"extractionStacks":[],"from":{"x":5,"y":6},"option":2,"player":3,"recoveryMode":"line","to":{"x":6,"y":6},"type":"recovery_slide"}',
      '{"extractionStacks":[],"from":{"x":5,"y":6},"option":1,"player":3,"recoveryMode":"line","to":{"x":6,"y":6},"type":"recovery_slide"}',
      '{"extractionStacks":[],"from":{"x":7,"y":7},"option":1,"player":3,"recoveryMode":"line","to":{"x":6,"y":6},"type":"recovery_slide"}',
    ],
  );
  assert.ok(types(s).includes('skip_recovery'));
  // option 2: exactly those three collapse, (7,7) stays a marker, nothing is extracted
  const t = applyMove(s, rec[0]);
  assert.equal(t.territory[3], 3);
  assert.equal(t.marker[idx(t, 7, 7)], 3);
  assert.equal(t.eliminated[3], 0);
  // option 1 from (5,6): the whole line of 4 collapses and one buried ring is extracted
  const u = applyMove(s, rec[1]);
  assert.equal(u.territory[3], 4);
  assert.equal(u.eliminated[3], 1);
  // the recorded move (option 1 from (7,7)) gives the recorded state
  const v = applyMove(s, rec[2]);
  assert.equal(
    fingerprint(v),
    '3:line_processing:active:0#1:14:2:1|2:14:1:0|3:15:1:3|4:16:0:1#0,0:2:1:1|0,2:4:3:1|0,6:2:1:1|0,7:1:1:1|1,7:4:1:1|7,2:1:2:1#1,2:1|1,3:1|2,0:4|2,7:1|3,4:2|5,0:4|5,2:2|5,6:3|5,7:2|7,0:4|7,6:2#3,5:4|4,4:3|5,4:1|5,5:3|6,6:3',
  );
});

test('D: hex8 4p — an over-long recovery line (4 > 3) offers option 2 with a 3-cell collapse', () => {
  // P1: markers (-1,0,1),(0,0,0),(1,0,-1) and (3,-1,-2); sliding the last to (2,0,-2) makes a line of 4
  const s = mk({
    boardType: 'hex8',
    numPlayers: 4,
    stacks: { '-3,3,0': [2, 1], '0,4,-4': [3], '0,-4,4': [4] },
    markers: { '-1,0,1': 1, '0,0,0': 1, '1,0,-1': 1, '3,-1,-2': 1 },
    ringsInHand: [0, 3, 3, 3],
    currentPlayer: 1,
    phase: 'movement',
  });
  const opt2 = find(s, (m) => m.type === 'recovery_slide' && m.option === 2);
  assert.deepEqual(opt2.collapsePositions, [at(-1, 0, 1), at(0, 0, 0), at(1, 0, -1)]);
  const t = applyMove(s, opt2);
  assert.equal(t.territory[1], 3);
  assert.equal(t.marker[idx(t, 2, 0, -2)], 1);
  assert.equal(t.eliminated[1], 0);
  const opt1 = find(s, (m) => m.type === 'recovery_slide' && m.option === 1 && m.from!.x === 3);
  const u = applyMove(s, opt1);
  assert.equal(u.territory[1], 4);
  assert.equal(u.eliminated[1], 1);
  assert.deepEqual(u.rings[idx(u, -3, 3, 0)], [2]);
});

// ─────────────── E: recovery eligibility without a slide ───────────────

test('E: hex8 3p — a recovery-eligible player with no slide available is offered skip_recovery only', () => {
  // rr-hex8-3p-s210182, step 264: P2's one marker is walled in; P2 has a ring buried at (-1,0,1)
  const collapsed: Record<string, number> = {};
  const s0 = mk({ boardType: 'hex8', numPlayers: 3 });
  const keep = new Set(['-1,0,1', '0,-1,1', '1,-2,1', '1,-1,0']);
  for (const k of s0.geo.keys) if (!keep.has(k)) collapsed[k] = 1;
  const s = mk({
    boardType: 'hex8',
    numPlayers: 3,
    stacks: { '-1,0,1': [3, 2] },
    markers: { '0,-1,1': 3, '1,-2,1': 2, '1,-1,0': 3 },
    collapsed,
    currentPlayer: 2,
    phase: 'movement',
  });
  assert.deepEqual(keys(s), ['{"player":2,"to":{"x":0,"y":0},"type":"skip_recovery"}']);
  const t = applyMove(s, legalMoves(s)[0]);
  assert.equal(t.phase, 'line_processing');
});

test('E: square19 4p — with rings in hand and no stack: skip_placement, then skip_recovery only', () => {
  // like rr-square19-4p-s210019: P4 has 24 rings in hand, controls no stack, one marker, a buried ring
  const s = mk({
    boardType: 'square19',
    numPlayers: 4,
    stacks: { '9,9': [1, 4], '15,15': [2], '3,15': [3] },
    markers: { '0,0': 4, '1,0': 1, '0,1': 2, '1,1': 3 },
    ringsInHand: [5, 5, 5, 24],
    currentPlayer: 4,
    phase: 'ring_placement',
  });
  assert.ok(types(s).includes('skip_placement'));
  const t = applyMove(
    s,
    find(s, (m) => m.type === 'skip_placement'),
  );
  assert.equal(t.phase, 'movement');
  assert.deepEqual(keys(t), ['{"player":4,"to":{"x":0,"y":0},"type":"skip_recovery"}']);
  // with a free neighbour the fallback slides come back, still with skip_recovery
  const free = mk({
    boardType: 'square19',
    numPlayers: 4,
    stacks: { '9,9': [1, 4], '15,15': [2], '3,15': [3] },
    markers: { '0,0': 4, '1,0': 1, '0,1': 2 },
    ringsInHand: [5, 5, 5, 24],
    currentPlayer: 4,
    phase: 'movement',
  });
  assert.deepEqual(types(free), ['recovery_slide', 'skip_recovery']);
});

// ─────────────── reference errors: the line slide the reference rejected ───────────────

test('reference error: hex8 3p — a recovery slide forming a line of 3 is legal and collapses the line (R112, R113)', () => {
  // rr-hex8-3p-s200037 after step 44: the reference offered this slide, then threw
  // "Recovery slide did not form a valid line" (it validated against the base length 4)
  const s = mk({
    boardType: 'hex8',
    numPlayers: 3,
    stacks: { '-4,4,0': [1], '4,-3,-1': [1, 3, 1, 3], '0,4,-4': [3], '1,2,-3': [1, 2, 2] },
    markers: {
      '-4,2,2': 1,
      '-3,0,3': 2,
      '-2,-1,3': 2,
      '-2,3,-1': 3,
      '-1,-1,2': 3,
      '-1,0,1': 2,
      '-1,1,0': 2,
      '0,-3,3': 3,
      '1,-4,3': 1,
      '1,3,-4': 3,
      '4,0,-4': 1,
    },
    collapsed: { '3,-2,-1': 1 },
    ringsInHand: [14, 15, 15],
    eliminated: [0, 1, 0],
    territory: [1, 0, 0],
    currentPlayer: 2,
    phase: 'movement',
  });
  const slide = find(
    s,
    (m) => m.type === 'recovery_slide' && m.recoveryMode === 'line' && m.option === 1 && m.from!.x === -2 && m.from!.y === -1,
  );
  assert.deepEqual(slide.to, at(-2, 0, 2));
  const t = applyMove(s, slide);
  // (-3,0,3),(-2,0,2),(-1,0,1) collapse for P2; P2's bottommost buried ring (in (1,2,-3)) is extracted
  for (const c of [at(-3, 0, 3), at(-2, 0, 2), at(-1, 0, 1)]) assert.equal(t.collapsed[t.geo.indexOf(c)], 2);
  assert.equal(t.marker[idx(t, -2, -1, 3)], 0);
  assert.equal(t.territory[2], 3);
  assert.equal(t.eliminated[2], 2);
  assert.deepEqual(t.rings[idx(t, 1, 2, -3)], [2, 1]);
  assert.equal(t.phase, 'line_processing');
  assert.equal(stacksOf(t).includes('1,2,-3:1:2:1'), true);
});

test('D: the fast canonical key of an option-2 slide equals the canonical JSON', async () => {
  const { canonicalJson } = await import('../../engine');
  const m = find(mk(D_SPEC), (x) => x.type === 'recovery_slide' && x.option === 2);
  assert.equal(moveKey(m), canonicalJson(m));
});

test('recovery then territory: a region processed in a recovery turn is paid by buried-ring extraction', () => {
  // P1 controls no stack: markers (1,0),(0,1) wall off the corner (0,0); P1 rings buried under P2
  let s = mk({
    stacks: { '4,4': [2, 1, 1], '6,6': [2, 1], '7,7': [2] },
    markers: { '1,0': 1, '0,1': 1, '5,0': 1 },
    ringsInHand: [0, 3],
    currentPlayer: 1,
    phase: 'movement',
  });
  s = applyMove(
    s,
    find(s, (m) => m.type === 'recovery_slide' && m.from!.x === 5 && m.to.x === 5 && m.to.y === 1),
  );
  assert.deepEqual(s.rings[idx(s, 4, 4)], [1, 2]); // first stack in map order pays the slide
  assert.deepEqual(types(s), ['no_line_action']);
  s = applyMove(s, bk('no_line_action', 1));
  assert.equal(s.phase, 'territory_processing');
  assert.deepEqual(types(s), ['choose_territory_option', 'skip_territory_processing']);
  const region = find(s, (m) => m.type === 'choose_territory_option');
  assert.deepEqual(region.disconnectedRegions![0].spaces, [at(0, 0)]);
  s = applyMove(s, region);
  assert.equal(s.territory[1], 3); // the corner and its two border markers
  const elim = legalMoves(s);
  assert.deepEqual(
    elim.map((m) => `${m.type}:${m.to.x},${m.to.y}:${m.eliminationContext}:${m.eliminatedRings![0].count}`),
    ['eliminate_rings_from_stack:4,4:recovery:1', 'eliminate_rings_from_stack:6,6:recovery:1'],
  );
  s = applyMove(s, elim[1]);
  assert.deepEqual(s.rings[idx(s, 6, 6)], [2]);
  assert.equal(s.eliminated[1], 2);
  assert.equal(s.currentPlayer, 2);
  assert.equal(s.phase, 'ring_placement');
});
