/**
 * NPZ export of training data: games that passed parity → one compressed `.npz` (numpy format,
 * no pickled object arrays). Layout of every array, the planes and the policy indices:
 * ai/ENCODING.md ("NPZ export arrays").
 *
 * Reads the DB and writes one file; no clock (callers pass `createdAt`), no git (callers pass
 * `gitCommit`), no randomness (the split is a hash of the game id and `splitSeed`).
 * The output is written to a temp file and linked into place; an existing output is refused
 * before any work is done (and again, atomically, at the end).
 *
 * Streaming: the number of positions is known before anything is replayed (the stored game
 * lengths), so every .npy header can be written first. One replay pass deflates `features`
 * straight into the archive and the other per-position arrays into temp files beside it (the
 * CSR policy, whose length is known only at the end, raw); they are appended afterwards. Memory
 * stays fixed whatever the number of games, apart from the game ids.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
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
import { NpzStreamWriter, encodeNpy, writeNpz, type NpyInput, type SpilledMember } from './npz';

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
  /** source_db as recorded (default the DB file's name; a DB pulled into a cache keeps its own name) */
  sourceName?: string;
  /** git commit of the exporting code (`git rev-parse HEAD`, read by the caller), or 'unknown' */
  gitCommit: string;
  /** ISO timestamp stored in the metadata */
  createdAt: string;
  /** export at most this many games (the first ones in DB order) */
  maxGames?: number;
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
  /**
   * seconds spent replaying games while features and the per-position arrays are encoded and
   * deflated (build), then appending the spilled arrays and metadata (write)
   */
  buildSeconds: number;
  writeSeconds: number;
  /** replay passes over the games: 1, or more when stored game lengths did not match the replays */
  passes: number;
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

interface ExportSelection {
  ids: string[];
  /** stored length (games.total_moves) of each game */
  lengths: number[];
  boardType: BoardType;
  numPlayers: number;
}

/** Check options and output, then list the parity-passed games in DB order (iterating, not loading rows). */
function selectExportGames(db: GameDb, opts: NpzExportOptions): ExportSelection {
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
  const ids: string[] = [];
  const lengths: number[] = [];
  const configs = new Set<string>();
  let first: { board_type: string; num_players: number } | undefined;
  const q = db.sqlite.prepare(
    "SELECT game_id, total_moves, board_type, num_players FROM games WHERE parity_status = 'passed' ORDER BY created_at, game_id",
  );
  for (const r of q.iterate() as IterableIterator<{ game_id: string; total_moves: number; board_type: string; num_players: number }>) {
    if (opts.maxGames !== undefined && ids.length >= opts.maxGames) break;
    first ??= r;
    configs.add(`${r.board_type}/${r.num_players}`);
    ids.push(r.game_id);
    lengths.push(Math.max(0, Number(r.total_moves) || 0));
  }
  if (!first) {
    throw new NpzExportError(`none of the ${total} games in ${db.path} passed parity (run parity_validation first)`, 'nothing_passed');
  }
  if (configs.size > 1)
    throw new NpzExportError(`${db.path} mixes configurations (${[...configs].join(', ')}); export one at a time`, 'mixed_config');
  return { ids, lengths, boardType: first.board_type as BoardType, numPlayers: Number(first.num_players) };
}

// Phases of positions that are still being played (the encoder's list without game_over).
const PHASE_ORDER: readonly string[] = PHASES.filter((p) => p !== 'game_over');

/** The metadata members (0-d arrays), in file order. */
function metadataArrays(db: GameDb, opts: NpzExportOptions, boardType: BoardType, numPlayers: number): Record<string, NpyInput> {
  const [, H] = featureShape(boardType);
  return {
    feature_planes: [...FEATURE_PLANES].join(','),
    global_features: [...GLOBAL_FEATURES].join(','),
    phase_names: PHASE_ORDER.join(','),
    board_type: boardType,
    num_players: numPlayers,
    board_size: H,
    encoder_version: ENCODER_VERSION,
    format_version: NPZ_FORMAT_VERSION,
    policy_size: policySize(boardType),
    policy_encoding: 'rr_board_aware_v1',
    source_db: opts.sourceName ?? path.basename(db.path),
    source_db_sha256: opts.sourceSha256,
    git_commit: opts.gitCommit,
    created_at: opts.createdAt,
    split_ratio: { data: opts.splitRatio, dtype: '<f8' },
    split_seed: opts.splitSeed ?? 0,
  };
}

