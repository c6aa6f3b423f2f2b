// Self-play activities: play one shard of games into its own SQLite file (resumable), then merge shards atomically.
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
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
import { DEFAULT_CONFIG_DIR, loadConfig, resolveFromRoot, type LoadedConfig } from '../config/load';
import { resolveModel } from '../store/registry';
import { serializeReplayState } from '../store/replayState';
import { ensureWritableDir } from '../store/safeDir';
import { closeGameDb, countGames, fileSha256, listGameIds, mergeShardDbs, openGameDb, writeGame, type GameRecord } from '../store/gameDb';
import { BOARDS } from '../workflows/inputSchemas';
import {
  ARTIFACT_DATA_FAILURES,
  ArtifactTransferError,
  refOf,
  resolveArtifact,
  type ArtifactRef,
  type ResolveContext,
} from '../store/artifacts';
import { listRemote, readRemoteText, removeRemote } from '../store/sftpTransfer';
import { artifactResolver, workerHost } from '../workers/artifactHost';

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
  /** each neural spec's model ref resolved in the registry (default: resolved by playShard); a ref naming another host is pulled */
  models?: Record<string, ModelRef & { host?: string | null }>;
  /**
   * the shard DB goes into this worker's data folder (`<dataDir>/shards/<workflowId>/<name of shardDb>`) and
   * the result's ref names this worker's host; a worker without a host name (RINGRIFT_HOST) keeps shardDb
   */
  placeOnHost?: boolean;
}

export interface ShardResult {
  shardIndex: number;
  shardDb: string;
  games: number;
  resumedFrom: number;
  /** where the shard DB lives (placeOnHost): host, path, sha256 */
  ref?: ArtifactRef;
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
  /** hosts that hold shards of shardFolder in their own data folders (placeOnHost); pulled over SFTP when not here */
  shardHosts?: ShardHost[];
  outputDb: string;
  expectedGameIds: { first: number; count: number };
}

/** A host's folder of shard DBs (each completed one has its ref beside it, `<shard>.ref.json`). */
export interface ShardHost {
  host: string;
  dir: string;
}

export type { ArtifactRef } from '../store/artifacts';

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

/** A run's shard folder in a host's own data folder (placeOnHost). */
export function hostShardDir(dataDir: string, workflowId: string): string {
  return path.join(dataDir, 'shards', workflowId.replace(/[^A-Za-z0-9_.-]/g, '_'));
}

const refFile = (shardDb: string) => `${shardDb}.ref.json`;

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

