/**
 * Game store: a SQLite file (better-sqlite3, WAL mode) whose schema is a compatible
 * subset of RingRift's GameReplayDB (schema version 16). See store/FORMATS.md.
 *
 * Plain functions over a small handle object; no clock is read inside — timestamps
 * are passed in by callers.
 */
import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseStoredStateText } from './replayState';
import { ensureWritableDir } from './safeDir';

/** The GameReplayDB schema version this store writes (schema_metadata + games.schema_version). */
export const GAME_REPLAY_SCHEMA_VERSION = 16;

export const BOARD_TYPES = ['square8', 'square19', 'hex8', 'hexagonal'] as const;
export type BoardType = (typeof BOARD_TYPES)[number];

export const PARITY_STATUSES = ['pending', 'passed', 'failed', 'error', 'skipped'] as const;
export type ParityStatus = (typeof PARITY_STATUSES)[number];

/** Engine Move JSON; the engine's own types will narrow this later. */
export type MoveJson = Record<string, unknown>;
export type StateJson = Record<string, unknown>;

export interface GameDb {
  readonly path: string;
  readonly boardType: BoardType;
  readonly numPlayers: number;
  readonly readonly: boolean;
  /** The underlying connection, for callers that need raw SQL. */
  readonly sqlite: Database.Database;
}

export interface OpenGameDbOptions {
  boardType: BoardType;
  numPlayers: number;
  /** Create the file (and schema) when it does not exist. Default false. */
  create?: boolean;
  /** Open read-only (no schema changes, no writes). Default false. */
  readonly?: boolean;
}

export interface PlayerRecord {
  /** 1-based seat (GameReplayDB player_number). */
  seat: number;
  /** 'ai' | 'human' (GameReplayDB player_type). */
  playerType: string;
  /** Agent spec string; stored in ai_profile_id. */
  spec: string;
  /** Optional ai_type column ('mcts', 'heuristic', 'neural', ...). */
  aiType?: string | null;
  aiDifficulty?: number | null;
  /** The player's counters at the end of the game (game_players.final_*), when known. */
  finalEliminatedRings?: number | null;
  finalTerritorySpaces?: number | null;
  finalRingsInHand?: number | null;
}

export interface MoveStep {
  hashBefore: string | null;
  hashAfter: string | null;
  phaseBefore: string;
  phaseAfter: string;
  /** The player to move before the move (= the mover). */
  playerBefore: number;
  /** The player to move after the move. */
  playerAfter: number;
  /** Game status before/after; default 'active', last step's after defaults to the game status. */
  statusBefore?: string;
  statusAfter?: string;
  /** Per-player progress JSON objects; default {"players": []}. */
  progressBefore?: Record<string, unknown>;
  progressAfter?: Record<string, unknown>;
  /** Optional soft policy target (stored as JSON in game_moves.move_probs). */
  moveProbs?: unknown;
  engineEval?: number | null;
}

export interface GameRecord {
  gameId: string;
  boardType: BoardType;
  numPlayers: number;
  seed: number | bigint | null;
  players: PlayerRecord[];
  initialState: StateJson;
  moves: MoveJson[];
  /** One entry per move, same order as `moves`. */
  steps: MoveStep[];
  winner: number | null;
  terminationReason: string | null;
  source: string;
  engineMode: string | null;
  /** ISO timestamp, passed in by the caller. */
  createdAt: string;
  completedAt?: string | null;
  /** GameReplayDB game_status; default 'completed'. */
  gameStatus?: string;
  durationMs?: number | null;
  metadata?: Record<string, unknown>;
}

export interface WriteGameOptions {
  /** What to do when game_id already exists: 'error' (default) or 'skip'. */
  ifExists?: 'error' | 'skip';
}

export interface ParityInfo {
  status: ParityStatus;
  checkedAt: string | null;
  divergenceMove: number | null;
}

export interface StoredGame extends GameRecord {
  gameStatus: string;
  completedAt: string | null;
  durationMs: number | null;
  metadata: Record<string, unknown>;
  totalMoves: number;
  totalTurns: number;
  parity: ParityInfo;
}

export class GameDbError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GameDbError';
  }
}

export class GameConfigMismatchError extends GameDbError {
  constructor(message: string) {
    super(message);
    this.name = 'GameConfigMismatchError';
  }
}

export class DuplicateGameError extends GameDbError {
  constructor(
    message: string,
    readonly gameIds: string[],
  ) {
    super(message);
    this.name = 'DuplicateGameError';
  }
}

// ---------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------

const META_BOARD = 'pipeline_board_type';
const META_PLAYERS = 'pipeline_num_players';

