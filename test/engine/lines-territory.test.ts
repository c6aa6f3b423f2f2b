import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMove, fingerprint, legalMoves, moveKey } from '../../engine';
import { at, find, mk, types } from './helpers';

test('lines: exact line offers process_line and collapse-all; reward elimination sets the L flag', () => {
  // P1 markers (0,0),(1,0),(2,0),(3,0) on square8 2p (length 4)
  const s = mk({
    stacks: { '5,5': [1, 1], '7,7': [2] },
    markers: { '0,0': 1, '1,0': 1, '2,0': 1, '3,0': 1 },
    phase: 'line_processing',
    ringsInHand: [2, 2],
  });
  assert.deepEqual(types(s), ['choose_line_option', 'process_line']);
  const pl = find(s, (m) => m.type === 'process_line');
  assert.deepEqual(pl.formedLines![0].positions, [at(0, 0), at(1, 0), at(2, 0), at(3, 0)]);
  assert.deepEqual(pl.formedLines![0].direction, at(1, 0));
  const t = applyMove(s, pl);
  assert.equal(t.territory[1], 4);
  assert.equal(fingerprint(t).split('#')[0], '1:line_processing:active:1');
  assert.deepEqual(types(t), ['eliminate_rings_from_stack']);
  const e = legalMoves(t)[0];
  assert.equal(
    moveKey(e),
    '{"eliminatedRings":[{"count":1,"player":1}],"eliminationContext":"line","player":1,"to":{"x":5,"y":5},"type":"eliminate_rings_from_stack"}',
  );
  const u = applyMove(t, e);
  assert.equal(u.eliminated[1], 1);
  assert.equal(u.height[u.geo.indexOf(at(5, 5))], 1);
  assert.equal(fingerprint(u).split('#')[0], '1:line_processing:active:0');
  assert.deepEqual(types(u), ['no_line_action']);
});

test('lines: over-long line — minimum-collapse segments without cost; process_line is a no-op', () => {
  const s = mk({
    stacks: { '5,5': [1], '7,7': [2] },
    markers: { '0,0': 1, '1,0': 1, '2,0': 1, '3,0': 1, '4,0': 1 },
    phase: 'line_processing',
    ringsInHand: [2, 2],
  });
  const opts = legalMoves(s).filter((m) => m.type === 'choose_line_option');
  assert.equal(opts.length, 3); // collapse-all + 2 segments of 4
  const pl = find(s, (m) => m.type === 'process_line');
  const same = applyMove(s, pl);
  assert.equal(fingerprint(same), fingerprint(s));
  const seg = opts.find((m) => m.collapsedMarkers!.length === 4 && m.collapsedMarkers![0].x === 1)!;
  const t = applyMove(s, seg);
  assert.equal(t.territory[1], 4);
  assert.equal(t.marker[t.geo.indexOf(at(0, 0))], 1);
  assert.equal(t.pendingLineReward, false);
  assert.equal(t.eliminated[1], 0);
});

test('lines: hex8 with 3 players — length-3 lines only via choose_line_option', () => {
  const s = mk({
    boardType: 'hex8',
    numPlayers: 3,
    stacks: { '4,-4,0': [1], '-4,4,0': [2], '0,4,-4': [3] },
    markers: { '0,0,0': 1, '1,0,-1': 1, '2,0,-2': 1 },
    phase: 'line_processing',
    ringsInHand: [3, 3, 3],
  });
  assert.deepEqual(types(s), ['choose_line_option']);
  const m = legalMoves(s)[0];
  assert.deepEqual(m.formedLines![0].direction, { x: 1, y: 0, z: -1 });
  assert.equal(m.formedLines![0].length, 3);
});

test('territory: enclosed region — choose, collapse region and border, credit eliminations, pay the cap', () => {
  // P1 markers wall off the corner cell (0,0) holding a P2 stack; P1 has a stack outside.
  const s = mk({
    stacks: { '0,0': [2, 2], '5,5': [1, 1], '7,7': [2] },
    markers: { '1,0': 1, '0,1': 1, '1,1': 1 },
    phase: 'territory_processing',
    ringsInHand: [2, 2],
  });
  const opts = legalMoves(s).filter((m) => m.type === 'choose_territory_option');
  assert.ok(opts.length >= 1);
  assert.ok(types(s).includes('skip_territory_processing'));
  const ch = opts.find((m) => m.disconnectedRegions![0].spaces.length === 1 && m.disconnectedRegions![0].controllingPlayer === 1)!;
  assert.deepEqual(ch.disconnectedRegions![0].spaces, [at(0, 0)]);
  const t = applyMove(s, ch);
  assert.equal(t.eliminated[1], 2); // both P2 rings inside, credited to P1
  assert.equal(t.collapsed[t.geo.indexOf(at(0, 0))], 1);
  assert.equal(t.collapsed[t.geo.indexOf(at(1, 1))], 1); // border markers collapse too
  assert.equal(t.territory[1], 4);
  assert.deepEqual(types(t), ['eliminate_rings_from_stack']);
  const e = legalMoves(t)[0];
  assert.equal(e.eliminationContext, 'territory');
  assert.deepEqual(e.eliminationFromStack, { capHeight: 2, position: at(5, 5), totalHeight: 2 });
  const u = applyMove(t, e);
  assert.equal(u.eliminated[1], 4);
  assert.equal(u.currentPlayer, 2);
  assert.equal(u.phase, 'ring_placement');
});

test('territory: no region → no_territory_action; region without an outside stack is not processable', () => {
  const s = mk({
    stacks: { '0,0': [2], '7,7': [2] },
    markers: { '1,0': 1, '0,1': 1, '1,1': 1 },
    phase: 'territory_processing',
    ringsInHand: [2, 2],
  });
  assert.deepEqual(types(s), ['no_territory_action']);
});
