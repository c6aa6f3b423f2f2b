// The embedded default: a Temporal dev server (SQLite file, Web UI) plus local workers, run in the background.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { REPO_ROOT } from '../config/load';
import type { PipelineConfig } from '../config/schema';
import { UserError } from './errors';

export const TEMPORAL_BIN = path.join(REPO_ROOT, 'tools', 'bin', 'temporal');

export function temporalBinary(): string {
  if (!fs.existsSync(TEMPORAL_BIN)) {
    throw new UserError(`Temporal CLI not found at ${TEMPORAL_BIN}: run 'npm run setup' (builds it from the Go module proxy)`);
  }
  return TEMPORAL_BIN;
}

/** Resolves if `port` can be bound on `ip`; otherwise one clear line naming the port and how to find its owner. */
export async function assertPortFree(ip: string, port: number, what: string, configKey: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') {
        reject(
          new UserError(
            `port ${port} on ${ip} (${what}) is already in use: find its owner with 'ss -ltnp "sport = :${port}"' or 'lsof -i :${port}', stop it, or set ${configKey}`,
          ),
        );
      } else reject(new UserError(`cannot bind ${ip}:${port} (${what}): ${err.message}`));
    });
    srv.listen({ host: ip, port, exclusive: true }, () => srv.close(() => resolve()));
  });
}

/** A free TCP port on loopback (for tests and throwaway servers). */
export async function freePort(ip = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ host: ip, port: 0 }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface DevServerSpec {
  ip: string;
  port: number;
  uiPort: number | null; // null: headless
  dbFile: string;
  logFile: string;
  namespace: string;
  /** Detached servers outlive this process (ringrift dev up); attached ones die with it (tests). */
  detached: boolean;
}

export function devServerArgs(spec: DevServerSpec): string[] {
  const args = ['server', 'start-dev', '--ip', spec.ip, '--port', String(spec.port), '--db-filename', spec.dbFile];
  if (spec.uiPort === null) args.push('--headless');
  else args.push('--ui-port', String(spec.uiPort));
  if (spec.namespace !== 'default') args.push('--namespace', spec.namespace);
  // One partition per task queue: with the default four, a poller can sit on an empty partition while
  // backlogged shard tasks wait in another (second-long gaps between activities on one machine).
  for (const key of ['matching.numTaskqueueReadPartitions', 'matching.numTaskqueueWritePartitions']) {
    args.push('--dynamic-config-value', `${key}=1`);
  }
  return args;
}

export function spawnDevServer(spec: DevServerSpec) {
  fs.mkdirSync(path.dirname(spec.logFile), { recursive: true });
  fs.mkdirSync(path.dirname(spec.dbFile), { recursive: true });
  const log = fs.openSync(spec.logFile, 'a');
  const child = spawn(temporalBinary(), devServerArgs(spec), {
    detached: spec.detached,
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  if (spec.detached) child.unref();
  return child;
}

/** Waits until the frontend answers for `namespace`. Throws after `timeoutMs`, or early if `isAlive` turns false. */
export async function waitForTemporal(
  address: string,
  namespace: string,
  timeoutMs: number,
  isAlive: () => boolean = () => true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error('the server process exited during start-up');
    try {
      const conn = await Connection.connect({ address, connectTimeout: '2s' });
      try {
        await conn.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await conn.close();
      }
    } catch (err) {
      lastErr = err;
      await sleep(250);
    }
  }
  throw new Error(`no answer from ${address} within ${timeoutMs / 1000}s: ${lastErr instanceof Error ? lastErr.message : String(lastErr)}`);
}

const SA_TYPES: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  Text: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  Keyword: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Int: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
  Double: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  Bool: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  Datetime: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  KeywordList: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/** Registers the pipeline's search attributes that the namespace lacks. Returns the names added. */
export async function ensureSearchAttributes(
  connection: Pick<Connection, 'operatorService'>,
  namespace: string,
  attrs: PipelineConfig['searchAttributes'],
): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const have = new Set([...Object.keys(existing.customAttributes ?? {}), ...Object.keys(existing.systemAttributes ?? {})]);
  const missing = Object.entries(attrs).filter(([name]) => !have.has(name));
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, SA_TYPES[type]!])),
  });
  // Visibility picks new attributes up asynchronously; wait until they are listed.
  for (let i = 0; i < 40; i++) {
    const now = await connection.operatorService.listSearchAttributes({ namespace });
    if (missing.every(([name]) => name in (now.customAttributes ?? {}))) break;
    await sleep(250);
  }
  return missing.map(([n]) => n);
}

export function tailFile(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