const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS schema_metadata (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS games (
  game_id TEXT PRIMARY KEY,
  board_type TEXT NOT NULL,
  num_players INTEGER NOT NULL,
  rng_seed INTEGER,
  created_at TEXT NOT NULL,
  completed_at TEXT,
  game_status TEXT NOT NULL,
  winner INTEGER,
  termination_reason TEXT,
  total_moves INTEGER NOT NULL,
  total_turns INTEGER NOT NULL,
  duration_ms INTEGER,
  source TEXT,
  schema_version INTEGER NOT NULL,
  time_control_type TEXT DEFAULT 'none',
  initial_time_ms INTEGER,
  time_increment_ms INTEGER,
  metadata_json TEXT,
  quality_score REAL,
  quality_category TEXT,
  engine_mode TEXT,
  opponent_type TEXT,
  opponent_model_id TEXT,
  parity_status TEXT DEFAULT 'pending',
  parity_checked_at TEXT,
  parity_divergence_move INTEGER
);
CREATE INDEX IF NOT EXISTS idx_games_board_type ON games(board_type);
CREATE INDEX IF NOT EXISTS idx_games_winner ON games(winner);
CREATE INDEX IF NOT EXISTS idx_games_termination ON games(termination_reason);
CREATE INDEX IF NOT EXISTS idx_games_created ON games(created_at);
CREATE INDEX IF NOT EXISTS idx_games_source ON games(source);
CREATE INDEX IF NOT EXISTS idx_games_board_players ON games(board_type, num_players);
CREATE INDEX IF NOT EXISTS idx_games_created_board ON games(created_at, board_type);
CREATE INDEX IF NOT EXISTS idx_games_board_created ON games(board_type, created_at);
CREATE INDEX IF NOT EXISTS idx_games_quality ON games(quality_score DESC);
CREATE INDEX IF NOT EXISTS idx_games_quality_board ON games(board_type, quality_score DESC);
CREATE INDEX IF NOT EXISTS idx_games_config ON games(board_type, num_players, game_status);
CREATE INDEX IF NOT EXISTS idx_games_opponent_type ON games(opponent_type);
CREATE INDEX IF NOT EXISTS idx_games_board_opponent ON games(board_type, opponent_type);
CREATE INDEX IF NOT EXISTS idx_games_parity_status ON games(parity_status);

CREATE TABLE IF NOT EXISTS game_players (
  game_id TEXT NOT NULL,
  player_number INTEGER NOT NULL,
  player_type TEXT NOT NULL,
  ai_type TEXT,
  ai_difficulty INTEGER,
  ai_profile_id TEXT,
  final_eliminated_rings INTEGER,
  final_territory_spaces INTEGER,
  final_rings_in_hand INTEGER,
  PRIMARY KEY (game_id, player_number),
  FOREIGN KEY (game_id) REFERENCES games(game_id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS game_initial_state (
  game_id TEXT PRIMARY KEY,
  initial_state_json TEXT NOT NULL,
  compressed INTEGER DEFAULT 0,
  FOREIGN KEY (game_id) REFERENCES games(game_id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS game_moves (
  game_id TEXT NOT NULL,
  move_number INTEGER NOT NULL,
  turn_number INTEGER NOT NULL,
  player INTEGER NOT NULL,
  phase TEXT NOT NULL,
  move_type TEXT NOT NULL,
  move_json TEXT NOT NULL,
  timestamp TEXT,
  think_time_ms INTEGER,
  time_remaining_ms INTEGER,
  engine_eval REAL,
  engine_eval_type TEXT,
  engine_depth INTEGER,
  engine_nodes INTEGER,
  engine_pv TEXT,
  engine_time_ms INTEGER,
  move_probs TEXT,
  search_stats_json TEXT,
  PRIMARY KEY (game_id, move_number),
  FOREIGN KEY (game_id) REFERENCES games(game_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_moves_game_turn ON game_moves(game_id, turn_number);
CREATE INDEX IF NOT EXISTS idx_moves_player ON game_moves(game_id, player);
CREATE INDEX IF NOT EXISTS idx_moves_lookup ON game_moves(game_id, move_number);

CREATE TABLE IF NOT EXISTS game_state_snapshots (
  game_id TEXT NOT NULL,
  move_number INTEGER NOT NULL,
  state_json TEXT NOT NULL,
  compressed INTEGER DEFAULT 0,
  state_hash TEXT,
  PRIMARY KEY (game_id, move_number),
  FOREIGN KEY (game_id) REFERENCES games(game_id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS game_choices (
  game_id TEXT NOT NULL,
  move_number INTEGER NOT NULL,
  choice_type TEXT NOT NULL,
  player INTEGER NOT NULL,
  options_json TEXT NOT NULL,
  selected_option_json TEXT NOT NULL,
  ai_reasoning TEXT,
  PRIMARY KEY (game_id, move_number, choice_type),
  FOREIGN KEY (game_id) REFERENCES games(game_id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS game_history_entries (
  game_id TEXT NOT NULL,
  move_number INTEGER NOT NULL,
  player INTEGER NOT NULL,
  phase_before TEXT NOT NULL,
  phase_after TEXT NOT NULL,
  status_before TEXT NOT NULL,
  status_after TEXT NOT NULL,
  progress_before_json TEXT NOT NULL,
  progress_after_json TEXT NOT NULL,
  state_hash_before TEXT,
  state_hash_after TEXT,
  board_summary_before_json TEXT,
  board_summary_after_json TEXT,
  state_before_json TEXT,
  state_after_json TEXT,
  compressed_states INTEGER DEFAULT 0,
  available_moves_json TEXT,
  available_moves_count INTEGER,
  engine_eval REAL,
  engine_depth INTEGER,
  fsm_valid INTEGER,
  fsm_error_code TEXT,
  player_after INTEGER,
  PRIMARY KEY (game_id, move_number),
  FOREIGN KEY (game_id) REFERENCES games(game_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_history_game ON game_history_entries(game_id);
CREATE INDEX IF NOT EXISTS idx_history_game_phase ON game_history_entries(game_id, phase_before);
CREATE INDEX IF NOT EXISTS idx_history_game_player ON game_history_entries(game_id, player);

CREATE TABLE IF NOT EXISTS game_nnue_features (
  game_id TEXT NOT NULL,
  move_number INTEGER NOT NULL,
  player_perspective INTEGER NOT NULL,
  features BLOB NOT NULL,
  value REAL NOT NULL,
  board_type TEXT NOT NULL,
  feature_dim INTEGER NOT NULL,
  PRIMARY KEY (game_id, move_number, player_perspective),
  FOREIGN KEY (game_id) REFERENCES games(game_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_nnue_game ON game_nnue_features(game_id);
CREATE INDEX IF NOT EXISTS idx_nnue_board_type ON game_nnue_features(board_type);

CREATE TABLE IF NOT EXISTS orphaned_games (
  game_id TEXT PRIMARY KEY,
  detected_at TEXT NOT NULL,
  reason TEXT,
  original_status TEXT,
  board_type TEXT,
  num_players INTEGER
);
`;

/** Columns we need on databases created by someone else; added if missing (as upstream's tag script does). */
const REQUIRED_EXTRA_COLUMNS: ReadonlyArray<[table: string, column: string, decl: string]> = [
  ['games', 'engine_mode', 'TEXT'],
  ['games', 'parity_status', "TEXT DEFAULT 'pending'"],
  ['games', 'parity_checked_at', 'TEXT'],
  ['games', 'parity_divergence_move', 'INTEGER'],
  ['game_moves', 'move_probs', 'TEXT'],
  ['game_history_entries', 'player_after', 'INTEGER'],
];

// ---------------------------------------------------------------------------
// Open / close
// ---------------------------------------------------------------------------

function validateConfig(where: string, boardType: unknown, numPlayers: unknown): asserts boardType is BoardType {
  if (!BOARD_TYPES.includes(boardType as BoardType)) {
    throw new GameDbError(`${where}: unknown board type ${JSON.stringify(boardType)} (expected one of ${BOARD_TYPES.join(', ')})`);
  }
  if (!Number.isInteger(numPlayers) || (numPlayers as number) < 2 || (numPlayers as number) > 4) {
    throw new GameDbError(`${where}: num_players must be an integer 2..4, got ${JSON.stringify(numPlayers)}`);
  }
}

function configLabel(boardType: string, numPlayers: number | string): string {
  return `${boardType}/${numPlayers}p`;
}

function tableExists(sqlite: Database.Database, name: string, schema = 'main'): boolean {
  const row = sqlite.prepare(`SELECT 1 FROM ${schema}.sqlite_master WHERE type = 'table' AND name = ?`).get(name);
  return row !== undefined;
}

function tableColumns(sqlite: Database.Database, table: string, schema = 'main'): string[] {
  const rows = sqlite.prepare(`PRAGMA ${schema}.table_info(${table})`).all() as Array<{ name: string }>;
  return rows.map((r) => r.name);
}

function readMeta(sqlite: Database.Database, key: string): string | undefined {
  const row = sqlite.prepare('SELECT value FROM schema_metadata WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value;
}

function writeMeta(sqlite: Database.Database, key: string, value: string): void {
  sqlite.prepare('INSERT OR REPLACE INTO schema_metadata (key, value) VALUES (?, ?)').run(key, value);
}

/**
 * Open (or create) a game DB for one board/player configuration.
 *
 * Throws GameConfigMismatchError when the file is configured for, or holds games of,
 * a different board type or player count.
 */
export function openGameDb(file: string, opts: OpenGameDbOptions): GameDb {
  validateConfig(`openGameDb(${file})`, opts.boardType, opts.numPlayers);
  const { boardType, numPlayers } = opts;
  const readonly = opts.readonly === true;
  const exists = fs.existsSync(file);
  if (!exists && (!opts.create || readonly)) {
    throw new GameDbError(`game DB ${file} does not exist (pass create: true to create it)`);
  }
  if (!exists) {
    try {
      ensureWritableDir(path.dirname(path.resolve(file)));
    } catch (err) {
      throw new GameDbError(`cannot create game DB ${file}: ${(err as Error).message}`);
    }
  }

  let sqlite: Database.Database;
  try {
    sqlite = new Database(file, { readonly, fileMustExist: exists });
  } catch (err) {
    throw new GameDbError(`cannot open game DB ${file}: ${(err as Error).message}`);
  }
  try {
    sqlite.pragma('busy_timeout = 30000');
    sqlite.pragma('foreign_keys = ON');
    const hasGames = tableExists(sqlite, 'games');
    // Check the configuration before touching the file in any way.
    if (hasGames) checkExistingConfig(sqlite, file, boardType, numPlayers);
    if (!readonly) {
      const mode = sqlite.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') {
        throw new GameDbError(`game DB ${file}: could not switch to WAL mode (got ${String(mode)})`);
      }
      // WAL + NORMAL: a committed game survives a killed process; only an OS crash can lose the last commits.
      sqlite.pragma('synchronous = NORMAL');
    }
    const hasMeta = tableExists(sqlite, 'schema_metadata');
    if (!hasGames) {
      if (hasMeta && readMeta(sqlite, 'schema_version') !== undefined && !opts.create) {
        throw new GameDbError(`game DB ${file} has schema_metadata but no games table`);
      }
      const userTables = sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as Array<{
        name: string;
      }>;
      if (userTables.some((t) => t.name !== 'schema_metadata')) {
        throw new GameDbError(`${file} is not a game DB (tables: ${userTables.map((t) => t.name).join(', ')})`);
      }
      if (readonly) throw new GameDbError(`game DB ${file} has no schema (opened read-only)`);
      sqlite.transaction(() => {
        sqlite.exec(SCHEMA_SQL);
        writeMeta(sqlite, 'schema_version', String(GAME_REPLAY_SCHEMA_VERSION));
        writeMeta(sqlite, META_BOARD, boardType);
        writeMeta(sqlite, META_PLAYERS, String(numPlayers));
      })();
    } else if (!readonly) {
      upgradeExisting(sqlite, boardType, numPlayers);
    }
    return { path: file, boardType, numPlayers, readonly, sqlite };
  } catch (err) {
    sqlite.close();
    if (err instanceof GameDbError) throw err;
    throw new GameDbError(`cannot open game DB ${file}: ${(err as Error).message}`);
  }
}

function checkExistingConfig(sqlite: Database.Database, file: string, boardType: BoardType, numPlayers: number): void {
  const asked = configLabel(boardType, numPlayers);
  if (tableExists(sqlite, 'schema_metadata')) {
    const metaBoard = readMeta(sqlite, META_BOARD);
    const metaPlayers = readMeta(sqlite, META_PLAYERS);
    if (metaBoard !== undefined || metaPlayers !== undefined) {
      if (metaBoard !== boardType || metaPlayers !== String(numPlayers)) {
        throw new GameConfigMismatchError(
          `game DB ${file} is configured for ${configLabel(metaBoard ?? '?', metaPlayers ?? '?')}, ` + `but ${asked} was asked for`,
        );
      }
    }
  }
  const held = sqlite
    .prepare('SELECT board_type AS b, num_players AS n, COUNT(*) AS c FROM games GROUP BY board_type, num_players')
    .all() as Array<{ b: string; n: number; c: number }>;
  const foreign = held.filter((h) => h.b !== boardType || Number(h.n) !== numPlayers);
  if (foreign.length > 0) {
    const summary = held.map((h) => `${h.c} ${configLabel(h.b, h.n)} game(s)`).join(', ');
    throw new GameConfigMismatchError(`game DB ${file} holds ${summary}, but ${asked} was asked for`);
  }
}

function upgradeExisting(sqlite: Database.Database, boardType: BoardType, numPlayers: number): void {
  sqlite.transaction(() => {
    sqlite.exec('CREATE TABLE IF NOT EXISTS schema_metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    for (const [table, column, decl] of REQUIRED_EXTRA_COLUMNS) {
      if (tableExists(sqlite, table) && !tableColumns(sqlite, table).includes(column)) {
        sqlite.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${decl}`);
      }
    }
    if (readMeta(sqlite, 'schema_version') === undefined) {
      // A games table without a version row is a v1 file upstream; leave it to upstream's migrations.
      writeMeta(sqlite, 'schema_version', '1');
    }
    if (readMeta(sqlite, META_BOARD) === undefined) writeMeta(sqlite, META_BOARD, boardType);
    if (readMeta(sqlite, META_PLAYERS) === undefined) writeMeta(sqlite, META_PLAYERS, String(numPlayers));
  })();
}

export function closeGameDb(db: GameDb): void {
  if (db.sqlite.open) db.sqlite.close();
}

/** The schema version recorded in the file (schema_metadata 'schema_version'). */
export function schemaVersion(db: GameDb): number {
  const v = readMeta(db.sqlite, 'schema_version');
  return v === undefined ? 1 : Number(v);
}

/** Current SQLite journal mode ('wal' for files opened by this module). */
export function journalMode(db: GameDb): string {
  return String(db.sqlite.pragma('journal_mode', { simple: true })).toLowerCase();
}

// ---------------------------------------------------------------------------
// Write
// ---------------------------------------------------------------------------

function assertWritable(db: GameDb, what: string): void {
  if (db.readonly) throw new GameDbError(`${what}: game DB ${db.path} is open read-only`);
}

function validateRecord(db: GameDb, r: GameRecord): void {
  const where = `writeGame(${db.path}, ${JSON.stringify(r.gameId)})`;
  if (typeof r.gameId !== 'string' || r.gameId.length === 0) throw new GameDbError(`${where}: gameId must be a non-empty string`);
  if (r.boardType !== db.boardType || r.numPlayers !== db.numPlayers) {
    throw new GameConfigMismatchError(
      `${where}: game is ${configLabel(r.boardType, r.numPlayers)} but the DB is for ${configLabel(db.boardType, db.numPlayers)}`,
    );
  }
  if (r.moves.length !== r.steps.length) {
    throw new GameDbError(`${where}: ${r.moves.length} moves but ${r.steps.length} steps`);
  }
  if (r.players.length !== r.numPlayers) {
    throw new GameDbError(`${where}: ${r.players.length} players listed for a ${r.numPlayers}-player game`);
  }
  const seats = new Set<number>();
  for (const p of r.players) {
    if (!Number.isInteger(p.seat) || p.seat < 1 || p.seat > r.numPlayers || seats.has(p.seat)) {
      throw new GameDbError(`${where}: bad or repeated seat ${JSON.stringify(p.seat)} (seats are 1..${r.numPlayers})`);
    }
    seats.add(p.seat);
  }
  if (typeof r.createdAt !== 'string' || r.createdAt.length === 0) {
    throw new GameDbError(`${where}: createdAt must be an ISO timestamp string`);
  }
  if (r.seed !== null && typeof r.seed === 'number' && !Number.isSafeInteger(r.seed)) {
    throw new GameDbError(`${where}: seed ${r.seed} is not a safe integer (pass a bigint)`);
  }
}

/** JSON text with object keys sorted at every depth (GameReplayDB writes metadata_json with sorted keys). */
export function sortedJson(v: unknown): string {
  const sort = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sort);
    if (x !== null && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(o)
          .sort()
          .map((k) => [k, sort(o[k])]),
      );
    }
    return x;
  };
  return JSON.stringify(sort(v));
}

function moveTypeOf(move: MoveJson, index: number, gameId: string): string {
  const t = move['type'];
  if (typeof t !== 'string' || t.length === 0) {
    throw new GameDbError(`writeGame(${JSON.stringify(gameId)}): move ${index} has no string 'type'`);
  }
  return t;
}

/**
 * Write one complete game in a single transaction: afterwards the game is either
 * fully present (games, players, initial state, moves, history entries) or absent.
 *
 * Returns { written: false } only when ifExists is 'skip' and the id already exists.
 */
export function writeGame(db: GameDb, record: GameRecord, opts: WriteGameOptions = {}): { written: boolean } {
  assertWritable(db, 'writeGame');
  validateRecord(db, record);
  const s = db.sqlite;
  const run = s.transaction((): boolean => {
    const existing = s.prepare('SELECT 1 FROM games WHERE game_id = ?').get(record.gameId);
    if (existing !== undefined) {
      if (opts.ifExists === 'skip') return false;
      throw new DuplicateGameError(`game ${record.gameId} already exists in ${db.path}`, [record.gameId]);
    }
    const gameStatus = record.gameStatus ?? 'completed';

    // Turn counting as GameReplayDB does it: a new turn whenever the mover changes.
    let turn = 0;
    let current: number | undefined = record.steps.length > 0 ? record.steps[0].playerBefore : undefined;
    const turnNumbers: number[] = [];
    const movers: number[] = [];
    record.moves.forEach((m, i) => {
      const mp = m['player'];
      const mover = typeof mp === 'number' && Number.isInteger(mp) ? mp : record.steps[i].playerBefore;
      if (mover !== current) {
        turn += 1;
        current = mover;
      }
      turnNumbers.push(turn);
      movers.push(mover);
    });

    s.prepare(
      `INSERT INTO games (game_id, board_type, num_players, rng_seed, created_at, completed_at, game_status,
         winner, termination_reason, total_moves, total_turns, duration_ms, source, schema_version,
         metadata_json, engine_mode, parity_status)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')`,
    ).run(
      record.gameId,
      record.boardType,
      record.numPlayers,
      record.seed,
      record.createdAt,
      record.completedAt ?? null,
      gameStatus,
      record.winner,
      record.terminationReason,
      record.moves.length,
      turn + 1,
      record.durationMs ?? null,
      record.source,
      GAME_REPLAY_SCHEMA_VERSION,
      sortedJson(record.metadata ?? {}),
      record.engineMode,
    );

    const insPlayer = s.prepare(
      `INSERT INTO game_players (game_id, player_number, player_type, ai_type, ai_difficulty, ai_profile_id,
         final_eliminated_rings, final_territory_spaces, final_rings_in_hand)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const p of record.players) {
      insPlayer.run(
        record.gameId,
        p.seat,
        p.playerType,
        p.aiType ?? null,
        p.aiDifficulty ?? null,
        p.spec,
        p.finalEliminatedRings ?? null,
        p.finalTerritorySpaces ?? null,
        p.finalRingsInHand ?? null,
      );
    }

    s.prepare('INSERT INTO game_initial_state (game_id, initial_state_json, compressed) VALUES (?, ?, 0)').run(
      record.gameId,
      JSON.stringify(record.initialState),
    );

    const insMove = s.prepare(
      `INSERT INTO game_moves (game_id, move_number, turn_number, player, phase, move_type, move_json,
         timestamp, think_time_ms, engine_eval, move_probs)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insHist = s.prepare(
      `INSERT INTO game_history_entries (game_id, move_number, player, phase_before, phase_after,
         status_before, status_after, progress_before_json, progress_after_json,
         state_hash_before, state_hash_after, compressed_states, engine_eval, player_after)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
    );
    const last = record.moves.length - 1;
    record.moves.forEach((move, i) => {
      const step = record.steps[i];
      const ts = move['timestamp'];
      const think = move['thinkTime'];
      insMove.run(
        record.gameId,
        i,
        turnNumbers[i],
        movers[i],
        step.phaseBefore,
        moveTypeOf(move, i, record.gameId),
        JSON.stringify(move),
        typeof ts === 'string' ? ts : null,
        typeof think === 'number' && Number.isFinite(think) ? Math.round(think) : null,
        step.engineEval ?? null,
        step.moveProbs === undefined ? null : JSON.stringify(step.moveProbs),
      );
      insHist.run(
        record.gameId,
        i,
        movers[i],
        step.phaseBefore,
        step.phaseAfter,
        step.statusBefore ?? 'active',
        step.statusAfter ?? (i === last ? gameStatus : 'active'),
        JSON.stringify(step.progressBefore ?? { players: [] }),
        JSON.stringify(step.progressAfter ?? { players: [] }),
        step.hashBefore,
        step.hashAfter,
        step.engineEval ?? null,
        step.playerAfter,
      );
    });
    return true;
  });
  return { written: run.immediate() };
}

export function setParity(db: GameDb, gameId: string, parity: ParityInfo): void {
  assertWritable(db, 'setParity');
  if (!PARITY_STATUSES.includes(parity.status)) {
    throw new GameDbError(`setParity(${gameId}): unknown status ${JSON.stringify(parity.status)}`);
  }
  const res = db.sqlite
    .prepare('UPDATE games SET parity_status = ?, parity_checked_at = ?, parity_divergence_move = ? WHERE game_id = ?')
    .run(parity.status, parity.checkedAt, parity.divergenceMove, gameId);
  if (res.changes !== 1) throw new GameDbError(`setParity: game ${gameId} not found in ${db.path}`);
}

// ---------------------------------------------------------------------------
// Read
// ---------------------------------------------------------------------------

export interface GameFilter {
  /** Only games whose parity_status is one of these (NULL counts as 'pending'). */
  parityStatus?: ParityStatus | ParityStatus[];
}

function filterSql(filter: GameFilter | undefined): { where: string; params: string[] } {
  if (!filter?.parityStatus) return { where: '', params: [] };
  const list = Array.isArray(filter.parityStatus) ? filter.parityStatus : [filter.parityStatus];
  if (list.length === 0) return { where: ' WHERE 0', params: [] };
  return {
    where: ` WHERE COALESCE(parity_status, 'pending') IN (${list.map(() => '?').join(', ')})`,
    params: list,
  };
}

export function countGames(db: GameDb, filter?: GameFilter): number {
  const { where, params } = filterSql(filter);
  const row = db.sqlite.prepare(`SELECT COUNT(*) AS n FROM games${where}`).get(...params) as { n: number };
  return Number(row.n);
}

/** Game ids in a stable order (created_at, then game_id). */
export function listGameIds(db: GameDb, filter?: GameFilter): string[] {
  const { where, params } = filterSql(filter);
  return (
    db.sqlite.prepare(`SELECT game_id FROM games${where} ORDER BY created_at, game_id`).all(...params) as Array<{
      game_id: string;
    }>
  ).map((r) => r.game_id);
}

interface GameRow {
  game_id: string;
  board_type: string;
  num_players: number | bigint;
  rng_seed: number | bigint | null;
  created_at: string;
  completed_at: string | null;
  game_status: string;
  winner: number | bigint | null;
  termination_reason: string | null;
  total_moves: number | bigint;
  total_turns: number | bigint;
  duration_ms: number | bigint | null;
  source: string | null;
  metadata_json: string | null;
  engine_mode: string | null;
  parity_status: string | null;
  parity_checked_at: string | null;
  parity_divergence_move: number | bigint | null;
}

function num(v: number | bigint): number {
  return typeof v === 'bigint' ? Number(v) : v;
}
function numOrNull(v: number | bigint | null): number | null {
  return v === null ? null : num(v);
}

/** Read one game back (moves parsed, per-move hashes/phases/players). Returns undefined if absent. */
export function readGame(db: GameDb, gameId: string): StoredGame | undefined {
  const s = db.sqlite;
  const g = s.prepare('SELECT * FROM games WHERE game_id = ?').safeIntegers(true).get(gameId) as GameRow | undefined;
  if (g === undefined) return undefined;
  const players = (
    s
      .prepare(
        `SELECT player_number, player_type, ai_type, ai_difficulty, ai_profile_id,
                final_eliminated_rings, final_territory_spaces, final_rings_in_hand
           FROM game_players WHERE game_id = ? ORDER BY player_number`,
      )
      .all(gameId) as Array<{
      player_number: number;
      player_type: string;
      ai_type: string | null;
      ai_difficulty: number | null;
      ai_profile_id: string | null;
      final_eliminated_rings: number | null;
      final_territory_spaces: number | null;
      final_rings_in_hand: number | null;
    }>
  ).map((p) => ({
    seat: p.player_number,
    playerType: p.player_type,
    spec: p.ai_profile_id ?? '',
    aiType: p.ai_type,
    aiDifficulty: p.ai_difficulty,
    finalEliminatedRings: p.final_eliminated_rings,
    finalTerritorySpaces: p.final_territory_spaces,
    finalRingsInHand: p.final_rings_in_hand,
  }));
  const init = s.prepare('SELECT initial_state_json, compressed FROM game_initial_state WHERE game_id = ?').get(gameId) as
    { initial_state_json: string | Buffer; compressed: number | null } | undefined;
  if (init === undefined) throw new GameDbError(`game ${gameId} in ${db.path} has no initial state row`);
  let initialState: StateJson;
  try {
    initialState = parseStoredStateText(init.initial_state_json, init.compressed, `game ${gameId} initial state`) as StateJson;
  } catch (err) {
    throw new GameDbError(`${(err as Error).message} (in ${db.path})`);
  }

  const moveRows = s
    .prepare('SELECT move_number, move_json, move_probs, engine_eval FROM game_moves WHERE game_id = ? ORDER BY move_number')
    .all(gameId) as Array<{ move_number: number; move_json: string; move_probs: string | null; engine_eval: number | null }>;
  const histRows = s
    .prepare(
      `SELECT move_number, player, phase_before, phase_after, status_before, status_after,
              progress_before_json, progress_after_json, state_hash_before, state_hash_after, player_after
       FROM game_history_entries WHERE game_id = ? ORDER BY move_number`,
    )
    .all(gameId) as Array<{
    move_number: number;
    player: number;
    phase_before: string;
    phase_after: string;
    status_before: string;
    status_after: string;
    progress_before_json: string;
    progress_after_json: string;
    state_hash_before: string | null;
    state_hash_after: string | null;
    player_after: number | null;
  }>;
  const hist = new Map(histRows.map((h) => [h.move_number, h]));
  const moves: MoveJson[] = [];
  const steps: MoveStep[] = [];
  for (const m of moveRows) {
    moves.push(JSON.parse(m.move_json) as MoveJson);
    const h = hist.get(m.move_number);
    if (h === undefined) {
      throw new GameDbError(`game ${gameId} in ${db.path}: move ${m.move_number} has no history entry`);
    }
    const step: MoveStep = {
      hashBefore: h.state_hash_before,
      hashAfter: h.state_hash_after,
      phaseBefore: h.phase_before,
      phaseAfter: h.phase_after,
      playerBefore: h.player,
      playerAfter: h.player_after ?? h.player,
      statusBefore: h.status_before,
      statusAfter: h.status_after,
      progressBefore: JSON.parse(h.progress_before_json) as Record<string, unknown>,
      progressAfter: JSON.parse(h.progress_after_json) as Record<string, unknown>,
    };
    if (m.move_probs !== null) step.moveProbs = JSON.parse(m.move_probs) as unknown;
    if (m.engine_eval !== null) step.engineEval = m.engine_eval;
    steps.push(step);
  }
  const seed = g.rng_seed;
  return {
    gameId: g.game_id,
    boardType: g.board_type as BoardType,
    numPlayers: num(g.num_players),
    seed: seed === null ? null : typeof seed === 'bigint' && !Number.isSafeInteger(Number(seed)) ? seed : num(seed),
    players,
    initialState,
    moves,
    steps,
    winner: numOrNull(g.winner),
    terminationReason: g.termination_reason,
    source: g.source ?? '',
    engineMode: g.engine_mode,
    createdAt: g.created_at,
    completedAt: g.completed_at,
    gameStatus: g.game_status,
    durationMs: numOrNull(g.duration_ms),
    metadata: g.metadata_json ? (JSON.parse(g.metadata_json) as Record<string, unknown>) : {},
    totalMoves: num(g.total_moves),
    totalTurns: num(g.total_turns),
    parity: {
      status: (g.parity_status ?? 'pending') as ParityStatus,
      checkedAt: g.parity_checked_at,
      divergenceMove: numOrNull(g.parity_divergence_move),
    },
  };
}

/** Iterate games (optionally by parity status) in listGameIds order. */
export function* iterateGames(db: GameDb, filter?: GameFilter): Generator<StoredGame> {
  // Ids are collected first: better-sqlite3 does not allow other queries while a cursor is open.
  for (const id of listGameIds(db, filter)) {
    const g = readGame(db, id);
    if (g !== undefined) yield g;
  }
}

// ---------------------------------------------------------------------------
// Merge
// ---------------------------------------------------------------------------

export interface MergeOptions {
  boardType: BoardType;
  numPlayers: number;
  /** Merge into an existing output (copy → merge → rename). Default false: refuse if output exists. */
  append?: boolean;
  /**
   * A game id present in more than one input (or already in the output when appending):
   * 'error' (default) aborts the merge and leaves the output untouched;
   * 'keep-first' keeps the first occurrence — existing output rows first, then shards in
   * the order given — and counts the rest as skipped.
   */
  duplicates?: 'error' | 'keep-first';
}

export interface MergeResult {
  outputPath: string;
  gamesAdded: number;
  duplicatesSkipped: number;
  totalGames: number;
}

/** Tables copied by a merge, parents first. */
const MERGE_TABLES = [
  'games',
  'game_players',
  'game_initial_state',
  'game_moves',
  'game_history_entries',
  'game_state_snapshots',
  'game_choices',
  'game_nnue_features',
];

function tempPathFor(output: string): string {
  const dir = path.dirname(path.resolve(output));
  return path.join(dir, `.${path.basename(output)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

function removeDbFiles(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    fs.rmSync(file + suffix, { force: true });
  }
}

function fsyncPath(p: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(p, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Directory fsync is not supported everywhere; best effort.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Merge shard DBs into one output DB, atomically: the output appears (or is replaced,
 * when appending) only after the whole merge succeeded; on any error it is untouched.
 *
 * Every shard must be configured for / hold only the requested board and player count.
 * The output file must not be open elsewhere during an append.
 */
export function mergeShardDbs(shardPaths: string[], outputPath: string, opts: MergeOptions): MergeResult {
  validateConfig(`mergeShardDbs(${outputPath})`, opts.boardType, opts.numPlayers);
  const policy = opts.duplicates ?? 'error';
  const outAbs = path.resolve(outputPath);
  for (const shard of shardPaths) {
    if (path.resolve(shard) === outAbs) throw new GameDbError(`mergeShardDbs: shard ${shard} is the output file`);
  }
  const outExists = fs.existsSync(outputPath);
  if (outExists && !opts.append) {
    throw new GameDbError(`mergeShardDbs: output ${outputPath} already exists (pass append: true to merge into it)`);
  }
  // Validate every shard before doing any work (config, readable).
  for (const shard of shardPaths) {
    const db = openGameDb(shard, { boardType: opts.boardType, numPlayers: opts.numPlayers, readonly: true });
    closeGameDb(db);
  }

  const tmp = tempPathFor(outputPath);
  let out: GameDb | undefined;
  try {
    if (outExists) {
      // Consistent copy of the existing output, including anything still in its WAL.
      const existing = openGameDb(outputPath, { boardType: opts.boardType, numPlayers: opts.numPlayers });
      try {
        existing.sqlite.pragma('wal_checkpoint(TRUNCATE)');
        existing.sqlite.prepare('VACUUM INTO ?').run(tmp);
      } finally {
        closeGameDb(existing);
      }
      out = openGameDb(tmp, { boardType: opts.boardType, numPlayers: opts.numPlayers });
    } else {
      out = openGameDb(tmp, { boardType: opts.boardType, numPlayers: opts.numPlayers, create: true });
    }
    const s = out.sqlite;
    let added = 0;
    let skipped = 0;
    shardPaths.forEach((shard, i) => {
      const alias = `shard${i}`;
      s.prepare(`ATTACH DATABASE ? AS ${alias}`).run(path.resolve(shard));
      try {
        s.transaction(() => {
          const dups = (
            s
              .prepare(`SELECT game_id FROM ${alias}.games WHERE game_id IN (SELECT game_id FROM main.games) ORDER BY game_id`)
              .all() as Array<{ game_id: string }>
          ).map((r) => r.game_id);
          if (dups.length > 0 && policy === 'error') {
            const shown = dups.slice(0, 5).join(', ') + (dups.length > 5 ? `, … (${dups.length} total)` : '');
            throw new DuplicateGameError(`mergeShardDbs: shard ${shard} repeats game id(s) already merged: ${shown}`, dups);
          }
          skipped += dups.length;
          s.exec('DROP TABLE IF EXISTS temp.merge_ids');
          s.exec(`CREATE TEMP TABLE merge_ids AS SELECT game_id FROM ${alias}.games WHERE game_id NOT IN (SELECT game_id FROM main.games)`);
          for (const table of MERGE_TABLES) {
            if (!tableExists(s, table, alias) || !tableExists(s, table, 'main')) continue;
            const mainCols = new Set(tableColumns(s, table, 'main'));
            const cols = tableColumns(s, table, alias).filter((c) => mainCols.has(c));
            const colList = cols.map((c) => `"${c}"`).join(', ');
            const info = s
              .prepare(
                `INSERT INTO main.${table} (${colList}) SELECT ${colList} FROM ${alias}.${table} WHERE game_id IN (SELECT game_id FROM temp.merge_ids)`,
              )
              .run();
            if (table === 'games') added += info.changes;
          }
          s.exec('DROP TABLE temp.merge_ids');
        })();
      } finally {
        s.exec(`DETACH DATABASE ${alias}`);
      }
    });
    const fk = s.pragma('foreign_key_check') as unknown[];
    if (fk.length > 0) throw new GameDbError(`mergeShardDbs: merged data violates foreign keys (${fk.length} rows)`);
    const total = countGames(out);
    closeGameDb(out);
    out = undefined;
    if (fs.existsSync(`${tmp}-wal`) && fs.statSync(`${tmp}-wal`).size > 0) {
      throw new GameDbError(`mergeShardDbs: temp DB ${tmp} still has a WAL after close`);
    }
    fs.rmSync(`${tmp}-wal`, { force: true });
    fs.rmSync(`${tmp}-shm`, { force: true });
    fsyncPath(tmp);
    if (outExists) {
      const wal = `${outputPath}-wal`;
      if (fs.existsSync(wal) && fs.statSync(wal).size > 0) {
        throw new GameDbError(`mergeShardDbs: ${outputPath} was written to during the merge (non-empty WAL); aborting`);
      }
      fs.rmSync(`${outputPath}-shm`, { force: true });
      fs.renameSync(tmp, outputPath);
    } else {
      // link() fails if the output appeared meanwhile: never clobber.
      fs.linkSync(tmp, outputPath);
      fs.rmSync(tmp, { force: true });
    }
    fsyncPath(path.dirname(outAbs));
    return { outputPath, gamesAdded: added, duplicatesSkipped: skipped, totalGames: total };
  } catch (err) {
    if (out !== undefined) closeGameDb(out);
    removeDbFiles(tmp);
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Artifacts
// ---------------------------------------------------------------------------

/** SHA-256 (lowercase hex) of a file's bytes, streamed. */
export function fileSha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const stream = fs.createReadStream(file);
    stream.on('error', reject);
    stream.on('data', (chunk) => hash.update(chunk));
    stream.on('end', () => resolve(hash.digest('hex')));
  });
}

/** Synchronous variant of fileSha256 for small files and tests. */
export function fileSha256Sync(file: string): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}
