// `ringrift cluster health`: the health workflow across task queues; `cluster init` for a remote cluster.
import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import type { LoadedConfig } from '../../config/load';
import { describePollers } from '../../activities/health';
import type { ClusterHealthReport, QueueHealth } from '../../workflows/clusterHealth';
import { connectClient } from '../../workers/connection';
import { WORKFLOW_QUEUE } from '../../workers/run';
import { formatClusterInit, initCluster } from '../clusterInit';
import { cliConfig } from '../context';
import { UserError } from '../errors';

export async function connectOrExplain(cfg: LoadedConfig): Promise<Client> {
  const t = cfg.pipeline.temporal;
  try {
    return await connectClient(t, '5s');
  } catch (err) {
    throw new UserError(
      `cannot reach Temporal at ${t.address} (${(err as Error).message.split('\n')[0]}): start it with 'ringrift dev up' or set RINGRIFT_TEMPORAL_ADDRESS`,
      1,
    );
  }
}

function timestampId(prefix: string): string {
  return `${prefix}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`;
}

export async function runClusterHealth(cfg: LoadedConfig, client: Client): Promise<ClusterHealthReport> {
  const { health, temporal } = cfg.pipeline;
  const [wfQueue] = await describePollers(client, temporal.namespace, [WORKFLOW_QUEUE]);
  if (!wfQueue || wfQueue.workflowPollers.length === 0) {
    throw new UserError(
      `no worker polling queue "${WORKFLOW_QUEUE}", which runs the health workflow: start one with 'ringrift worker --queue ${WORKFLOW_QUEUE}' or 'ringrift dev up'`,
      1,
    );
  }
  return client.workflow.execute('clusterHealth', {
    taskQueue: WORKFLOW_QUEUE,
    workflowId: timestampId('cluster-health'),
    args: [{ queues: health.queues, scheduleToStartSeconds: health.scheduleToStartSeconds }],
    workflowExecutionTimeout: '5m',
  });
}

export function formatHealth(report: ClusterHealthReport): string {
  const line = (q: QueueHealth): string[] => {
    const ids = [...new Set([...q.pollers.workflowPollers, ...q.pollers.activityPollers].map((p) => p.identity))];
    const pollers = `pollers: ${ids.length ? ids.join(', ') : 'none'}`;
    if (q.status === 'no worker polling') return [`queue ${q.queue}: no worker polling`, `  ${pollers}`];
    if (q.status === 'probe failed') return [`queue ${q.queue}: probe failed: ${q.error}`, `  ${pollers}`];
    const p = q.probe;
    const gpu = p.gpus.length ? p.gpus.map((g) => `${g.name}${g.memoryMiB ? ` (${g.memoryMiB} MiB)` : ''}`).join(', ') : 'none';
    return [
      `queue ${q.queue}: ok`,
      `  ${pollers}`,
      `  probe answered by: ${p.workerIdentity}`,
      `  host: ${p.hostname} (${p.platform}), ${p.cores} cores, ${p.memoryGiB} GiB memory, GPU: ${gpu}, node ${p.node}`,
    ];
  };
  return report.queues.flatMap(line).join('\n');
}

export function registerClusterCommands(program: Command): void {
  const cluster = program.command('cluster').description('cluster-wide checks and set-up');
  cluster
    .command('health')
    .description('probe every configured task queue through a workflow; report pollers and host facts')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const cfg = cliConfig(cmd);
      const client = await connectOrExplain(cfg);
      try {
        const report = await runClusterHealth(cfg, client);
        console.log(opts.json ? JSON.stringify(report, null, 2) : formatHealth(report));
      } finally {
        await client.connection.close();
      }
    });
  cluster
    .command('init')
    .description("register the namespace (if the server lacks it) and the pipeline's search attributes (self-hosted or remote clusters)")
    .action(async (_opts, cmd: Command) => {
      const cfg = cliConfig(cmd);
      const client = await connectOrExplain(cfg);
      try {
        const { namespace } = cfg.pipeline.temporal;
        console.log(formatClusterInit(namespace, await initCluster(client.connection, namespace, cfg.pipeline.searchAttributes)));
      } finally {
        await client.connection.close();
      }
    });
}
