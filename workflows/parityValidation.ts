// parity validation: plan (select games), validate them in shards (one activity each), write the
// report; fail the phase when the failure rate exceeds fail_threshold.
import { ApplicationFailure, condition, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { ArtifactRef, ParityActivities, ParityReportResult, ParityShardResult } from '../activities/parity';
import { clearly } from './failures';
import type { z } from 'zod';
import type { parityInputSchema } from './inputSchemas';
import { phaseInput, tagRun } from './phaseInput';
import { progressQuery, shardProgressSignal, trackShards } from './progress';

export interface ParityInput {
  db: string;
  /** seeded sample size, or null for every game */
  sample: number | null;
  seed: number;
  shardSize: number;
  failThreshold: number;
  /** folder for the report (default: the DB's folder) */
  reportDir: string;
  /** external replayer command line, or null */
  external: string | null;
  activityQueue?: string;
  heartbeatTimeoutSeconds?: number;
}

/** What a run may be started with (Web UI, `temporal` CLI): optional fields come from config. */
export type ParityStartInput = z.input<typeof parityInputSchema>;

export interface ParityResult extends ParityReportResult {
  db: ArtifactRef;
  selected: number;
  shards: { index: number; games: number; resumedFrom: number }[];
}

/** [first, count) slices of `total` games in shards of at most shardSize. */
export function planParityShards(total: number, shardSize: number): { index: number; first: number; count: number }[] {
  const out: { index: number; first: number; count: number }[] = [];
  for (let first = 0, index = 0; first < total; first += shardSize, index++)
    out.push({ index, first, count: Math.min(shardSize, total - first) });
  return out;
}

export async function parityValidation(raw: ParityStartInput): Promise<ParityResult> {
  const { workflowId } = workflowInfo();
  const startedAtMs = Date.now(); // workflow time: deterministic on replay
  let tracked = trackShards('plan', 'games', []);
  setHandler(progressQuery, () => tracked.progress);
  setHandler(shardProgressSignal, ({ shard, done }) => tracked.update(shard, done));
  const input = await phaseInput<ParityInput>('parityValidation', raw);

  const acts = proxyActivities<ParityActivities>({
    taskQueue: input.activityQueue ?? 'cpu',
    startToCloseTimeout: '4h',
    heartbeatTimeout: `${input.heartbeatTimeoutSeconds ?? 60}s`,
    retry: {
      maximumAttempts: 5,
      initialInterval: '1s',
      nonRetryableErrorTypes: [
        'BadGameDb',
        'NoGames',
        'ArtifactChanged',
        'GameConfigMismatchError',
        'ExternalReplayerUnavailable',
        'ExternalReplayerFailed',
      ],
    },
  });

  const plan = await clearly(
    acts.planParity({
      workflowId,
      db: input.db,
      sample: input.sample,
      seed: input.seed,
      reportDir: input.reportDir,
      external: input.external,
    }),
  );
  tagRun('parityValidation', plan.boardType, plan.numPlayers);
  const shards = planParityShards(plan.selected, input.shardSize);
  tracked = trackShards(
    'validate',
    'games',
    shards.map((s) => s.count),
  );

  const results: ParityShardResult[] = await Promise.all(
    shards.map(async (s) => {
      const r = await clearly(
        acts.validateParityShard({
          workflowId,
          shardIndex: s.index,
          db: input.db,
          boardType: plan.boardType,
          numPlayers: plan.numPlayers,
          gameList: plan.gameList,
          first: s.first,
          count: s.count,
          workDir: plan.workDir,
          external: input.external,
        }),
      );
      tracked.update(s.index, r.total, true);
      return r;
    }),
  );

  tracked.progress.phase = 'report';
  const rep = await clearly(
    acts.writeParityReport({
      workflowId,
      db: input.db,
      dbSha256: plan.dbSha256,
      sample: input.sample,
      seed: input.seed,
      failThreshold: input.failThreshold,
      external: input.external,
      shardResults: results.map((r) => r.results),
      reportDir: input.reportDir,
      workDir: plan.workDir,
      startedAtMs,
    }),
  );
  tracked.progress.phase = 'done';
  await condition(() => true);
  if (!rep.ok) {
    const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
    throw ApplicationFailure.nonRetryable(
      `parity failure rate ${pct(rep.failureRate)} (${rep.failed} failed, ${rep.error} error of ${rep.total}) exceeds fail_threshold ${pct(rep.failThreshold)}; ` +
        `report: ${rep.summary.path}${rep.firstProblems.length ? `; first: ${rep.firstProblems[0]}` : ''}`,
      'ParityThresholdExceeded',
      rep,
    );
  }
  return {
    ...rep,
    db: { path: input.db, sha256: plan.dbSha256 },
    selected: plan.selected,
    shards: results.map((r) => ({ index: r.shardIndex, games: r.total, resumedFrom: r.resumedFrom })),
  };
}
