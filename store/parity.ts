/**
 * Parity validation: replay stored games through our engine and compare every step with the
 * stored state hashes (GameReplayDB `game_history_entries.state_hash_after`, plus the initial
 * state's hash), then record `parity_status`, `parity_checked_at`, `parity_divergence_move`.
 *
 * Pure apart from the DB handle that callers pass in: no clock (timestamps are arguments), no
 * randomness (samples are seeded), no process spawning (external replayers are passed in as
 * already-collected results, see store/externalReplayer.ts).
 *
 * Statuses (as GameReplayDB's tag_games_parity_status uses them):
 * - `passed`: every step's hash (and the initial hash, and the final winner) matches.
 * - `failed`: a specific move diverges: its stored hash differs from the replayed one, or the
 *   stored move is not legal / not parseable in the replayed state, or the result differs.
 *   `divergenceMove` = 0-based `game_moves.move_number` of that move (0 also when the initial
 *   state already differs; `reason` tells them apart).
 * - `error`: the game cannot be checked at all (unknown board, missing hashes, engine crash);
 *   `divergenceMove` names the move where checking stopped when there is one.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import Database from 'better-sqlite3';
import {
  applyMoveInPlace,
  createInitialState,
  fingerprint,
  hashState,
  isBoardType,
  parseMove,
  IllegalMoveError,
  type GameState,
  type RulesOptions,
} from '../engine';
import { listGameIds, setParity, type GameDb, type ParityStatus, type StoredGame } from './gameDb';
import { deserializeReplayState, isReplayState, parseStoredStateText } from './replayState';

export type ParityReason =
  | 'hash_mismatch'
  | 'initial_state_mismatch'
  | 'illegal_move'
  | 'bad_move'
  | 'result_mismatch'
  | 'missing_hash'
  | 'unknown_board'
  | 'engine_error'
  | 'external_mismatch'
  | 'external_error';

export interface GameParity {
  gameId: string;
  status: Exclude<ParityStatus, 'pending' | 'skipped'>;
  /** 0-based move number of the first divergence (null when passed). */
  divergenceMove: number | null;
  reason?: ParityReason;
  /** which replay diverged: our engine, the external replayer, or both */
  engine?: 'ours' | 'external' | 'both';
  message?: string;
  /** stored hash at the divergence (state after `divergenceMove`, or the initial state) */
  expectedHash?: string | null;
  actualHash?: string;
  /** our engine's fingerprint of the divergent state (when our engine got there) */
  actualFingerprint?: string;
  /** fingerprint of the last state on which replay and record agreed */
  lastAgreedFingerprint?: string;
  /** the stored move at the divergence (JSON object as stored) */
  move?: Record<string, unknown>;
  moveType?: string;
  /** external replayer's hash / fingerprint at the divergence, when it was run */
  externalHash?: string | null;
  externalFingerprint?: string | null;
  /** moves replayed */
  moves: number;
}

/** Per-step hashes of one game as another engine computed them (see EXTERNAL_REPLAYER.md). */
export interface ExternalHashes {
  initialHash: string | null;
  hashes: string[];
  fingerprints?: string[];
  error?: { move: number | null; message: string } | null;
}

/** rulesOptions / seed of a stored game: initial state JSON first, then metadata, then defaults. */
export function replaySetup(game: StoredGame): { seed: number; rulesOptions: RulesOptions; initialHash: string | null } {
  const init = game.initialState ?? {};
  const meta = game.metadata ?? {};
  const ro = (init['rulesOptions'] ?? meta['rulesOptions']) as RulesOptions | undefined;
  let seed = 0;
  const rawSeed = game.seed ?? (init['rngSeed'] as number | undefined) ?? (init['seed'] as number | undefined);
  if (typeof rawSeed === 'bigint') seed = Number(BigInt.asUintN(32, rawSeed));
  else if (typeof rawSeed === 'number' && Number.isFinite(rawSeed)) seed = rawSeed;
  const ih = meta['initialStateHash'] ?? init['stateHash'] ?? init['state_hash'] ?? init['hash'];
  const initialHash = typeof ih === 'string' ? ih : (game.steps[0]?.hashBefore ?? null);
  return { seed, rulesOptions: ro && typeof ro === 'object' ? { ...ro } : {}, initialHash };
}

