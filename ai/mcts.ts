// PUCT Monte-Carlo tree search (AlphaZero style) over the engine, guided by a network evaluation.
//
// - The player to move is read from every state (RingRift turns have several phases in which the
//   same player moves again), and every edge keeps the whole per-seat value vector, so each node
//   maximises the value of its own mover (multi-player backup).
// - Terminal states are valued from the engine's result (winner +1, the others -1, no winner 0).
// - Leaves are batched within one tree with virtual loss: a round selects up to `leafBatch` leaves,
//   each selection counting as a loss for the movers along its path until the round is backed up.
import { applyMoveTrusted, cloneState, type GameState, type Move } from '../engine';
import type { Evaluation } from './evaluator';

export type EvaluateFn = (state: GameState) => Promise<Evaluation>;

export interface MctsSettings {
  sims: number;
  /** exploration constant of PUCT (default 1.5) */
  cPuct: number;
  /** leaves selected per round within one tree, with virtual loss (default 8) */
  leafBatch: number;
  /** Dirichlet noise at the root (self-play only): alpha and mixing weight (eps 0 = none) */
  dirichletAlpha: number;
  dirichletEps: number;
  /** moves (game move number, 0-based) played by sampling from the visit counts; later moves take the most visited */
  temperatureMoves: number;
}

export const DEFAULT_MCTS: MctsSettings = {
  sims: 64,
  cPuct: 1.5,
  leafBatch: 8,
  dirichletAlpha: 0.3,
  dirichletEps: 0.25,
  temperatureMoves: 30,
};

/** The value vector of a finished game by absolute seat: winner +1, the others −1; no winner: 0. */
export function terminalValues(state: GameState): Float64Array {
  const v = new Float64Array(state.numPlayers);
  if (state.winner !== null && state.winner !== undefined && state.winner > 0) {
    v.fill(-1);
    v[state.winner - 1] = 1;
  }
  return v;
}

export class SearchNode {
  readonly state: GameState;
  readonly np: number;
  /** player to move (0 when the game is over) */
  readonly mover: number;
  /** engine value of a finished game */
  readonly terminal: Float64Array | null;
  expanded = false;
  pending = false;
  moves: Move[] = [];
  logits: Float32Array = new Float32Array(0);
  priors: Float32Array = new Float32Array(0);
  /** the network's value of this state, by absolute seat */
  value: Float64Array;
  children: (SearchNode | undefined)[] = [];
  /** per edge: visits, virtual visits, summed value vectors (edge a, seat s at a * np + s) */
  N: Int32Array = new Int32Array(0);
  VL: Int32Array = new Int32Array(0);
  W: Float64Array = new Float64Array(0);
  visits = 0;

  constructor(state: GameState) {
    this.state = state;
    this.np = state.numPlayers;
    this.mover = state.status === 'active' ? state.currentPlayer : 0;
    this.terminal = state.status === 'active' ? null : terminalValues(state);
    this.value = this.terminal ?? new Float64Array(this.np);
  }

  expand(e: Evaluation): void {
    this.moves = e.moves;
    this.logits = e.logits;
    this.priors = Float32Array.from(e.priors);
    this.value = e.values;
    const k = e.moves.length;
    this.children = new Array<SearchNode | undefined>(k);
    this.N = new Int32Array(k);
    this.VL = new Int32Array(k);
    this.W = new Float64Array(k * this.np);
    this.expanded = true;
  }

  child(a: number): SearchNode {
    let c = this.children[a];
    if (!c) {
      const s = cloneState(this.state);
      applyMoveTrusted(s, this.moves[a]!);
      c = new SearchNode(s);
      this.children[a] = c;
    }
    return c;
  }

  /** Mean value of edge a for this node's mover, counting virtual visits as losses. */
  q(a: number): number {
    const n = this.N[a]! + this.VL[a]!;
    return (this.W[a * this.np + this.mover - 1]! - this.VL[a]!) / n;
  }

  /** PUCT choice among the edges (unvisited edges take this node's own value as their Q). */
  select(cPuct: number): number {
    let total = 0;
    for (let a = 0; a < this.N.length; a++) total += this.N[a]! + this.VL[a]!;
    const sqrtN = Math.sqrt(Math.max(1, total));
    const fpu = this.value[this.mover - 1]!;
    let best = 0;
    let bestScore = -Infinity;
    for (let a = 0; a < this.N.length; a++) {
      const n = this.N[a]! + this.VL[a]!;
      const q = n > 0 ? this.q(a) : fpu;
      const score = q + (cPuct * this.priors[a]! * sqrtN) / (1 + n);
      if (score > bestScore) {
        bestScore = score;
        best = a;
      }
    }
    return best;
  }
}

type Path = Array<[SearchNode, number]>;

/** Walks from `root` (optionally through a forced first edge) to a leaf, adding virtual visits. */
function descend(root: SearchNode, cPuct: number, firstEdge?: number): { leaf: SearchNode; path: Path } {
  const path: Path = [];
  let node = root;
  let forced = firstEdge;
  while (node.expanded && !node.terminal) {
    const a = forced ?? node.select(cPuct);
    forced = undefined;
    node.VL[a]! += 1;
    path.push([node, a]);
    node = node.child(a);
  }
  return { leaf: node, path };
}

