// The loop's curriculum: base weights give each key its share of steps, evenly spread; adapt favours
// the keys whose Elo rose least; unknown gains count as the least.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveWeights, pickKey, type CurriculumKey } from '../workflows/curriculum';

const keys = (gains: (number | null)[]): CurriculumKey[] =>
  gains.map((lastGain, i) => ({ configKey: ['square8_2p', 'hex8_2p', 'square19_2p'][i]!, credit: 0, lastGain }));

test('weighted round robin: shares follow the weights, spread out, deterministic', () => {
  const ks = keys([null, null, null]);
  const w = { square8_2p: 3, hex8_2p: 2, square19_2p: 1 };
  const picks = Array.from({ length: 12 }, () => pickKey(ks, w));
  const count = (k: string) => picks.filter((p) => p === k).length;
  assert.deepEqual([count('square8_2p'), count('hex8_2p'), count('square19_2p')], [6, 4, 2]);
  assert.deepEqual(picks.slice(0, 6), ['square8_2p', 'hex8_2p', 'square8_2p', 'square19_2p', 'hex8_2p', 'square8_2p']);
  assert.ok(!picks.some((p, i) => i > 0 && p === picks[i - 1] && p !== 'square8_2p'), 'no key but the heaviest twice in a row');
  const again = keys([null, null, null]);
  assert.deepEqual(
    Array.from({ length: 12 }, () => pickKey(again, w)),
    picks,
  );
});

test('adapt: the key whose Elo rose least gets (1 + adapt) × its base; unknown counts as least', () => {
  const base = { square8_2p: 1, hex8_2p: 2 };
  assert.deepEqual(effectiveWeights(keys([100, 20]), base, 1), { square8_2p: 1, hex8_2p: 4 });
  assert.deepEqual(effectiveWeights(keys([100, 60, 20]).slice(0, 3), base, 0.5), { square8_2p: 1, hex8_2p: 2.5, square19_2p: 1.5 });
  assert.deepEqual(effectiveWeights(keys([50, null]), base, 1), { square8_2p: 1, hex8_2p: 4 });
  assert.deepEqual(effectiveWeights(keys([30, 30]), base, 1), { square8_2p: 1, hex8_2p: 2 }, 'equal gains: base weights');
  assert.deepEqual(effectiveWeights(keys([100, 20]), base, 0), { square8_2p: 1, hex8_2p: 2 }, 'adapt 0: fixed');
  const ks = keys([0, 0]);
  assert.equal(pickKey(ks, { square8_2p: 0, hex8_2p: 1 }), 'hex8_2p');
  assert.equal(pickKey(ks, { square8_2p: 0, hex8_2p: 1 }), 'hex8_2p', 'weight 0: never picked');
});