/**
 * Our engine's initial state for a stored game: the stored full state (RingRift's
 * initial_state_json, see store/replayState.ts) deserialized, or — for rows that hold only a
 * summary (older files of ours) — the standard initial state of the board, seed and rules options.
 * Throws when a stored full state does not fit the game (board, player count) or cannot be read.
 */
export function initialStateFor(game: StoredGame): GameState {
  if (isReplayState(game.initialState)) {
    const s = deserializeReplayState(game.initialState);
    if (s.boardType !== game.boardType || s.numPlayers !== game.numPlayers) {
      throw new Error(
        `stored initial state is a ${s.boardType} ${s.numPlayers}-player state, but the game is ${game.boardType} ${game.numPlayers}-player`,
      );
    }
    return s;
  }
  const { seed, rulesOptions } = replaySetup(game);
  return createInitialState({ boardType: game.boardType, numPlayers: game.numPlayers, seed, rulesOptions });
}

export interface ReplayOutcome {
  /** our hashes: [initial, after move 0, after move 1, …] up to where replay stopped */
  hashes: string[];
  /** our parity verdict against the stored hashes */
  result: GameParity;
  /** final state (when replay got to the end) */
  state: GameState | null;
}

function fail(
  game: StoredGame,
  status: GameParity['status'],
  reason: ParityReason,
  divergenceMove: number | null,
  extra: Partial<GameParity>,
): GameParity {
  return { gameId: game.gameId, status, reason, divergenceMove, engine: 'ours', moves: game.moves.length, ...extra };
}

/** Fingerprint of our state before move `i` (re-replayed; only used on the failure path). */
function fingerprintBefore(game: StoredGame, i: number): string | undefined {
  try {
    const s = initialStateFor(game);
    for (let k = 0; k < i; k++) applyMoveInPlace(s, parseMove(game.moves[k]));
    return fingerprint(s);
  } catch {
    return undefined;
  }
}

/**
 * Replay one stored game through our engine and compare with the stored hashes.
 * `onStep` (optional) sees the state before each move and the parsed move (used by exporters
 * that want states without a second replay).
 */
