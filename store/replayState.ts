/**
 * Game states in the shape RingRift's GameReplayDB stores them (`game_initial_state.
 * initial_state_json`, `game_state_snapshots.state_json`, `game_history_entries.state_*_json`):
 * a full GameState object with camelCase field names, which both of RingRift's readers accept —
 * the Python `GameState` model (ai-service) and the TS `deserializeGameState`
 * (src/shared/engine/contracts/serialization.ts), which reads the "full GameState" form written
 * by self-play DBs as well as its own contract form. Field facts are listed in store/FORMATS.md.
 *
 * - serializeReplayState: our engine state → that JSON object.
 * - deserializeReplayState: that JSON object (or the TS contract form) → our engine state,
 *   checked field by field; throws ReplayStateError naming the field.
 *
 * Stacks list their rings TOP FIRST (the reference convention; `controllingPlayer` is
 * `rings[0]`). Cell keys are `x,y` on square boards and `x,y,z` on hex boards.
 */
import { gunzipSync } from 'node:zlib';
import {
  createInitialState,
  fingerprint,
  getGeometry,
  hashState,
  isBoardType,
  type BoardType,
  type GamePhase,
  type GameState,
  type Position,
  type RulesOptions,
} from '../engine';

export class ReplayStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayStateError';
  }
}

/** `board.size` as the reference's BOARD_CONFIGS give it (hex boards: not the cell-grid width). */
export const REPLAY_BOARD_SIZE: Record<BoardType, number> = { square8: 8, square19: 19, hex8: 9, hexagonal: 13 };

const PHASES: ReadonlySet<string> = new Set([
  'ring_placement',
  'movement',
  'capture',
  'chain_capture',
  'line_processing',
  'territory_processing',
  'forced_elimination',
  'game_over',
]);

/** What the stored JSON needs beyond the engine state (identity and clock, passed in by callers). */
export interface ReplayStateInfo {
  /** `id` of the state (RingRift's self-play writes a fixed id; we write the game id) */
  gameId: string;
  /** ISO timestamps for `createdAt` / `lastMoveAt` (no clock is read here) */
  createdAt: string;
  lastMoveAt?: string;
  /** per seat (1-based, in order): player type ('ai' | 'human') and AI difficulty */
  players?: { playerType?: string; aiDifficulty?: number | null }[];
}

/** The stored JSON object (RingRift GameState, camelCase). */
export type ReplayStateJson = Record<string, unknown>;

function posOf(state: GameState, i: number): Position {
  const p = state.geo.pos(i);
  // square boards carry no z (the TS serializer omits it; the Python model defaults it to null)
  return p.z === undefined || p.z === null ? { x: p.x, y: p.y } : { x: p.x, y: p.y, z: p.z };
}

