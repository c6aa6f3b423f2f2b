// Activities behind the cluster-health workflow: who polls each queue, and facts about the host that ran the probe.
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { LoadedConfig } from '../config/load';
import { hostFacts, type HostFacts } from '../workers/hostFacts';

export interface Poller {
  identity: string;
  lastAccessTime: string | null;
}

export interface QueuePollers {
  queue: string;
  workflowPollers: Poller[];
  activityPollers: Poller[];
  /** concurrent activities each worker of this queue runs (the answering worker's config), when known */
  slotsPerPoller?: number;
}

export interface ProbeResult extends HostFacts {
  queue: string;
  workerIdentity: string;
  pid: number;
}

const { TaskQueueType, TaskQueueKind } = temporal.api.enums.v1;

function toPollers(list: temporal.api.taskqueue.v1.IPollerInfo[] | null | undefined): Poller[] {
  return (list ?? []).map((p) => ({
    identity: p.identity ?? '',
    lastAccessTime: p.lastAccessTime?.seconds != null ? new Date(Number(p.lastAccessTime.seconds) * 1000).toISOString() : null,
  }));
}

/** DescribeTaskQueue for each queue, both task types. */
export async function describePollers(client: Client, namespace: string, queues: string[]): Promise<QueuePollers[]> {
  const describe = async (queue: string, type: temporal.api.enums.v1.TaskQueueType) => {
    const res = await client.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: queue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: type,
    });
    return toPollers(res.pollers);
  };
  return Promise.all(
    queues.map(async (queue) => ({
      queue,
      workflowPollers: await describe(queue, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
      activityPollers: await describe(queue, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
    })),
  );
}

export function createHealthActivities(deps: { client: Client; namespace: string; identity: string; config?: LoadedConfig }) {
  return {
    async describeTaskQueues(queues: string[]): Promise<QueuePollers[]> {
      const res = await describePollers(deps.client, deps.namespace, queues);
      const slots = deps.config?.pipeline.workers.queues;
      return res.map((q) => {
        const n = slots?.[q.queue]?.maxConcurrentActivities;
        return n === undefined ? q : { ...q, slotsPerPoller: n };
      });
    },
    async probeHost(): Promise<ProbeResult> {
      const info = Context.current().info;
      return { queue: info.taskQueue, workerIdentity: deps.identity, pid: process.pid, ...hostFacts() };
    },
  };
}

export type HealthActivities = ReturnType<typeof createHealthActivities>;