export function replayGame(game: StoredGame, onStep?: (state: GameState, moveIndex: number) => void): ReplayOutcome {
  const hashes: string[] = [];
  if (!isBoardType(game.boardType)) {
    return {
      hashes,
      state: null,
      result: fail(game, 'error', 'unknown_board', null, { message: `unknown board type ${String(game.boardType)}` }),
    };
  }
  let state: GameState;
  try {
    state = initialStateFor(game);
  } catch (err) {
    return {
      hashes,
      state: null,
      result: fail(game, 'error', 'engine_error', null, { message: `initial state: ${(err as Error).message}` }),
    };
  }
  const setup = replaySetup(game);
  let h = hashState(state);
  hashes.push(h);
  if (setup.initialHash !== null && setup.initialHash !== h) {
    return {
      hashes,
      state: null,
      result: fail(game, 'failed', 'initial_state_mismatch', 0, {
        expectedHash: setup.initialHash,
        actualHash: h,
        actualFingerprint: fingerprint(state),
        message: 'the initial state differs',
      }),
    };
  }
  for (let i = 0; i < game.moves.length; i++) {
    const raw = game.moves[i];
    const step = game.steps[i];
    const moveType = typeof raw['type'] === 'string' ? (raw['type'] as string) : undefined;
    const at = { move: raw, moveType, expectedHash: step?.hashAfter ?? null };
    let move;
    try {
      if (typeof raw['unparseableMoveJson'] === 'string')
        throw new TypeError(`move_json is not valid JSON: ${String(raw['unparseableMoveJson']).slice(0, 80)}`);
      move = parseMove(raw);
    } catch (err) {
      return {
        hashes,
        state: null,
        result: fail(game, 'failed', 'bad_move', i, {
          ...at,
          lastAgreedFingerprint: fingerprint(state),
          message: `move ${i}: ${(err as Error).message}`,
        }),
      };
    }
    if (onStep) onStep(state, i);
    try {
      applyMoveInPlace(state, move);
    } catch (err) {
      const illegal = err instanceof IllegalMoveError;
      return {
        hashes,
        state: null,
        result: fail(game, illegal ? 'failed' : 'error', illegal ? 'illegal_move' : 'engine_error', i, {
          ...at,
          lastAgreedFingerprint: fingerprint(state),
          message: `move ${i} (${moveType ?? '?'}): ${(err as Error).message}`,
        }),
      };
    }
    h = hashState(state);
    hashes.push(h);
    if (!step || step.hashAfter === null || step.hashAfter === undefined) {
      return {
        hashes,
        state: null,
        result: fail(game, 'error', 'missing_hash', i, { ...at, actualHash: h, message: `move ${i}: no stored state_hash_after` }),
      };
    }
    if (step.hashAfter !== h) {
      return {
        hashes,
        state: null,
        result: fail(game, 'failed', 'hash_mismatch', i, {
          ...at,
          actualHash: h,
          actualFingerprint: fingerprint(state),
          lastAgreedFingerprint: fingerprintBefore(game, i),
          message: `move ${i} (${moveType ?? '?'}): stored hash ${step.hashAfter}, replay ${h}`,
        }),
      };
    }
  }
  // result: completed games must end with the stored winner
  const stored = game.gameStatus ?? 'completed';
  if (game.moves.length > 0 && stored === 'completed') {
    const last = game.moves.length - 1;
    const mismatch =
      state.status !== 'completed'
        ? 'stored game is completed but the replay is still active'
        : (game.winner ?? null) !== (state.winner ?? null)
          ? `stored winner ${String(game.winner)}, replay winner ${String(state.winner)}`
          : null;
    if (mismatch !== null) {
      return {
        hashes,
        state,
        result: fail(game, 'failed', 'result_mismatch', last, { actualHash: h, actualFingerprint: fingerprint(state), message: mismatch }),
      };
    }
  }
  return { hashes, state, result: { gameId: game.gameId, status: 'passed', divergenceMove: null, moves: game.moves.length } };
}

/** Check one game with our engine only. */
export function checkGame(game: StoredGame): GameParity {
  return replayGame(game).result;
}

/**
 * Combine our verdict with an external replayer's hashes for the same game: the game passes
 * only if both replays match the stored hashes at every step. The earliest divergence wins;
 * `engine` says whose replay diverged there.
 */
