/**
 * NPZ export of training data: games that passed parity → one compressed `.npz` (numpy format,
 * no pickled object arrays). Layout of every array, the planes and the policy indices:
 * ai/ENCODING.md ("NPZ export arrays").
 *
 * Reads the DB and writes one file; no clock (callers pass `createdAt`), no git (callers pass
 * `gitCommit`), no randomness (the split is a hash of the game id and `splitSeed`).
 * The output is written to a temp file and linked into place; an existing output is refused
 * before any work is done (and again, atomically, at the end).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { applyMoveTrusted, hashState, parseMove, type BoardType, type GameState, type Move } from '../engine';
import {
  ENCODER_VERSION,
  FEATURE_PLANES,
  GLOBAL_FEATURES,
  MAX_PLAYERS,
  NUM_GLOBALS,
  PHASES,
  encodeFeatures,
  encodeGlobals,
  encodeMove,
  featureShape,
  policySize,
} from '../ai/encoding';
import { fileSha256, type GameDb, type StoredGame } from './gameDb';
import { initialStateFor } from './parity';
import { parseStoredStateText } from './replayState';
import { ensureWritableDir } from './safeDir';
import { writeNpz, type NpyInput } from './npz';

export const NPZ_FORMAT_VERSION = 'rr-npz-v1';

export class NpzExportError extends Error {
  constructor(
    message: string,
    readonly code: 'output_exists' | 'no_games' | 'nothing_passed' | 'bad_option' | 'mixed_config' | 'too_large',
  ) {
    super(message);
    this.name = 'NpzExportError';
  }
}

export interface NpzExportOptions {
  /** output .npz path (must not exist) */
  output: string;
  /** fraction of games in the train split, 0 < r < 1 */
  splitRatio: number;
  /** seed of the by-game split (default 0) */
  splitSeed?: number;
  /** sha256 of the source DB file (callers compute it with fileSha256 before reading) */
  sourceSha256: string;
  /** git commit of the exporting code (`git rev-parse HEAD`, read by the caller), or 'unknown' */
  gitCommit: string;
  /** ISO timestamp stored in the metadata */
  createdAt: string;
  /** export at most this many games (the first ones in DB order) */
  maxGames?: number;
  /**
   * The feature tensor is built in memory before it is compressed: refuse exports whose features
   * would need more bytes than this (default: a quarter of the machine's memory, at most 4 GiB).
   */
  maxFeatureBytes?: number;
  /** deflate level 0..9 (default 6) */
  level?: number;
  onProgress?: (gamesDone: number, gamesTotal: number, positions: number) => void;
  /** yield to the event loop every this many games (heartbeats; default 10) */
  yieldEvery?: number;
}

export interface NpzExportResult {
  output: string;
  sha256: string;
  bytes: number;
  boardType: BoardType;
  numPlayers: number;
  games: number;
  positions: number;
  trainGames: number;
  valGames: number;
  trainPositions: number;
  valPositions: number;
  /** games skipped because the replay did not reach the stored final hash */
  skippedGames: string[];
  policySize: number;
  featureShape: [number, number, number];
  numGlobals: number;
  policyNonzeros: number;
  /** seconds spent building arrays / compressing + writing */
  buildSeconds: number;
  writeSeconds: number;
}

/** Rank-aware value per seat (index = player − 1, length 4, unused seats 0) for a finished game. */
export function rankValues(final: GameState, winner: number | null, finished: boolean): Float32Array {
  const np = final.numPlayers;
  const out = new Float32Array(MAX_PLAYERS);
  if (!finished || winner === null || winner < 1 || winner > np) return out; // draw / unfinished: 0
  // order: winner first, then territory, eliminated rings (credited to the eliminator), rings left
  const score = (p: number): number[] => [
    p === winner ? 1 : 0,
    final.territory[p],
    final.eliminated[p],
    final.ringsInHand[p] + final.ringsOnBoard(p),
  ];
  const players = Array.from({ length: np }, (_, i) => i + 1);
  const cmp = (a: number, b: number): number => {
    const sa = score(a);
    const sb = score(b);
    for (let k = 0; k < sa.length; k++) if (sa[k] !== sb[k]) return sb[k] - sa[k];
    return 0;
  };
  players.sort(cmp);
  // tied players share the mean of their ranks
  let i = 0;
  while (i < np) {
    let j = i;
    while (j + 1 < np && cmp(players[i], players[j + 1]) === 0) j++;
    const meanRank = (i + j) / 2 + 1; // 1-based
    const v = np === 1 ? 0 : 1 - (2 * (meanRank - 1)) / (np - 1);
    for (let k = i; k <= j; k++) out[players[k] - 1] = v;
    i = j + 1;
  }
  return out;
}

