// The progress every pipeline workflow answers on its `progress` query (shown by `ringrift pipeline status`).
import { defineQuery, defineSignal } from '@temporalio/workflow';

export interface ShardProgress {
  index: number;
  target: number;
  done: number;
  status: 'pending' | 'running' | 'done';
}

export interface PhaseProgress {
  /** Current step of the workflow, e.g. "selfplay", "merge", "done". */
  phase: string;
  /** What `target` and `done` count: "games", "positions", ... */
  unit: string;
  target: number;
  done: number;
  /** Every shard of a run that plays its shards in its own history; empty when child batches do. */
  shards: ShardProgress[];
  /** Shards done and planned (also when `shards` is empty). */
  shardsDone?: number;
  shardsTotal?: number;
  /** Task queues the run's pending work needs (`pipeline status` names one that nobody polls). */
  queues?: string[];
  /** One line of phase-specific state, e.g. the training losses and speed. */
  detail?: string;
}

export const progressQuery = defineQuery<PhaseProgress>('progress');

/**
 * What a running activity reports in its heartbeat details, read by `pipeline status` and the waiting
 * CLI from the pending activities (cli/runState.ts): no history event per update.
 */
export interface HeartbeatProgress {
  /** the shard (item index) the activity works on */
  shard?: number;
  /** units done inside it so far */
  done?: number;
  /** one line of state, e.g. training losses */
  detail?: string;
}

/**
 * Formerly sent by shard activities. Nothing sends it now (progress travels in heartbeats); runs still
 * handle it so that runs started by older workers replay and ignore stray signals.
 */
export const shardProgressSignal = defineSignal<[{ shard: number; done: number; detail?: string }]>('shardProgress');

/** Progress for a run split into shards of the given sizes, with the shard-progress signal wired in. */
export function trackShards(phase: string, unit: string, sizes: number[]) {
  const progress: PhaseProgress = {
    phase,
    unit,
    target: sizes.reduce((a, b) => a + b, 0),
    done: 0,
    shards: sizes.map((target, index) => ({ index, target, done: 0, status: 'pending' })),
  };
  const recount = () => (progress.done = progress.shards.reduce((n, s) => n + s.done, 0));
  const update = (shard: number, done: number, finished = false, detail?: string) => {
    const s = progress.shards[shard];
    if (detail !== undefined) progress.detail = detail;
    if (!s || s.status === 'done') return;
    s.done = Math.max(s.done, Math.min(done, s.target));
    s.status = finished ? 'done' : 'running';
    recount();
  };
  return { progress, update };
}