export function combineWithExternal(game: StoredGame, ours: ReplayOutcome, ext: ExternalHashes | Error): GameParity {
  const base = ours.result;
  let extDiv: GameParity | null = null;
  if (ext instanceof Error) {
    extDiv = fail(game, 'error', 'external_error', null, { engine: 'external', message: `external replayer: ${ext.message}` });
  } else {
    const setup = replaySetup(game);
    if (setup.initialHash !== null && ext.initialHash !== null && ext.initialHash !== setup.initialHash) {
      extDiv = fail(game, 'failed', 'external_mismatch', 0, {
        engine: 'external',
        expectedHash: setup.initialHash,
        externalHash: ext.initialHash,
        message: 'external replayer: the initial state differs',
      });
    } else {
      const n = game.moves.length;
      for (let i = 0; i < n; i++) {
        const want = game.steps[i]?.hashAfter ?? null;
        const got = i < ext.hashes.length ? ext.hashes[i] : null;
        if (got === null) {
          const em = ext.error && (ext.error.move === null || ext.error.move <= i) ? ext.error.message : 'no hash for this move';
          extDiv = fail(game, 'failed', 'external_mismatch', i, {
            engine: 'external',
            move: game.moves[i],
            moveType: String(game.moves[i]['type']),
            expectedHash: want,
            externalHash: null,
            message: `external replayer stopped at move ${i}: ${em}`,
          });
          break;
        }
        if (want !== null && got !== want) {
          extDiv = fail(game, 'failed', 'external_mismatch', i, {
            engine: 'external',
            move: game.moves[i],
            moveType: String(game.moves[i]['type']),
            expectedHash: want,
            externalHash: got,
            externalFingerprint: ext.fingerprints?.[i] ?? null,
            actualHash: ours.hashes[i + 1],
            message: `move ${i}: stored hash ${want}, external replay ${got}`,
          });
          break;
        }
      }
    }
  }
  if (extDiv === null) return base;
  if (base.status === 'passed') return extDiv;
  // both diverged: keep the earlier one, mark both when at the same move
  const a = base.divergenceMove ?? Number.MAX_SAFE_INTEGER;
  const b = extDiv.divergenceMove ?? Number.MAX_SAFE_INTEGER;
  if (a === b) {
    return { ...base, engine: 'both', externalHash: extDiv.externalHash, externalFingerprint: extDiv.externalFingerprint };
  }
  return a < b ? base : extDiv;
}

// ───────────────────────────── DB-level validation ─────────────────────────────

/** Deterministic seeded sample of `n` game ids (in listGameIds order). All ids when n ≥ count. */
export function sampleGameIds(ids: string[], n: number | undefined, seed: number): string[] {
  if (n === undefined || n >= ids.length) return ids.slice();
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`sample size must be a non-negative integer, got ${String(n)}`);
  const keyed = ids.map((id, pos) => ({
    id,
    pos,
    k: createHash('sha256').update(`${seed}:${id}`).digest('hex'),
  }));
  keyed.sort((x, y) => (x.k < y.k ? -1 : x.k > y.k ? 1 : x.pos - y.pos));
  return keyed
    .slice(0, n)
    .sort((x, y) => x.pos - y.pos)
    .map((x) => x.id);
}

/**
 * Game ids in listGameIds order (created_at, game_id), a page at a time: keyset pagination, so
 * memory holds one page whatever the DB size, and other statements (parity writes) may run on
 * the same connection between pages.
 */
export function* iterateGameIdPages(db: GameDb, opts: { pageSize?: number; parityStatus?: ParityStatus } = {}): Generator<string[]> {
  const pageSize = opts.pageSize ?? 1000;
  const status = opts.parityStatus ? ` AND COALESCE(parity_status, 'pending') = ?` : '';
  const sp = opts.parityStatus ? [opts.parityStatus] : [];
  const first = db.sqlite.prepare(`SELECT created_at AS c, game_id AS g FROM games WHERE 1${status} ORDER BY created_at, game_id LIMIT ?`);
  const next = db.sqlite.prepare(
    `SELECT created_at AS c, game_id AS g FROM games WHERE (created_at > ? OR (created_at = ? AND game_id > ?))${status} ORDER BY created_at, game_id LIMIT ?`,
  );
  let rows = first.all(...sp, pageSize) as Array<{ c: string; g: string }>;
  while (rows.length > 0) {
    const last = rows[rows.length - 1];
    yield rows.map((r) => r.g);
    if (rows.length < pageSize) return;
    rows = next.all(last.c, last.c, last.g, ...sp, pageSize) as Array<{ c: string; g: string }>;
  }
}

/**
 * The game ids a parity run checks: every game, or a seeded sample (the same one sampleGameIds
 * picks). The DB is read a page at a time; a sample keeps only its n best keys while reading.
 */