/** Split of each game: val = the round(G·(1−r)) games (≥ 1 when G ≥ 2) with the smallest hash keys. */
export function splitGames(gameIds: string[], splitRatio: number, seed: number): Map<string, 'train' | 'val'> {
  const G = gameIds.length;
  let nVal = Math.round(G * (1 - splitRatio));
  if (G >= 2) nVal = Math.min(G - 1, Math.max(1, nVal));
  else nVal = 0;
  const keyed = gameIds.map((id) => ({ id, k: createHash('sha256').update(`split:${seed}:${id}`).digest('hex') }));
  keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.id < b.id ? -1 : 1));
  const out = new Map<string, 'train' | 'val'>();
  keyed.forEach((x, i) => out.set(x.id, i < nVal ? 'val' : 'train'));
  return out;
}

/** Soft policy from a stored move_probs value, as (index, prob) pairs summing to 1; null if unusable. */
export function softPolicy(boardType: BoardType, moveProbs: unknown): Map<number, number> | null {
  const pairs: Array<[Move | string, number]> = [];
  if (Array.isArray(moveProbs)) {
    for (const e of moveProbs) {
      if (!e || typeof e !== 'object') return null;
      const o = e as Record<string, unknown>;
      const p = typeof o['prob'] === 'number' ? o['prob'] : typeof o['p'] === 'number' ? o['p'] : NaN;
      const m = (o['move'] ?? o['key']) as Move | string | undefined;
      if (m === undefined || !Number.isFinite(p)) return null;
      pairs.push([m, p]);
    }
  } else if (moveProbs && typeof moveProbs === 'object') {
    for (const [k, v] of Object.entries(moveProbs as Record<string, unknown>)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) return null;
      pairs.push([k, v]);
    }
  } else return null;
  const out = new Map<number, number>();
  let total = 0;
  try {
    for (const [m, p] of pairs) {
      if (p <= 0) continue;
      const mv = typeof m === 'string' ? parseMove(m) : parseMove(m as unknown as Record<string, unknown>);
      const idx = encodeMove(boardType, mv);
      out.set(idx, (out.get(idx) ?? 0) + p);
      total += p;
    }
  } catch {
    return null;
  }
  if (out.size === 0 || !(total > 0)) return null;
  for (const [k, v] of out) out.set(k, v / total);
  return out;
}

/** What the exporter needs of a game, read with three small queries (readGame parses far more). */
interface LeanGame {
  gameId: string;
  boardType: BoardType;
  numPlayers: number;
  seed: number | bigint | null;
  initialState: Record<string, unknown>;
  metadata: Record<string, unknown>;
  gameStatus: string;
  moves: Move[];
  moveProbs: unknown[];
  lastHash: string | null;
  /** for replaySetup's initial-hash fallback (unused by the exporter) */
  steps: [];
}

const MOVE_META_FIELDS = ['id', 'moveNumber', 'timestamp', 'thinkTime'] as const;

