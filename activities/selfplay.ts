// Self-play activities: play one shard of games into its own SQLite file (resumable), then merge shards atomically.
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { applyMoveTrusted, createInitialState, fingerprint, hashState, type BoardType, type GameState } from '../engine';
import { configKey, gameSeed, playGame, seatSpecs, type PlayedGame } from '../ai/selfplay';
import { ModelLoadError, metadataProblems, type ModelRef } from '../ai/evaluator';
import { readOnnxMetadata } from '../ai/onnxMeta';
import {
  NeuralPlayers,
  modelRefsOf,
  neuralSettingsFromEnv,
  playGameAsync,
  runLockstep,
  type MoveProbs,
  type NeuralSettings,
} from '../ai/neural';
import { DEFAULT_CONFIG_DIR, loadConfig, resolveFromRoot } from '../config/load';
import { resolveModel } from '../store/registry';
import { serializeReplayState } from '../store/replayState';
import { ensureWritableDir } from '../store/safeDir';
import { closeGameDb, countGames, fileSha256, listGameIds, mergeShardDbs, openGameDb, writeGame, type GameRecord } from '../store/gameDb';
import { BOARDS } from '../workflows/inputSchemas';

export interface ShardInput {
  workflowId: string;
  shardIndex: number;
  firstGame: number;
  numGames: number;
  boardType: BoardType;
  numPlayers: number;
  seed: number;
  playerMix: string[];
  maxMoves: number;
  shardDb: string;
  /** Games in a row that share one seed (default 1); the gauntlet's seat-swapped pairs use numPlayers. */
  gamesPerSeed?: number;
  /** Game ids are `<gameIdPrefix>-g<index>` (default the workflow id). */
  gameIdPrefix?: string;
  /** games.source (default canonical_selfplay) */
  source?: string;
  /** Merged into every game's metadata. */
  metadata?: Record<string, unknown>;
  /** Evaluation games (the gauntlet): neural players play without root noise or opening sampling. */
  evaluation?: boolean;
  /** model registry of the neural players' models (default: the worker's config, registry.dir) */
  registryDir?: string;
  /** neural players' batching and search settings (defaults: ai/neural DEFAULT_NEURAL) */
  neural?: Partial<NeuralSettings>;
  /** each neural spec's model ref resolved in the registry (default: resolved by playShard) */
  models?: Record<string, ModelRef>;
}

export interface ShardResult {
  shardIndex: number;
  shardDb: string;
  games: number;
  resumedFrom: number;
}

/** Heartbeat details: games done (resume hint) and the HeartbeatProgress fields the CLI adds up. */
export interface ShardHeartbeat {
  gamesDone: number;
  shard?: number;
  done?: number;
}

export interface MergeInput {
  workflowId: string;
  boardType: BoardType;
  numPlayers: number;
  shardDbs: string[];
  /** instead of shardDbs (a bounded payload): shard-0000.db … in this folder, `count` of them */
  shardFolder?: { dir: string; count: number };
  outputDb: string;
  expectedGameIds: { first: number; count: number };
}

/** A large artifact travels by reference: path plus checksum. */
export interface ArtifactRef {
  path: string;
  sha256: string;
}

export interface MergeResult extends ArtifactRef {
  gamesAdded: number;
  totalGames: number;
}

export function selfplayGameId(workflowId: string, index: number): string {
  return `${workflowId}-g${String(index).padStart(6, '0')}`;
}

export function shardDir(outputDb: string, workflowId: string): string {
  return path.join(path.dirname(path.resolve(outputDb)), `.shards-${workflowId}`);
}

/** GameReplayDB's termination_reason for our engine's victory reason (max_moves for a truncated game). */
const TERMINATION_REASON: Record<string, string> = {
  ring_elimination: 'ring_elimination',
  territory_control: 'territory',
  last_player_standing: 'last_player_standing',
  game_completed: 'structural',
  max_moves: 'max_moves',
};

/** Per-player counters in GameReplayDB's progress_*_json shape. */
function progressOf(state: GameState): { players: Record<string, number>[] } {
  const players = [];
  for (let p = 1; p <= state.numPlayers; p++) {
    players.push({
      playerNumber: p,
      eliminatedRings: state.eliminated[p]!,
      territorySpaces: state.territory[p]!,
      ringsInHand: state.ringsInHand[p]!,
    });
  }
  return { players };
}

function seedOf(input: ShardInput, index: number): number {
  return gameSeed(input.seed, Math.floor(index / (input.gamesPerSeed ?? 1)));
}