export function selectParityGames(db: GameDb, opts: { sample?: number; seed?: number } = {}): string[] {
  const n = opts.sample;
  const seed = opts.seed ?? 0;
  if (n === undefined) return listGameIds(db);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`sample size must be a non-negative integer, got ${String(n)}`);
  // max-heap of the n smallest (key, position) pairs seen so far
  const heap: Array<{ id: string; pos: number; k: string }> = [];
  const above = (a: (typeof heap)[number], b: (typeof heap)[number]) => a.k > b.k || (a.k === b.k && a.pos > b.pos);
  let pos = 0;
  for (const page of iterateGameIdPages(db, { pageSize: 5000 })) {
    for (const id of page) {
      const e = { id, pos: pos++, k: createHash('sha256').update(`${seed}:${id}`).digest('hex') };
      if (heap.length < n) {
        heap.push(e);
        for (let i = heap.length - 1; i > 0;) {
          const p = (i - 1) >> 1;
          if (!above(heap[i], heap[p])) break;
          [heap[i], heap[p]] = [heap[p], heap[i]];
          i = p;
        }
      } else if (n > 0 && above(heap[0], e)) {
        heap[0] = e;
        for (let i = 0; ;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < heap.length && above(heap[l], heap[m])) m = l;
          if (r < heap.length && above(heap[r], heap[m])) m = r;
          if (m === i) break;
          [heap[i], heap[m]] = [heap[m], heap[i]];
          i = m;
        }
      }
    }
  }
  return heap.sort((a, b) => a.pos - b.pos).map((e) => e.id);
}

export interface ValidateOptions {
  /** ISO timestamp written to parity_checked_at (callers read the clock). */
  checkedAt: string;
  /** write the parity columns (default true; false = dry run) */
  write?: boolean;
  /** external replayer results, by game id (see store/externalReplayer.ts) */
  external?: Map<string, ExternalHashes | Error>;
  onProgress?: (done: number, total: number, last: GameParity) => void;
}

export interface ParityCounts {
  total: number;
  passed: number;
  failed: number;
  error: number;
}

export interface ParityBatchResult extends ParityCounts {
  /** every non-passed game with its details */
  problems: GameParity[];
  movesReplayed: number;
}

type Stmt = ReturnType<Database.Database['prepare']>;
const parityStmts = new WeakMap<Database.Database, { game: Stmt; init: Stmt; moves: Stmt }>();

/**
 * The parts of a stored game that parity needs (moves, per-step hashes, setup, result), read
 * with three queries; much cheaper than readGame, which also parses progress/history JSON.
 * Returns undefined when the game does not exist.
 */
