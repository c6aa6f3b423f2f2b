// Test helpers: a real Temporal dev server on free loopback ports with a temp SQLite file, and real worker processes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { REPO_ROOT } from '../../config/load';
import { describePollers } from '../../activities/health';
import { ensureSearchAttributes, freePort, spawnDevServer, tailFile, waitForTemporal } from '../../cli/devServer';
import { loadConfig } from '../../config/load';

export const RINGRIFT_BIN = path.join(REPO_ROOT, 'bin', 'ringrift');

export interface TestServer {
  address: string;
  port: number;
  dir: string;
  logFile: string;
  stop(): Promise<void>;
}

const cleanups = new Set<() => void>();
process.once('exit', () => cleanups.forEach((f) => f()));

function killOnExit(child: ChildProcess): () => void {
  const kill = () => {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  };
  cleanups.add(kill);
  child.once('exit', () => cleanups.delete(kill));
  return kill;
}

async function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export async function startTestServer(): Promise<TestServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-temporal-'));
  const port = await freePort();
  const logFile = path.join(dir, 'temporal.log');
  const child = spawnDevServer({
    ip: '127.0.0.1',
    port,
    uiPort: null,
    dbFile: path.join(dir, 'temporal.db'),
    logFile,
    namespace: 'default',
    detached: false,
  });
  const kill = killOnExit(child);
  const address = `127.0.0.1:${port}`;
  try {
    await waitForTemporal(address, 'default', 60_000, () => child.exitCode === null);
    // as `ringrift dev up` does: workflows tag their runs with these
    const conn = await Connection.connect({ address });
    try {
      await ensureSearchAttributes(conn, 'default', loadConfig().pipeline.searchAttributes);
    } finally {
      await conn.close();
    }
  } catch (err) {
    kill();
    throw new Error(`${(err as Error).message}\n${tailFile(logFile)}`);
  }
  return {
    address,
    port,
    dir,
    logFile,
    async stop() {
      child.kill('SIGTERM');
      if (!(await waitExit(child, 10_000))) kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestWorker {
  child: ChildProcess;
  pid: number;
  output: () => string;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `ringrift worker --queue <queue>` as a real process and waits until it polls. */
export async function startTestWorker(address: string, queue: string, extraEnv: Record<string, string> = {}): Promise<TestWorker> {
  const child = spawn(RINGRIFT_BIN, ['worker', '--queue', queue], {
    // metrics on any free port (tests run several workers at once); extraEnv may name one
    env: { ...process.env, RINGRIFT_TEMPORAL_ADDRESS: address, RINGRIFT_METRICS_PORT: '0', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const conn = await Connection.connect({ address });
  const client = new Client({ connection: conn });
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`worker exited early (${child.exitCode}):\n${out}`);
      const [q] = await describePollers(client, 'default', [queue]);
      if (q?.activityPollers.some((p) => p.identity.includes(`-${child.pid}@`))) break;
      if (Date.now() > deadline) throw new Error(`worker never polled ${queue}:\n${out}`);
      await sleep(300);
    }
  } finally {
    await conn.close();
  }
  return {
    child,
    pid: child.pid!,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 40_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      if (!(await waitExit(child, timeoutMs))) child.kill('SIGKILL');
      await waitExit(child, 5000);
      return { code: child.exitCode, signal: child.signalCode };
    },
  };
}

export async function testClient(address: string): Promise<Client> {
  const connection = await Connection.connect({ address });
  return new Client({ connection, namespace: 'default' });
}
