// canonical self-play: play numGames games in shards (one activity each), then merge them into one DB.
import { condition, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { MergeResult, SelfplayActivities, ShardResult } from '../activities/selfplay';
import type { BoardType } from '../engine';
import type { z } from 'zod';
import type { selfplayInputSchema } from './inputSchemas';
import { phaseInput, tagRun } from './phaseInput';
import { progressQuery, shardProgressSignal, trackShards } from './progress';

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
  shards: { index: number; games: number; resumedFrom: number }[];
}

/** Splits [0, numGames) into shards of at most shardSize games; shard DBs live beside the output. */
export function planShards(input: Pick<SelfplayInput, 'numGames' | 'shardSize' | 'outputDb'>, workflowId: string): ShardPlan[] {
  const outDir = input.outputDb.includes('/') ? input.outputDb.slice(0, input.outputDb.lastIndexOf('/')) : '.';
  const shards: ShardPlan[] = [];
  for (let first = 0, index = 0; first < input.numGames; first += input.shardSize, index++) {
    shards.push({
      index,
      firstGame: first,
      numGames: Math.min(input.shardSize, input.numGames - first),
      shardDb: `${outDir}/.shards-${workflowId}/shard-${String(index).padStart(4, '0')}.db`,
    });
  }
  return shards;
}

export async function canonicalSelfplay(raw: SelfplayStartInput): Promise<SelfplayResult> {
  const { workflowId } = workflowInfo();
  let tracked = trackShards('plan', 'games', []);
  setHandler(progressQuery, () => tracked.progress);
  setHandler(shardProgressSignal, ({ shard, done }) => tracked.update(shard, done));
  const input = await phaseInput<SelfplayInput>('canonicalSelfplay', raw);
  tagRun('canonicalSelfplay', input.boardType, input.numPlayers);

  const plan = planShards(input, workflowId);
  tracked = trackShards(
    'selfplay',
    'games',
    plan.map((s) => s.numGames),
  );
  const { progress, update } = tracked;

  const { playSelfplayShard, mergeSelfplayShards } = proxyActivities<SelfplayActivities>({
    taskQueue: input.activityQueue ?? 'cpu',
    startToCloseTimeout: '2h',
    heartbeatTimeout: `${input.heartbeatTimeoutSeconds ?? 30}s`,
    retry: { maximumAttempts: 5, initialInterval: '1s', nonRetryableErrorTypes: ['GameConfigMismatchError'] },
  });

  const results: ShardResult[] = await Promise.all(
    plan.map(async (s) => {
      const r = await playSelfplayShard({
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
      });
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
  // Let a last query see the final state before the run closes.
  await condition(() => true);
  return {
    outputDb,
    games: results.reduce((n, r) => n + r.games, 0),
    shards: results.map((r) => ({ index: r.shardIndex, games: r.games, resumedFrom: r.resumedFrom })),
  };
}
