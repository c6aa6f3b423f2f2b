// Bounded fan-out for every phase that shards its work (self-play, parity, later the gauntlet).
//
// - A sliding window keeps at most `window` item activities in flight: sized from the workers that
//   poll the item queue (pollers x their concurrent-activity slots, x2 so the next item is already
//   queued when one finishes), clamped far below Temporal's 2,000 pending activities per workflow.
// - One history runs at most `itemsPerHistory` items (about 7 events each). Larger runs are split
//   into child workflows (`fanOutBatch`) of that many items, two at a time, recursively when even the
//   children would not fit; so no history passes HISTORY_BUDGET events, whatever the run size.
// - Progress lives in the workflow's `progress` query (completed items) and in each running item's
//   heartbeat details (cli/runState.ts adds them up); nothing is signalled.
//
// A phase describes its items once with defineFanOut (name, activity, input of item i, how results
// fold into a small summary) and calls fanOut(); children rebuild item inputs from the same spec.
import {
  ChildWorkflowFailure,
  executeChild,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { HealthActivities } from '../activities/health';
import { progressQuery, type PhaseProgress } from './progress';

/** Temporal's limit is 2,000 pending activities per workflow; stay far below it. */
export const MAX_WINDOW = 500;
export const MIN_WINDOW = 2;
/** The window while no worker polls the queue yet (the run waits for one either way). */
export const NO_POLLER_WINDOW = 16;
/** No single workflow history of a fan-out passes this many events (Temporal's hard limit is 51,200). */
export const HISTORY_BUDGET = 20_000;
/** Items (or child batches) per history: ~7 events each, so ~14,000 events at most. */
export const ITEMS_PER_HISTORY = 2_000;
/** Child batches running at once (the next starts while one drains its last items). */
export const PARALLEL_BATCHES = 2;

export interface FanOutSpec<C, R, S> {
  /** Stable name (recorded in child workflow inputs). */
  name: string;
  /** Activity type run once per item. */
  activity: string;
  /** The activity input of item i. */
  input(ctx: C, i: number): unknown;
  /** Progress units (games, positions) item i is planned to do. */
  units(ctx: C, i: number): number;
  /** Units a finished item did. */
  done(r: R): number;
  /** A small summary of many results (bounded whatever the item count). */
  empty(): S;
  add(s: S, i: number, r: R): S;
  merge(a: S, b: S): S;
}

const SPECS = new Map<string, FanOutSpec<unknown, unknown, unknown>>();

/** Registers a phase's items (at module load, so child workflows find the spec by name). */
export function defineFanOut<C, R, S>(spec: FanOutSpec<C, R, S>): FanOutSpec<C, R, S> {
  SPECS.set(spec.name, spec as FanOutSpec<unknown, unknown, unknown>);
  return spec;
}

/** Everything a batch needs: plain data (it is a child workflow's input). */
export interface FanOutRun<C = unknown> {
  spec: string;
  ctx: C;
  first: number;
  count: number;
  window: number;
  itemsPerHistory: number;
  activity: ActivityOptions;
}

export interface BatchResult<S = unknown> {
  summary: S;
  items: number;
  units: number;
}

/** In-flight limit from the pollers of `queue` and their slots (the worker config's maxConcurrentActivities). */
export function windowFor(pollers: number, slotsPerPoller: number): number {
  if (pollers === 0) return NO_POLLER_WINDOW;
  return Math.max(MIN_WINDOW, Math.min(MAX_WINDOW, 2 * pollers * Math.max(1, slotsPerPoller)));
}

/** Runs run(k) for k in [0, n) with at most `limit` running at once; completions are handled in arrival order. */
export async function slidingWindow(n: number, limit: number, run: (k: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) await run(next++);
  };
  await Promise.all(Array.from({ length: Math.min(n, Math.max(1, limit)) }, lane));
}

/** Progress of one fan-out, shown by the `progress` query (per-item list only while it is small). */
export function fanOutProgress(phase: string, unit: string, target: number, items: number, queue: string): PhaseProgress {
  return { phase, unit, target, done: 0, shards: [], shardsDone: 0, shardsTotal: items, queues: [queue] };
}

const { describeTaskQueues } = proxyLocalActivities<HealthActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 3 } });

/**
 * Runs every item of `spec` (count items) with `activity` options, under `progress`, and returns the
 * folded summary. The window is read once from the pollers of the activity queue.
 */