/** Our engine state in RingRift's stored GameState shape (field order as the Python model dumps it). */
export function serializeReplayState(state: GameState, info: ReplayStateInfo): ReplayStateJson {
  const g = state.geo;
  const n = state.numPlayers;
  const stacks: Record<string, unknown> = {};
  const markers: Record<string, unknown> = {};
  const collapsedSpaces: Record<string, number> = {};
  // stacks in creation order: the reference keeps them in a Map, whose order some rules read
  const cells = Array.from({ length: g.n }, (_, i) => i)
    .filter((i) => state.rings[i])
    .sort((a, b) => state.seq[a] - state.seq[b]);
  for (const i of cells) {
    const rings = state.rings[i]!;
    stacks[g.keys[i]!] = {
      position: posOf(state, i),
      rings: rings.slice().reverse(),
      stackHeight: state.height[i],
      capHeight: state.cap[i],
      controllingPlayer: state.ctrl[i],
    };
  }
  for (let i = 0; i < g.n; i++) {
    if (state.marker[i]) markers[g.keys[i]!] = { player: state.marker[i], position: posOf(state, i), type: 'regular' };
    if (state.collapsed[i]) collapsedSpaces[g.keys[i]!] = state.collapsed[i]!;
  }
  const eliminatedRings: Record<string, number> = {};
  let totalEliminated = 0;
  const players = [];
  for (let p = 1; p <= n; p++) {
    eliminatedRings[String(p)] = state.eliminated[p]!;
    totalEliminated += state.eliminated[p]!;
    const seat = info.players?.[p - 1];
    players.push({
      id: `p${p}`,
      username: `AI ${p}`,
      type: seat?.playerType ?? 'ai',
      playerNumber: p,
      isReady: true,
      timeRemaining: 600,
      aiDifficulty: seat?.aiDifficulty ?? null,
      ringsInHand: state.ringsInHand[p],
      eliminatedRings: state.eliminated[p],
      territorySpaces: state.territory[p],
    });
  }
  const over = state.status !== 'active';
  const mask: Record<string, boolean> = {};
  for (const [p, v] of state.lps.mask) mask[String(p)] = v;
  const out: ReplayStateJson = {
    id: info.gameId,
    boardType: state.boardType,
    rngSeed: state.seed,
    board: {
      type: state.boardType,
      size: REPLAY_BOARD_SIZE[state.boardType],
      stacks,
      markers,
      collapsedSpaces,
      eliminatedRings,
      formedLines: [],
      territories: {},
    },
    players,
    currentPhase: over ? 'game_over' : state.phase,
    currentPlayer: state.currentPlayer,
    moveHistory: [],
    timeControl: { initialTime: 600, increment: 0, type: 'blitz' },
    spectators: [],
    gameStatus: state.status,
    winner: over ? state.winner : null,
    createdAt: info.createdAt,
    lastMoveAt: info.lastMoveAt ?? info.createdAt,
    isRated: false,
    maxPlayers: n,
    totalRingsInPlay: g.ringsPerPlayer * n,
    totalRingsEliminated: totalEliminated,
    victoryThreshold: state.victoryThreshold,
    territoryVictoryThreshold: Math.floor(g.totalSpaces / 2) + 1,
    territoryVictoryMinimum: state.territoryVictoryMinimum,
    chainCaptureState: null,
    mustMoveFromStackKey: state.mustMoveFrom >= 0 ? g.keys[state.mustMoveFrom] : null,
    zobristHash: null,
    lpsRoundIndex: state.lps.roundIndex,
    lpsCurrentRoundActorMask: mask,
    lpsExclusivePlayerForCompletedRound: state.lps.exclusivePlayer,
    lpsCurrentRoundFirstPlayer: state.lps.firstPlayer,
    lpsConsecutiveExclusiveRounds: state.lps.consecutiveRounds,
    lpsRoundsRequired: state.lpsRoundsRequired,
    lpsConsecutiveExclusivePlayer: state.lps.consecutivePlayer,
    rulesOptions: { ...state.rulesOptions },
  };
  // TS-engine fields (the Python model ignores them): the chain position and the pending
  // line-reward elimination, which the fingerprint's L flag reads
  if (state.phase === 'chain_capture' && state.attacker >= 0) out['chainCapturePosition'] = posOf(state, state.attacker);
  if (state.pendingLineReward) out['pendingLineRewardElimination'] = true;
  return out;
}

