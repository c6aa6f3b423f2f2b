// canonical self-play: play numGames games in shards (one activity each), then merge them into one DB.
import { condition, patched, proxyActivities, setHandler, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { MergeResult, SelfplayActivities, ShardHost, ShardInput, ShardResult } from '../activities/selfplay';
import type { ModelRef } from '../ai/evaluator';
import type { BoardType } from '../engine';
import type { z } from 'zod';
import type { selfplayInputSchema } from './inputSchemas';
import { phaseInput, tagRun } from './phaseInput';
import { defineFanOut, fanOut, fanOutProgress } from './fanOut';
import { progressQuery, shardProgressSignal, trackShards, type PhaseProgress } from './progress';

/** Runs from before the bounded fan-out started every shard at once; replay them as they ran. */
const FAN_OUT_PATCH = 'bounded-fan-out-v1';
/** Shards are written in the data folder of the worker's host and merged from there (SFTP when needed). */
const SHARD_HOSTS_PATCH = 'shards-on-worker-hosts-v1';

export interface SelfplayInput {
  boardType: BoardType;
  numPlayers: number;
  numGames: number;
  seed: number;
  shardSize: number;
  outputDb: string;
  /** One spec for every seat, or one per seat (rotated per game). */
  playerMix: string[];
  maxMoves: number;
  /** Queue that plays shards (default cpu). */
  activityQueue?: string;
  heartbeatTimeoutSeconds?: number;
  /** each neural spec's model (a ref naming the host that holds it is pulled by shard workers elsewhere) */
  models?: Record<string, ModelRef & { host?: string | null }>;
}

/** What a run may be started with (Web UI, `temporal` CLI): optional fields come from config. */
export type SelfplayStartInput = z.input<typeof selfplayInputSchema>;

export interface ShardPlan {
  index: number;
  firstGame: number;
  numGames: number;
  shardDb: string;
}

export interface SelfplayResult {
  outputDb: MergeResult;
  games: number;
  shardCount?: number;
  /** every shard when the run has at most SHARDS_LISTED of them, else only those that resumed after a retry */
  shards: { index: number; games: number; resumedFrom: number; host?: string }[];
  /** the hosts whose data folders held shards (one entry per host, whatever the run size) */
  shardHosts?: ShardHost[];
}

/** Results list each shard up to this many shards (a bounded payload whatever the run size). */
export const SHARDS_LISTED = 1000;

type ShardSummary = Omit<SelfplayResult, 'outputDb'>;
type SelfplayCtx = { input: SelfplayInput; workflowId: string; onHosts?: boolean };

export const shardFileName = (index: number) => `shard-${String(index).padStart(4, '0')}.db`;

/** Shard i of a run (the same formula as planShards, without listing every shard). */
export function shardOf(input: Pick<SelfplayInput, 'numGames' | 'shardSize' | 'outputDb'>, workflowId: string, index: number): ShardPlan {
  const firstGame = index * input.shardSize;
  return {
    index,
    firstGame,
    numGames: Math.min(input.shardSize, input.numGames - firstGame),
    shardDb: `${shardFolder(input, workflowId)}/${shardFileName(index)}`,
  };
}

export const shardCount = (input: Pick<SelfplayInput, 'numGames' | 'shardSize'>) => Math.ceil(input.numGames / input.shardSize);

/** The shard activities of a self-play run, for the bounded fan-out. */
export const selfplayShards = defineFanOut<SelfplayCtx, ShardResult, ShardSummary>({
  name: 'selfplay-shards',
  activity: 'playSelfplayShard',
  input: ({ input, workflowId, onHosts }, i) => ({
    ...shardInput(input, workflowId, shardOf(input, workflowId, i)),
    ...(onHosts ? { placeOnHost: true } : {}),
  }),
  units: ({ input, workflowId }, i) => shardOf(input, workflowId, i).numGames,
  done: (r) => r.games,
  empty: () => ({ games: 0, shardCount: 0, shards: [] }),
  add: (s, _i, r) =>
    listShards(s, {
      games: r.games,
      shardCount: 1,
      shards: [{ index: r.shardIndex, games: r.games, resumedFrom: r.resumedFrom, ...(r.ref?.host ? { host: r.ref.host } : {}) }],
      ...(r.ref?.host ? { shardHosts: [{ host: r.ref.host, dir: dirOf(r.ref.path) }] } : {}),
    }),
  merge: listShards,
});

/** Folds b into a (in place): counts add up, the shard list stays bounded. */
function listShards(a: ShardSummary, b: ShardSummary): ShardSummary {
  a.games += b.games;
  a.shardCount = (a.shardCount ?? 0) + (b.shardCount ?? 0);
  for (const s of b.shards) if (a.shardCount <= SHARDS_LISTED || s.resumedFrom > 0) a.shards.push(s);
  if (a.shardCount > SHARDS_LISTED && a.shards.length > 0 && a.shards.some((s) => s.resumedFrom === 0)) {
    a.shards = a.shards.filter((s) => s.resumedFrom > 0);
  }
  a.shards = a.shards.slice(0, SHARDS_LISTED);
  for (const h of b.shardHosts ?? []) {
    a.shardHosts ??= [];
    if (!a.shardHosts.some((x) => x.host === h.host && x.dir === h.dir)) a.shardHosts.push(h);
  }
  return a;
}

const dirOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '.');