function toRecord(input: ShardInput, index: number, createdAt: string, onMoves: () => void): GameRecord {
  const started = Date.now();
  const game = playGame({
    boardType: input.boardType,
    numPlayers: input.numPlayers,
    seed: seedOf(input, index),
    seats: seatSpecs(input.playerMix, input.numPlayers, index),
    maxMoves: input.maxMoves,
    onProgress: onMoves,
  });
  return recordOf(input, index, game, createdAt, started);
}

/** The storable record of a played game (with the search targets and seat models of neural games). */
function recordOf(
  input: ShardInput,
  index: number,
  game: PlayedGame,
  createdAt: string,
  started: number,
  neural?: { probs: (MoveProbs | undefined)[]; seatModels: (string | null)[] },
): GameRecord {
  const seed = game.seed;
  const seats = game.seats;
  const gameId = selfplayGameId(input.gameIdPrefix ?? input.workflowId, index);
  // The stored initial state is the full state (RingRift's initial_state_json); it is the state
  // playGame started from, checked by its fingerprint.
  const state = createInitialState({ boardType: input.boardType, numPlayers: input.numPlayers, seed });
  if (fingerprint(state) !== game.initial.fingerprint) {
    throw new Error(`game ${gameId}: the initial state does not reproduce the played game's (${game.initial.fingerprint})`);
  }
  const initialState = serializeReplayState(state, { gameId, createdAt, players: seats.map(() => ({ playerType: 'ai' })) });
  // A second pass over the moves (no search, no hashing) gives the per-move progress counters.
  const steps = game.steps.map((step, i) => {
    const progressBefore = progressOf(state);
    applyMoveTrusted(state, game.moves[i]!);
    const moveProbs = neural?.probs[i];
    return { ...step, statusBefore: 'active', progressBefore, progressAfter: progressOf(state), ...(moveProbs ? { moveProbs } : {}) };
  });
  const lastHash = game.steps.length > 0 ? game.steps[game.steps.length - 1]!.hashAfter : game.initial.hash;
  if (hashState(state) !== lastHash) throw new Error(`game ${gameId}: replaying the played moves does not reach the final state`);
  return {
    gameId,
    boardType: input.boardType,
    numPlayers: input.numPlayers,
    seed,
    players: seats.map((spec, i) => ({
      seat: i + 1,
      playerType: 'ai',
      spec,
      aiType: spec.split(':')[0],
      finalEliminatedRings: state.eliminated[i + 1],
      finalTerritorySpaces: state.territory[i + 1],
      finalRingsInHand: state.ringsInHand[i + 1],
    })),
    initialState,
    // GameReplayDB's Move carries an id and a 1-based moveNumber
    moves: game.moves.map((m, i) => ({ id: `${gameId}-m${i + 1}`, ...m, moveNumber: i + 1 })) as unknown as Record<string, unknown>[],
    steps,
    winner: game.winner,
    terminationReason: TERMINATION_REASON[game.terminationReason] ?? game.terminationReason,
    source: input.source ?? 'canonical_selfplay',
    engineMode: seats.join('_vs_'),
    createdAt,
    completedAt: new Date().toISOString(),
    gameStatus: game.truncated ? 'active' : 'completed',
    durationMs: Date.now() - started,
    metadata: {
      ...input.metadata,
      workflowId: input.workflowId,
      gameIndex: index,
      configKey: configKey(input),
      initialFingerprint: game.initial.fingerprint,
      initialStateHash: game.initial.hash,
      ...(neural ? { seatModels: neural.seatModels } : {}),
    },
  };
}

export type ShardMessage = { kind: 'game'; gamesDone: number } | { kind: 'alive' };

/**
 * The shard loop (runs on a worker thread): skips games the shard DB already holds. Random and
 * heuristic games are played one after the other; games with neural players are played
 * `neural.concurrentGames` at a time in lockstep, so that their network requests share batches.
 */