function leanLoader(db: GameDb): (id: string) => LeanGame {
  const s = db.sqlite;
  const qGame = s
    .prepare('SELECT board_type, num_players, rng_seed, game_status, metadata_json FROM games WHERE game_id = ?')
    .safeIntegers(true);
  const qInit = s.prepare('SELECT initial_state_json, compressed FROM game_initial_state WHERE game_id = ?');
  const qMoves = s.prepare('SELECT move_json, move_probs FROM game_moves WHERE game_id = ? ORDER BY move_number');
  const qLast = s.prepare('SELECT state_hash_after FROM game_history_entries WHERE game_id = ? ORDER BY move_number DESC LIMIT 1');
  return (id: string): LeanGame => {
    const g = qGame.get(id) as {
      board_type: string;
      num_players: bigint;
      rng_seed: bigint | null;
      game_status: string;
      metadata_json: string | null;
    };
    const init = qInit.get(id) as { initial_state_json: string | Buffer; compressed: number | null } | undefined;
    if (!init) throw new Error(`game ${id}: no initial state row`);
    const rows = qMoves.all(id) as Array<{ move_json: string; move_probs: string | null }>;
    const moves: Move[] = [];
    const moveProbs: unknown[] = [];
    for (const r of rows) {
      const o = JSON.parse(r.move_json) as Record<string, unknown>;
      // stored moves are already in the reference shape; legacy shapes go through parseMove
      const to = o['to'] as { x?: unknown } | undefined;
      // identity / clock fields (GameReplayDB's Move carries id, moveNumber, …) mean nothing to the rules
      for (const k of MOVE_META_FIELDS) if (k in o) delete o[k];
      moves.push(typeof o['type'] === 'string' && to && typeof to.x === 'number' ? (o as unknown as Move) : parseMove(o));
      moveProbs.push(r.move_probs === null ? undefined : (JSON.parse(r.move_probs) as unknown));
    }
    const seed = g.rng_seed;
    return {
      gameId: id,
      boardType: g.board_type as BoardType,
      numPlayers: Number(g.num_players),
      seed: seed === null ? null : Number.isSafeInteger(Number(seed)) ? Number(seed) : seed,
      initialState: parseStoredStateText(init.initial_state_json, init.compressed, `game ${id} initial state`) as Record<string, unknown>,
      metadata: g.metadata_json ? (JSON.parse(g.metadata_json) as Record<string, unknown>) : {},
      gameStatus: g.game_status,
      moves,
      moveProbs,
      lastHash: (qLast.get(id) as { state_hash_after: string | null } | undefined)?.state_hash_after ?? null,
      steps: [],
    };
  };
}

interface GameRow {
  game_id: string;
  total_moves: number;
  board_type: string;
  num_players: number;
}

/**
 * Export every game with parity_status = 'passed' (in DB order) into `opts.output`.
 * Throws NpzExportError for: output exists, no games, nothing passed parity, mixed configs.
 */
