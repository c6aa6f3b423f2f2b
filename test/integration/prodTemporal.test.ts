// Integration: the production Temporal set-up of scripts/prod-temporal.sh on loopback. PostgreSQL in a
// temp folder (initdb), Temporal's schema by temporal-sql-tool, the server built from
// go.temporal.io/server with mTLS certificates made by the script (openssl); `ringrift cluster init`
// registers the namespace and search attributes, a worker connects with TLS, and a self-play run and a
// parity run complete through the CLI with --wait. Skipped (with the reason) only where the server
// cannot be built within the build budget or Go is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import Database from 'better-sqlite3';
import { REPO_ROOT, loadConfig } from '../../config/load';
import { connectClient } from '../../workers/connection';
import { describePollers } from '../../activities/health';
import { RINGRIFT_BIN } from '../helpers/temporal';

const SCRIPT = path.join(REPO_ROOT, 'scripts', 'prod-temporal.sh');
/** A cold build of the server is minutes on 2 cores; scripts/setup.sh normally did it already (seconds when cached). */
const BUILD_BUDGET_S = Number(process.env.RINGRIFT_PROD_TEMPORAL_BUILD_BUDGET ?? 900);

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutS: number): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { env, encoding: 'utf8', timeout: timeoutS * 1000, killSignal: 'SIGKILL' });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Builds (or finds) tools/bin/temporal-server; a reason to skip when it cannot be had in time. */
async function buildServer(note: (msg: string) => void): Promise<string | null> {
  if (spawnSync('go', ['version']).status !== 0) return 'Go is not installed, so the Temporal server cannot be built';
  const started = Date.now();
  // its own process group, so the budget stops `go` and its compilers too (the build cache keeps their work)
  const child = spawn('bash', [SCRIPT, 'build'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  let overBudget = false;
  const timer = setTimeout(() => {
    overBudget = true;
    process.kill(-child.pid!, 'SIGKILL');
  }, BUILD_BUDGET_S * 1000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  if (overBudget) {
    return `building the Temporal server took over the ${BUILD_BUDGET_S}s budget (RINGRIFT_PROD_TEMPORAL_BUILD_BUDGET); run 'scripts/prod-temporal.sh build' once (the Go build cache keeps what was compiled)`;
  }
  assert.equal(code, 0, `scripts/prod-temporal.sh build failed:\n${out}`);
  note(`temporal-server build: ${((Date.now() - started) / 1000).toFixed(1)}s (${out.trim().split('\n').pop()})`);
  return null;
}

/**
 * Free loopback ports below 32768: the server stores its membership ports in a PostgreSQL smallint,
 * and the kernel's ephemeral range (where port 0 lands) starts above that.
 */
async function freeLowPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (ports.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen({ host: '127.0.0.1', port }, () => srv.close(() => resolve(true)));
    });
    if (free) ports.add(port);
  }
  return [...ports];
}