export async function playShard(input: ShardInput, report: (m: ShardMessage) => void): Promise<ShardResult> {
  const neural = modelRefsOf(input.playerMix).length > 0;
  const models = neural ? (input.models ?? resolveShardModels(input)) : {};
  ensureWritableDir(path.dirname(input.shardDb));
  const db = openGameDb(input.shardDb, { boardType: input.boardType, numPlayers: input.numPlayers, create: true });
  try {
    const committed = countGames(db);
    const have = new Set(listGameIds(db));
    const todo: number[] = [];
    for (let k = 0; k < input.numGames; k++) {
      if (!have.has(selfplayGameId(input.gameIdPrefix ?? input.workflowId, input.firstGame + k))) todo.push(k);
    }
    if (!neural) {
      for (const k of todo) {
        const record = toRecord(input, input.firstGame + k, new Date().toISOString(), () => report({ kind: 'alive' }));
        writeGame(db, record, { ifExists: 'skip' });
        report({ kind: 'game', gamesDone: k + 1 });
      }
    } else {
      let done = input.numGames - todo.length;
      const settings = { ...neuralSettingsFromEnv(), ...input.neural };
      const players = await NeuralPlayers.create(models, input, settings, { selfplay: !input.evaluation });
      await runLockstep(
        todo.length,
        players.settings.concurrentGames,
        async (j) => {
          const index = input.firstGame + todo[j]!;
          const createdAt = new Date().toISOString();
          const started = Date.now();
          const game = await playGameAsync({
            boardType: input.boardType,
            numPlayers: input.numPlayers,
            seed: seedOf(input, index),
            players: seatSpecs(input.playerMix, input.numPlayers, index).map((spec) => players.player(spec)),
            maxMoves: input.maxMoves,
            onProgress: () => report({ kind: 'alive' }),
            everyMoves: 10,
          });
          return recordOf(input, index, game, createdAt, started, game);
        },
        (_j, record) => {
          writeGame(db, record, { ifExists: 'skip' });
          report({ kind: 'game', gamesDone: ++done });
        },
      );
    }
    return { shardIndex: input.shardIndex, shardDb: input.shardDb, games: countGames(db), resumedFrom: committed };
  } finally {
    closeGameDb(db);
  }
}

/** A neural spec's model is not in the registry (or its file is missing or altered). */
export class ModelNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelNotFoundError';
  }
}

/** Failures that fail the same way on every retry (the activity turns them into non-retryable ones). */
export const PLAYER_FAILURES = ['ModelNotFoundError', 'ModelLoadError', 'PlayerSpecError'];

/** The registry folder of the worker's config (RINGRIFT_CONFIG_DIR and RINGRIFT_REGISTRY_DIR apply). */
function configuredRegistryDir(): string {
  return resolveFromRoot(loadConfig(process.env.RINGRIFT_CONFIG_DIR ?? DEFAULT_CONFIG_DIR).pipeline.registry.dir);
}

/** The model of every neural spec in the mix (registry id or best of the config key, sha256 checked). */
export function resolveShardModels(
  input: Pick<ShardInput, 'playerMix' | 'boardType' | 'numPlayers' | 'registryDir'>,
): Record<string, ModelRef> {
  const out: Record<string, ModelRef> = {};
  const refs = modelRefsOf(input.playerMix);
  if (refs.length === 0) return out;
  const dir = input.registryDir ?? configuredRegistryDir();
  for (const ref of refs) {
    try {
      const m = resolveModel(dir, configKey(input), ref);
      out[ref] = { id: m.id, path: m.path, sha256: m.sha256 };
    } catch (err) {
      throw new ModelNotFoundError(`player mix ${input.playerMix.join(',')}: ${(err as Error).message}`);
    }
    // the file's own metadata must fit the game too (the registry's config key is not enough)
    let problems: string[];
    try {
      problems = metadataProblems(readOnnxMetadata(out[ref].path), input.boardType, input.numPlayers);
    } catch (err) {
      problems = [`not a readable ONNX file (${(err as Error).message})`];
    }
    if (problems.length > 0) {
      throw new ModelLoadError(
        `player mix ${input.playerMix.join(',')}: model ${out[ref].id} does not fit ${configKey(input)}: ${problems.join('; ')}`,
      );
    }
  }
  return out;
}

/** Worker-thread source that loads `entry`; a .ts entry (running under tsx) gets tsx's require hook first. */
export function threadBootstrap(entry: string): string {
  const hook = entry.endsWith('.ts') ? `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register();` : '';
  return `${hook}require(${JSON.stringify(entry)});`;
}

type ThreadReply = ShardMessage | { kind: 'done'; result: ShardResult } | { kind: 'error'; name: string; message: string };

/** Idle shard threads, reused so that each shard does not pay for loading the engine again. */
const idleThreads: Worker[] = [];

function takeThread(): Worker {
  const t = idleThreads.pop() ?? new Worker(threadBootstrap(require.resolve('./selfplayThread')), { eval: true });
  t.ref();
  return t;
}

function returnThread(t: Worker): void {
  t.removeAllListeners('message').removeAllListeners('error').removeAllListeners('exit');
  t.unref(); // an idle thread must not keep the worker process alive
  idleThreads.push(t);
}