// ───────────────────────────── reading ─────────────────────────────

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function int(v: unknown, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ReplayStateError(`${field}: expected an integer ${min}..${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** True when `v` looks like a full stored state (board + players), not a legacy summary row. */
export function isReplayState(v: unknown): v is ReplayStateJson {
  return isObj(v) && isObj(v['board']) && Array.isArray(v['players']);
}

/**
 * A stored state back into our engine state. Accepts RingRift's stored GameState (Python model
 * dump / TS full GameState) and the TS contract form (`gameId`, `turnNumber`, …). Throws
 * ReplayStateError naming the first field that does not fit.
 *
 * Turn bookkeeping that the JSON does not carry (whether the player to move already acted in this
 * turn, a region awaiting its self-elimination) is taken as "none": exact for states at a turn
 * boundary, such as every initial state.
 */
export function deserializeReplayState(json: unknown): GameState {
  if (!isReplayState(json)) throw new ReplayStateError('not a stored game state (no board object / players list)');
  const board = json['board'] as Record<string, unknown>;
  const bt = json['boardType'] ?? board['type'];
  if (!isBoardType(bt as string)) throw new ReplayStateError(`boardType: unknown board type ${JSON.stringify(bt)}`);
  const boardType = bt as BoardType;
  if (board['type'] !== undefined && board['type'] !== boardType) {
    throw new ReplayStateError(`board.type: ${JSON.stringify(board['type'])} differs from boardType ${JSON.stringify(boardType)}`);
  }
  const rawPlayers = json['players'] as unknown[];
  const numPlayers = rawPlayers.length;
  if (numPlayers < 2 || numPlayers > 4) throw new ReplayStateError(`players: 2 to 4 players, got ${numPlayers}`);
  const players = rawPlayers.map((p, k) => {
    if (!isObj(p)) throw new ReplayStateError(`players.${k}: expected an object`);
    return {
      n: int(p['playerNumber'], `players.${k}.playerNumber`, 1, numPlayers),
      hand: int(p['ringsInHand'], `players.${k}.ringsInHand`),
      elim: int(p['eliminatedRings'] ?? 0, `players.${k}.eliminatedRings`),
      terr: int(p['territorySpaces'] ?? 0, `players.${k}.territorySpaces`),
    };
  });
  if (new Set(players.map((p) => p.n)).size !== numPlayers) throw new ReplayStateError('players: repeated playerNumber');

  const ro = json['rulesOptions'];
  if (ro !== undefined && ro !== null && !isObj(ro)) throw new ReplayStateError('rulesOptions: expected an object or null');
  const rulesOptions: RulesOptions = {};
  const swap = isObj(ro) ? ro['swapRuleEnabled'] : undefined;
  if (swap !== undefined && typeof swap !== 'boolean') throw new ReplayStateError('rulesOptions.swapRuleEnabled: expected true or false');
  // RingRift applies the pie rule only when it is switched on explicitly
  rulesOptions.swapRuleEnabled = swap === true;
  const lpsReq = json['lpsRoundsRequired'] ?? (isObj(ro) ? ro['lpsRoundsRequired'] : undefined);
  if (lpsReq !== undefined && lpsReq !== null) rulesOptions.lpsRoundsRequired = int(lpsReq, 'lpsRoundsRequired', 1);
  const seedRaw = json['rngSeed'];
  const seed = typeof seedRaw === 'number' && Number.isSafeInteger(seedRaw) && seedRaw >= 0 ? seedRaw : 0;

  const s = createInitialState({ boardType, numPlayers, seed, rulesOptions });
  const g = getGeometry(boardType);
  const cellOf = (key: string, pos: unknown, field: string): number => {
    let p: Position;
    if (isObj(pos) && typeof pos['x'] === 'number' && typeof pos['y'] === 'number') {
      p = typeof pos['z'] === 'number' ? { x: pos['x'], y: pos['y'], z: pos['z'] } : { x: pos['x'], y: pos['y'] };
    } else {
      const parts = key.split(',').map(Number);
      if (parts.length < 2 || parts.some((x) => !Number.isInteger(x)))
        throw new ReplayStateError(`${field}: bad cell key ${JSON.stringify(key)}`);
      p = parts.length === 3 ? { x: parts[0]!, y: parts[1]!, z: parts[2]! } : { x: parts[0]!, y: parts[1]! };
    }
    const i = g.indexOf(p);
    if (i < 0) throw new ReplayStateError(`${field}: ${JSON.stringify(p)} is not a cell of a ${boardType} board`);
    if (g.keys[i] !== key) throw new ReplayStateError(`${field}: key ${JSON.stringify(key)} does not match its position ${g.keys[i]}`);
    return i;
  };
  const map = (v: unknown, field: string): Record<string, unknown> => {
    if (v === undefined || v === null) return {};
    if (!isObj(v)) throw new ReplayStateError(`${field}: expected an object keyed by cell`);
    return v;
  };

  for (const [key, st] of Object.entries(map(board['stacks'], 'board.stacks'))) {
    const f = `board.stacks.${key}`;
    if (!isObj(st)) throw new ReplayStateError(`${f}: expected an object`);
    const i = cellOf(key, st['position'], f);
    const rings = st['rings'];
    if (!Array.isArray(rings) || rings.length === 0) throw new ReplayStateError(`${f}.rings: expected a non-empty list (top ring first)`);
    const r = rings.map((x, k) => int(x, `${f}.rings.${k}`, 1, numPlayers));
    s.setStack(i, r.slice().reverse());
    if (st['stackHeight'] !== undefined && st['stackHeight'] !== s.height[i])
      throw new ReplayStateError(`${f}.stackHeight: ${JSON.stringify(st['stackHeight'])}, but the stack has ${s.height[i]} rings`);
    if (st['controllingPlayer'] !== undefined && st['controllingPlayer'] !== s.ctrl[i])
      throw new ReplayStateError(
        `${f}.controllingPlayer: ${JSON.stringify(st['controllingPlayer'])}, but the top ring is player ${s.ctrl[i]}`,
      );
    if (st['capHeight'] !== undefined && st['capHeight'] !== s.cap[i])
      throw new ReplayStateError(`${f}.capHeight: ${JSON.stringify(st['capHeight'])}, but the cap is ${s.cap[i]} high`);
  }
  for (const [key, mk] of Object.entries(map(board['markers'], 'board.markers'))) {
    const f = `board.markers.${key}`;
    const i = cellOf(key, isObj(mk) ? mk['position'] : undefined, f);
    s.marker[i] = int(isObj(mk) ? mk['player'] : mk, `${f}.player`, 1, numPlayers);
  }
  for (const [key, owner] of Object.entries(map(board['collapsedSpaces'], 'board.collapsedSpaces'))) {
    const f = `board.collapsedSpaces.${key}`;
    s.collapsed[cellOf(key, undefined, f)] = int(owner, f, 1, numPlayers);
  }
  for (const p of players) {
    s.ringsInHand[p.n] = p.hand;
    s.eliminated[p.n] = p.elim;
    s.territory[p.n] = p.terr;
  }

  const status = json['gameStatus'];
  if (status === 'completed' || status === 'finished') s.status = 'completed';
  else if (status === 'active' || status === undefined) s.status = 'active';
  else throw new ReplayStateError(`gameStatus: ${JSON.stringify(status)} cannot be replayed (expected active or completed)`);
  s.currentPlayer = int(json['currentPlayer'], 'currentPlayer', 1, numPlayers);
  const phase = json['currentPhase'];
  if (typeof phase !== 'string' || !PHASES.has(phase)) throw new ReplayStateError(`currentPhase: unknown phase ${JSON.stringify(phase)}`);
  if (phase === 'game_over') {
    if (s.status === 'active') throw new ReplayStateError('currentPhase: game_over in an active game');
  } else s.phase = phase as GamePhase;
  if (s.status === 'completed') {
    const w = json['winner'];
    s.winner = w === null || w === undefined ? null : int(w, 'winner', 1, numPlayers);
  }
  s.pendingLineReward = !!json['pendingLineRewardElimination'];
  const must = json['mustMoveFromStackKey'];
  if (typeof must === 'string' && must !== '') s.mustMoveFrom = cellOf(must, undefined, 'mustMoveFromStackKey');
  const ccs = json['chainCaptureState'];
  const chainPos = json['chainCapturePosition'] ?? (isObj(ccs) ? ccs['currentPosition'] : undefined);
  if (s.phase === 'chain_capture' && isObj(chainPos)) {
    const key = g.keys[g.indexOf(chainPos as unknown as Position)];
    if (key === undefined) throw new ReplayStateError('chainCapturePosition: not a cell of this board');
    s.attacker = cellOf(key, chainPos, 'chainCapturePosition');
  }
  const history = json['moveHistory'];
  if (Array.isArray(history)) {
    s.moveCount = history.length;
    for (const m of history) {
      if (!isObj(m)) continue;
      if (m['player'] === 2) s.p2Moved = true;
      if (m['type'] === 'swap_sides') s.swapUsed = true;
    }
    const last = history[history.length - 1];
    if (isObj(last) && typeof last['player'] === 'number') s.lastActor = last['player'];
  }
  const lps = s.lps;
  const optInt = (v: unknown, f: string): number | null => (v === undefined || v === null ? null : int(v, f, 0));
  lps.roundIndex = optInt(json['lpsRoundIndex'], 'lpsRoundIndex') ?? 0;
  lps.consecutiveRounds = optInt(json['lpsConsecutiveExclusiveRounds'], 'lpsConsecutiveExclusiveRounds') ?? 0;
  lps.exclusivePlayer = optInt(json['lpsExclusivePlayerForCompletedRound'], 'lpsExclusivePlayerForCompletedRound');
  lps.firstPlayer = optInt(json['lpsCurrentRoundFirstPlayer'], 'lpsCurrentRoundFirstPlayer');
  lps.consecutivePlayer = optInt(json['lpsConsecutiveExclusivePlayer'], 'lpsConsecutiveExclusivePlayer');
  lps.mask.clear();
  for (const [k, v] of Object.entries(map(json['lpsCurrentRoundActorMask'], 'lpsCurrentRoundActorMask'))) {
    lps.mask.set(int(Number(k), `lpsCurrentRoundActorMask.${k}`, 1, numPlayers), v === true);
  }
  return s;
}

/** Fingerprint and hash of a stored state, as our engine computes them after deserializing it. */
export function replayStateIdentity(json: unknown): { fingerprint: string; hash: string } {
  const s = deserializeReplayState(json);
  return { fingerprint: fingerprint(s), hash: hashState(s) };
}

/**
 * The JSON text of a stored state column: plain text, or gzip when `compressed` is set (a BLOB of
 * gzip bytes as RingRift's TS service reads it, or base64 of gzip as its history entries store it).
 */
export function parseStoredStateText(value: string | Buffer | null, compressed: number | bigint | null | undefined, what: string): unknown {
  if (value === null) throw new ReplayStateError(`${what}: no state stored`);
  let text: string;
  if (compressed) {
    try {
      const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value, 'base64');
      text = gunzipSync(bytes).toString('utf8');
    } catch (err) {
      throw new ReplayStateError(`${what}: compressed state is not gzip (${(err as Error).message})`);
    }
  } else {
    text = Buffer.isBuffer(value) ? value.toString('utf8') : value;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ReplayStateError(`${what}: not JSON (${(err as Error).message})`);
  }
}