function backup(path: Path, v: Float64Array, virtual: boolean): void {
  for (const [node, a] of path) {
    if (virtual) node.VL[a]! -= 1;
    node.N[a]! += 1;
    node.visits += 1;
    const base = a * node.np;
    for (let s = 0; s < node.np; s++) node.W[base + s]! += v[s]!;
  }
}

function undoVirtual(path: Path): void {
  for (const [node, a] of path) node.VL[a]! -= 1;
}

/**
 * Runs up to `budget` simulations in rounds of at most `leafBatch` leaves (the first edge of each
 * simulation taken from `edges` when given, in turn). Returns the simulations done.
 */
export async function simulate(
  root: SearchNode,
  evaluate: EvaluateFn,
  budget: number,
  s: Pick<MctsSettings, 'cPuct' | 'leafBatch'>,
  edges?: number[],
): Promise<number> {
  let done = 0;
  let e = 0;
  while (done < budget) {
    const leaves: Array<{ leaf: SearchNode; path: Path }> = [];
    while (leaves.length < s.leafBatch && done + leaves.length < budget) {
      const first = edges ? edges[e % edges.length] : undefined;
      const d = descend(root, s.cPuct, first);
      if (d.leaf.terminal) {
        backup(d.path, d.leaf.terminal, true);
        done++;
        e++;
        continue;
      }
      if (d.leaf.pending) {
        // another leaf of this round is already this state: finish the round first
        undoVirtual(d.path);
        break;
      }
      d.leaf.pending = true;
      leaves.push(d);
      e++;
    }
    if (leaves.length === 0) continue;
    const evals = await Promise.all(leaves.map((l) => evaluate(l.leaf.state)));
    leaves.forEach((l, i) => {
      l.leaf.pending = false;
      l.leaf.expand(evals[i]!);
      backup(l.path, l.leaf.value, true);
    });
    done += leaves.length;
  }
  return done;
}

/** A standard gamma(alpha, 1) draw (Marsaglia–Tsang), from uniform draws of `rng`. */
export function gammaSample(alpha: number, rng: () => number): number {
  if (alpha < 1) return gammaSample(alpha + 1, rng) * Math.pow(Math.max(rng(), 1e-300), 1 / alpha);
  const d = alpha - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      // Box–Muller normal
      const u1 = Math.max(rng(), 1e-300);
      const u2 = rng();
      x = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = Math.max(rng(), 1e-300);
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

export function addDirichletNoise(priors: Float32Array, alpha: number, eps: number, rng: () => number): void {
  if (eps <= 0 || priors.length < 2) return;
  const g = Array.from(priors, () => gammaSample(alpha, rng));
  const sum = g.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) return;
  for (let i = 0; i < priors.length; i++) priors[i] = (1 - eps) * priors[i]! + (eps * g[i]!) / sum;
}

export interface SearchResult {
  moves: Move[];
  /** root visit count per legal move */
  visits: Int32Array;
  /** the search's policy target over `moves` (sums to 1) */
  policy: Float64Array;
  /** index into `moves` of the chosen move */
  chosen: number;
  /** the network's value of the root by absolute seat */
  rootValue: Float64Array;
  simulations: number;
}

/** Picks by visits: sampled in proportion while `temperature` is on, else the most visited (ties: higher prior). */
export function pickByVisits(visits: ArrayLike<number>, priors: ArrayLike<number>, sample: boolean, rng: () => number): number {
  let total = 0;
  for (let i = 0; i < visits.length; i++) total += visits[i]!;
  if (sample && total > 0) {
    let r = rng() * total;
    for (let i = 0; i < visits.length; i++) {
      r -= visits[i]!;
      if (r < 0) return i;
    }
    return visits.length - 1;
  }
  let best = 0;
  for (let i = 1; i < visits.length; i++) {
    if (visits[i]! > visits[best]! || (visits[i] === visits[best] && priors[i]! > priors[best]!)) best = i;
  }
  return best;
}

/**
 * PUCT search from `state` (active, at least one legal move). `noise` adds Dirichlet noise at the
 * root (self-play); `sample` picks the move in proportion to the visits (temperature 1).
 */
export async function mctsSearch(
  state: GameState,
  evaluate: EvaluateFn,
  settings: MctsSettings,
  rng: () => number,
  opts: { noise: boolean; sample: boolean },
): Promise<SearchResult> {
  const root = new SearchNode(cloneState(state));
  root.expand(await evaluate(root.state));
  if (opts.noise) addDirichletNoise(root.priors, settings.dirichletAlpha, settings.dirichletEps, rng);
  const simulations = await simulate(root, evaluate, Math.max(1, settings.sims), settings);
  const visits = Int32Array.from(root.N);
  const total = visits.reduce((a, b) => a + b, 0);
  const policy = Float64Array.from(visits, (v) => v / total);
  const chosen = pickByVisits(visits, root.priors, opts.sample, rng);
  return { moves: root.moves, visits, policy, chosen, rootValue: root.value, simulations };
}