function gameIdsDtype(ids: readonly string[]): `<U${number}` {
  let w = 1;
  for (const s of ids) if (s.length > w) w = s.length;
  return `<U${w}`;
}

function isOutputExists(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'EEXIST' || /refusing to overwrite/.test((err as Error).message);
}

/**
 * Refuse, before writing, an export the output folder's free space cannot plausibly hold: the raw
 * policy spill plus features and the other arrays at a compression well above what they reach.
 */
function checkDiskSpace(dir: string, positions: number, perPosition: number): void {
  let free: number;
  try {
    const st = fs.statfsSync(dir);
    free = Number(st.bavail) * Number(st.bsize);
  } catch {
    return; // statfs unsupported: nothing to check
  }
  const need = positions * (8 + 16 + (perPosition * 4) / 400);
  if (need > free) {
    throw new NpzExportError(
      `${positions} positions need at least ${(need / 2 ** 30).toFixed(2)} GiB of free space in ${dir} (temp files and output), ` +
        `${(free / 2 ** 30).toFixed(2)} GiB are free: free some space or export fewer games (--max-games)`,
      'too_large',
    );
  }
}

/** A replay pass found game lengths that differ from the counted ones: redo with the real ones. */
class LengthMismatch extends Error {}

/**
 * Export every game with parity_status = 'passed' (in DB order) into `opts.output`, streaming:
 * memory stays fixed however many games there are (see the file comment).
 * Throws NpzExportError for: output exists, no games, nothing passed parity, mixed configs,
 * not enough disk space.
 */
