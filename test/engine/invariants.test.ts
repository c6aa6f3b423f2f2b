// Random self-play on every board and player count: ring conservation, non-empty legal sets
// while active, termination, and agreement of the validated and trusted apply paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyMoveInPlace,
  applyMoveTrusted,
  cloneState,
  createInitialState,
  fingerprint,
  legalMoves,
  mulberry32,
  parseMove,
  serializeMove,
  type BoardType,
  type GameState,
} from '../../engine';

function totalRings(s: GameState): number {
  let t = 0;
  for (let p = 1; p <= s.numPlayers; p++) t += s.ringsInHand[p] + s.eliminated[p];
  for (let i = 0; i < s.geo.n; i++) t += s.height[i];
  return t;
}

const configs: [BoardType, number, number][] = [
  ['square8', 2, 6],
  ['square8', 3, 3],
  ['square8', 4, 3],
  ['hex8', 2, 3],
  ['hex8', 3, 2],
  ['hex8', 4, 2],
  ['square19', 4, 1],
  ['hexagonal', 4, 1],
];

for (const [bt, np, games] of configs) {
  test(`invariants: ${bt} ${np}p random games`, () => {
    for (let seed = 1000; seed < 1000 + games; seed++) {
      const s = createInitialState({ boardType: bt, numPlayers: np, seed });
      const total = totalRings(s);
      const rng = mulberry32(seed);
      let k = 0;
      while (s.status === 'active' && k < 3000) {
        const lm = legalMoves(s);
        assert.ok(lm.length > 0, `empty legal set at move ${k} (${fingerprint(s)})`);
        const m = lm[Math.floor(rng() * lm.length)];
        if (k % 7 === 0) {
          // validated path on a serialized/parsed copy must agree with the trusted path
          const c = cloneState(s);
          applyMoveInPlace(c, parseMove(serializeMove(m)));
          applyMoveTrusted(s, m);
          assert.equal(fingerprint(c), fingerprint(s));
        } else applyMoveTrusted(s, m);
        k++;
        assert.equal(totalRings(s), total, `ring conservation broken after move ${k}`);
        for (let i = 0; i < s.geo.n; i++) {
          if (s.height[i]) {
            assert.equal(s.marker[i], 0, 'stack and marker on one cell');
            assert.equal(s.collapsed[i], 0, 'stack on a collapsed cell');
          }
          if (s.marker[i]) assert.equal(s.collapsed[i], 0, 'marker on a collapsed cell');
        }
      }
      assert.equal(s.status, 'completed', `${bt} ${np}p seed ${seed} did not finish in 3000 moves`);
      assert.deepEqual(legalMoves(s), []);
    }
  });
}