export async function exportNpz(db: GameDb, opts: NpzExportOptions): Promise<NpzExportResult> {
  if (opts.maxGames !== undefined && !(Number.isInteger(opts.maxGames) && opts.maxGames >= 1))
    throw new NpzExportError(`maxGames must be a positive integer, got ${opts.maxGames}`, 'bad_option');
  if (!(opts.splitRatio > 0 && opts.splitRatio < 1))
    throw new NpzExportError(`split_ratio must be in (0, 1), got ${opts.splitRatio}`, 'bad_option');
  if (fs.existsSync(opts.output))
    throw new NpzExportError(
      `output ${opts.output} already exists; refusing to overwrite it (choose another --output-dir or remove it)`,
      'output_exists',
    );
  const total = (db.sqlite.prepare('SELECT COUNT(*) AS n FROM games').get() as { n: number }).n;
  if (total === 0) throw new NpzExportError(`${db.path} holds no games`, 'no_games');
  let rows = db.sqlite
    .prepare("SELECT game_id, total_moves, board_type, num_players FROM games WHERE parity_status = 'passed' ORDER BY created_at, game_id")
    .all() as GameRow[];
  if (rows.length === 0) {
    throw new NpzExportError(`none of the ${total} games in ${db.path} passed parity (run parity_validation first)`, 'nothing_passed');
  }
  if (opts.maxGames !== undefined) rows = rows.slice(0, opts.maxGames);
  const configs = new Set(rows.map((r) => `${r.board_type}/${r.num_players}`));
  if (configs.size > 1)
    throw new NpzExportError(`${db.path} mixes configurations (${[...configs].join(', ')}); export one at a time`, 'mixed_config');
  const boardType = rows[0].board_type as BoardType;
  const numPlayers = Number(rows[0].num_players);

  const t0 = performance.now();
  const [C, H, W] = featureShape(boardType);
  const per = C * H * W;
  const pSize = policySize(boardType);
  const cap = rows.reduce((a, r) => a + Number(r.total_moves), 0);
  const limit = opts.maxFeatureBytes ?? Math.min(4 * 2 ** 30, Math.floor(os.totalmem() / 4));
  if (cap * per * 4 > limit) {
    const perGame = (cap * per * 4) / rows.length;
    throw new NpzExportError(
      `${rows.length} games (${cap} positions) need ${((cap * per * 4) / 2 ** 30).toFixed(1)} GiB of ${boardType} feature planes, ` +
        `over the ${(limit / 2 ** 30).toFixed(1)} GiB limit: export at most ${Math.max(1, Math.floor(limit / perGame))} games at a time (--max-games)`,
      'too_large',
    );
  }
  const features = new Float32Array(cap * per);
  const globals = new Float32Array(cap * NUM_GLOBALS);
  const valuesMp = new Float32Array(cap * MAX_PLAYERS);
  const values = new Float32Array(cap);
  const gameIndex = new Int32Array(cap);
  const moveNumber = new Int32Array(cap);
  const totalMoves = new Int32Array(cap);
  const toMove = new Int8Array(cap);
  const phaseIdx = new Int8Array(cap);
  const splitArr = new Uint8Array(cap);
  const indptr = new BigInt64Array(cap + 1);
  let pIdx = new Int32Array(cap + 16);
  let pProb = new Float32Array(cap + 16);
  let nnz = 0;
  const pushPolicy = (idx: number, p: number) => {
    if (nnz >= pIdx.length) {
      const ni = new Int32Array(pIdx.length * 2);
      ni.set(pIdx);
      pIdx = ni;
      const np2 = new Float32Array(pProb.length * 2);
      np2.set(pProb);
      pProb = np2;
    }
    pIdx[nnz] = idx;
    pProb[nnz] = p;
    nnz++;
  };

  const split = splitGames(
    rows.map((r) => r.game_id),
    opts.splitRatio,
    opts.splitSeed ?? 0,
  );
  // Phases of positions that are still being played (the encoder's list without game_over).
  const PHASE_ORDER: readonly string[] = PHASES.filter((p) => p !== 'game_over');
  const keptIds: string[] = [];
  const gameSplit: number[] = [];
  const skipped: string[] = [];
  let n = 0;
  let trainGames = 0;
  let valGames = 0;
  let trainPositions = 0;
  const yieldEvery = opts.yieldEvery ?? 10;
  const load = leanLoader(db);
  for (let gi = 0; gi < rows.length; gi++) {
    let game: LeanGame;
    try {
      game = load(rows[gi].game_id);
    } catch {
      skipped.push(rows[gi].game_id);
      continue;
    }
    const start = n;
    const gIdx = keptIds.length;
    const isVal = split.get(game.gameId) === 'val' ? 1 : 0;
    const nnzStart = nnz;
    let ok = true;
    let state: GameState;
    try {
      state = initialStateFor(game as unknown as StoredGame);
      const L = game.moves.length;
      for (let i = 0; i < L; i++) {
        const mv = game.moves[i];
        // state before the move → one sample
        encodeFeatures(state, features, n * per);
        encodeGlobals(state, globals, n * NUM_GLOBALS);
        gameIndex[n] = gIdx;
        moveNumber[n] = i;
        totalMoves[n] = L;
        toMove[n] = state.currentPlayer;
        phaseIdx[n] = PHASE_ORDER.indexOf(state.phase);
        splitArr[n] = isVal;
        const soft = game.moveProbs[i] !== undefined ? softPolicy(boardType, game.moveProbs[i]) : null;
        if (soft) for (const [k, v] of [...soft.entries()].sort((a, b) => a[0] - b[0])) pushPolicy(k, v);
        else pushPolicy(encodeMove(boardType, mv), 1);
        indptr[n + 1] = BigInt(nnz);
        n++;
        // the game passed parity: apply without re-enumerating legal moves; the final hash
        // check below catches any drift (the game is then skipped)
        applyMoveTrusted(state, mv);
      }
      const lastHash = game.lastHash;
      if (L > 0 && lastHash && hashState(state) !== lastHash) throw new Error('final hash differs from the stored one');
      if (L === 0) ok = false;
    } catch {
      ok = false;
      state = undefined as unknown as GameState;
    }
    if (!ok) {
      // roll back this game's samples
      features.fill(0, start * per, n * per);
      globals.fill(0, start * NUM_GLOBALS, n * NUM_GLOBALS);
      n = start;
      nnz = nnzStart;
      skipped.push(game.gameId);
    } else {
      const finished = (game.gameStatus ?? 'completed') === 'completed' && state.status === 'completed';
      const v = rankValues(state, finished ? state.winner : null, finished);
      for (let k = start; k < n; k++) {
        valuesMp.set(v, k * MAX_PLAYERS);
        values[k] = v[toMove[k] - 1];
      }
      keptIds.push(game.gameId);
      gameSplit.push(isVal);
      if (isVal) valGames++;
      else {
        trainGames++;
        trainPositions += n - start;
      }
    }
    opts.onProgress?.(gi + 1, rows.length, n);
    if (yieldEvery > 0 && (gi + 1) % yieldEvery === 0) await new Promise<void>((r) => setImmediate(r));
  }
  if (keptIds.length === 0)
    throw new NpzExportError(`no game of ${db.path} could be replayed for export (${skipped.length} skipped)`, 'nothing_passed');
  const t1 = performance.now();

  const N = n;
  const arrays: Record<string, NpyInput> = {
    features: { data: features.subarray(0, N * per), shape: [N, C, H, W] },
    globals: { data: globals.subarray(0, N * NUM_GLOBALS), shape: [N, NUM_GLOBALS] },
    policy_indptr: indptr.subarray(0, N + 1),
    policy_indices: pIdx.subarray(0, nnz),
    policy_probs: pProb.subarray(0, nnz),
    values: values.subarray(0, N),
    values_mp: { data: valuesMp.subarray(0, N * MAX_PLAYERS), shape: [N, MAX_PLAYERS] },
    player_to_move: toMove.subarray(0, N),
    phase: phaseIdx.subarray(0, N),
    game_index: gameIndex.subarray(0, N),
    move_number: moveNumber.subarray(0, N),
    total_game_moves: totalMoves.subarray(0, N),
    split: splitArr.subarray(0, N),
    game_ids: { data: keptIds, dtype: `<U${Math.max(1, ...keptIds.map((s) => s.length))}` },
    game_split: Uint8Array.from(gameSplit),
    feature_planes: [...FEATURE_PLANES].join(','),
    global_features: [...GLOBAL_FEATURES].join(','),
    phase_names: PHASE_ORDER.join(','),
    board_type: boardType,
    num_players: numPlayers,
    board_size: H,
    encoder_version: ENCODER_VERSION,
    format_version: NPZ_FORMAT_VERSION,
    policy_size: pSize,
    policy_encoding: 'rr_board_aware_v1',
    source_db: path.basename(db.path),
    source_db_sha256: opts.sourceSha256,
    git_commit: opts.gitCommit,
    created_at: opts.createdAt,
    split_ratio: { data: opts.splitRatio, dtype: '<f8' },
    split_seed: opts.splitSeed ?? 0,
  };
  ensureWritableDir(path.dirname(path.resolve(opts.output)));
  try {
    await writeNpz(opts.output, arrays, { level: opts.level });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' || /refusing to overwrite/.test((err as Error).message)) {
      throw new NpzExportError(`output ${opts.output} appeared while exporting; refusing to overwrite it`, 'output_exists');
    }
    throw err;
  }
  const t2 = performance.now();
  const sha256 = await fileSha256(opts.output);
  return {
    output: opts.output,
    sha256,
    bytes: fs.statSync(opts.output).size,
    boardType,
    numPlayers,
    games: keptIds.length,
    positions: N,
    trainGames,
    valGames,
    trainPositions,
    valPositions: N - trainPositions,
    skippedGames: skipped,
    policySize: pSize,
    featureShape: [C, H, W],
    numGlobals: NUM_GLOBALS,
    policyNonzeros: nnz,
    buildSeconds: (t1 - t0) / 1000,
    writeSeconds: (t2 - t1) / 1000,
  };
}

/** Default output file name for a DB: `<db basename>.<board>_<n>p.npz`. */
export function defaultNpzName(dbPath: string, boardType: string, numPlayers: number): string {
  return `${path.basename(dbPath).replace(/\.(db|sqlite3?)$/i, '')}.${boardType}_${numPlayers}p.npz`;
}
