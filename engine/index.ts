// Public API of the RingRift rules engine (pure: no I/O, no clock, no Math.random).
//
// State model: a GameState is a mutable compact object (typed arrays). `applyMove` returns a
// NEW state and leaves its argument untouched; `applyMoveInPlace` mutates (the fast path for
// self-play and search: pair it with `cloneState`).
import { canonicalJson, hashFingerprint, mulberry32 } from './hash';
import { fingerprint as fp } from './fingerprint';
import { fastMoveKey } from './keys';
import { GameState, IllegalMoveError, createState } from './state';
import { applyMoveUnchecked, legalMovesWithKeys, rawLegalMoves } from './rules';
import type { BoardType, GameResult, Move, MoveType, Position, RulesOptions } from './types';
import { isBoardType } from './geometry';

export type {
  BoardType,
  GamePhase,
  GameResult,
  GameStatus,
  LineInfo,
  Move,
  MoveType,
  Position,
  RulesOptions,
  Territory,
  VictoryReason,
} from './types';
export { GameState, IllegalMoveError } from './state';
export { mulberry32, hashFingerprint, canonicalJson } from './hash';
export { getGeometry, isBoardType } from './geometry';

export interface InitialStateOptions {
  boardType: BoardType;
  numPlayers: number;
  seed?: number;
  /** Defaults: swapRuleEnabled = true for 2 players (as in the traces), lpsRoundsRequired = 3. */
  rulesOptions?: RulesOptions;
}

/** Initial state (ring_placement, player 1, status active). */
export function createInitialState(opts: InitialStateOptions): GameState {
  if (!isBoardType(opts.boardType)) throw new RangeError(`unknown board type ${String(opts.boardType)}`);
  const ro: RulesOptions = { ...(opts.rulesOptions ?? {}) };
  if (ro.swapRuleEnabled === undefined && opts.numPlayers === 2) ro.swapRuleEnabled = true;
  return createState({ boardType: opts.boardType, numPlayers: opts.numPlayers, seed: opts.seed ?? 0, rulesOptions: ro });
}

/** Independent deep copy of a state. */
export function cloneState(state: GameState): GameState {
  return state.clone();
}

/**
 * The full host legal-move set: core moves + choose_line_option + bookkeeping no_*_action +
 * swap_sides, sorted by canonical key and de-duplicated. `legalMoves(s)[floor(r * n)]` is the
 * reference random player's pick. Empty once the game is over.
 */
export function legalMoves(state: GameState): Move[] {
  return legalMovesWithKeys(state).moves;
}

/** Canonical keys of `legalMoves(state)` (same order). */
export function legalMoveKeys(state: GameState): string[] {
  return legalMovesWithKeys(state).keys;
}

/** Legal moves in engine generation order, unsorted and possibly with duplicates (cheap). */
export function legalMovesUnsorted(state: GameState): Move[] {
  return rawLegalMoves(state);
}

/** Canonical move key: sorted keys, compact, id/timestamp/thinkTime/moveNumber and undefined removed. */
export function moveKey(move: Move | Record<string, unknown>): string {
  return fastMoveKey(move as Move);
}

/** Key with inner position lists sorted (line positions, collapsed markers, region spaces). */
export function normalizedMoveKey(move: Move | Record<string, unknown>): string {
  return moveKey(normalizeMove(move as Move));
}