export async function exportNpz(db: GameDb, opts: NpzExportOptions): Promise<NpzExportResult> {
  const sel = selectExportGames(db, opts);
  const { boardType, numPlayers } = sel;
  const dir = path.dirname(path.resolve(opts.output));
  ensureWritableDir(dir);
  const split = splitGames(sel.ids, opts.splitRatio, opts.splitSeed ?? 0);
  const [C, H, W] = featureShape(boardType);
  const per = C * H * W;
  const pSize = policySize(boardType);
  // positions each game is expected to contribute; corrected after a pass that disagrees
  const expected = Int32Array.from(sel.lengths);
  const known = new Uint8Array(sel.ids.length); // 1: expected[] came from a replay
  const load = leanLoader(db);
  const yieldEvery = opts.yieldEvery ?? 10;
  const t0 = performance.now();
  for (let pass = 1; ; pass++) {
    const N = expected.reduce((a, b) => a + b, 0);
    checkDiskSpace(dir, N, per);
    let w: NpzStreamWriter;
    try {
      w = new NpzStreamWriter(opts.output, { level: opts.level });
    } catch (err) {
      if (isOutputExists(err))
        throw new NpzExportError(`output ${opts.output} appeared while exporting; refusing to overwrite it`, 'output_exists');
      throw err;
    }
    try {
      const features = await w.member('features', '<f4', [N, C, H, W]);
      const sp = {
        globals: await w.spill('globals', '<f4', [N, NUM_GLOBALS]),
        indptr: await w.spill('policy_indptr', '<i8', [N + 1]),
        values: await w.spill('values', '<f4', [N]),
        valuesMp: await w.spill('values_mp', '<f4', [N, MAX_PLAYERS]),
        toMove: await w.spill('player_to_move', '|i1', [N]),
        phase: await w.spill('phase', '|i1', [N]),
        gameIndex: await w.spill('game_index', '<i4', [N]),
        moveNumber: await w.spill('move_number', '<i4', [N]),
        totalMoves: await w.spill('total_game_moves', '<i4', [N]),
        split: await w.spill('split', '|u1', [N]),
      } satisfies Record<string, SpilledMember>;
      const rawIdx = w.rawSpill();
      const rawProb = w.rawSpill();
      await sp.indptr.writer.write(BigInt64Array.of(0n));

      // features are encoded a batch of positions at a time (about 4 MiB), zeroed between batches
      const batch = Math.max(1, Math.floor((4 << 20) / (per * 4)));
      const featBuf = new Float32Array(batch * per);
      let inBatch = 0;
      const flushFeatures = async () => {
        if (inBatch === 0) return;
        await features.write(featBuf.subarray(0, inBatch * per));
        featBuf.fill(0, 0, inBatch * per);
        inBatch = 0;
      };

      const keptIds: string[] = [];
      const gameSplit: number[] = [];
      const skipped: string[] = [];
      let n = 0;
      let nnz = 0;
      let trainGames = 0;
      let valGames = 0;
      let trainPositions = 0;
      let mismatch = false; // from then on only replay (to learn every game's real length), write nothing
      let gIdx: Int32Array = new Int32Array(0);
      for (let gi = 0; gi < sel.ids.length; gi++) {
        const id = sel.ids[gi];
        if (known[gi] && expected[gi] === 0) {
          skipped.push(id); // a previous pass found it unusable
          continue;
        }
        let game: LeanGame | undefined;
        try {
          game = load(id);
        } catch {
          game = undefined;
        }
        const L = game ? game.moves.length : 0;
        if (!mismatch && (game === undefined || L !== expected[gi])) mismatch = true;
        const writing = !mismatch;
        const isVal = split.get(id) === 'val' ? 1 : 0;
        const globals = writing ? new Float32Array(L * NUM_GLOBALS) : undefined;
        const toMove = new Int8Array(L);
        const phase = new Int8Array(L);
        const indptr = new BigInt64Array(L);
        const pIdx: number[] = [];
        const pProb: number[] = [];
        let ok = game !== undefined && L > 0;
        let state: GameState | undefined;
        if (game && L > 0) {
          try {
            state = initialStateFor(game as unknown as StoredGame);
            for (let i = 0; i < L; i++) {
              const mv = game.moves[i];
              if (writing && globals) {
                // state before the move → one sample
                encodeFeatures(state, featBuf, inBatch * per);
                encodeGlobals(state, globals, i * NUM_GLOBALS);
                toMove[i] = state.currentPlayer;
                phase[i] = PHASE_ORDER.indexOf(state.phase);
                const soft = game.moveProbs[i] !== undefined ? softPolicy(boardType, game.moveProbs[i]) : null;
                if (soft) {
                  for (const [k, v] of [...soft.entries()].sort((a, b) => a[0] - b[0])) {
                    pIdx.push(k);
                    pProb.push(v);
                  }
                } else {
                  pIdx.push(encodeMove(boardType, mv));
                  pProb.push(1);
                }
                indptr[i] = BigInt(nnz + pIdx.length);
                if (++inBatch === batch) await flushFeatures();
              }
              // the game passed parity: apply without re-enumerating legal moves; the final hash
              // check below catches any drift (the game is then skipped)
              applyMoveTrusted(state, mv);
            }
            if (game.lastHash && hashState(state) !== game.lastHash) throw new Error('final hash differs from the stored one');
          } catch {
            ok = false;
          }
        }
        const contributes = ok ? L : 0;
        if (contributes !== expected[gi] || !known[gi]) {
          if (contributes !== expected[gi]) mismatch = true;
          expected[gi] = contributes;
          known[gi] = 1;
        }
        if (!ok || !state || !game) {
          skipped.push(id);
        } else if (!mismatch) {
          const finished = (game.gameStatus ?? 'completed') === 'completed' && state.status === 'completed';
          const v = rankValues(state, finished ? state.winner : null, finished);
          const values = new Float32Array(L);
          const valuesMp = new Float32Array(L * MAX_PLAYERS);
          for (let k = 0; k < L; k++) {
            valuesMp.set(v, k * MAX_PLAYERS);
            values[k] = v[toMove[k] - 1];
          }
          if (gIdx.length < L) gIdx = new Int32Array(L);
          const moveNumber = Int32Array.from({ length: L }, (_, k) => k);
          await sp.globals.writer.write(globals!);
          await sp.indptr.writer.write(indptr);
          await sp.values.writer.write(values);
          await sp.valuesMp.writer.write(valuesMp);
          await sp.toMove.writer.write(toMove);
          await sp.phase.writer.write(phase);
          await sp.gameIndex.writer.write(gIdx.fill(keptIds.length, 0, L).subarray(0, L));
          await sp.moveNumber.writer.write(moveNumber);
          await sp.totalMoves.writer.write(new Int32Array(L).fill(L));
          await sp.split.writer.write(new Uint8Array(L).fill(isVal));
          rawIdx.write(Int32Array.from(pIdx));
          rawProb.write(Float32Array.from(pProb));
          nnz += pIdx.length;
          n += L;
          keptIds.push(id);
          gameSplit.push(isVal);
          if (isVal) valGames++;
          else {
            trainGames++;
            trainPositions += L;
          }
        }
        opts.onProgress?.(gi + 1, sel.ids.length, n);
        if (yieldEvery > 0 && (gi + 1) % yieldEvery === 0) await new Promise<void>((r) => setImmediate(r));
      }
      if (mismatch) throw new LengthMismatch();
      if (keptIds.length === 0)
        throw new NpzExportError(`no game of ${db.path} could be replayed for export (${skipped.length} skipped)`, 'nothing_passed');
      await flushFeatures();
      await features.close();
      const t1 = performance.now();
      for (const m of Object.values(sp)) await m.writer.close();
      await w.append(sp.globals);
      await w.append(sp.indptr);
      await w.addFromRaw('policy_indices', '<i4', [nnz], rawIdx);
      await w.addFromRaw('policy_probs', '<f4', [nnz], rawProb);
      for (const m of [sp.values, sp.valuesMp, sp.toMove, sp.phase, sp.gameIndex, sp.moveNumber, sp.totalMoves, sp.split])
        await w.append(m);
      const idsDtype = gameIdsDtype(keptIds);
      const ids = await w.member('game_ids', idsDtype, [keptIds.length]);
      for (let k = 0; k < keptIds.length; k += 4096) {
        await ids.write(encodeNpy({ data: keptIds.slice(k, k + 4096), dtype: idsDtype }).body);
      }
      await ids.close();
      await w.add('game_split', Uint8Array.from(gameSplit));
      for (const [name, value] of Object.entries(metadataArrays(db, opts, boardType, numPlayers))) await w.add(name, value);
      try {
        await w.commit();
      } catch (err) {
        if (isOutputExists(err))
          throw new NpzExportError(`output ${opts.output} appeared while exporting; refusing to overwrite it`, 'output_exists');
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
        positions: n,
        trainGames,
        valGames,
        trainPositions,
        valPositions: n - trainPositions,
        skippedGames: skipped,
        policySize: pSize,
        featureShape: [C, H, W],
        numGlobals: NUM_GLOBALS,
        policyNonzeros: nnz,
        buildSeconds: (t1 - t0) / 1000,
        writeSeconds: (t2 - t1) / 1000,
        passes: pass,
      };
    } catch (err) {
      w.abort();
      if (err instanceof LengthMismatch && pass < 3) continue;
      if (err instanceof LengthMismatch)
        throw new Error(`npz export: game lengths still changed on pass ${pass}; is the DB being written?`);
      throw err;
    }
  }
}

/**
 * The same export, built in memory and then written (every array at once: about 28 GB per 1000
 * square19 games). Kept as the reference the streaming exporter is tested against, and for the
 * benchmark; use exportNpz.
 */
export async function exportNpzInMemory(db: GameDb, opts: NpzExportOptions): Promise<NpzExportResult> {
  const sel = selectExportGames(db, opts);
  const { boardType, numPlayers } = sel;
  const t0 = performance.now();
  const [C, H, W] = featureShape(boardType);
  const per = C * H * W;
  const pSize = policySize(boardType);
  const cap = sel.lengths.reduce((a, b) => a + b, 0);
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

  const rows = sel.ids;
  const split = splitGames(rows, opts.splitRatio, opts.splitSeed ?? 0);
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
      game = load(rows[gi]);
    } catch {
      skipped.push(rows[gi]);
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
    source_db: opts.sourceName ?? path.basename(db.path),
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
    passes: 1,
  };
}

/** Default output file name for a DB: `<db basename>.<board>_<n>p.npz`. */
export function defaultNpzName(dbPath: string, boardType: string, numPlayers: number): string {
  return `${path.basename(dbPath).replace(/\.(db|sqlite3?)$/i, '')}.${boardType}_${numPlayers}p.npz`;
}
