import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMove, gameResult, isTerminal, legalMoves, moveKey } from '../../engine';
import { at, find, mk, types } from './helpers';

const bk = (type: string, player: number) => ({ type, player, to: at(0, 0) }) as never;

test('forced elimination: blocked player with stacks walks the phases then must eliminate a cap', () => {
  // P1's stack at (0,0) (cap 2) is boxed in by P2 stacks with cap 3; no rings in hand.
  let s = mk({
    stacks: { '0,0': [1, 1, 2], '1,0': [2, 2, 2, 1], '0,1': [2, 2, 2], '1,1': [2, 2, 2] },
    ringsInHand: [0, 3],
  });
  assert.deepEqual(types(s), ['no_placement_action']);
  s = applyMove(s, bk('no_placement_action', 1));
  assert.deepEqual(types(s), ['no_movement_action']);
  s = applyMove(s, bk('no_movement_action', 1));
  assert.deepEqual(types(s), ['no_line_action']);
  s = applyMove(s, bk('no_line_action', 1));
  assert.equal(s.phase, 'forced_elimination');
  const fe = legalMoves(s);
  assert.equal(fe.length, 1);
  assert.equal(
    moveKey(fe[0]),
    '{"eliminatedRings":[{"count":2,"player":1}],"eliminationFromStack":{"capHeight":2,"position":{"x":0,"y":0},"totalHeight":3},"player":1,"to":{"x":0,"y":0},"type":"forced_elimination"}',
  );
  s = applyMove(s, fe[0]);
  assert.equal(s.eliminated[1], 2);
  assert.equal(s.ctrl[s.geo.indexOf(at(0, 0))], 2);
  assert.equal(s.currentPlayer, 2);
  assert.equal(s.phase, 'ring_placement');
});

test('recovery: no stacks + marker + buried ring → fallback slides and skip_recovery; slide extracts a buried ring', () => {
  let s = mk({ stacks: { '4,4': [2, 1, 1], '7,7': [2] }, markers: { '0,0': 1 }, ringsInHand: [0, 3] });
  s = applyMove(s, bk('no_placement_action', 1));
  assert.equal(s.phase, 'movement');
  const rec = legalMoves(s).filter((m) => m.type === 'recovery_slide');
  assert.deepEqual(rec.map((m) => `${m.to.x},${m.to.y}:${m.recoveryMode}`).sort(), ['0,1:fallback', '1,0:fallback', '1,1:fallback']);
  assert.ok(types(s).includes('skip_recovery'));
  const t = applyMove(s, rec[0]);
  assert.equal(t.eliminated[1], 1);
  assert.deepEqual(t.rings[t.geo.indexOf(at(4, 4))], [1, 2]); // bottom→top: bottommost P1 ring extracted
  assert.equal(t.marker[t.geo.indexOf(at(0, 0))], 0);
  assert.equal(t.phase, 'line_processing');
});

test('recovery: a line-forming slide excludes fallback slides and collapses the line', () => {
  // P1 markers (0,0),(1,0),(2,0) + (3,1): sliding (3,1)->(3,0) makes a line of 4
  let s = mk({ stacks: { '6,6': [2, 1], '7,7': [2] }, markers: { '0,0': 1, '1,0': 1, '2,0': 1, '3,1': 1 }, ringsInHand: [0, 3] });
  s = applyMove(s, bk('no_placement_action', 1));
  const rec = legalMoves(s).filter((m) => m.type === 'recovery_slide');
  assert.ok(rec.length >= 1 && rec.every((m) => m.recoveryMode === 'line'));
  const t = applyMove(
    s,
    find(s, (m) => m.type === 'recovery_slide' && m.to.x === 3 && m.to.y === 0),
  );
  assert.equal(t.territory[1], 4);
  assert.equal(t.eliminated[1], 1); // option 1: buried ring extracted
});

test('victory: ring-elimination threshold ends the game immediately (host check)', () => {
  const s = mk({
    stacks: { '0,0': [1, 1], '7,7': [2], '6,6': [1] },
    markers: { '3,0': 2 },
    phase: 'movement',
    eliminated: [17, 0],
    ringsInHand: [0, 1],
  });
  const t = applyMove(s, { type: 'move_stack', player: 1, from: at(0, 0), to: at(3, 0) } as never);
  assert.ok(isTerminal(t));
  assert.deepEqual(gameResult(t), { status: 'completed', winner: 1, victoryReason: 'ring_elimination', hostEvent: 'early_victory' });
  assert.deepEqual(legalMoves(t), []);
});

test('victory: territory needs the minimum and more than all opponents combined', () => {
  const coll: Record<string, number> = {};
  for (let i = 0; i < 33; i++) coll[`${i % 8},${Math.floor(i / 8)}`] = 1;
  const s = mk({
    stacks: { '7,7': [1], '6,7': [2] },
    collapsed: coll,
    territory: [33, 0],
    ringsInHand: [1, 1],
    phase: 'territory_processing',
  });
  const t = applyMove(s, bk('no_territory_action', 1));
  assert.equal(gameResult(t).winner, 1);
  assert.equal(gameResult(t).victoryReason, 'territory_control');
});

test('victory: bare board with no rings in hand is a stalemate resolved by the tie-break ladder', () => {
  // P2 has more territory; the last stack is eliminated by forced elimination
  const s = mk({ stacks: { '0,0': [1] }, collapsed: { '1,0': 2, '0,1': 2, '1,1': 2 }, territory: [0, 3], phase: 'forced_elimination' });
  const t = applyMove(s, legalMoves(s)[0]);
  assert.equal(t.status, 'completed');
  assert.equal(gameResult(t).winner, 2);
  assert.equal(gameResult(t).victoryReason, 'territory_control');
  assert.equal(gameResult(t).hostEvent, null); // resolved by the engine's own post-elimination victory check
});

test('last player standing: an opponent with only buried rings loses after 3 exclusive rounds', () => {
  // P2 has no stacks, no markers, no rings in hand, one buried ring (material but no real action).
  let s = mk({ stacks: { '0,0': [1, 1, 1, 1, 2], '7,7': [1], '7,0': [1] }, ringsInHand: [0, 0] });
  let moves = 0;
  while (s.status === 'active' && moves < 200) {
    const lm = legalMoves(s);
    // P1 moves its small stacks to empty cells (keeping P2's ring buried); P2 only has bookkeeping moves
    const quiet = (x: (typeof lm)[number]) =>
      x.type === 'move_stack' && !(x.from!.x === 0 && x.from!.y === 0) && !s.marker[s.geo.indexOf(x.to)];
    const m = lm.find(quiet) ?? lm.find((x) => x.type.startsWith('no_')) ?? lm[0];
    s = applyMove(s, m);
    moves++;
  }
  assert.equal(s.status, 'completed');
  assert.deepEqual([gameResult(s).winner, gameResult(s).victoryReason], [1, 'last_player_standing']);
  assert.equal(gameResult(s).hostEvent, 'lps_victory');
});