function sortPositions(ps: Position[] | undefined): Position[] | undefined {
  if (!Array.isArray(ps)) return ps;
  return ps
    .map((p) => ({ p, k: canonicalJson(p) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .map((x) => x.p);
}

function normalizeMove(m: Move): Move {
  const out: Move = { ...m };
  if (m.collapsedMarkers) out.collapsedMarkers = sortPositions(m.collapsedMarkers);
  if (m.collapsePositions) out.collapsePositions = sortPositions(m.collapsePositions);
  if (m.formedLines) out.formedLines = m.formedLines.map((l) => ({ ...l, positions: sortPositions(l.positions)! }));
  if (m.disconnectedRegions) out.disconnectedRegions = m.disconnectedRegions.map((r) => ({ ...r, spaces: sortPositions(r.spaces)! }));
  return out;
}

const DROPPED_FIELDS = ['id', 'timestamp', 'thinkTime', 'moveNumber'];

const MOVE_TYPES = new Set<MoveType>([
  'place_ring',
  'skip_placement',
  'no_placement_action',
  'swap_sides',
  'move_stack',
  'overtaking_capture',
  'continue_capture_segment',
  'skip_capture',
  'no_movement_action',
  'recovery_slide',
  'skip_recovery',
  'process_line',
  'choose_line_option',
  'no_line_action',
  'eliminate_rings_from_stack',
  'choose_territory_option',
  'skip_territory_processing',
  'no_territory_action',
  'forced_elimination',
]);

/** Parse a move in the reference JSON shape (string or object). Throws TypeError on bad shape. */
export function parseMove(json: string | Record<string, unknown>): Move {
  const o = typeof json === 'string' ? (JSON.parse(json) as unknown) : json;
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw new TypeError('move must be a JSON object');
  const m = o as Record<string, unknown>;
  if (typeof m.type !== 'string' || !MOVE_TYPES.has(m.type as MoveType)) throw new TypeError(`unknown move type ${String(m.type)}`);
  if (typeof m.player !== 'number') throw new TypeError('move.player must be a number');
  const isPos = (p: unknown): boolean =>
    !!p && typeof p === 'object' && typeof (p as Position).x === 'number' && typeof (p as Position).y === 'number';
  if (m.to === undefined) {
    // legacy decision moves without `to`: use the representative position
    const fl = (m.formedLines as { positions?: Position[] }[] | undefined)?.[0]?.positions?.[0];
    const rg = (m.disconnectedRegions as { spaces?: Position[] }[] | undefined)?.[0]?.spaces?.[0];
    m.to = fl ?? rg ?? { x: 0, y: 0 };
  }
  if (!isPos(m.to)) throw new TypeError('move.to must be a position {x, y[, z]}');
  if (m.from !== undefined && !isPos(m.from)) throw new TypeError('move.from must be a position');
  if (m.captureTarget !== undefined && !isPos(m.captureTarget)) throw new TypeError('move.captureTarget must be a position');
  const rest: Record<string, unknown> = { ...m };
  for (const k of DROPPED_FIELDS) delete rest[k];
  return JSON.parse(canonicalJson(rest)) as Move;
}

/** Serialize a move in the reference JSON shape (canonical key order, compact). */
export function serializeMove(move: Move): string {
  return moveKey(move);
}

function illegal(state: GameState, move: Move, legal: Move[]): IllegalMoveError {
  if (state.status !== 'active') return new IllegalMoveError('game_over', 'the game is over', move);
  if (move.player !== state.currentPlayer && move.type !== 'swap_sides')
    return new IllegalMoveError('turn_order', `it is player ${state.currentPlayer}'s turn, not player ${move.player}'s`, move);
  if (!legal.some((m) => m.type === move.type))
    return new IllegalMoveError('phase', `move type ${move.type} is not legal in phase ${state.phase}`, move);
  const rule: Record<string, string> = {
    place_ring: 'placement',
    skip_placement: 'placement',
    swap_sides: 'pie_rule',
    move_stack: 'movement',
    overtaking_capture: 'capture',
    continue_capture_segment: 'chain_capture',
    recovery_slide: 'recovery',
    process_line: 'line_processing',
    choose_line_option: 'line_processing',
    eliminate_rings_from_stack: state.phase === 'line_processing' ? 'line_processing' : 'territory_processing',
    choose_territory_option: 'territory_processing',
    forced_elimination: 'forced_elimination',
  };
  return new IllegalMoveError(rule[move.type] ?? 'phase', `illegal ${move.type} in phase ${state.phase}: ${moveKey(move)}`, move);
}

/** Find the engine's own legal move equal to `move` (exact key, else normalized inner-list order). */
export function matchLegalMove(state: GameState, move: Move): Move | null {
  const { moves, keys } = legalMovesWithKeys(state);
  const k = moveKey(move);
  let lo = 0;
  let hi = keys.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid] === k) return moves[mid];
    if (keys[mid] < k) lo = mid + 1;
    else hi = mid - 1;
  }
  const nk = normalizedMoveKey(move);
  for (const m of moves) if (normalizedMoveKey(m) === nk) return m;
  // tolerant match: same identity (type, player, positions, decision content) and no
  // conflicting extra field (e.g. a host's placementCount: 1); must be unique
  if (move.placementCount !== undefined && move.placementCount !== 1) return null;
  const ik = identityKey(move);
  let hit: Move | null = null;
  for (const m of moves) {
    if (identityKey(m) !== ik) continue;
    if (hit) return null;
    hit = m;
  }
  return hit;
}

