// Load a reference SerializedGameState (as used by the contract vectors) into a GameState.
import { isBoardType } from './geometry';
import { NO_ACTION_TYPES } from './rules';
import { GameState, createState } from './state';
import type { GamePhase, Move, Position } from './types';

interface SerializedStack {
  position?: Position;
  /** reference order: top ring first */
  rings: number[];
}

export interface SerializedGameState {
  board: {
    type: string;
    stacks?: Record<string, SerializedStack>;
    markers?: Record<string, { player: number } | number>;
    collapsedSpaces?: Record<string, number | { player?: number; owner?: number }>;
  };
  players: { playerNumber: number; ringsInHand: number; eliminatedRings?: number; territorySpaces?: number }[];
  currentPlayer: number;
  currentPhase: string;
  gameStatus?: string;
  moveHistory?: Move[];
  mustMoveFromStackKey?: string;
  chainCapturePosition?: Position;
  pendingLineRewardElimination?: unknown;
  rulesOptions?: { swapRuleEnabled?: boolean };
}

function parseKey(k: string): Position {
  const parts = k.split(',').map(Number);
  return parts.length === 3 ? { x: parts[0], y: parts[1], z: parts[2] } : { x: parts[0], y: parts[1] };
}

/** Build an engine state from a reference serialized state. Throws on malformed input. */
export function stateFromSerialized(src: SerializedGameState): GameState {
  const bt = src.board.type;
  if (!isBoardType(bt)) throw new Error(`unknown board type ${bt}`);
  const numPlayers = src.players.length;
  const s = createState({ boardType: bt, numPlayers, seed: 0, rulesOptions: { swapRuleEnabled: false, ...(src.rulesOptions ?? {}) } });
  const g = s.geo;
  const cell = (k: string, p?: Position): number => {
    const i = g.indexOf(p ?? parseKey(k));
    if (i < 0) throw new Error(`position ${k} is not on a ${bt} board`);
    return i;
  };
  for (const [k, st] of Object.entries(src.board.stacks ?? {})) {
    const i = cell(k, st.position);
    s.setStack(i, st.rings.slice().reverse());
  }
  for (const [k, mk] of Object.entries(src.board.markers ?? {})) {
    s.marker[cell(k)] = typeof mk === 'number' ? mk : mk.player;
  }
  for (const [k, owner] of Object.entries(src.board.collapsedSpaces ?? {})) {
    const o = typeof owner === 'number' ? owner : (owner.player ?? owner.owner ?? 0);
    s.collapsed[cell(k)] = o;
  }
  for (const p of src.players) {
    s.ringsInHand[p.playerNumber] = p.ringsInHand;
    s.eliminated[p.playerNumber] = p.eliminatedRings ?? 0;
    s.territory[p.playerNumber] = p.territorySpaces ?? 0;
  }
  s.currentPlayer = src.currentPlayer;
  s.phase = src.currentPhase as GamePhase;
  s.status = src.gameStatus === 'completed' || src.gameStatus === 'finished' ? 'completed' : 'active';
  s.pendingLineReward = !!src.pendingLineRewardElimination;
  if (src.mustMoveFromStackKey) s.mustMoveFrom = cell(src.mustMoveFromStackKey);
  const hist = src.moveHistory ?? [];
  if (s.phase === 'chain_capture' && src.chainCapturePosition) s.attacker = g.indexOf(src.chainCapturePosition);
  else if ((s.phase === 'capture' || s.phase === 'chain_capture') && hist.length) s.attacker = g.indexOf(hist[hist.length - 1].to);
  for (let i = hist.length - 1; i >= 0; i--) {
    const m = hist[i];
    if (m.player !== s.currentPlayer) break;
    if (!NO_ACTION_TYPES.has(m.type)) s.turnHadAction = true;
    if (m.type === 'recovery_slide') s.turnHadRecovery = true;
    if (m.type === 'choose_territory_option' && i === hist.length - 1 && m.disconnectedRegions?.[0])
      s.pendingRegion = m.disconnectedRegions[0].spaces.map((q) => g.indexOf(q)).filter((c) => c >= 0);
  }
  if (hist.some((m) => m.player === 2)) s.p2Moved = true;
  s.moveCount = hist.length;
  if (hist.length) s.lastActor = hist[hist.length - 1].player;
  return s;
}

/**
 * Snapshot of a state in the reference SerializedGameState shape (board maps keyed by cell key,
 * stack rings TOP FIRST as in the reference). `stateFromSerialized(toSerializedState(s))`
 * reproduces the board, counters, phase and player (not LPS history or the move history).
 */
export function toSerializedState(s: GameState): SerializedGameState & {
  boardType: string;
  numPlayers: number;
  board: {
    type: string;
    stacks: Record<string, { position: Position; rings: number[]; stackHeight: number; capHeight: number; controllingPlayer: number }>;
    markers: Record<string, { position: Position; player: number; type: 'regular' }>;
    collapsedSpaces: Record<string, number>;
  };
  winner: number | null;
  victoryReason: string | null;
  mustMoveFromStackKey?: string;
  chainCapturePosition?: Position;
} {
  const g = s.geo;
  const stacks: Record<string, { position: Position; rings: number[]; stackHeight: number; capHeight: number; controllingPlayer: number }> =
    {};
  const markers: Record<string, { position: Position; player: number; type: 'regular' }> = {};
  const collapsedSpaces: Record<string, number> = {};
  // stacks in the reference's stack-map order (the order buried-ring extraction scans), so that
  // stateFromSerialized(toSerializedState(s)) keeps it
  const order: number[] = [];
  for (let i = 0; i < g.n; i++) if (s.rings[i]) order.push(i);
  order.sort((a, b) => s.seq[a] - s.seq[b]);
  for (const i of order)
    stacks[g.keys[i]] = {
      position: g.pos(i),
      rings: s.rings[i]!.slice().reverse(),
      stackHeight: s.height[i],
      capHeight: s.cap[i],
      controllingPlayer: s.ctrl[i],
    };
  for (let i = 0; i < g.n; i++) {
    if (s.marker[i]) markers[g.keys[i]] = { position: g.pos(i), player: s.marker[i], type: 'regular' };
    if (s.collapsed[i]) collapsedSpaces[g.keys[i]] = s.collapsed[i];
  }
  const players = [];
  for (let p = 1; p <= s.numPlayers; p++)
    players.push({ playerNumber: p, ringsInHand: s.ringsInHand[p], eliminatedRings: s.eliminated[p], territorySpaces: s.territory[p] });
  return {
    boardType: s.boardType,
    numPlayers: s.numPlayers,
    board: { type: s.boardType, stacks, markers, collapsedSpaces },
    players,
    currentPlayer: s.currentPlayer,
    currentPhase: s.phase,
    gameStatus: s.status,
    pendingLineRewardElimination: s.pendingLineReward,
    winner: s.winner,
    victoryReason: s.victoryReason,
    ...(s.mustMoveFrom >= 0 ? { mustMoveFromStackKey: g.keys[s.mustMoveFrom] } : {}),
    ...(s.phase === 'chain_capture' && s.attacker >= 0 ? { chainCapturePosition: g.pos(s.attacker) } : {}),
  };
}
