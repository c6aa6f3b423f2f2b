// Players for self-play and the gauntlet, chosen per seat by a spec string: `random`, `heuristic`,
// and the neural players `policy:<model>`, `mcts:<model>[:sims=N]`, `gumbel:<model>[:sims=N]`
// (`<model>` a registry id or `best`; see ./neural). Every player is deterministic given its rng.
import { applyMoveTrusted, cloneState, type GameState, type Move } from '../engine';

export type NeuralKind = 'policy' | 'mcts' | 'gumbel';

export type PlayerSpec = { kind: 'random' } | { kind: 'heuristic' } | { kind: NeuralKind; model: string; sims?: number };

export const PLAYER_KINDS = ['random', 'heuristic', 'policy:<model>', 'mcts:<model>[:sims=N]', 'gumbel:<model>[:sims=N]'] as const;

export const NEURAL_KINDS: readonly NeuralKind[] = ['policy', 'mcts', 'gumbel'];

/** Most simulations a spec may ask for. */
export const MAX_SIMS = 100_000;

export class PlayerSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlayerSpecError';
  }
}

/** `best`, or a registry id (`<configKey>-<sha256 prefix>`, see store/registry modelId). */
const MODEL_REF = /^(best|[a-z0-9]+_[1-9]p-[0-9a-f]{12,64})$/;

export function parsePlayerSpec(spec: string): PlayerSpec {
  const s = spec.trim();
  if (s === 'random' || s === 'heuristic') return { kind: s };
  const parts = s.split(':');
  const kind = parts[0] as NeuralKind;
  if (parts.length >= 2 && NEURAL_KINDS.includes(kind)) {
    const model = parts[1]!;
    if (!MODEL_REF.test(model))
      throw new PlayerSpecError(
        `player "${s}": "${model}" is not a model id (like square8_2p-0123456789ab, see ringrift models list) or best`,
      );
    const out: { kind: NeuralKind; model: string; sims?: number } = { kind, model };
    for (const opt of parts.slice(2)) {
      const m = /^sims=(\d+)$/.exec(opt);
      if (!m) throw new PlayerSpecError(`player "${s}": unknown option "${opt}" (the only option is sims=N)`);
      if (kind === 'policy') throw new PlayerSpecError(`player "${s}": policy players do not search (no sims)`);
      const sims = Number(m[1]);
      if (sims < 1 || sims > MAX_SIMS) throw new PlayerSpecError(`player "${s}": sims must be between 1 and ${MAX_SIMS}`);
      out.sims = sims;
    }
    return out;
  }
  if (NEURAL_KINDS.includes(kind)) throw new PlayerSpecError(`player "${s}": give a model, e.g. ${kind}:best`);
  throw new PlayerSpecError(`unknown player "${s}": use one of ${PLAYER_KINDS.join(', ')}`);
}

export function isNeuralSpec(spec: PlayerSpec): spec is { kind: NeuralKind; model: string; sims?: number } {
  return spec.kind === 'policy' || spec.kind === 'mcts' || spec.kind === 'gumbel';
}

export function formatPlayerSpec(spec: PlayerSpec): string {
  if (!isNeuralSpec(spec)) return spec.kind;
  return `${spec.kind}:${spec.model}${spec.sims !== undefined ? `:sims=${spec.sims}` : ''}`;
}

export interface Player {
  readonly spec: string;
  /** Picks one of `legal` (the sorted host legal set of `state`). */
  chooseMove(state: GameState, legal: Move[], rng: () => number): Move;
}

/** The reference random player: legal[floor(r * n)] over the sorted host set, one draw per move. */
export const randomPlayer: Player = {
  spec: 'random',
  chooseMove(_state, legal, rng) {
    return legal[Math.floor(rng() * legal.length)]!;
  },
};

/**
 * One-ply heuristic: apply each legal move to a copy and score the result for the mover.
 * Terms and weights are documented in ai/README.md.
 */
export const HEURISTIC_WEIGHTS = {
  win: 1_000_000,
  eliminatedRings: 10,
  territory: 8,
  controlledStacks: 1,
  capHeight: 5,
  markers: 0.5,
  ringsInHand: 0.25,
} as const;

export function evaluateFor(state: GameState, player: number): number {
  const w = HEURISTIC_WEIGHTS;
  if (state.status !== 'active') {
    if (state.winner === player) return w.win;
    if (state.winner !== null) return -w.win;
  }
  const n = state.numPlayers;
  const stacks = new Float64Array(n + 1);
  const caps = new Float64Array(n + 1);
  const markers = new Float64Array(n + 1);
  const cells = state.geo.n;
  for (let i = 0; i < cells; i++) {
    const c = state.ctrl[i]!;
    if (c > 0) {
      stacks[c]! += 1;
      caps[c]! += state.cap[i]!;
    }
    const m = state.marker[i]!;
    if (m > 0) markers[m]! += 1;
  }
  const score = (p: number) =>
    w.eliminatedRings * state.eliminated[p]! +
    w.territory * state.territory[p]! +
    w.controlledStacks * stacks[p]! +
    w.capHeight * caps[p]! +
    w.markers * markers[p]! +
    w.ringsInHand * state.ringsInHand[p]!;
  let best = -Infinity;
  for (let p = 1; p <= n; p++) if (p !== player) best = Math.max(best, score(p));
  return score(player) - best;
}

export const heuristicPlayer: Player = {
  spec: 'heuristic',
  chooseMove(state, legal, rng) {
    if (legal.length === 1) return legal[0]!;
    const me = state.currentPlayer;
    let bestScore = -Infinity;
    let best: Move[] = [];
    for (const m of legal) {
      const next = cloneState(state);
      applyMoveTrusted(next, m);
      const s = evaluateFor(next, me);
      if (s > bestScore + 1e-9) {
        bestScore = s;
        best = [m];
      } else if (Math.abs(s - bestScore) <= 1e-9) best.push(m);
    }
    return best[Math.floor(rng() * best.length)]!;
  },
};

/** The synchronous players; neural players are made by ./neural (they need a loaded model). */
export function createPlayer(spec: PlayerSpec): Player {
  if (isNeuralSpec(spec)) throw new PlayerSpecError(`player "${formatPlayerSpec(spec)}" needs a model: play it through ai/neural`);
  return spec.kind === 'random' ? randomPlayer : heuristicPlayer;
}
