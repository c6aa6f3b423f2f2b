// Shard progress for a workflow's `progress` query: throttled per shard, never awaited by the work
// itself, and a failed signal only logs (progress display must not slow or fail the work).
import { log } from '@temporalio/activity';
import type { Client } from '@temporalio/client';

/** The signal every pipeline workflow handles (workflows/progress.ts shardProgressSignal). */
export const SHARD_PROGRESS_SIGNAL = 'shardProgress';

export function createProgressSignaller(client: Client, minIntervalMs = 500) {
  const last = new Map<string, number>();
  /** `final` always sends and forgets the shard's throttle state. */
  return (workflowId: string, shard: number, done: number, final = false, detail?: string): Promise<void> => {
    const key = `${workflowId}/${shard}`;
    const now = Date.now();
    if (!final && now - (last.get(key) ?? 0) < minIntervalMs) return Promise.resolve();
    if (final) last.delete(key);
    else last.set(key, now);
    return client.workflow
      .getHandle(workflowId)
      .signal(SHARD_PROGRESS_SIGNAL, detail === undefined ? { shard, done } : { shard, done, detail })
      .catch((err: unknown) => log.warn('progress signal failed', { workflowId, shard, error: String(err) }));
  };
}