export function readGameForParity(db: GameDb, gameId: string): StoredGame | undefined {
  let st = parityStmts.get(db.sqlite);
  if (!st) {
    st = {
      game: db.sqlite
        .prepare('SELECT game_id, board_type, num_players, rng_seed, game_status, winner, metadata_json FROM games WHERE game_id = ?')
        .safeIntegers(true),
      init: db.sqlite.prepare('SELECT initial_state_json, compressed FROM game_initial_state WHERE game_id = ?'),
      moves: db.sqlite.prepare(
        `SELECT m.move_number AS n, m.move_json AS mj, h.state_hash_before AS hb, h.state_hash_after AS ha
           FROM game_moves m LEFT JOIN game_history_entries h ON h.game_id = m.game_id AND h.move_number = m.move_number
          WHERE m.game_id = ? ORDER BY m.move_number`,
      ),
    };
    parityStmts.set(db.sqlite, st);
  }
  const g = st.game.get(gameId) as
    | {
        game_id: string;
        board_type: string;
        num_players: bigint;
        rng_seed: bigint | null;
        game_status: string;
        winner: bigint | null;
        metadata_json: string | null;
      }
    | undefined;
  if (!g) return undefined;
  const init = st.init.get(gameId) as { initial_state_json: string | Buffer; compressed: number | null } | undefined;
  if (!init) throw new Error(`game ${gameId} has no initial state row`);
  const initialState = parseStoredStateText(init.initial_state_json, init.compressed, `game ${gameId} initial state`) as Record<
    string,
    unknown
  >;
  const rows = st.moves.all(gameId) as Array<{ n: number; mj: string; hb: string | null; ha: string | null }>;
  const moves: Record<string, unknown>[] = [];
  const steps: StoredGame['steps'] = [];
  for (const r of rows) {
    let mv: Record<string, unknown>;
    try {
      mv = JSON.parse(r.mj) as Record<string, unknown>;
    } catch {
      mv = { unparseableMoveJson: r.mj }; // replay flags it as bad_move at this move
    }
    moves.push(mv);
    steps.push({ hashBefore: r.hb, hashAfter: r.ha, phaseBefore: '', phaseAfter: '', playerBefore: 0, playerAfter: 0 });
  }
  const seed = g.rng_seed;
  return {
    gameId: g.game_id,
    boardType: g.board_type as StoredGame['boardType'],
    numPlayers: Number(g.num_players),
    seed: seed === null ? null : Number.isSafeInteger(Number(seed)) ? Number(seed) : seed,
    players: [],
    initialState,
    moves,
    steps,
    winner: g.winner === null ? null : Number(g.winner),
    terminationReason: null,
    source: '',
    engineMode: null,
    createdAt: '',
    completedAt: null,
    gameStatus: g.game_status,
    durationMs: null,
    metadata: g.metadata_json ? (JSON.parse(g.metadata_json) as Record<string, unknown>) : {},
    totalMoves: rows.length,
    totalTurns: 0,
    parity: { status: 'pending', checkedAt: null, divergenceMove: null },
  };
}

/**
 * The external replayer could not answer a game (it did not start, died, timed out or broke the
 * protocol). That is a failure of the environment, not a fact about the game: validateGames
 * throws this before it writes anything.
 */
export class ExternalReplayerFailure extends Error {
  constructor(
    readonly gameId: string,
    readonly replayerError: Error,
  ) {
    super(`external replayer failed on game ${gameId}: ${replayerError.message}`);
    this.name = 'ExternalReplayerFailure';
  }
}

/**
 * Validate the given games of an open DB; writes parity columns unless `write: false`. Throws
 * ExternalReplayerFailure, before anything is written, when the external results hold an Error
 * for one of the games.
 */
export function validateGames(db: GameDb, gameIds: string[], opts: ValidateOptions): ParityBatchResult {
  if (opts.external) {
    for (const id of gameIds) {
      const ext = opts.external.get(id);
      if (ext instanceof Error) throw new ExternalReplayerFailure(id, ext);
    }
  }
  const out: ParityBatchResult = { total: 0, passed: 0, failed: 0, error: 0, problems: [], movesReplayed: 0 };
  const write = opts.write !== false;
  const pendingWrites: Array<[string, GameParity]> = [];
  const flush = () => {
    if (!write || pendingWrites.length === 0) return;
    db.sqlite.transaction(() => {
      for (const [id, r] of pendingWrites)
        setParity(db, id, { status: r.status, checkedAt: opts.checkedAt, divergenceMove: r.divergenceMove });
    })();
    pendingWrites.length = 0;
  };
  for (const id of gameIds) {
    let r: GameParity;
    let game: StoredGame | undefined;
    try {
      game = readGameForParity(db, id);
    } catch (err) {
      r = {
        gameId: id,
        status: 'error',
        divergenceMove: null,
        reason: 'engine_error',
        message: `cannot read game: ${(err as Error).message}`,
        moves: 0,
      };
    }
    if (game) {
      const ours = replayGame(game);
      const ext = opts.external?.get(id);
      r = ext === undefined ? ours.result : combineWithExternal(game, ours, ext);
      out.movesReplayed += ours.hashes.length > 0 ? ours.hashes.length - 1 : 0;
    } else {
      r ??= { gameId: id, status: 'error', divergenceMove: null, reason: 'engine_error', message: 'game not found', moves: 0 };
    }
    out.total++;
    out[r.status]++;
    if (r.status !== 'passed') out.problems.push(r);
    pendingWrites.push([id, r]);
    if (pendingWrites.length >= 100) flush();
    opts.onProgress?.(out.total, gameIds.length, r);
  }
  flush();
  return out;
}

