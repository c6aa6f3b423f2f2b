// Gumbel root search (Danihelka et al. 2022, "Policy improvement by planning with Gumbel"): at the
// root, m actions are sampled without replacement by Gumbel-top-k over the policy logits, and the
// simulation budget is spent by sequential halving over them, keeping the better half by
// g + logits + σ(q̂) after each phase (q̂ the completed Q, min-max rescaled over the root's actions). Below the root the tree is the PUCT tree of ./mcts (with its
// virtual-loss leaf batching and multi-player backup). The policy target is the improved policy
// softmax(logits + σ(completed Q)), which sums to 1 over the legal moves.
import { cloneState, type GameState } from '../engine';
import { SearchNode, simulate, type EvaluateFn, type SearchResult } from './mcts';

export interface GumbelSettings {
  sims: number;
  /** actions considered at the root (m), at most the legal moves and the budget (default 16) */
  maxConsidered: number;
  /** σ(q) = (cVisit + max visits) · cScale · q, q min-max rescaled to [0, 1] (defaults 50 and 0.1, as mctx) */
  cVisit: number;
  cScale: number;
  cPuct: number;
  leafBatch: number;
}

export const DEFAULT_GUMBEL: GumbelSettings = { sims: 16, maxConsidered: 16, cVisit: 50, cScale: 0.1, cPuct: 1.5, leafBatch: 8 };

function gumbelDraw(rng: () => number): number {
  const u = Math.min(Math.max(rng(), 1e-12), 1 - 1e-12);
  return -Math.log(-Math.log(u));
}

/**
 * Gumbel search from `state` (active, at least one legal move). `noise` draws the Gumbel variables
 * (self-play); without it they are 0 and the search is deterministic given the network.
 */
export async function gumbelSearch(
  state: GameState,
  evaluate: EvaluateFn,
  settings: GumbelSettings,
  rng: () => number,
  opts: { noise: boolean },
): Promise<SearchResult> {
  const root = new SearchNode(cloneState(state));
  root.expand(await evaluate(root.state));
  const k = root.moves.length;
  const me = root.mover - 1;
  const g = Float64Array.from({ length: k }, () => (opts.noise ? gumbelDraw(rng) : 0));
  const budget = Math.max(1, settings.sims);
  // the most actions (≤ maxConsidered, ≤ legal moves) that every halving phase can visit at least once
  let m = Math.max(1, Math.min(settings.maxConsidered, k));
  while (m > 2 && m * Math.ceil(Math.log2(m)) > budget) m--;
  m = Math.min(m, budget);
  const order = Array.from({ length: k }, (_, a) => a).sort((a, b) => g[b]! + root.logits[b]! - (g[a]! + root.logits[a]!) || a - b);
  let remaining = order.slice(0, m);
  // completed Q for the mover (unvisited actions take the root's network value), rescaled to [0, 1]
  // by the min and max over the root's actions, as mctx's qtransform_completed_by_mix_value does
  const completed = (a: number) => (root.N[a]! > 0 ? root.W[a * root.np + me]! / root.N[a]! : root.value[me]!);
  const q01 = (a: number) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let b = 0; b < k; b++) {
      const q = completed(b);
      if (q < lo) lo = q;
      if (q > hi) hi = q;
    }
    return hi - lo > 1e-9 ? (completed(a) - lo) / (hi - lo) : 0.5;
  };
  const sigma = (q: number) => {
    let maxN = 0;
    for (let a = 0; a < k; a++) maxN = Math.max(maxN, root.N[a]!);
    return (settings.cVisit + maxN) * settings.cScale * q;
  };
  const score = (a: number) => g[a]! + root.logits[a]! + sigma(q01(a));
  const phases = m > 1 ? Math.ceil(Math.log2(m)) : 1;
  let used = 0;
  for (let phase = 0; phase < phases && used < budget; phase++) {
    // the last phase spends what is left of the budget, round robin over the remaining actions
    const each = Math.max(1, Math.floor(budget / (phases * remaining.length)));
    const n = phase === phases - 1 ? budget - used : Math.min(each * remaining.length, budget - used);
    used += await simulate(root, evaluate, n, settings, remaining);
    if (remaining.length > 1) {
      const ranked = [...remaining].sort((a, b) => score(b) - score(a) || a - b);
      remaining = ranked.slice(0, Math.ceil(remaining.length / 2));
    }
  }
  let chosen = remaining[0]!;
  for (const a of remaining) if (score(a) > score(chosen)) chosen = a;
  // improved policy: softmax(logits + σ(completed Q)) over every legal move
  const z = Float64Array.from({ length: k }, (_, a) => root.logits[a]! + sigma(q01(a)));
  const zmax = Math.max(...z);
  let sum = 0;
  for (let a = 0; a < k; a++) {
    z[a] = Math.exp(z[a]! - zmax);
    sum += z[a]!;
  }
  for (let a = 0; a < k; a++) z[a] = z[a]! / sum;
  return { moves: root.moves, visits: Int32Array.from(root.N), policy: z, chosen, rootValue: root.value, simulations: used };
}
