import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMove, createInitialState, fingerprint, legalMoves, moveKey } from '../../engine';
import { at, find, mk, same, types } from './helpers';

test('placement: initial square8 has one place_ring per cell; swap_sides offered once to player 2', () => {
  const s = createInitialState({ boardType: 'square8', numPlayers: 2, seed: 1 });
  const lm = legalMoves(s);
  assert.equal(lm.length, 64);
  assert.ok(lm.every((m) => m.type === 'place_ring' && m.placementCount === undefined));
  let t = applyMove(s, { type: 'place_ring', player: 1, to: at(0, 0) });
  t = applyMove(
    t,
    find(t, (m) => m.type === 'move_stack'),
  );
  t = applyMove(t, { type: 'no_line_action', player: 1, to: at(0, 0) });
  t = applyMove(t, { type: 'no_territory_action', player: 1, to: at(0, 0) });
  assert.equal(t.currentPlayer, 2);
  assert.ok(types(t).includes('swap_sides'));
  const sw = applyMove(t, { type: 'swap_sides', player: 2, to: at(0, 0) });
  assert.equal(fingerprint(sw), fingerprint(t)); // identities swap, fingerprint unchanged
  assert.equal(sw.phase, 'ring_placement');
  assert.ok(!types(sw).includes('swap_sides'));
  const noSwap3p = createInitialState({ boardType: 'square8', numPlayers: 3, seed: 1 });
  assert.ok(!types(noSwap3p).includes('swap_sides'));
});

test('placement: no dead placement, no placement on markers or collapsed cells, stacking allowed', () => {
  // (0,0) boxed in by collapsed cells: a new stack there could never move
  const s = mk({ collapsed: { '1,0': 2, '0,1': 2, '1,1': 2 }, markers: { '5,5': 2 }, stacks: { '3,3': [2] }, ringsInHand: [5, 5] });
  const targets = legalMoves(s)
    .filter((m) => m.type === 'place_ring')
    .map((m) => `${m.to.x},${m.to.y}`);
  assert.ok(!targets.includes('0,0'));
  assert.ok(!targets.includes('1,1'));
  assert.ok(!targets.includes('5,5'));
  assert.ok(targets.includes('3,3')); // onto an opponent stack
  const t = applyMove(s, { type: 'place_ring', player: 1, to: at(3, 3) });
  assert.equal(t.height[t.geo.indexOf(at(3, 3))], 2);
  assert.equal(t.ctrl[t.geo.indexOf(at(3, 3))], 1);
  // must move the placed stack
  assert.ok(legalMoves(t).every((m) => same(m.from, at(3, 3))));
});

test('placement: skip_placement only with a movable stack; no_placement_action with empty hand', () => {
  const a = mk({ stacks: { '3,3': [1], '6,6': [2] }, ringsInHand: [3, 3] });
  assert.ok(types(a).includes('skip_placement'));
  const b = mk({ stacks: { '3,3': [1], '6,6': [2] }, ringsInHand: [0, 3] });
  assert.deepEqual(types(b), ['no_placement_action']);
  const c = mk({ stacks: { '6,6': [2] }, ringsInHand: [3, 3] });
  assert.ok(!types(c).includes('skip_placement'));
});

test('movement: distance >= height, blocked by stacks and collapsed cells, markers passable', () => {
  const s = mk({ stacks: { '0,0': [1, 1], '0,4': [2] }, collapsed: { '3,3': 1 }, markers: { '1,0': 2 }, phase: 'movement' });
  const dests = legalMoves(s)
    .filter((m) => m.type === 'move_stack')
    .map((m) => `${m.to.x},${m.to.y}`)
    .sort();
  // up the column: (0,2),(0,3) then blocked by the stack at (0,4); right: (2,0)..(7,0) over the marker at (1,0);
  // diagonal: (2,2) then blocked by the collapsed (3,3)
  assert.deepEqual(dests, ['0,2', '0,3', '2,0', '2,2', '3,0', '4,0', '5,0', '6,0', '7,0']);
});

test('movement: markers left, flipped, collapsed; landing on a marker eliminates the top ring', () => {
  const s = mk({
    stacks: { '0,0': [1, 2], '7,7': [2] },
    markers: { '1,0': 2, '2,0': 1, '4,0': 2 },
    phase: 'movement',
    ringsInHand: [3, 3],
  });
  const t = applyMove(s, { type: 'move_stack', player: 1, from: at(0, 0), to: at(4, 0) });
  const g = t.geo;
  assert.equal(t.marker[g.indexOf(at(0, 0))], 1); // departure marker
  assert.equal(t.marker[g.indexOf(at(1, 0))], 1); // flipped
  assert.equal(t.collapsed[g.indexOf(at(2, 0))], 1); // own marker collapsed
  assert.equal(t.territory[1], 1);
  assert.equal(t.marker[g.indexOf(at(4, 0))], 0); // landing marker removed
  assert.equal(t.height[g.indexOf(at(4, 0))], 1); // top ring eliminated
  assert.equal(t.ctrl[g.indexOf(at(4, 0))], 2); // control passes to the buried ring
  assert.equal(t.eliminated[1], 1);
  assert.equal(t.phase, 'line_processing');
});

test('capture: cap-height rule, ring to the bottom, optional capture phase, chain continuation', () => {
  // P1 cap 1 cannot capture P2's cap-2 stack
  const a = mk({ stacks: { '0,0': [1], '0,2': [2, 2] }, phase: 'movement' });
  assert.ok(!legalMoves(a).some((m) => m.type === 'overtaking_capture'));
  // chain: (0,0) captures (0,1) landing (0,2), then (0,3) landing (0,5)
  const b = mk({ stacks: { '0,0': [1], '0,1': [2], '0,3': [2], '7,7': [2] }, phase: 'movement' });
  const c1 = find(b, (m) => m.type === 'overtaking_capture' && same(m.to, at(0, 2)));
  const t = applyMove(b, c1);
  assert.equal(t.phase, 'chain_capture');
  const i = t.geo.indexOf(at(0, 2));
  assert.deepEqual(t.rings[i], [2, 1]); // bottom→top: captured ring at the bottom
  assert.ok(legalMoves(t).every((m) => m.type === 'continue_capture_segment' && same(m.from, at(0, 2))));
  const u = applyMove(
    t,
    find(t, (m) => same(m.captureTarget, at(0, 3)) && same(m.to, at(0, 5))),
  );
  assert.equal(u.height[u.geo.indexOf(at(0, 5))], 3);
  assert.equal(u.phase, 'line_processing');
  // after a plain move that leaves a capture available: capture phase with skip_capture
  const c = mk({ stacks: { '0,0': [1], '2,1': [2], '7,7': [2] }, phase: 'movement' });
  const v = applyMove(c, { type: 'move_stack', player: 1, from: at(0, 0), to: at(1, 1) });
  assert.equal(v.phase, 'capture');
  assert.ok(types(v).includes('skip_capture'));
  assert.ok(types(v).includes('overtaking_capture'));
  const w = applyMove(v, { type: 'skip_capture', player: 1, to: at(0, 0) });
  assert.equal(w.phase, 'line_processing');
  assert.ok(legalMoves(w).map(moveKey).includes('{"player":1,"to":{"x":0,"y":0},"type":"no_line_action"}'));
});
