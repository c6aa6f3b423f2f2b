/**
 * Ratings from evaluation games: plain functions, no I/O (the workflows import them too).
 *
 *   pairwiseResults(games)              every game as pairwise half-point results between its seats
 *   fitBradleyTerry(results, {anchor})  maximum-likelihood Bradley–Terry Elo, anchored (random = 0),
 *                                       95% intervals from the observed information
 *   wilson(score, n)                    Wilson score interval of a win rate (draws count half)
 *   eloFromScore(s)                     the logistic Elo difference of an expected score
 *
 * A game between several seats counts, for every two seats held by different participants, as a
 * win for the winner's seat, a loss for the other, and a draw when neither won (no winner, or a third
 * seat won). A rating depends only on the set of evaluation games and the pinned anchor, so adding
 * games never rewrites history inconsistently: refitting the same games gives the same ladder.
 */

export interface EvalGame {
  /** participant per seat (seat 1 first), e.g. `random`, `heuristic`, `mcts:square8_2p-ab12…` */
  seats: string[];
  /** winning seat (1-based) or null for a draw / a game cut off */
  winner: number | null;
}

/** Aggregated results of participant `a` against participant `b`. */
export interface PairResult {
  a: string;
  b: string;
  games: number;
  /** points of `a` (win 1, draw 1/2) */
  scoreA: number;
}

export function pairwiseResults(games: EvalGame[]): PairResult[] {
  const map = new Map<string, PairResult>();
  const add = (a: string, b: string, score: number) => {
    const [x, y, s] = a < b ? [a, b, score] : [b, a, 1 - score];
    const key = `${x}\u0000${y}`;
    const r = map.get(key) ?? { a: x, b: y, games: 0, scoreA: 0 };
    r.games += 1;
    r.scoreA += s;
    map.set(key, r);
  };
  for (const g of games) {
    for (let i = 0; i < g.seats.length; i++) {
      for (let j = i + 1; j < g.seats.length; j++) {
        if (g.seats[i] === g.seats[j]) continue;
        const score = g.winner === i + 1 ? 1 : g.winner === j + 1 ? 0 : 0.5;
        add(g.seats[i]!, g.seats[j]!, score);
      }
    }
  }
  return [...map.values()].sort((p, q) => (p.a === q.a ? (p.b < q.b ? -1 : 1) : p.a < q.a ? -1 : 1));
}

export interface Rating {
  participant: string;
  /** Elo relative to the anchor; null when not connected to the anchor by any game */
  elo: number | null;
  /** standard error (Elo); 0 for the anchor */
  se: number | null;
  /** 95% interval */
  lo: number | null;
  hi: number | null;
  games: number;
  /** points scored over all its pairwise results */
  score: number;
}

export interface FitOptions {
  /** the participant pinned at Elo 0 (default `random`) */
  anchor?: string;
  /**
   * virtual draws added to every pair that played (default 1): keeps a participant that won (or
   * lost) every game at a finite rating; its weight vanishes as games accumulate
   */
  priorDraws?: number;
  /** z of the interval (default 1.96: 95%) */
  z?: number;
}

const ELO_PER_NAT = 400 / Math.LN10;

/** Solves A x = b (A symmetric positive definite, small): Gaussian elimination with partial pivoting. */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r;
    [M[c], M[p]] = [M[p]!, M[c]!];
    const piv = M[c]![c]!;
    if (Math.abs(piv) < 1e-300) throw new Error('singular information matrix');
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r]![c]! / piv;
      if (f === 0) continue;
      for (let k = c; k <= n; k++) M[r]![k]! -= f * M[c]![k]!;
    }
  }
  return M.map((row, i) => row[n]! / row[i]!);
}

function inverseDiagonal(A: number[][]): number[] {
  const n = A.length;
  return A.map(
    (_, i) =>
      solve(
        A,
        Array.from({ length: n }, (_, k) => (k === i ? 1 : 0)),
      )[i]!,
  );
}

/**
 * Maximum-likelihood Bradley–Terry ratings on the Elo scale (P(a beats b) = 1/(1+10^((Rb-Ra)/400)),
 * a draw half a win), by Newton's method on the log-likelihood with the anchor fixed at 0. The 95%
 * interval is ±z·SE with SE from the inverse observed information at the optimum. Participants not
 * connected to the anchor through games get elo null. Ordered by Elo, best first.
 */