// ───────────────────────────── report ─────────────────────────────

export interface ParityReport extends ParityCounts {
  db: string;
  dbSha256?: string;
  checkedAt: string;
  sample: number | null;
  seed: number;
  failThreshold: number;
  /** (failed + error) / total; 0 when nothing was checked */
  failureRate: number;
  /** failureRate ≤ failThreshold and at least one game checked */
  ok: boolean;
  movesReplayed: number;
  elapsedSeconds?: number;
  gamesPerSecond?: number;
  external?: string | null;
  problems: GameParity[];
}

export function buildParityReport(
  parts: ParityBatchResult[],
  info: {
    db: string;
    dbSha256?: string;
    checkedAt: string;
    sample?: number | null;
    seed?: number;
    failThreshold: number;
    elapsedSeconds?: number;
    external?: string | null;
  },
): ParityReport {
  const sum: ParityBatchResult = { total: 0, passed: 0, failed: 0, error: 0, problems: [], movesReplayed: 0 };
  for (const p of parts) {
    sum.total += p.total;
    sum.passed += p.passed;
    sum.failed += p.failed;
    sum.error += p.error;
    sum.movesReplayed += p.movesReplayed;
    sum.problems.push(...p.problems);
  }
  const failureRate = sum.total === 0 ? 0 : (sum.failed + sum.error) / sum.total;
  const rep: ParityReport = {
    db: info.db,
    dbSha256: info.dbSha256,
    checkedAt: info.checkedAt,
    sample: info.sample ?? null,
    seed: info.seed ?? 0,
    failThreshold: info.failThreshold,
    total: sum.total,
    passed: sum.passed,
    failed: sum.failed,
    error: sum.error,
    failureRate,
    ok: sum.total > 0 && failureRate <= info.failThreshold,
    movesReplayed: sum.movesReplayed,
    external: info.external ?? null,
    problems: sum.problems,
  };
  if (info.elapsedSeconds !== undefined) {
    rep.elapsedSeconds = info.elapsedSeconds;
    rep.gamesPerSecond = info.elapsedSeconds > 0 ? sum.total / info.elapsedSeconds : undefined;
  }
  return rep;
}