export function createSelfplayActivities(deps: { client: Client; config?: LoadedConfig }) {
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
      const host = workerHost(deps.config);
      const placed = input.placeOnHost && host.name ? hostShardDir(host.dataDir, input.workflowId) : null;
      if (placed) input = { ...input, shardDb: path.join(placed, path.basename(input.shardDb)) };
      // models made on another host are pulled (sha256 checked, cached) before the first game
      if (input.models && Object.values(input.models).some((m) => m.host && m.host !== host.name)) {
        input = { ...input, models: await pullModels(input.models, deps.config, (pull) => ctx.heartbeat({ ...beat, pull })) };
      }
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
      if (!placed) return result;
      selfContained(result.shardDb);
      // the ref beside the shard tells the merge (on any host) what to pull and what it must hash to
      const ref = await refOf(result.shardDb, host.name);
      const tmp = `${refFile(result.shardDb)}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, JSON.stringify(ref) + '\n');
      fs.renameSync(tmp, refFile(result.shardDb));
      return { ...result, ref };
    },

    /**
     * Merges shard DBs into the output DB atomically (append when it exists), checks the count, removes
     * the shards. Shards in other hosts' data folders (shardHosts) are pulled over SFTP first.
     */
    async mergeSelfplayShards(merge: MergeInput): Promise<MergeResult> {
      const folder = merge.shardFolder;
      const ctx = Context.current();
      const resolver = merge.shardHosts?.length
        ? artifactResolver({ config: deps.config, signal: ctx.cancellationSignal, onProgress: (pull) => ctx.heartbeat({ pull }) })
        : null;
      try {
        let shardDbs = folder
          ? Array.from({ length: folder.count }, (_, i) => path.join(folder.dir, `shard-${String(i).padStart(4, '0')}.db`))
          : merge.shardDbs;
        const pulled: string[] = [];
        const onHosts: { host: string; path: string }[] = [];
        if (resolver && merge.shardHosts) {
          const refs = await shardRefsOnHosts(merge.shardHosts, resolver.ctx);
          const out: string[] = [];
          for (const p of shardDbs) {
            const ref = refs.get(path.basename(p));
            if (fs.existsSync(p) || !ref) {
              out.push(p);
              continue;
            }
            const got = await resolveArtifact(ref, resolver.ctx).catch((err: Error) => {
              throw artifactFailure(err);
            });
            if (got.via === 'pull') {
              log.info('pulled shard', { shard: path.basename(p), host: ref.host, bytes: got.bytes, resumedFrom: got.resumedFrom });
              pulled.push(got.path);
            }
            onHosts.push({ host: ref.host ?? '', path: ref.path });
            out.push(got.path);
          }
          shardDbs = out;
        }
        const res = await mergeFiles({ ...merge, shardDbs }, workerHost(deps.config).name);
        for (const p of pulled) fs.rmSync(p, { force: true });
        if (resolver) await removeHostShards(onHosts, resolver.ctx);
        return res;
      } finally {
        resolver?.close();
      }
    },
  };
}

/** Folds the WAL into the file and drops it, so the one file is the whole DB (what a pull copies). */
function selfContained(db: string): void {
  const sqlite = new Database(db);
  try {
    sqlite.pragma('wal_checkpoint(TRUNCATE)');
    sqlite.pragma('journal_mode = DELETE');
  } finally {
    sqlite.close();
  }
}

/** A transfer failure retries (the environment); a checksum mismatch or a missing file is a fact about the data. */
function artifactFailure(err: Error): Error {
  if (ARTIFACT_DATA_FAILURES.includes(err.name)) return ApplicationFailure.nonRetryable(err.message, err.name);
  return err;
}

/** Model refs of other hosts → local files (pulled over SFTP, sha256 checked, cached by content). */
async function pullModels(
  models: NonNullable<ShardInput['models']>,
  config: LoadedConfig | undefined,
  onProgress: (p: { sha256: string; host: string; bytesDone: number; size: number }) => void,
): Promise<Record<string, ModelRef>> {
  const r = artifactResolver({ config, onProgress, signal: Context.current().cancellationSignal });
  try {
    const out: Record<string, ModelRef> = {};
    for (const [spec, m] of Object.entries(models)) {
      const got = await resolveArtifact({ path: m.path, sha256: m.sha256, host: m.host ?? null }, r.ctx);
      if (got.via === 'pull') log.info('pulled model', { model: m.id, host: m.host, bytes: got.bytes, resumedFrom: got.resumedFrom });
      out[spec] = { id: m.id, path: got.path, sha256: m.sha256 };
    }
    return out;
  } catch (err) {
    throw artifactFailure(err as Error);
  } finally {
    r.close();
  }
}

/** The completed shards' refs in each host's shard folder (read in place on this host, else over SFTP). */
async function shardRefsOnHosts(hosts: ShardHost[], ctx: ResolveContext): Promise<Map<string, ArtifactRef>> {
  const refs = new Map<string, ArtifactRef>();
  for (const h of hosts) {
    const here = h.host === ctx.self || (ctx.sharedHosts?.has(h.host) ?? false);
    let texts: string[];
    if (here) {
      const names = fs.existsSync(h.dir) ? fs.readdirSync(h.dir).filter((n) => n.endsWith('.ref.json')) : [];
      texts = names.map((n) => fs.readFileSync(path.join(h.dir, n), 'utf8'));
    } else {
      const session = await ctx.connect(h.host).catch((err: Error) => {
        throw new ArtifactTransferError(`cannot list the shards on ${h.host}: ${err.message}`);
      });
      const names = (await listRemote(session.sftp, h.dir)).filter((n) => n.endsWith('.ref.json'));
      texts = [];
      for (const n of names) texts.push(await readRemoteText(session.sftp, path.posix.join(h.dir, n)));
    }
    for (const t of texts) {
      const ref = JSON.parse(t) as ArtifactRef;
      const name = path.basename(ref.path);
      if (!refs.has(name)) refs.set(name, ref);
    }
  }
  return refs;
}

/** Merged shards leave their hosts too (best effort: a leftover folder is only disk space). */
async function removeHostShards(files: { host: string; path: string }[], ctx: ResolveContext): Promise<void> {
  const dirs = new Map<string, string>();
  for (const f of files) {
    try {
      if (f.host === ctx.self || ctx.sharedHosts?.has(f.host)) {
        for (const p of [f.path, refFile(f.path), `${f.path}-wal`, `${f.path}-shm`]) fs.rmSync(p, { force: true });
      } else {
        const { sftp } = await ctx.connect(f.host);
        for (const p of [refFile(f.path), f.path, `${f.path}-wal`, `${f.path}-shm`]) await removeRemote(sftp, p);
      }
      dirs.set(`${f.host}:${path.dirname(f.path)}`, f.host);
    } catch (err) {
      log.warn('could not remove a merged shard', { host: f.host, path: f.path, error: (err as Error).message });
    }
  }
  for (const [key, host] of dirs) {
    const dir = key.slice(host.length + 1);
    try {
      if (host === ctx.self || ctx.sharedHosts?.has(host)) {
        if (fs.existsSync(dir) && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
      } else await removeRemote((await ctx.connect(host)).sftp, dir, true);
    } catch {
      // not empty (another run's files) or already gone
    }
  }
}

/** The merge proper: shard files here → output DB, checked to hold every game of the run. */
async function mergeFiles(input: MergeInput, host: string | null): Promise<MergeResult> {
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
  } else if (present.length > 0 && !holdsAll(input, ids)) {
    // (a retry after a merge whose clean-up was cut short finds the games already in the output)
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
  return {
    path: path.resolve(input.outputDb),
    sha256: await fileSha256(input.outputDb),
    ...(host ? { host } : {}),
    gamesAdded,
    totalGames,
  };
}

function holdsAll(input: MergeInput, ids: string[]): boolean {
  if (!fs.existsSync(input.outputDb)) return false;
  const out = openGameDb(input.outputDb, { boardType: input.boardType, numPlayers: input.numPlayers, readonly: true });
  try {
    const stored = new Set(listGameIds(out));
    return ids.every((id) => stored.has(id));
  } finally {
    closeGameDb(out);
  }
}

export type SelfplayActivities = ReturnType<typeof createSelfplayActivities>;
