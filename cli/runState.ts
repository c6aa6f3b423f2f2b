// The live state of a pipeline run, as `pipeline status` and the waiting CLI show it: the `progress`
// query (finished work) plus the heartbeat details of pending activities (work in flight) in the run
// and its running child batches, and the reasons it cannot move: a workflow task that keeps failing,
// or a queue it needs that no worker polls. Nothing here writes to the run's history.
import type { Client } from '@temporalio/client';
import { describePollers } from '../activities/health';
import type { HeartbeatProgress, PhaseProgress } from '../workflows/progress';

export interface RunState {
  status: string;
  /** null while no worker answers the query (none polls, or the workflow task fails) */
  progress: PhaseProgress | null;
  /** one line each: why the run does not move */
  problems: string[];
}

export interface PendingWork {
  activityType: string;
  activityId: string;
  attempt: number;
  worker: string | null;
  lastFailure: string | null;
  running: boolean;
  heartbeat: (HeartbeatProgress & Record<string, unknown>) | null;
}

/** Pending activities of one run with their decoded heartbeat details. */
export async function pendingWork(client: Client, workflowId: string): Promise<PendingWork[]> {
  const desc = await client.workflow.getHandle(workflowId).describe();
  return decodePending(client, desc.raw.pendingActivities ?? []);
}

type RawPending = NonNullable<Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['describe']>>['raw']['pendingActivities']>;

function decodePending(client: Client, raw: RawPending): PendingWork[] {
  const conv = client.options.loadedDataConverter.payloadConverter;
  return raw.map((a) => {
    let heartbeat: PendingWork['heartbeat'] = null;
    const p = a.heartbeatDetails?.payloads?.[0];
    if (p) {
      try {
        heartbeat = conv.fromPayload(p);
      } catch {
        heartbeat = null;
      }
    }
    return {
      activityType: a.activityType?.name ?? '?',
      activityId: a.activityId ?? '?',
      attempt: a.attempt ?? 1,
      worker: a.lastWorkerIdentity || null,
      lastFailure: a.lastFailure?.message ?? null,
      running: a.state === 2, // PENDING_ACTIVITY_STATE_STARTED
      heartbeat,
    };
  });
}

/** Units done so far inside a running item (the HeartbeatProgress fields; older shapes too). */
function heartbeatDone(hb: PendingWork['heartbeat']): number {
  if (!hb) return 0;
  const v = hb.done ?? (hb as { gamesDone?: number }).gamesDone ?? (hb as { step?: number }).step;
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** The last WorkflowTaskFailed message of a run (read from the end of its history). */
async function lastWorkflowTaskFailure(client: Client, workflowId: string, runId: string | undefined): Promise<string | null> {
  const res = await client.workflowService.getWorkflowExecutionHistoryReverse({
    namespace: client.options.namespace,
    execution: { workflowId, runId },
    maximumPageSize: 50,
  });
  for (const e of res.history?.events ?? []) {
    const f = e.workflowTaskFailedEventAttributes?.failure;
    if (f) return f.message ?? 'workflow task failed';
  }
  return null;
}

/** The run's live progress and problems; children (fan-out batches) are read too, to `depth` levels. */
export async function readRun(client: Client, workflowId: string, depth = 2): Promise<RunState> {
  const handle = client.workflow.getHandle(workflowId);
  const desc = await handle.describe();
  const status = desc.status.name;
  const problems: string[] = [];
  if (status !== 'RUNNING') {
    return { status, progress: await handle.query<PhaseProgress>('progress').catch(() => null), problems };
  }

  const [wq] = await describePollers(client, client.options.namespace, [desc.taskQueue]);
  const workflowPolled = (wq?.workflowPollers.length ?? 0) > 0;
  if (!workflowPolled) problems.push(noPoller(desc.taskQueue, 'to run the workflow'));
  const wft = desc.raw.pendingWorkflowTask;
  const failing = (wft?.attempt ?? 1) > 1;
  if (failing) {
    const msg = await lastWorkflowTaskFailure(client, workflowId, desc.runId).catch(() => null);
    problems.push(`workflow task of ${workflowId} keeps failing (attempt ${wft!.attempt}): ${msg ?? 'see the worker log'}`);
  }
  const progress = workflowPolled && !failing ? await handle.query<PhaseProgress>('progress').catch(() => null) : null;

  // work in flight: heartbeats of pending activities
  const pending = decodePending(client, desc.raw.pendingActivities ?? []);
  for (const a of pending) {
    const hb = a.heartbeat;
    if (!progress || !hb) continue;
    const s = typeof hb.shard === 'number' ? progress.shards.find((x) => x.index === hb.shard) : undefined;
    if (s && s.status === 'done') continue;
    const done = heartbeatDone(hb);
    if (s) {
      s.status = 'running';
      s.done = Math.min(done, s.target);
    }
    progress.done += done;
    if (typeof hb.detail === 'string') progress.detail = hb.detail;
  }

  // child batches of a fan-out: their finished items and their own work in flight
  if (depth > 0) {
    for (const c of desc.raw.pendingChildren ?? []) {
      if (!c.workflowId) continue;
      const child = await readRun(client, c.workflowId, depth - 1).catch(() => null);
      if (!child) continue;
      if (progress && child.progress) {
        progress.done += child.progress.done;
        progress.shardsDone = (progress.shardsDone ?? 0) + (child.progress.shardsDone ?? 0);
      }
      for (const p of child.problems) if (!problems.includes(p)) problems.push(p);
    }
  }

  // queues the pending work needs
  const queues = (progress?.queues ?? []).filter((q) => q && q !== desc.taskQueue);
  if (queues.length > 0 && pending.some((a) => !a.running)) {
    for (const q of await describePollers(client, client.options.namespace, queues)) {
      if (q.activityPollers.length === 0)
        problems.push(noPoller(q.queue, `for ${pending.filter((a) => !a.running).length} waiting activities`));
    }
  } else if (workflowPolled && pending.some((a) => !a.running)) {
    const [q] = await describePollers(client, client.options.namespace, [desc.taskQueue]);
    if (q && q.activityPollers.length === 0) problems.push(noPoller(desc.taskQueue, 'for its activities'));
  }
  if (progress) progress.done = Math.min(progress.done, progress.target || progress.done);
  return { status, progress, problems };
}

function noPoller(queue: string, why: string): string {
  return `no worker polls queue "${queue}" (needed ${why}): start one with 'ringrift worker --queue ${queue}' or 'ringrift dev up'`;
}
