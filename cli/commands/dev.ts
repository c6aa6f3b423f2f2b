// `ringrift dev up | down | status`: the embedded default (dev server + local workers) in the background.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { Connection } from '@temporalio/client';
import { REPO_ROOT, resolveFromRoot, type LoadedConfig } from '../../config/load';
import { describePollers } from '../../activities/health';
import { connectClient } from '../../workers/connection';
import { detectGpus } from '../../workers/hostFacts';
import type { HealthReport } from '../../workers/health';
import { cliConfig, configDir } from '../context';
import { UserError } from '../errors';
import { isOurs, readPidRecord, readPidRecords, removePidRecord, stopProcess, writePidRecord, type PidRecord } from '../background';
import {
  assertPortFree,
  ensureSearchAttributes,
  spawnDevServer,
  tailFile,
  temporalBinary,
  waitForTemporal,
  type DevServerSpec,
} from '../devServer';

const RINGRIFT_BIN = path.join(REPO_ROOT, 'bin', 'ringrift');

/** A worker's pid record also remembers where its /metrics and /health listen. */
type WorkerRecord = PidRecord & { metricsUrl?: string };

/** The metrics port dev up gives the worker of `queue`: with RINGRIFT_METRICS_PORT (metrics.port) set, that port for
 * the first worker and the next ports for the others; otherwise the worker's own choice (metrics.ports). */
function devMetricsPort(cfg: LoadedConfig, index: number): string | undefined {
  const base = cfg.pipeline.metrics.port;
  if (base === null) return undefined;
  return String(base === 0 ? 0 : base + index);
}