test(
  'production Temporal (PostgreSQL + mTLS): cluster init, a TLS worker, self-play and parity through the CLI',
  { timeout: 20 * 60_000 },
  async (t) => {
    const skip = await buildServer((m) => t.diagnostic(m));
    if (skip) {
      t.skip(skip);
      return;
    }
    const testStart = Date.now();
    let last = testStart;
    const timed = (what: string) => {
      t.diagnostic(`${what}: ${((Date.now() - last) / 1000).toFixed(1)}s`);
      last = Date.now();
    };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-prod-temporal-'));
    fs.chmodSync(dir, 0o755); // PostgreSQL runs as its own user when tests run as root
    const [pg, frontend, http, fm, history, hm, matching, mm, worker, wm] = await freeLowPorts(10);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PROD_TEMPORAL_DIR: dir,
      PROD_TEMPORAL_PG_PORT: String(pg),
      PROD_TEMPORAL_PORT: String(frontend),
      PROD_TEMPORAL_HTTP_PORT: String(http),
      PROD_TEMPORAL_FRONTEND_MEMBERSHIP_PORT: String(fm),
      PROD_TEMPORAL_HISTORY_PORT: String(history),
      PROD_TEMPORAL_HISTORY_MEMBERSHIP_PORT: String(hm),
      PROD_TEMPORAL_MATCHING_PORT: String(matching),
      PROD_TEMPORAL_MATCHING_MEMBERSHIP_PORT: String(mm),
      PROD_TEMPORAL_WORKER_PORT: String(worker),
      PROD_TEMPORAL_WORKER_MEMBERSHIP_PORT: String(wm),
      PROD_TEMPORAL_STOP_WITH_PID: String(process.pid), // a killed test leaves no server behind
    };
    t.after(() => {
      run('bash', [SCRIPT, 'stop'], env, 60);
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const logs = () => ['temporal-server.log', 'postgres.log'].map((f) => `${f}:\n${tail(path.join(dir, 'logs', f))}`).join('\n');

    ok(run('bash', [SCRIPT, 'certs'], env, 60), 'certs');
    ok(run('bash', [SCRIPT, 'init-db'], env, 180), 'init-db');
    timed('certs + init-db (initdb, schema)');
    const started = run('bash', [SCRIPT, 'start'], env, 180);
    assert.equal(started.status, 0, `start failed:\n${started.stdout}\n${started.stderr}\n${logs()}`);
    assert.match(ok(run('bash', [SCRIPT, 'status'], env, 30), 'status'), /Temporal server: running[\s\S]*PostgreSQL: running/);
    timed('start (until the frontend answers over mTLS)');

    // the CLI and workers connect with the exports `prod-temporal.sh env` prints (RINGRIFT_TLS_*)
    const tlsEnv: NodeJS.ProcessEnv = { ...env };
    for (const m of ok(run('bash', [SCRIPT, 'env'], env, 30), 'env').matchAll(/^export (\w+)=(.*)$/gm)) tlsEnv[m[1]!] = m[2]!;
    assert.equal(tlsEnv.RINGRIFT_TEMPORAL_ADDRESS, `127.0.0.1:${frontend}`);
    const settings = loadConfig(undefined, tlsEnv).pipeline.temporal;
    assert.equal(settings.tls.enabled, true);

    // mTLS is required: the CA alone (no client certificate) gets no answer
    await assert.rejects(async () => {
      const conn = await Connection.connect({
        address: settings.address,
        tls: { serverRootCACertificate: fs.readFileSync(settings.tls.serverCaPath!), serverNameOverride: 'localhost' },
        connectTimeout: '3s',
      });
      try {
        await conn.workflowService.describeNamespace({ namespace: 'temporal-system' });
      } finally {
        await conn.close();
      }
    });

    // cluster init: the namespace (a fresh server has none) and the search attributes; a second run adds nothing
    const init = ok(run(RINGRIFT_BIN, ['cluster', 'init'], tlsEnv, 120), 'cluster init');
    assert.match(init, /added namespace default/);
    assert.match(init, /added search attributes: RingRiftBoard, RingRiftConfigKey, RingRiftPhase/);
    assert.match(
      ok(run(RINGRIFT_BIN, ['cluster', 'init'], tlsEnv, 120), 'cluster init again'),
      /namespace default present\nsearch attributes already present/,
    );

    timed('cluster init, twice');

    // a cpu worker over mTLS
    const child = spawn(RINGRIFT_BIN, ['worker', '--queue', 'cpu'], {
      env: { ...tlsEnv, RINGRIFT_METRICS_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let workerOut = '';
    child.stdout.on('data', (d: Buffer) => (workerOut += d.toString()));
    child.stderr.on('data', (d: Buffer) => (workerOut += d.toString()));
    const workerExit = new Promise((resolve) => child.once('exit', resolve));
    t.after(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await workerExit;
    });
    const client = await connectClient(settings, '10s');
    t.after(() => client.connection.close());
    for (let deadline = Date.now() + 120_000; ;) {
      assert.equal(child.exitCode, null, `worker exited:\n${workerOut}`);
      const [q] = await describePollers(client, 'default', ['cpu']);
      if (q?.activityPollers.some((p) => p.identity.includes(`-${child.pid}@`))) break;
      assert.ok(Date.now() < deadline, `the worker never polled queue cpu over mTLS:\n${workerOut}`);
      await sleep(300);
    }

    timed('worker polling');

    // self-play then parity, through the CLI, as a user would run them
    const db = path.join(dir, 'games', 'square8_2p.db');
    const selfplay = ok(
      run(
        RINGRIFT_BIN,
        [
          'pipeline',
          'run',
          'canonical_selfplay',
          '--board',
          'square8',
          '--players',
          '2',
          '--num-games',
          '4',
          '--shard-size',
          '2',
          '--output-db',
          db,
          '--wait',
        ],
        tlsEnv,
        600,
      ),
      'pipeline run canonical_selfplay',
    );
    assert.match(selfplay, /done: 4 games added/);
    timed('self-play run');
    const games = new Database(db, { readonly: true });
    try {
      assert.equal((games.prepare('SELECT COUNT(*) AS n FROM games').get() as { n: number }).n, 4);
    } finally {
      games.close();
    }
    const parity = ok(
      run(RINGRIFT_BIN, ['pipeline', 'run', 'parity_validation', '--db', db, '--wait'], tlsEnv, 600),
      'pipeline run parity_validation',
    );
    assert.match(parity, /done: 4 games checked: 4 passed, 0 failed, 0 error/);
    timed('parity run');

    // PostgreSQL visibility answers queries on the custom search attributes
    const types = new Set<string>();
    for (let deadline = Date.now() + 60_000; types.size < 2;) {
      types.clear();
      for await (const wf of client.workflow.list({ query: "RingRiftConfigKey = 'square8_2p' AND ExecutionStatus = 'Completed'" }))
        types.add(wf.type);
      if (types.size < 2) {
        assert.ok(Date.now() < deadline, `visibility lists ${[...types].join(', ') || 'nothing'} for RingRiftConfigKey = 'square8_2p'`);
        await sleep(500);
      }
    }
    assert.deepEqual([...types].sort(), ['canonicalSelfplay', 'parityValidation']);

    child.kill('SIGTERM');
    await workerExit;
    assert.match(ok(run('bash', [SCRIPT, 'stop'], env, 60), 'stop'), /Temporal server stopped\nPostgreSQL stopped/);
    assert.match(ok(run('bash', [SCRIPT, 'status'], env, 30), 'status'), /Temporal server: stopped\nPostgreSQL: stopped/);
    timed('visibility query, stop');
    t.diagnostic(`production Temporal test after the build: ${((Date.now() - testStart) / 1000).toFixed(1)}s`);
  },
);

function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(none)';
  }
}