export async function fanOut<C, R, S>(
  spec: FanOutSpec<C, R, S>,
  ctx: C,
  count: number,
  activity: ActivityOptions,
  progress: PhaseProgress,
  opts: { window?: number; itemsPerHistory?: number } = {},
): Promise<S> {
  let window = opts.window;
  if (window === undefined) {
    const queue = activity.taskQueue ?? workflowInfo().taskQueue;
    const [q] = await describeTaskQueues([queue]);
    window = windowFor(q?.activityPollers.length ?? 0, q?.slotsPerPoller ?? 1);
  }
  const run: FanOutRun<C> = {
    spec: spec.name,
    ctx,
    first: 0,
    count,
    window,
    itemsPerHistory: opts.itemsPerHistory ?? ITEMS_PER_HISTORY,
    activity,
  };
  const res = await runRange(spec, run, progress);
  return res.summary;
}

/** A batch of items in its own history (started by fanOut for runs larger than one history). */
export async function fanOutBatch(run: FanOutRun): Promise<BatchResult> {
  const spec = SPECS.get(run.spec);
  if (!spec) throw new Error(`fanOutBatch: unknown fan-out "${run.spec}"`);
  let target = 0;
  for (let i = run.first; i < run.first + run.count; i++) target += spec.units(run.ctx, i);
  const progress = fanOutProgress('batch', 'units', target, run.count, run.activity.taskQueue ?? workflowInfo().taskQueue);
  setHandler(progressQuery, () => progress);
  return runRange(spec, run, progress);
}

/** Child batches of [first, first+count): `per` items each, or `per` times more per level until at most `per` batches remain. */
export function batchRanges(first: number, count: number, per: number): { first: number; count: number }[] {
  let chunk = per;
  while (Math.ceil(count / chunk) > per) chunk *= per;
  const out: { first: number; count: number }[] = [];
  for (let f = first; f < first + count; f += chunk) out.push({ first: f, count: Math.min(chunk, first + count - f) });
  return out;
}

async function runRange<C, R, S>(spec: FanOutSpec<C, R, S>, run: FanOutRun<C>, progress: PhaseProgress): Promise<BatchResult<S>> {
  const out: BatchResult<S> = { summary: spec.empty(), items: 0, units: 0 };
  const per = Math.max(1, run.itemsPerHistory);
  if (run.count <= per) {
    // A history that runs its items itself lists them (at most itemsPerHistory entries).
    const act = proxyActivities<Record<string, (input: unknown) => Promise<R>>>(run.activity)[spec.activity]!;
    progress.shards = Array.from({ length: run.count }, (_, k) => ({
      index: run.first + k,
      target: spec.units(run.ctx, run.first + k),
      done: 0,
      status: 'pending' as const,
    }));
    await slidingWindow(run.count, run.window, async (k) => {
      const i = run.first + k;
      progress.shards[k]!.status = 'running';
      const r = await act(spec.input(run.ctx, i));
      const units = spec.done(r);
      out.summary = spec.add(out.summary, i, r);
      out.items++;
      out.units += units;
      progress.done += units;
      progress.shardsDone = (progress.shardsDone ?? 0) + 1;
      Object.assign(progress.shards[k]!, { done: units, status: 'done' });
    });
    return out;
  }
  // Too many for one history: child batches (recursively, when even the batches would not fit).
  const batches = batchRanges(run.first, run.count, per);
  const { workflowId, taskQueue } = workflowInfo();
  await slidingWindow(batches.length, PARALLEL_BATCHES, async (b) => {
    const { first, count } = batches[b]!;
    let res: BatchResult<S>;
    try {
      res = (await executeChild(fanOutBatch, {
        workflowId: `${workflowId}-b${first}`,
        taskQueue,
        args: [{ ...run, first, count } as FanOutRun],
      })) as BatchResult<S>;
    } catch (err) {
      // the caller sees an item's failure as if it had run the item itself
      if (err instanceof ChildWorkflowFailure && err.cause) throw err.cause;
      throw err;
    }
    out.summary = spec.merge(out.summary, res.summary);
    out.items += res.items;
    out.units += res.units;
    progress.done += res.units;
    progress.shardsDone = (progress.shardsDone ?? 0) + res.items;
  });
  return out;
}