/** The URL the worker printed when its endpoint started listening (its log, this pid's line). */
function metricsUrlFromLog(logFile: string, queue: string, pid: number): string | undefined {
  const re = new RegExp(`^worker ringrift-${queue}-${pid}@\\S+ metrics: (\\S+)/metrics `, 'm');
  try {
    return re.exec(fs.readFileSync(logFile, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

function printMetricsUrls(rec: WorkerRecord): void {
  if (rec.metricsUrl) console.log(`  ${rec.name} metrics: ${rec.metricsUrl}/metrics  health: ${rec.metricsUrl}/health`);
}

/** GET <url>/health with the configured token: the report, or why there is none. */
async function fetchHealth(cfg: LoadedConfig, url: string): Promise<{ status: number; report?: HealthReport; error?: string }> {
  const token = cfg.pipeline.metrics.token;
  try {
    const res = await fetch(`${url}/health`, {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(3000),
    });
    if (res.status === 401) return { status: res.status, error: 'the endpoint wants a bearer token: set RINGRIFT_METRICS_TOKEN' };
    return { status: res.status, report: (await res.json()) as HealthReport };
  } catch (err) {
    return { status: 0, error: (err as Error).message };
  }
}

function describeHealth(h: { status: number; report?: HealthReport; error?: string }): string {
  const r = h.report;
  if (!r) return `unknown (${h.error ?? `HTTP ${h.status}`})`;
  const last = r.lastActivity
    ? `last activity ${r.lastActivity.activityType} ${r.lastActivity.outcome} at ${r.lastActivity.finishedAt}`
    : 'no activity yet';
  const errors = `${r.errors.count} failures in ${r.errors.windowMinutes} min`;
  const head = r.healthy ? 'healthy' : `UNHEALTHY (${r.problems.join('; ')})`;
  return `${head}; ${r.polling ? 'polling' : 'not polling'} ${r.queues.join(', ')}; ${last}; ${errors}`;
}

function devPaths(cfg: LoadedConfig) {
  const stateDir = resolveFromRoot(cfg.pipeline.dev.stateDir);
  return { stateDir, dbFile: path.join(stateDir, 'temporal.db'), logDir: path.join(stateDir, 'logs') };
}

function uiUrl(cfg: LoadedConfig): string {
  return `http://${cfg.pipeline.dev.ip}:${cfg.pipeline.dev.uiPort}`;
}

async function startServer(cfg: LoadedConfig): Promise<void> {
  const { dev, temporal } = cfg.pipeline;
  const { stateDir, dbFile, logDir } = devPaths(cfg);
  const existing = readPidRecord(stateDir, 'temporal');
  if (existing && isOurs(existing)) {
    console.log(`temporal dev server already running (pid ${existing.pid})`);
    return;
  }
  temporalBinary();
  await assertPortFree(dev.ip, dev.port, 'Temporal frontend', 'dev.port or RINGRIFT_DEV_PORT');
  await assertPortFree(dev.ip, dev.uiPort, 'Temporal Web UI', 'dev.uiPort or RINGRIFT_UI_PORT');
  const spec: DevServerSpec = {
    ip: dev.ip,
    port: dev.port,
    uiPort: dev.uiPort,
    dbFile,
    logFile: path.join(logDir, 'temporal.log'),
    namespace: temporal.namespace,
    detached: true,
  };
  const child = spawnDevServer(spec);
  let exited = false;
  child.once('exit', () => (exited = true));
  writePidRecord(stateDir, {
    name: 'temporal',
    pid: child.pid!,
    marker: dbFile,
    startedAt: new Date().toISOString(),
    logFile: spec.logFile,
  });
  process.stdout.write(`starting temporal dev server on ${dev.ip}:${dev.port} (state ${dbFile}) ...`);
  try {
    await waitForTemporal(`${dev.ip}:${dev.port}`, temporal.namespace, dev.startTimeoutSeconds * 1000, () => !exited);
  } catch (err) {
    process.stdout.write('\n');
    removePidRecord(stateDir, 'temporal');
    if (!exited) await stopProcess(child.pid!, 5000);
    throw new UserError(
      `temporal dev server did not start: ${(err as Error).message}\n--- ${spec.logFile} (last lines) ---\n${tailFile(spec.logFile)}`,
      1,
    );
  }
  console.log(' ready');
}

async function registerSearchAttributes(cfg: LoadedConfig): Promise<void> {
  const { dev, temporal, searchAttributes } = cfg.pipeline;
  const conn = await Connection.connect({ address: `${dev.ip}:${dev.port}` });
  try {
    const added = await ensureSearchAttributes(conn, temporal.namespace, searchAttributes);
    console.log(
      `search attributes: ${Object.keys(searchAttributes).join(', ')}${added.length ? ` (added ${added.join(', ')})` : ' (present)'}`,
    );
  } finally {
    await conn.close();
  }
}

async function waitForPoller(cfg: LoadedConfig, queue: string, pid: number, timeoutMs: number, isAlive: () => boolean): Promise<boolean> {
  const client = await connectClient(cfg.pipeline.temporal);
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && isAlive()) {
      const [q] = await describePollers(client, cfg.pipeline.temporal.namespace, [queue]);
      if (q && q.activityPollers.some((p) => p.identity.includes(`-${pid}@`))) return true;
      await sleep(500);
    }
    return false;
  } finally {
    await client.connection.close();
  }
}

async function startWorkers(cfg: LoadedConfig, cfgDir: string): Promise<void> {
  const { stateDir, logDir } = devPaths(cfg);
  for (const [index, queue] of cfg.pipeline.dev.workers.entries()) {
    const name = `worker-${queue}`;
    const existing = readPidRecord(stateDir, name) as WorkerRecord | undefined;
    if (existing && isOurs(existing)) {
      console.log(`${name} already running (pid ${existing.pid})`);
      printMetricsUrls(existing);
      continue;
    }
    if (queue === 'gpu' && detectGpus().length === 0) {
      console.log('worker-gpu not started: no GPU detected (nvidia-smi found none); gpu work falls back to cpu');
      continue;
    }
    fs.mkdirSync(logDir, { recursive: true });
    const logFile = path.join(logDir, `${name}.log`);
    const log = fs.openSync(logFile, 'a');
    // The dev server is local: point the worker at it whatever the environment says.
    const env: NodeJS.ProcessEnv = { ...process.env, RINGRIFT_TEMPORAL_ADDRESS: `${cfg.pipeline.dev.ip}:${cfg.pipeline.dev.port}` };
    const metricsPort = devMetricsPort(cfg, index);
    if (metricsPort !== undefined) env.RINGRIFT_METRICS_PORT = metricsPort;
    const child = spawn(RINGRIFT_BIN, ['--config', cfgDir, 'worker', '--queue', queue], {
      detached: true,
      stdio: ['ignore', log, log],
      env,
    });
    fs.closeSync(log);
    child.unref();
    let exited = false;
    child.once('exit', () => (exited = true));
    const marker = `--queue ${queue}`;
    const record: WorkerRecord = { name, pid: child.pid!, marker, startedAt: new Date().toISOString(), logFile };
    writePidRecord(stateDir, record);
    process.stdout.write(`starting ${name} (log ${logFile}) ...`);
    const ok = await waitForPoller(cfg, queue, child.pid!, 90_000, () => !exited);
    if (!ok) {
      process.stdout.write('\n');
      removePidRecord(stateDir, name);
      if (!exited) await stopProcess(child.pid!, 5000);
      throw new UserError(`${name} did not start polling queue "${queue}"\n--- ${logFile} (last lines) ---\n${tailFile(logFile)}`, 1);
    }
    console.log(' polling');
    if (cfg.pipeline.metrics.enabled) {
      record.metricsUrl = metricsUrlFromLog(logFile, queue, child.pid!);
      writePidRecord(stateDir, record);
      printMetricsUrls(record);
    }
  }
}

async function devUp(cmd: Command): Promise<void> {
  const cfg = cliConfig(cmd);
  await startServer(cfg);
  await registerSearchAttributes(cfg);
  await startWorkers(cfg, configDir(cmd));
  console.log(`Temporal Web UI: ${uiUrl(cfg)}`);
}

async function devDown(cmd: Command): Promise<void> {
  const cfg = cliConfig(cmd);
  const { stateDir } = devPaths(cfg);
  const records = readPidRecords(stateDir);
  if (records.length === 0) {
    console.log('nothing to stop: no processes recorded by ringrift dev up');
    return;
  }
  // Workers first (they drain in-flight activities), the server last.
  const order = (r: PidRecord) => (r.name === 'temporal' ? 1 : 0);
  for (const rec of records.sort((a, b) => order(a) - order(b))) {
    if (!isOurs(rec)) {
      console.log(`${rec.name}: not running (stale pid ${rec.pid})`);
    } else {
      const grace = rec.name === 'temporal' ? 15_000 : (cfg.pipeline.workers.shutdownGraceSeconds + 15) * 1000;
      const how = await stopProcess(rec.pid, grace);
      console.log(`${rec.name}: stopped (pid ${rec.pid}, ${how})`);
    }
    removePidRecord(stateDir, rec.name);
  }
}

async function devStatus(cmd: Command): Promise<void> {
  const cfg = cliConfig(cmd);
  const { stateDir } = devPaths(cfg);
  const t = cfg.pipeline.temporal;
  const server = readPidRecord(stateDir, 'temporal');
  const serverRunning = server !== undefined && isOurs(server);
  console.log(`server:  ${serverRunning ? `running (pid ${server.pid})` : 'not running (start it with: ringrift dev up)'}`);
  console.log(`address: ${t.address}  namespace: ${t.namespace}`);
  console.log(`web UI:  ${uiUrl(cfg)}`);
  const workers = readPidRecords(stateDir).filter((r) => r.name.startsWith('worker-')) as WorkerRecord[];
  for (const w of workers) {
    const running = isOurs(w);
    console.log(`${w.name}: ${running ? `running (pid ${w.pid}, log ${w.logFile})` : 'not running'}`);
    if (!running || !w.metricsUrl) continue;
    printMetricsUrls(w);
    console.log(`  ${w.name} health: ${describeHealth(await fetchHealth(cfg, w.metricsUrl))}`);
  }
  if (workers.length === 0) console.log('workers: none started by dev up');
  try {
    const client = await connectClient(t, '3s');
    try {
      const queues = Object.keys(cfg.pipeline.workers.queues);
      for (const q of await describePollers(client, t.namespace, queues)) {
        const ids = [...new Set([...q.workflowPollers, ...q.activityPollers].map((p) => p.identity))];
        console.log(`queue ${q.queue}: ${ids.length ? ids.join(', ') : 'no worker polling'}`);
      }
    } finally {
      await client.connection.close();
    }
  } catch (err) {
    console.log(`temporal at ${t.address}: unreachable (${(err as Error).message.split('\n')[0]})`);
    if (!serverRunning) process.exitCode = 1;
  }
}

export function registerDevCommands(program: Command): void {
  const dev = program.command('dev').description('embedded default: Temporal dev server (SQLite) + local workers');
  dev
    .command('up')
    .description('start the dev server, register search attributes, start workers (idempotent)')
    .action(async (_opts, cmd: Command) => devUp(cmd));
  dev
    .command('down')
    .description('stop what `dev up` started, and nothing else')
    .action(async (_opts, cmd: Command) => devDown(cmd));
  dev
    .command('status')
    .description('server, Web UI URL, workers and their queues')
    .action(async (_opts, cmd: Command) => devStatus(cmd));
}