export function fitBradleyTerry(results: PairResult[], opts: FitOptions = {}): Rating[] {
  const anchor = opts.anchor ?? 'random';
  const prior = opts.priorDraws ?? 1;
  const z = opts.z ?? 1.96;
  const names = [...new Set(results.flatMap((r) => [r.a, r.b]))].sort();
  const games = new Map(names.map((n) => [n, 0]));
  const score = new Map(names.map((n) => [n, 0]));
  for (const r of results) {
    games.set(r.a, games.get(r.a)! + r.games);
    games.set(r.b, games.get(r.b)! + r.games);
    score.set(r.a, score.get(r.a)! + r.scoreA);
    score.set(r.b, score.get(r.b)! + r.games - r.scoreA);
  }
  // The component of the anchor (breadth-first over pairs that played).
  const adj = new Map(names.map((n) => [n, [] as string[]]));
  for (const r of results) {
    if (r.games === 0) continue;
    adj.get(r.a)!.push(r.b);
    adj.get(r.b)!.push(r.a);
  }
  const connected = new Set<string>();
  if (adj.has(anchor)) {
    const queue = [anchor];
    connected.add(anchor);
    while (queue.length) {
      for (const m of adj.get(queue.shift()!)!) {
        if (connected.has(m)) continue;
        connected.add(m);
        queue.push(m);
      }
    }
  }
  const free = names.filter((n) => connected.has(n) && n !== anchor);
  const idx = new Map(free.map((n, i) => [n, i]));
  const pairs = results
    .filter((r) => r.games > 0 && connected.has(r.a))
    .map((r) => ({ i: idx.get(r.a) ?? -1, j: idx.get(r.b) ?? -1, n: r.games + prior, s: r.scoreA + prior / 2 }));
  const beta = new Array<number>(free.length).fill(0);
  const at = (i: number) => (i < 0 ? 0 : beta[i]!);
  const information = (): { g: number[]; H: number[][] } => {
    const g = new Array<number>(free.length).fill(0);
    const H = free.map(() => new Array<number>(free.length).fill(0));
    for (const { i, j, n, s } of pairs) {
      const p = 1 / (1 + Math.exp(at(j) - at(i)));
      const w = n * p * (1 - p);
      if (i >= 0) {
        g[i]! += s - n * p;
        H[i]![i]! += w;
      }
      if (j >= 0) {
        g[j]! -= s - n * p;
        H[j]![j]! += w;
      }
      if (i >= 0 && j >= 0) {
        H[i]![j]! -= w;
        H[j]![i]! -= w;
      }
    }
    return { g, H };
  };
  for (let iter = 0; iter < 100 && free.length > 0; iter++) {
    const { g, H } = information();
    const step = solve(H, g);
    // Newton on a concave log-likelihood; cap a step at 4 nats (~700 Elo) for the first iterations.
    const big = Math.max(...step.map(Math.abs));
    const scale = big > 4 ? 4 / big : 1;
    step.forEach((d, k) => (beta[k]! += scale * d));
    if (big * scale < 1e-10) break;
  }
  const variance = free.length > 0 ? inverseDiagonal(information().H) : [];
  const rows: Rating[] = names.map((name) => {
    const base = { participant: name, games: games.get(name)!, score: score.get(name)! };
    if (name === anchor) return { ...base, elo: 0, se: 0, lo: 0, hi: 0 };
    const k = idx.get(name);
    if (k === undefined) return { ...base, elo: null, se: null, lo: null, hi: null };
    const elo = beta[k]! * ELO_PER_NAT;
    const se = Math.sqrt(Math.max(variance[k]!, 0)) * ELO_PER_NAT;
    return { ...base, elo, se, lo: elo - z * se, hi: elo + z * se };
  });
  return rows.sort((p, q) => (q.elo ?? -Infinity) - (p.elo ?? -Infinity) || (p.participant < q.participant ? -1 : 1));
}

export interface Interval {
  rate: number;
  lo: number;
  hi: number;
}

/** Wilson score interval for `score` successes in `n` trials (draws as half successes), z = 1.96 by default. */
export function wilson(score: number, n: number, z = 1.96): Interval {
  if (n <= 0) return { rate: 0, lo: 0, hi: 1 };
  const p = score / n;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const half = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  const den = 1 + z2 / n;
  return { rate: p, lo: Math.max(0, (centre - half) / den), hi: Math.min(1, (centre + half) / den) };
}

/** Elo difference whose logistic expected score is `s` (±Infinity at 1 and 0). */
export function eloFromScore(s: number): number {
  if (s <= 0) return -Infinity;
  if (s >= 1) return Infinity;
  return -400 * Math.log10(1 / s - 1);
}

/** Expected score of an Elo difference. */
export function scoreFromElo(elo: number): number {
  return 1 / (1 + Math.pow(10, -elo / 400));
}
