// Runs one worker on one task queue until SIGINT/SIGTERM, then drains gracefully.
import os from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { Runtime, Worker } from '@temporalio/worker';
import type { LoadedConfig } from '../config/load';
import { createActivities } from '../activities';
import { UserError } from '../cli/errors';
import { clientConnectionOptions, connectWorker } from './connection';
import { detectGpus } from './hostFacts';
import { killAllChildren, killAllChildrenSync } from './childProcesses';
import { freePort } from '../cli/devServer';
import { WorkerHealth } from './health';
import { initMetrics, workerInfo } from './metrics';
import { metricsInterceptor } from './metricsInterceptor';
import { checkMetricsSettings, metricsPortFor, startMetricsServer, type MetricsServer } from './metricsServer';

/** Workflows run on this queue; other queues carry activities only. */
export const WORKFLOW_QUEUE = 'cpu';

export interface RunWorkerOptions {
  queue: string;
  force?: boolean;
  config: LoadedConfig;
  /** Called once the worker is polling. */
  onReady?: (identity: string) => void;
}

/** The line a worker prints once its endpoint listens; `ringrift dev up` reads it from the log. */
export function metricsLine(identity: string, url: string): string {
  return `worker ${identity} metrics: ${url}/metrics health: ${url}/health`;
}

/** `ringrift cluster up` sets RINGRIFT_HOST to the hosts.yaml name, so pollers show which host they run on. */
export function workerIdentity(queue: string): string {
  return `ringrift-${queue}-${process.pid}@${process.env.RINGRIFT_HOST || os.hostname()}`;
}

let runtimeInstalled = false;

export async function runWorker(opts: RunWorkerOptions): Promise<void> {
  const { queue, config } = opts;
  const { pipeline } = config;
  const settings = pipeline.workers.queues[queue];
  if (!settings) {
    const known = Object.keys(pipeline.workers.queues).join(', ');
    throw new UserError(`unknown queue "${queue}": configured queues are ${known} (workers.queues in ${config.dir}/pipeline.yaml)`);
  }
  if (queue === 'gpu' && !opts.force) {
    const gpus = detectGpus();
    if (gpus.length === 0) {
      throw new UserError('no GPU detected (nvidia-smi found none): the gpu worker will not start; pass --force to start it anyway');
    }
  }

  const metrics = pipeline.metrics;
  if (metrics.enabled) checkMetricsSettings(metrics); // refuse an exposed endpoint without a token before anything starts

  // Must precede the first NativeConnection, which would create a default runtime.
  let runtimeMetricsUrl: string | null = null;
  if (!runtimeInstalled) {
    // The SDK runtime's Prometheus exporter has no authentication, so it listens on a private loopback
    // port and /metrics merges its text in: one scrape target, one token (README "Observability").
    let telemetryOptions = {};
    if (metrics.enabled && metrics.runtimeMetrics) {
      const bindAddress = `127.0.0.1:${await freePort()}`;
      runtimeMetricsUrl = `http://${bindAddress}/metrics`;
      telemetryOptions = { metrics: { prometheus: { bindAddress } } };
    }
    // The SDK's runtime shuts workers down on these signals; the worker then drains for shutdownGraceTime.
    Runtime.install({ shutdownSignals: ['SIGINT', 'SIGTERM'], telemetryOptions });
    runtimeInstalled = true;
  }

  const t = pipeline.temporal;
  const identity = workerIdentity(queue);
  let connection;
  let clientConnection;
  try {
    connection = await connectWorker(t);
    clientConnection = await Connection.connect({ ...clientConnectionOptions(t), connectTimeout: '10s' });
  } catch (err) {
    throw new UserError(
      `cannot reach Temporal at ${t.address} (${err instanceof Error ? err.message.split('\n')[0] : String(err)}): start it with 'ringrift dev up' or set RINGRIFT_TEMPORAL_ADDRESS`,
      1,
    );
  }
  const client = new Client({ connection: clientConnection, namespace: t.namespace });

  process.once('exit', killAllChildrenSync);

  const health = new WorkerHealth(identity, [queue], { address: t.address, namespace: t.namespace }, metrics.health);
  let metricsServer: MetricsServer | null = null;
  if (metrics.enabled) {
    initMetrics({ queue });
    workerInfo.set({ identity, address: t.address, namespace: t.namespace }, 1);
    try {
      metricsServer = await startMetricsServer({ settings: metrics, port: metricsPortFor(metrics, queue), health, runtimeMetricsUrl });
    } catch (err) {
      await clientConnection.close();
      await connection.close();
      throw err;
    }
    console.log(metricsLine(identity, metricsServer.url));
    const conn = clientConnection;
    const deadlineMs = Math.max(1000, metrics.health.checkSeconds * 1000);
    health.startChecking(() => conn.withDeadline(Date.now() + deadlineMs, () => conn.workflowService.getSystemInfo({})));
  }

  const grace = pipeline.workers.shutdownGraceSeconds;
  const worker = await Worker.create({
    connection,
    namespace: t.namespace,
    taskQueue: queue,
    identity,
    ...(queue === WORKFLOW_QUEUE ? { workflowsPath: require.resolve('../workflows') } : {}),
    activities: createActivities({ client, namespace: t.namespace, identity, config }),
    maxConcurrentActivityTaskExecutions: settings.maxConcurrentActivities,
    maxConcurrentWorkflowTaskExecutions: settings.maxConcurrentWorkflowTasks,
    shutdownGraceTime: `${grace}s`,
    shutdownForceTime: `${grace + 10}s`,
    interceptors: { activity: [metricsInterceptor(health)] },
  });
  health.watchWorker(worker);
  console.log(
    `worker ${identity} polling queue "${queue}" on ${t.address} (namespace ${t.namespace}, ${settings.maxConcurrentActivities} concurrent activities)`,
  );
  opts.onReady?.(identity);
  try {
    await worker.run();
  } finally {
    health.stop();
    await metricsServer?.close();
    await killAllChildren();
    await clientConnection.close();
    await connection.close();
    console.log(`worker ${identity} stopped`);
  }
}