function identityKey(m: Move): string {
  const n = normalizeMove(m);
  return canonicalJson({
    type: n.type,
    player: n.player,
    to: n.to,
    from: n.from,
    captureTarget: n.captureTarget,
    lines: n.formedLines?.map((l) => l.positions),
    collapsedMarkers: n.collapsedMarkers,
    regions: n.disconnectedRegions?.map((r) => [r.controllingPlayer, r.spaces]),
    eliminationContext: n.eliminationContext,
    recoveryMode: n.recoveryMode,
    option: n.option,
  });
}

/**
 * Apply a move (validated against the host legal set) including the host end-of-game checks
 * (bare-board stalemate, early victory, last-player-standing). Returns a new state; the input
 * state is not modified. Throws IllegalMoveError (with `rule`) for an illegal move.
 */
export function applyMove(state: GameState, move: Move): GameState {
  const next = state.clone();
  applyMoveInPlace(next, move);
  return next;
}

/** Like applyMove but mutates `state` (validated). */
export function applyMoveInPlace(state: GameState, move: Move): void {
  const m = matchLegalMove(state, move);
  if (!m) throw illegal(state, move, legalMovesWithKeys(state).moves);
  applyMoveUnchecked(state, m);
}

/** Apply without validation (fast path; the move must come from legalMoves of this state). Mutates. */
export function applyMoveTrusted(state: GameState, move: Move): void {
  applyMoveUnchecked(state, move);
}

export function isTerminal(state: GameState): boolean {
  return state.status !== 'active';
}

/** Status, winner and victory reason (null while active). */
export function gameResult(state: GameState): GameResult {
  return {
    status: state.status,
    winner: state.status === 'active' ? null : state.winner,
    victoryReason: state.status === 'active' ? null : state.victoryReason,
    hostEvent: state.hostEvent,
  };
}

/** Reference fingerprint string. */
export function fingerprint(state: GameState): string {
  return fp(state);
}

/** Reference state hash (16 lowercase hex digits). */
export function hashState(state: GameState): string {
  return hashFingerprint(fp(state));
}

/** Alias of hashState. */
export const hash = hashState;

export interface RandomGameOptions {
  boardType: BoardType;
  numPlayers: number;
  seed: number;
  maxMoves?: number;
  rulesOptions?: RulesOptions;
}

export interface RandomGameRecord {
  moves: Move[];
  result: GameResult;
  truncated: boolean;
  state: GameState;
}

/**
 * The documented reference random player: one mulberry32(seed) draw per move, pick
 * legalMoves(s)[floor(r * n)] from the sorted host set, apply, stop when over or at maxMoves
 * (default 3000). The engine's rngSeed is the same seed.
 */
export function playRandomGame(opts: RandomGameOptions): RandomGameRecord {
  const s = createInitialState({
    boardType: opts.boardType,
    numPlayers: opts.numPlayers,
    seed: opts.seed,
    rulesOptions: opts.rulesOptions,
  });
  const rng = mulberry32(opts.seed);
  const max = opts.maxMoves ?? 3000;
  const moves: Move[] = [];
  while (s.status === 'active' && moves.length < max) {
    const legal = legalMovesWithKeys(s).moves;
    const r = rng();
    const m = legal[Math.floor(r * legal.length)];
    applyMoveUnchecked(s, m);
    moves.push(m);
  }
  return { moves, result: gameResult(s), truncated: s.status === 'active', state: s };
}

export { legalMovesWithKeys, evaluateVictory } from './rules';
export { stateFromSerialized, toSerializedState, type SerializedGameState } from './serialize';
