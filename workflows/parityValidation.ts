// parity validation: plan (select games), validate them in shards (one activity each), write the
// report; fail the phase when the failure rate exceeds fail_threshold.
import {
  ApplicationFailure,
  condition,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type {
  ArtifactRef,
  ParityActivities,
  ParityPlan,
  ParityReportResult,
  ParityShardInput,
  ParityShardResult,
} from '../activities/parity';
import { clearly } from './failures';
import type { z } from 'zod';
import type { parityInputSchema } from './inputSchemas';
import { phaseInput, tagRun } from './phaseInput';
import { defineFanOut, fanOut, fanOutProgress } from './fanOut';
import { progressQuery, shardProgressSignal, trackShards, type PhaseProgress } from './progress';

/** Runs from before the bounded fan-out validated every shard at once; replay them as they ran. */
const FAN_OUT_PATCH = 'bounded-fan-out-v1';
/** Results list each shard up to this many shards. */
const SHARDS_LISTED = 1000;

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
  shardCount?: number;
  /** every shard up to SHARDS_LISTED shards, else only those that resumed after a retry */
  shards: { index: number; games: number; resumedFrom: number }[];
}

type ParityCtx = { input: ParityInput; plan: ParityPlan; workflowId: string };
type ParitySummary = { shardCount: number; shards: ParityResult['shards'] };

/** The shard activities of a parity run, for the bounded fan-out. */
export const parityShards = defineFanOut<ParityCtx, ParityShardResult, ParitySummary>({
  name: 'parity-shards',
  activity: 'validateParityShard',
  input: (c, i) => parityShardInput(c, i),
  units: ({ input, plan }, i) => Math.min(input.shardSize, plan.selected - i * input.shardSize),
  done: (r) => r.total,
  empty: () => ({ shardCount: 0, shards: [] }),
  add: (s, _i, r) => listShards(s, { shardCount: 1, shards: [{ index: r.shardIndex, games: r.total, resumedFrom: r.resumedFrom }] }),
  merge: listShards,
});

function listShards(a: ParitySummary, b: ParitySummary): ParitySummary {
  a.shardCount += b.shardCount;
  for (const s of b.shards) if (a.shardCount <= SHARDS_LISTED || s.resumedFrom > 0) a.shards.push(s);
  if (a.shardCount > SHARDS_LISTED && a.shards.some((s) => s.resumedFrom === 0)) a.shards = a.shards.filter((s) => s.resumedFrom > 0);
  a.shards = a.shards.slice(0, SHARDS_LISTED);
  return a;
}

function parityShardInput({ input, plan, workflowId }: ParityCtx, index: number): ParityShardInput {
  const first = index * input.shardSize;
  return {
    workflowId,
    shardIndex: index,
    db: input.db,
    boardType: plan.boardType,
    numPlayers: plan.numPlayers,
    gameList: plan.gameList,
    first,
    count: Math.min(input.shardSize, plan.selected - first),
    workDir: plan.workDir,
    external: input.external,
  };
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
  let progress: PhaseProgress = trackShards('plan', 'games', []).progress;
  setHandler(progressQuery, () => progress);
  setHandler(shardProgressSignal, () => undefined); // progress travels in heartbeats now
  const input = await phaseInput<ParityInput>('parityValidation', raw);

  const queue = input.activityQueue ?? 'cpu';
  const options: ActivityOptions = {
    taskQueue: queue,
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
  };
  const acts = proxyActivities<ParityActivities>(options);

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
  if (!patched(FAN_OUT_PATCH)) return legacyParity(input, plan, acts, startedAtMs, (p) => (progress = p));

  const count = Math.ceil(plan.selected / input.shardSize);
  progress = fanOutProgress('validate', 'games', plan.selected, count, queue);
  const validated = await clearly(fanOut(parityShards, { input, plan, workflowId }, count, options, progress));

  progress.phase = 'report';
  // the report reads the shard result files from the work folder (a bounded payload for any number of shards)
  const report = proxyActivities<ParityActivities>({ ...options, heartbeatTimeout: undefined, startToCloseTimeout: '6h' });
  const rep = await clearly(
    report.writeParityReport({
      workflowId,
      db: input.db,
      dbSha256: plan.dbSha256,
      sample: input.sample,
      seed: input.seed,
      failThreshold: input.failThreshold,
      external: input.external,
      shardResults: [],
      shardCount: count,
      reportDir: input.reportDir,
      workDir: plan.workDir,
      startedAtMs,
    }),
  );
  progress.phase = 'done';
  progress.queues = [];
  await condition(() => true);
  validated.shards.sort((a, b) => a.index - b.index);
  return finish(input, plan, rep, validated);
}

function finish(input: ParityInput, plan: ParityPlan, rep: ParityReportResult, validated: ParitySummary): ParityResult {
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
    shardCount: validated.shardCount,
    shards: validated.shards,
  };
}

/** The pre-fan-out body (every shard at once), kept only to replay runs started before FAN_OUT_PATCH. */
async function legacyParity(
  input: ParityInput,
  plan: ParityPlan,
  acts: ParityActivities,
  startedAtMs: number,
  show: (p: PhaseProgress) => void,
): Promise<ParityResult> {
  const { workflowId } = workflowInfo();
  const shards = planParityShards(plan.selected, input.shardSize);
  const tracked = trackShards(
    'validate',
    'games',
    shards.map((s) => s.count),
  );
  show(tracked.progress);
  const results: ParityShardResult[] = await Promise.all(
    shards.map(async (s) => {
      const r = await clearly(acts.validateParityShard(parityShardInput({ input, plan, workflowId }, s.index)));
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
  return finish(input, plan, rep, {
    shardCount: results.length,
    shards: results.map((r) => ({ index: r.shardIndex, games: r.total, resumedFrom: r.resumedFrom })),
  });
}
