/**
 * The SPRT gate: a generalized SPRT on pentanomial pair outcomes, as fishtest runs it. Plain
 * functions, no I/O (the gauntlet workflow calls them).
 *
 * A pair is two games with the same seed and the seats swapped; its outcome is the candidate's
 * points over both games, 0, ½, 1, 1½ or 2, counted in `penta[0..4]`. Pairs cancel most of the
 * seat and opening noise, and the pentanomial keeps the correlation between the two games.
 *
 * LLR = N · Σ p̂ᵢ log(q₁ᵢ / q₀ᵢ), where p̂ is the observed pentanomial distribution (zero counts
 * replaced by 1e-3, as fishtest does) and qₖ is the distribution closest to p̂ (maximum likelihood)
 * whose expected score per game is the logistic score of eloₖ. Bounds: accept H1 at
 * log((1-β)/α), accept H0 at log(β/(1-α)).
 */
import { eloFromScore, scoreFromElo } from './ratings';

export type Pentanomial = [number, number, number, number, number];

export interface SprtConfig {
  elo0: number;
  elo1: number;
  alpha: number;
  beta: number;
  /** games (two per pair) after which an undecided test stops as `truncated` */
  maxGames: number;
}

export type SprtState = 'continue' | 'H0' | 'H1' | 'truncated';

export interface SprtStatus {
  state: SprtState;
  llr: number;
  lower: number;
  upper: number;
  pairs: number;
  games: number;
  /** candidate's score per game and its Elo (logistic), with a 95% interval from the pair variance */
  score: number;
  elo: number;
  eloLo: number;
  eloHi: number;
}

const PAIR_SCORES = [0, 0.25, 0.5, 0.75, 1];

/** The pentanomial index of a pair where the candidate scored `points` (0, 0.5, …, 2) over its two games. */
export function pentaIndex(points: number): number {
  const k = Math.round(points * 2);
  if (k < 0 || k > 4 || Math.abs(points * 2 - k) > 1e-9) throw new RangeError(`pair points must be 0, 0.5, 1, 1.5 or 2, got ${points}`);
  return k;
}

/**
 * The distribution q maximizing Σ pᵢ log qᵢ subject to Σ qᵢ aᵢ = s: qᵢ = pᵢ / (1 + λ(aᵢ - s)), with λ
 * the root of Σ pᵢ (aᵢ - s) / (1 + λ(aᵢ - s)) = 0 (decreasing in λ; found by bisection).
 */
export function mleExpected(p: number[], a: number[], s: number): number[] {
  const d = a.map((x) => x - s);
  const hiD = Math.max(...d);
  const loD = Math.min(...d);
  if (hiD <= 0 || loD >= 0) throw new RangeError(`expected score ${s} lies outside the outcomes' range`);
  let lo = -1 / hiD;
  let hi = -1 / loD;
  const f = (lam: number) => p.reduce((sum, pi, i) => sum + (pi * d[i]!) / (1 + lam * d[i]!), 0);
  for (let it = 0; it < 200; it++) {
    const mid = (lo + hi) / 2;
    if (mid === lo || mid === hi) break;
    if (f(mid) > 0) lo = mid;
    else hi = mid;
  }
  const lam = (lo + hi) / 2;
  return p.map((pi, i) => pi / (1 + lam * d[i]!));
}

/** The GSPRT log-likelihood ratio of H1 (elo1) against H0 (elo0) on pentanomial counts. */
export function llrPentanomial(penta: readonly number[], elo0: number, elo1: number): number {
  const pairs = penta.reduce((x, y) => x + y, 0);
  if (pairs === 0) return 0;
  const counts = penta.map((c) => Math.max(c, 1e-3));
  const n = counts.reduce((x, y) => x + y, 0);
  const p = counts.map((c) => c / n);
  const q0 = mleExpected(p, PAIR_SCORES, scoreFromElo(elo0));
  const q1 = mleExpected(p, PAIR_SCORES, scoreFromElo(elo1));
  return n * p.reduce((sum, pi, i) => sum + pi * Math.log(q1[i]! / q0[i]!), 0);
}

export function sprtBounds(alpha: number, beta: number): { lower: number; upper: number } {
  return { lower: Math.log(beta / (1 - alpha)), upper: Math.log((1 - beta) / alpha) };
}

/** The test's state after the pairs counted in `penta`. */
export function sprtStatus(penta: readonly number[], cfg: SprtConfig): SprtStatus {
  const { lower, upper } = sprtBounds(cfg.alpha, cfg.beta);
  const pairs = penta.reduce((x, y) => x + y, 0);
  const llr = llrPentanomial(penta, cfg.elo0, cfg.elo1);
  const state: SprtState = llr >= upper ? 'H1' : llr <= lower ? 'H0' : 2 * pairs >= cfg.maxGames ? 'truncated' : 'continue';
  let score = 0.5;
  let varPair = 0;
  if (pairs > 0) {
    score = penta.reduce((s, c, i) => s + c * PAIR_SCORES[i]!, 0) / pairs;
    varPair = penta.reduce((s, c, i) => s + c * (PAIR_SCORES[i]! - score) ** 2, 0) / pairs;
  }
  const half = pairs > 0 ? 1.96 * Math.sqrt(varPair / pairs) : 0.5;
  const clamp = (x: number) => Math.min(1 - 1e-6, Math.max(1e-6, x));
  return {
    state,
    llr,
    lower,
    upper,
    pairs,
    games: 2 * pairs,
    score,
    elo: eloFromScore(clamp(score)),
    eloLo: eloFromScore(clamp(score - half)),
    eloHi: eloFromScore(clamp(score + half)),
  };
}
