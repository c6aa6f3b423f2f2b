// The improvement loop's curriculum: which config key gets the next step. Pure and deterministic
// (no randomness), so a replay picks the same keys.
//
// Each key has a base weight from config (loop.curriculum.weights, 1 when not listed). With `adapt`
// above 0 a key's weight grows toward the keys whose Elo rose least in their last training:
//   w = base × (1 + adapt × (maxGain − gain) / (maxGain − minGain))
// (a key without a known gain counts as the least risen). Keys are then served by smooth weighted
// round robin: every pick adds each key's weight to its credit, takes the key with the most credit
// and takes the total weight off it, so over any stretch each key gets its share of steps, evenly spread.

export interface CurriculumKey {
  configKey: string;
  /** running credit of the weighted round robin */
  credit: number;
  /** Elo change of the key's best at its last training (0 when rejected), null until known */
  lastGain: number | null;
}

export function effectiveWeights(keys: CurriculumKey[], base: Record<string, number>, adapt: number): Record<string, number> {
  const known = keys.map((k) => k.lastGain).filter((g): g is number => g !== null);
  const hi = known.length ? Math.max(...known) : 0;
  const lo = known.length ? Math.min(...known) : 0;
  const out: Record<string, number> = {};
  for (const k of keys) {
    const b = base[k.configKey] ?? 1;
    const lag = k.lastGain === null ? 1 : hi > lo ? (hi - k.lastGain) / (hi - lo) : 0;
    out[k.configKey] = b * (1 + adapt * lag);
  }
  return out;
}

/** The key to serve next; updates the credits in place. Keys of weight 0 are never picked (unless all are 0). */
export function pickKey(keys: CurriculumKey[], weights: Record<string, number>): string {
  const total = keys.reduce((s, k) => s + (weights[k.configKey] ?? 0), 0);
  if (total <= 0) return keys[0]!.configKey;
  let best = keys[0]!;
  for (const k of keys) {
    k.credit += weights[k.configKey] ?? 0;
    if (k.credit > best.credit) best = k;
  }
  best.credit -= total;
  return best.configKey;
}
