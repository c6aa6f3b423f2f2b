// Test helpers: build engine states from compact descriptions.
import { stateFromSerialized } from '../../engine/serialize';
import type { GameState, Move } from '../../engine';
import { legalMoves, moveKey } from '../../engine';

export interface BoardSpec {
  boardType?: 'square8' | 'square19' | 'hex8' | 'hexagonal';
  numPlayers?: number;
  /** "x,y" -> rings TOP FIRST (reference order) */
  stacks?: Record<string, number[]>;
  markers?: Record<string, number>;
  collapsed?: Record<string, number>;
  ringsInHand?: number[];
  eliminated?: number[];
  territory?: number[];
  currentPlayer?: number;
  phase?: string;
  history?: Move[];
}

export function mk(spec: BoardSpec): GameState {
  const np = spec.numPlayers ?? 2;
  const players = [];
  for (let p = 1; p <= np; p++)
    players.push({
      playerNumber: p,
      ringsInHand: spec.ringsInHand?.[p - 1] ?? 0,
      eliminatedRings: spec.eliminated?.[p - 1] ?? 0,
      territorySpaces: spec.territory?.[p - 1] ?? 0,
    });
  return stateFromSerialized({
    board: {
      type: spec.boardType ?? 'square8',
      stacks: Object.fromEntries(Object.entries(spec.stacks ?? {}).map(([k, rings]) => [k, { rings }])),
      markers: Object.fromEntries(Object.entries(spec.markers ?? {}).map(([k, p]) => [k, { player: p }])),
      collapsedSpaces: spec.collapsed ?? {},
    },
    players,
    currentPlayer: spec.currentPlayer ?? 1,
    currentPhase: spec.phase ?? 'ring_placement',
    gameStatus: 'active',
    moveHistory: spec.history ?? [],
  });
}

export function types(s: GameState): string[] {
  return [...new Set(legalMoves(s).map((m) => m.type))].sort();
}

export function keys(s: GameState): string[] {
  return legalMoves(s).map(moveKey);
}

export function find(s: GameState, pred: (m: Move) => boolean): Move {
  const m = legalMoves(s).find(pred);
  if (!m) throw new Error(`no legal move matches; legal: ${keys(s).slice(0, 10).join(' ')}`);
  return m;
}

export const at = (x: number, y: number, z?: number) => (z === undefined ? { x, y } : { x, y, z });
export const same = (a: { x: number; y: number } | undefined, b: { x: number; y: number }) => !!a && a.x === b.x && a.y === b.y;