/** The folder of a run's shard DBs (shard-0000.db, shard-0001.db, ...). */
export function shardFolder(input: Pick<SelfplayInput, 'outputDb'>, workflowId: string): string {
  const outDir = input.outputDb.includes('/') ? input.outputDb.slice(0, input.outputDb.lastIndexOf('/')) : '.';
  return `${outDir}/.shards-${workflowId}`;
}

function shardInput(input: SelfplayInput, workflowId: string, s: ShardPlan): ShardInput {
  return {
    workflowId,
    shardIndex: s.index,
    firstGame: s.firstGame,
    numGames: s.numGames,
    boardType: input.boardType,
    numPlayers: input.numPlayers,
    seed: input.seed,
    playerMix: input.playerMix,
    maxMoves: input.maxMoves,
    shardDb: s.shardDb,
    ...(input.models ? { models: input.models } : {}),
  };
}

/** Splits [0, numGames) into shards of at most shardSize games; shard DBs live beside the output. */
export function planShards(input: Pick<SelfplayInput, 'numGames' | 'shardSize' | 'outputDb'>, workflowId: string): ShardPlan[] {
  return Array.from({ length: shardCount(input) }, (_, i) => shardOf(input, workflowId, i));
}

export async function canonicalSelfplay(raw: SelfplayStartInput): Promise<SelfplayResult> {
  const { workflowId } = workflowInfo();
  let progress: PhaseProgress = trackShards('plan', 'games', []).progress;
  setHandler(progressQuery, () => progress);
  setHandler(shardProgressSignal, () => undefined); // progress travels in heartbeats now
  const input = await phaseInput<SelfplayInput>('canonicalSelfplay', raw);
  tagRun('canonicalSelfplay', input.boardType, input.numPlayers);
  if (!patched(FAN_OUT_PATCH)) return legacySelfplay(input, workflowId, (p) => (progress = p));

  const queue = input.activityQueue ?? 'cpu';
  const shards: ActivityOptions = {
    taskQueue: queue,
    startToCloseTimeout: '2h',
    heartbeatTimeout: `${input.heartbeatTimeoutSeconds ?? 30}s`,
    retry: { maximumAttempts: 5, initialInterval: '1s', nonRetryableErrorTypes: ['GameConfigMismatchError'] },
  };
  progress = fanOutProgress('selfplay', 'games', input.numGames, shardCount(input), queue);
  const onHosts = patched(SHARD_HOSTS_PATCH);
  const played = await fanOut(selfplayShards, { input, workflowId, ...(onHosts ? { onHosts } : {}) }, shardCount(input), shards, progress);

  progress.phase = 'merge';
  // the merge reads the shard folder (no list of paths: a bounded payload for any number of shards)
  const { mergeSelfplayShards } = proxyActivities<SelfplayActivities>({ taskQueue: queue, startToCloseTimeout: '6h', retry: shards.retry });
  const outputDb = await mergeSelfplayShards({
    workflowId,
    boardType: input.boardType,
    numPlayers: input.numPlayers,
    shardDbs: [],
    shardFolder: { dir: shardFolder(input, workflowId), count: shardCount(input) },
    ...(played.shardHosts?.length ? { shardHosts: played.shardHosts } : {}),
    outputDb: input.outputDb,
    expectedGameIds: { first: 0, count: input.numGames },
  });
  progress.phase = 'done';
  progress.queues = [];
  // Let a last query see the final state before the run closes.
  await condition(() => true);
  played.shards.sort((a, b) => a.index - b.index);
  return { outputDb, ...played };
}

/** The pre-fan-out body (every shard at once), kept only to replay runs started before FAN_OUT_PATCH. */
async function legacySelfplay(input: SelfplayInput, workflowId: string, show: (p: PhaseProgress) => void): Promise<SelfplayResult> {
  const plan = planShards(input, workflowId);
  const { progress, update } = trackShards(
    'selfplay',
    'games',
    plan.map((s) => s.numGames),
  );
  show(progress);
  const { playSelfplayShard, mergeSelfplayShards } = proxyActivities<SelfplayActivities>({
    taskQueue: input.activityQueue ?? 'cpu',
    startToCloseTimeout: '2h',
    heartbeatTimeout: `${input.heartbeatTimeoutSeconds ?? 30}s`,
    retry: { maximumAttempts: 5, initialInterval: '1s', nonRetryableErrorTypes: ['GameConfigMismatchError'] },
  });
  const results: ShardResult[] = await Promise.all(
    plan.map(async (s) => {
      const r = await playSelfplayShard(shardInput(input, workflowId, s));
      update(s.index, r.games, true);
      return r;
    }),
  );
  progress.phase = 'merge';
  const outputDb = await mergeSelfplayShards({
    workflowId,
    boardType: input.boardType,
    numPlayers: input.numPlayers,
    shardDbs: plan.map((s) => s.shardDb),
    outputDb: input.outputDb,
    expectedGameIds: { first: 0, count: input.numGames },
  });
  progress.phase = 'done';
  await condition(() => true);
  return {
    outputDb,
    games: results.reduce((n, r) => n + r.games, 0),
    shards: results.map((r) => ({ index: r.shardIndex, games: r.games, resumedFrom: r.resumedFrom })),
  };
}