/** Readable summary: totals, verdict, then one block per failed/error game. */
export function formatParityReport(rep: ParityReport, maxGames = 50): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const lines: string[] = [];
  lines.push(`parity validation of ${rep.db}${rep.dbSha256 ? ` (sha256 ${rep.dbSha256.slice(0, 16)}…)` : ''}`);
  lines.push(
    `checked at ${rep.checkedAt}; ${rep.sample === null ? 'all games' : `seeded sample of ${rep.sample} (seed ${rep.seed})`}${rep.external ? `; external replayer: ${rep.external}` : ''}`,
  );
  lines.push(
    `games ${rep.total}: passed ${rep.passed}, failed ${rep.failed}, error ${rep.error}; failure rate ${pct(rep.failureRate)} (threshold ${pct(rep.failThreshold)}) → ${rep.ok ? 'OK' : 'FAILED'}`,
  );
  if (rep.gamesPerSecond !== undefined) lines.push(`moves replayed ${rep.movesReplayed}; ${rep.gamesPerSecond.toFixed(1)} games/s`);
  for (const p of rep.problems.slice(0, maxGames)) {
    lines.push('');
    const where = p.divergenceMove === null ? 'no move' : `move ${p.divergenceMove}${p.moveType ? ` (${p.moveType})` : ''}`;
    lines.push(
      `${p.status.toUpperCase()} ${p.gameId}: ${where}: ${p.reason ?? ''}${p.engine && p.engine !== 'ours' ? ` [${p.engine}]` : ''}`,
    );
    if (p.message) lines.push(`  ${p.message}`);
    if (p.expectedHash !== undefined) lines.push(`  expected hash      ${p.expectedHash ?? '(none stored)'}`);
    if (p.actualHash !== undefined) lines.push(`  actual hash        ${p.actualHash}`);
    if (p.externalHash !== undefined) lines.push(`  external hash      ${p.externalHash ?? '(none)'}`);
    if (p.reason === 'hash_mismatch' && !p.externalFingerprint)
      lines.push('  expected fingerprint     (the DB stores only the hash; the state before the move was:)');
    if (p.lastAgreedFingerprint) lines.push(`  last agreed fingerprint  ${p.lastAgreedFingerprint}`);
    if (p.actualFingerprint) lines.push(`  actual fingerprint       ${p.actualFingerprint}`);
    if (p.externalFingerprint) lines.push(`  external fingerprint     ${p.externalFingerprint}`);
    if (p.move) lines.push(`  stored move        ${JSON.stringify(p.move)}`);
  }
  if (rep.problems.length > maxGames) lines.push('', `… and ${rep.problems.length - maxGames} more (see the JSON report)`);
  return lines.join('\n') + '\n';
}

// ───────────────────────────── DB probe (for CLIs and activities) ─────────────────────────────

export interface GameDbSummary {
  boardType: string;
  numPlayers: number;
  games: number;
  /** games per parity_status (NULL counted as pending) */
  parity: Record<string, number>;
}

/**
 * Board/player configuration and game counts of a game DB without knowing its configuration in
 * advance (read-only). Throws GameDbError-like Errors with a readable message.
 */
export function probeGameDb(file: string): GameDbSummary {
  if (!fs.existsSync(file)) throw new Error(`no such game DB: ${file}`);
  let sqlite: Database.Database;
  try {
    sqlite = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new Error(`cannot open ${file}: ${(err as Error).message}`);
  }
  try {
    const hasGames = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'games'").get() !== undefined;
    if (!hasGames) throw new Error(`${file} is not a game DB (no games table)`);
    const meta = (key: string): string | undefined => {
      try {
        return (sqlite.prepare('SELECT value FROM schema_metadata WHERE key = ?').get(key) as { value: string } | undefined)?.value;
      } catch {
        return undefined;
      }
    };
    const groups = sqlite
      .prepare('SELECT board_type AS b, num_players AS n, COUNT(*) AS c FROM games GROUP BY board_type, num_players')
      .all() as Array<{
      b: string;
      n: number;
      c: number;
    }>;
    if (groups.length > 1) throw new Error(`${file} mixes configurations: ${groups.map((g) => `${g.c} ${g.b} ${g.n}p`).join(', ')}`);
    const boardType = groups[0]?.b ?? meta('pipeline_board_type');
    const numPlayers = Number(groups[0]?.n ?? meta('pipeline_num_players'));
    if (!boardType || !Number.isInteger(numPlayers))
      throw new Error(`${file}: cannot tell its board type / player count (no games and no pipeline metadata)`);
    const parity: Record<string, number> = {};
    const total = groups[0] ? Number(groups[0].c) : 0;
    try {
      for (const r of sqlite.prepare("SELECT COALESCE(parity_status, 'pending') AS s, COUNT(*) AS c FROM games GROUP BY 1").all() as Array<{
        s: string;
        c: number;
      }>) {
        parity[r.s] = Number(r.c);
      }
    } catch {
      if (total > 0) parity['pending'] = total; // no parity columns yet (older upstream schema)
    }
    return { boardType, numPlayers, games: total, parity };
  } finally {
    sqlite.close();
  }
}
