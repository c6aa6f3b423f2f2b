// Cluster health: who polls each task queue, and a probe activity run on each queue to prove a worker answers.
import { ActivityFailure, TimeoutFailure, proxyActivities } from '@temporalio/workflow';
import type { HealthActivities, ProbeResult, QueuePollers } from '../activities/health';
import type { z } from 'zod';
import type { clusterHealthInputSchema } from './inputSchemas';
import { phaseInput } from './phaseInput';

export interface ClusterHealthInput {
  queues: string[];
  scheduleToStartSeconds: number;
}

export type QueueHealth =
  | { queue: string; status: 'ok'; pollers: QueuePollers; probe: ProbeResult }
  | { queue: string; status: 'no worker polling'; pollers: QueuePollers }
  | { queue: string; status: 'probe failed'; pollers: QueuePollers; error: string };

export interface ClusterHealthReport {
  queues: QueueHealth[];
}

const { describeTaskQueues } = proxyActivities<HealthActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3 },
});

async function probe(queue: string, scheduleToStartSeconds: number): Promise<ProbeResult | 'no worker polling' | Error> {
  const { probeHost } = proxyActivities<HealthActivities>({
    taskQueue: queue,
    scheduleToStartTimeout: `${scheduleToStartSeconds}s`,
    startToCloseTimeout: '30s',
    retry: { maximumAttempts: 1 },
  });
  try {
    return await probeHost();
  } catch (err) {
    if (err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === 'SCHEDULE_TO_START') {
      return 'no worker polling';
    }
    return err instanceof Error ? err : new Error(String(err));
  }
}

export async function clusterHealth(raw: z.input<typeof clusterHealthInputSchema>): Promise<ClusterHealthReport> {
  const input = await phaseInput<ClusterHealthInput>('clusterHealth', raw);
  const probes = await Promise.all(input.queues.map((q) => probe(q, input.scheduleToStartSeconds)));
  const pollers = await describeTaskQueues(input.queues);
  return {
    queues: input.queues.map((queue, i): QueueHealth => {
      const p = probes[i]!;
      const qp = pollers[i]!;
      if (p === 'no worker polling') return { queue, status: p, pollers: qp };
      if (p instanceof Error) return { queue, status: 'probe failed', pollers: qp, error: p.message };
      return { queue, status: 'ok', pollers: qp, probe: p };
    }),
  };
}
