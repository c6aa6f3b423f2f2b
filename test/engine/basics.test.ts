import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyMove,
  canonicalJson,
  createInitialState,
  fingerprint,
  gameResult,
  getGeometry,
  hashFingerprint,
  hashState,
  IllegalMoveError,
  isTerminal,
  legalMoves,
  moveKey,
  mulberry32,
  parseMove,
  playRandomGame,
  serializeMove,
} from '../../engine';
import { mk } from './helpers';

test('hash: reference example and mulberry32 reference draws', () => {
  assert.equal(hashFingerprint('1:ring_placement:active:0#1:18:0:0|2:18:0:0###'), '64d970e91e560723');
  const r = mulberry32(1);
  assert.equal(r(), 0.6270739405881613);
  assert.equal(r(), 0.002735721180215478);
  assert.equal(r(), 0.5274470399599522);
});

test('fingerprint: initial state and plain string order of entries', () => {
  const s = createInitialState({ boardType: 'square8', numPlayers: 2, seed: 1 });
  assert.equal(fingerprint(s), '1:ring_placement:active:0#1:18:0:0|2:18:0:0###');
  assert.equal(hashState(s), '64d970e91e560723');
  const t = mk({ boardType: 'square19', stacks: { '10,3': [1], '2,5': [2], '1,2': [1], '1,12': [2] }, ringsInHand: [10, 10] });
  // "1,12" < "1,2" (':' sorts after digits) and "10,3" < "2,5"
  assert.equal(fingerprint(t).split('#')[2], '1,12:2:1:1|1,2:1:1:1|10,3:1:1:1|2,5:2:1:1');
});

test('canonical move key: sorted keys, compact, bookkeeping fields dropped', () => {
  const m = { type: 'place_ring', to: { y: 2, x: 1 }, player: 1, id: 'x', timestamp: 't', thinkTime: 3, moveNumber: 9, extra: undefined };
  assert.equal(moveKey(m as never), '{"player":1,"to":{"x":1,"y":2},"type":"place_ring"}');
  assert.equal(canonicalJson({ b: [2, { d: 1, c: 2 }], a: null }), '{"a":null,"b":[2,{"c":2,"d":1}]}');
  const p = parseMove('{"type":"move_stack","player":2,"from":{"x":0,"y":0},"to":{"x":0,"y":3},"id":"m1"}');
  assert.equal(serializeMove(p), '{"from":{"x":0,"y":0},"player":2,"to":{"x":0,"y":3},"type":"move_stack"}');
  assert.throws(() => parseMove('{"type":"fly","player":1,"to":{"x":0,"y":0}}'), TypeError);
});

test('geometry: cell counts, hex neighbours and cube coordinates', () => {
  assert.equal(getGeometry('square8').n, 64);
  assert.equal(getGeometry('square19').n, 361);
  const h8 = getGeometry('hex8');
  const hx = getGeometry('hexagonal');
  assert.equal(h8.n, 61);
  assert.equal(hx.n, 469);
  for (const g of [h8, hx]) {
    for (let i = 0; i < g.n; i++) assert.equal(g.xs[i] + g.ys[i] + g.zs[i], 0);
    const centre = g.indexOf({ x: 0, y: 0, z: 0 });
    assert.equal(g.terrNbrs[centre].length, 6);
    const corner = g.indexOf({ x: g.radius, y: -g.radius, z: 0 });
    assert.equal(g.terrNbrs[corner].length, 3);
    assert.equal(g.indexOf({ x: g.radius + 1, y: 0, z: -g.radius - 1 }), -1);
    assert.equal(g.indexOf({ x: 1, y: 1, z: 1 }), -1);
  }
  assert.equal(h8.keys[h8.indexOf({ x: -1, y: 2, z: -1 })], '-1,2,-1');
  // movement rays on hex: 6 directions; square: 8 (Moore); territory on square: 4 (von Neumann)
  assert.equal(h8.D, 6);
  const sq = getGeometry('square8');
  assert.equal(sq.D, 8);
  assert.equal(sq.terrNbrs[sq.indexOf({ x: 3, y: 3 })].length, 4);
});

test('api: applyMove returns a new state and rejects illegal moves with a typed error', () => {
  const s = createInitialState({ boardType: 'square8', numPlayers: 2, seed: 1 });
  const t = applyMove(s, { type: 'place_ring', player: 1, to: { x: 3, y: 3 } });
  assert.equal(fingerprint(s), '1:ring_placement:active:0#1:18:0:0|2:18:0:0###');
  assert.equal(t.phase, 'movement');
  const err = (f: () => unknown, rule: string) => assert.throws(f, (e: unknown) => e instanceof IllegalMoveError && e.rule === rule);
  err(() => applyMove(s, { type: 'place_ring', player: 2, to: { x: 3, y: 3 } }), 'turn_order');
  err(() => applyMove(s, { type: 'move_stack', player: 1, from: { x: 0, y: 0 }, to: { x: 0, y: 1 } }), 'phase');
  err(() => applyMove(t, { type: 'move_stack', player: 1, from: { x: 3, y: 3 }, to: { x: 5, y: 4 } }), 'movement');
  assert.equal(isTerminal(t), false);
  assert.deepEqual(gameResult(t), { status: 'active', winner: null, victoryReason: null, hostEvent: null });
});

test('api: playRandomGame is deterministic and terminates', () => {
  const a = playRandomGame({ boardType: 'square8', numPlayers: 3, seed: 7 });
  const b = playRandomGame({ boardType: 'square8', numPlayers: 3, seed: 7 });
  assert.deepEqual(a.moves.map(moveKey), b.moves.map(moveKey));
  assert.equal(a.result.status, 'completed');
  assert.ok(a.result.winner !== null);
  assert.equal(legalMoves(a.state).length, 0);
});

test('serialize: toSerializedState / stateFromSerialized round trip keeps the fingerprint', async () => {
  const { toSerializedState, stateFromSerialized } = await import('../../engine');
  for (const bt of ['square8', 'hex8'] as const) {
    const g = playRandomGame({ boardType: bt, numPlayers: 3, seed: 11, maxMoves: 90 });
    const snap = JSON.parse(JSON.stringify(toSerializedState(g.state)));
    const back = stateFromSerialized(snap);
    assert.equal(fingerprint(back), fingerprint(g.state));
    assert.deepEqual(legalMoves(back).map(moveKey), legalMoves(g.state).map(moveKey));
  }
});

test('api: validated apply tolerates harmless host fields but not different content', () => {
  const s = createInitialState({ boardType: 'square8', numPlayers: 2, seed: 1 });
  const t = applyMove(s, { type: 'place_ring', player: 1, to: { x: 2, y: 2 }, placementCount: 1, placedOnStack: false } as never);
  assert.equal(t.phase, 'movement');
  assert.throws(
    () => applyMove(s, { type: 'place_ring', player: 1, to: { x: 2, y: 2 }, placementCount: 3 }),
    (e: unknown) => e instanceof IllegalMoveError && e.rule === 'placement',
  );
});