/** Runs playShard on a worker thread; aborting terminates the thread (each game is its own transaction). */
export function runShardThread(input: ShardInput, signal: AbortSignal, onMessage: (m: ShardMessage) => void): Promise<ShardResult> {
  return new Promise((resolve, reject) => {
    const thread = takeThread();
    const onAbort = () => void thread.terminate();
    signal.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    const settle = (reuse: boolean, fn: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (reuse) returnThread(thread);
      fn();
    };
    thread.on('message', (m: ThreadReply) => {
      if (m.kind === 'done') settle(true, () => resolve(m.result));
      else if (m.kind === 'error') settle(true, () => reject(Object.assign(new Error(m.message), { name: m.name })));
      else onMessage(m);
    });
    thread.on('error', (err) => settle(false, () => reject(err)));
    thread.on('exit', (code) =>
      settle(false, () =>
        reject(signal.aborted ? (signal.reason ?? new Error('cancelled')) : new Error(`self-play thread exited with code ${code}`)),
      ),
    );
    thread.postMessage(input);
  });
}

export function createSelfplayActivities(_deps: { client: Client }) {
  return {
    /**
     * Plays games [firstGame, firstGame+numGames) into the shard DB on a worker thread (so heartbeats,
     * signals and other activities keep flowing during long games); after a retry it resumes from what
     * the shard DB has committed.
     */
    async playSelfplayShard(input: ShardInput): Promise<ShardResult> {
      // impossible input fails the same way on every retry: refuse it at once
      if (!(BOARDS as readonly string[]).includes(input.boardType) || !(input.numPlayers >= 2 && input.numPlayers <= 4)) {
        throw ApplicationFailure.nonRetryable(
          `invalid shard input: board "${input.boardType}" with ${input.numPlayers} players (boards: ${BOARDS.join(', ')}; 2-4 players)`,
          'InvalidInput',
        );
      }
      const ctx = Context.current();
      const hb = ctx.info.heartbeatDetails as ShardHeartbeat | undefined;
      if (ctx.info.attempt > 1)
        log.info('retrying shard', { shard: input.shardIndex, heartbeat: hb?.gamesDone ?? null, attempt: ctx.info.attempt });
      let beat = hb;
      const result = await runShardThread(input, ctx.cancellationSignal, (msg) => {
        // progress travels in the heartbeat details only (no signal, no history event)
        if (msg.kind === 'game') beat = { gamesDone: msg.gamesDone, shard: input.shardIndex, done: msg.gamesDone } satisfies ShardHeartbeat;
        ctx.heartbeat(beat);
      }).catch((err: Error) => {
        // a missing model, or one that does not fit the game, fails the same way on every retry
        if (PLAYER_FAILURES.includes(err.name)) throw ApplicationFailure.nonRetryable(err.message, err.name);
        throw err;
      });
      if (result.resumedFrom > 0) log.info('resumed shard', { shard: input.shardIndex, committed: result.resumedFrom });
      return result;
    },

    /** Merges shard DBs into the output DB atomically (append when it exists), checks the count, removes the shards. */
    async mergeSelfplayShards(merge: MergeInput): Promise<MergeResult> {
      const folder = merge.shardFolder;
      const input = folder
        ? {
            ...merge,
            shardDbs: Array.from({ length: folder.count }, (_, i) => path.join(folder.dir, `shard-${String(i).padStart(4, '0')}.db`)),
          }
        : merge;
      const ids = Array.from({ length: input.expectedGameIds.count }, (_, k) =>
        selfplayGameId(input.workflowId, input.expectedGameIds.first + k),
      );
      const present = input.shardDbs.filter((p) => fs.existsSync(p));
      let gamesAdded = 0;
      if (present.length === input.shardDbs.length) {
        const res = mergeShardDbs(present, input.outputDb, {
          boardType: input.boardType,
          numPlayers: input.numPlayers,
          append: fs.existsSync(input.outputDb),
          duplicates: 'keep-first', // a retried merge finds its own games already there
        });
        gamesAdded = res.gamesAdded;
      } else if (present.length > 0) {
        throw new Error(`some shard DBs are missing: ${input.shardDbs.filter((p) => !fs.existsSync(p)).join(', ')}`);
      }
      const out = openGameDb(input.outputDb, { boardType: input.boardType, numPlayers: input.numPlayers, readonly: true });
      let totalGames: number;
      try {
        const stored = new Set(listGameIds(out));
        const missing = ids.filter((id) => !stored.has(id));
        if (missing.length > 0) throw new Error(`output ${input.outputDb} lacks ${missing.length} games of this run, e.g. ${missing[0]}`);
        totalGames = stored.size;
      } finally {
        closeGameDb(out);
      }
      for (const p of input.shardDbs) for (const suffix of ['', '-wal', '-shm']) fs.rmSync(p + suffix, { force: true });
      const dir = path.dirname(input.shardDbs[0] ?? input.outputDb);
      if (path.basename(dir).startsWith('.shards-') && fs.existsSync(dir) && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
      return { path: path.resolve(input.outputDb), sha256: await fileSha256(input.outputDb), gamesAdded, totalGames };
    },
  };
}

export type SelfplayActivities = ReturnType<typeof createSelfplayActivities>;
