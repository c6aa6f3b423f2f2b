// Training data for trainer tests and benchmarks: plays seeded games with the real players, stores
// them in a GameReplayDB, validates parity and exports an rr-npz-v1 file — the production path.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BoardType } from '../../engine';
import { encodeLegalMoves } from '../../ai/encoding';
import { configKey } from '../../ai/selfplay';
import { playShard } from '../../activities/selfplay';
import { closeGameDb, fileSha256Sync, openGameDb, readGame } from '../../store/gameDb';
import { replayGame, selectParityGames, validateGames } from '../../store/parity';
import { readNpz } from '../../store/npz';
import { exportNpz } from '../../store/npzExport';

export interface TrainingNpzOptions {
  board: BoardType;
  players: number;
  games: number;
  seed: number;
  /** folder for the DB and the NPZ (created if missing) */
  dir: string;
  /** seat specs: one for every seat, or one per seat rotating (default heuristic) */
  playerMix?: string[];
  /** cut games off after this many moves (default 3000) */
  maxMoves?: number;
  /** fraction of games in train (default 0.8) */
  splitRatio?: number;
  /** NPZ `created_at` (default a fixed time; the trainer orders files by it) */
  createdAt?: string;
  /** file name stem (default `<board>_<n>p-s<seed>`) */
  name?: string;
}

export interface TrainingNpz {
  npzPath: string;
  dbPath: string;
  positions: number;
  trainPositions: number;
  valPositions: number;
  games: number;
}

const FIXED_TIME = '2026-11-30T00:00:00.000Z';

/** Plays `games` games with the self-play shard loop (the production writer), validates parity, exports one NPZ. */
export async function makeTrainingNpz(opts: TrainingNpzOptions): Promise<TrainingNpz> {
  fs.mkdirSync(opts.dir, { recursive: true });
  const stem = opts.name ?? `${opts.board}_${opts.players}p-s${opts.seed}`;
  const dbPath = path.join(opts.dir, `${stem}.db`);
  const npzPath = path.join(opts.dir, `${stem}.npz`);
  const createdAt = opts.createdAt ?? FIXED_TIME;
  const key = configKey({ boardType: opts.board, numPlayers: opts.players });
  await playShard(
    {
      workflowId: `train-${key}-s${opts.seed}`,
      shardIndex: 0,
      firstGame: 0,
      numGames: opts.games,
      boardType: opts.board,
      numPlayers: opts.players,
      seed: opts.seed,
      playerMix: opts.playerMix ?? ['heuristic'],
      maxMoves: opts.maxMoves ?? 3000,
      shardDb: dbPath,
      source: 'test_training_data',
    },
    () => undefined,
  );
  const write = openGameDb(dbPath, { boardType: opts.board, numPlayers: opts.players });
  try {
    validateGames(write, selectParityGames(write), { checkedAt: createdAt });
  } finally {
    closeGameDb(write);
  }
  // hashed closed, as the export activity does: an open WAL database is not yet the file on disk
  const sourceSha256 = fileSha256Sync(dbPath);
  const db = openGameDb(dbPath, { boardType: opts.board, numPlayers: opts.players, readonly: true });
  try {
    const res = await exportNpz(db, { output: npzPath, splitRatio: opts.splitRatio ?? 0.8, sourceSha256, gitCommit: 'test', createdAt });
    return {
      npzPath,
      dbPath,
      positions: res.positions,
      trainPositions: res.trainPositions,
      valPositions: res.valPositions,
      games: res.games,
    };
  } finally {
    closeGameDb(db);
  }
}

/**
 * The legal-move policy indices of every position of one split of an NPZ, in NPZ row order (the
 * NPZ holds no legal moves, so the split's games are replayed from the DB). `rows[k]` is the NPZ
 * row of `legal[k]`.
 */
export function legalIndicesOfSplit(npzPath: string, dbPath: string, split: 0 | 1 = 1): { rows: number[]; legal: Int32Array[] } {
  const z = readNpz(npzPath, ['game_ids', 'game_index', 'split', 'board_type', 'num_players']);
  const ids = z.game_ids.data as string[];
  const gIdx = z.game_index.data as Int32Array;
  const rowSplit = z.split.data as Uint8Array;
  const bt = (z.board_type.data as string[])[0] as BoardType;
  const db = openGameDb(dbPath, { boardType: bt, numPlayers: Number((z.num_players.data as BigInt64Array)[0]), readonly: true });
  const rows: number[] = [];
  const legal: Int32Array[] = [];
  try {
    let row = 0;
    ids.forEach((id, gi) => {
      const first = row;
      while (row < gIdx.length && gIdx[row] === gi) row++;
      if (rowSplit[first] !== split) return;
      const game = readGame(db, id)!;
      let k = first;
      replayGame(game, (state) => {
        legal.push(encodeLegalMoves(state).indices);
        rows.push(k++);
      });
      if (k !== row) throw new Error(`game ${id}: replay gave ${k - first} positions, the NPZ holds ${row - first}`);
    });
  } finally {
    closeGameDb(db);
  }
  return { rows, legal };
}

/** Top-1 accuracy of a uniform pick among the legal moves over one split: mean of 1 / (legal moves). */
export function uniformLegalTop1(npzPath: string, dbPath: string, split: 0 | 1 = 1): { top1: number; positions: number } {
  const { legal } = legalIndicesOfSplit(npzPath, dbPath, split);
  return { top1: legal.reduce((a, l) => a + 1 / l.length, 0) / legal.length, positions: legal.length };
}
