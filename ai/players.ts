// Players for self-play and the gauntlet, chosen per seat by a spec string: `random`, `heuristic`
// (later `mcts:<model>`). Every player is deterministic given its rng.
import { applyMoveTrusted, cloneState, type GameState, type Move } from '../engine';

export type PlayerSpec = { kind: 'random' } | { kind: 'heuristic' };

export const PLAYER_KINDS = ['random', 'heuristic'] as const;

export class PlayerSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlayerSpecError';
  }
}

export function parsePlayerSpec(spec: string): PlayerSpec {
  const s = spec.trim();
  if (s === 'random' || s === 'heuristic') return { kind: s };
  if (s.startsWith('mcts:')) throw new PlayerSpecError(`player "${s}": mcts players need a trained model and arrive with the gauntlet`);
  throw new PlayerSpecError(`unknown player "${s}": use one of ${PLAYER_KINDS.join(', ')}`);
}

export function formatPlayerSpec(spec: PlayerSpec): string {
  return spec.kind;
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

export function createPlayer(spec: PlayerSpec): Player {
  return spec.kind === 'random' ? randomPlayer : heuristicPlayer;
}
