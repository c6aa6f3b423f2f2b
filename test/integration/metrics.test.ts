// Integration: a real worker's /metrics and /health with a bearer token, scraped by a real Prometheus
// server (Debian's package) during a self-play run started by the CLI; the token never reaches a
// workflow history; the worker reports unhealthy once the Temporal server is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { temporal } from '@temporalio/proto';
import YAML from 'yaml';
import { REPO_ROOT } from '../../config/load';
import { freePort, tailFile } from '../../cli/devServer';
import type { SelfplayResult } from '../../workflows/canonicalSelfplay';
import { RINGRIFT_BIN, startTestServer, startTestWorker, testClient } from '../helpers/temporal';

function findPrometheus(): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/sbin']) {
    const p = path.join(dir, 'prometheus');
    if (dir && fs.existsSync(p)) return p;
  }
  return null;
}

interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

async function promQuery(base: string, query: string): Promise<PromSample[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as { status: string; data: { result: PromSample[] }; error?: string };
  assert.equal(body.status, 'success', `${query}: ${body.error ?? res.status}`);
  return body.data.result;
}

/** The single value of an instant query (0 when it returns nothing). */
async function promValue(base: string, query: string): Promise<number> {
  const r = await promQuery(base, query);
  assert.ok(r.length <= 1, `${query}: ${JSON.stringify(r)}`);
  return r.length ? Number(r[0]!.value[1]) : 0;
}

async function waitFor<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(250);
  }
}

async function startPrometheus(bin: string, dir: string, target: string, token: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'token'), token, { mode: 0o600 });
  // The shipped config/prometheus.yml, pointed at the test worker with its token, scraping every second.
  const cfg = YAML.parse(fs.readFileSync(path.join(REPO_ROOT, 'config', 'prometheus.yml'), 'utf8')) as {
    global: Record<string, string>;
    scrape_configs: Record<string, unknown>[];
  };
  cfg.global = { ...cfg.global, scrape_interval: '1s', evaluation_interval: '1s' };
  assert.equal(cfg.scrape_configs.length, 1);
  assert.equal(cfg.scrape_configs[0]!.job_name, 'ringrift-worker');
  Object.assign(cfg.scrape_configs[0]!, {
    authorization: { type: 'Bearer', credentials_file: path.join(dir, 'token') },
    static_configs: [{ targets: [target] }],
  });
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), YAML.stringify(cfg));
  const log = fs.openSync(path.join(dir, 'prometheus.log'), 'a');
  const child = spawn(
    bin,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  const url = `http://127.0.0.1:${port}`;
  await waitFor('prometheus to be ready', 30_000, async () => {
    if (child.exitCode !== null) throw new Error(`prometheus exited: ${tailFile(path.join(dir, 'prometheus.log'))}`);
    return (await fetch(`${url}/-/ready`)).ok ? true : undefined;
  });
  return { url, child };
}

test(
  'worker metrics: real Prometheus scrape, bearer token, token absent from histories, unhealthy when cut off',
  { timeout: 240_000 },
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-metrics-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    // A config folder holding only the keys changed: fast health checks.
    const cfgDir = path.join(dir, 'config');
    fs.mkdirSync(cfgDir);
    fs.writeFileSync(path.join(cfgDir, 'pipeline.yaml'), 'metrics:\n  health:\n    checkSeconds: 1\n    disconnectedAfterSeconds: 4\n');
    const token = `rr-test-${crypto.randomBytes(18).toString('hex')}`;
    const metricsPort = await freePort();
    const env = { RINGRIFT_CONFIG_DIR: cfgDir, RINGRIFT_METRICS_PORT: String(metricsPort), RINGRIFT_METRICS_TOKEN: token };

    const server = await startTestServer();
    let serverStopped = false;
    t.after(() => (serverStopped ? undefined : server.stop()));
    const worker = await startTestWorker(server.address, 'cpu', env);
    t.after(() => worker.stop('SIGKILL'));
    const base = `http://127.0.0.1:${metricsPort}`;
    assert.ok(worker.output().includes(`metrics: ${base}/metrics health: ${base}/health`), worker.output());
    const auth = { Authorization: `Bearer ${token}` };

    await t.test('the endpoint refuses a missing or wrong token and answers the right one', async () => {
      for (const p of ['/metrics', '/health']) {
        const none = await fetch(base + p);
        assert.equal(none.status, 401);
        assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
        const wrong = await fetch(base + p, { headers: { Authorization: `Bearer ${token}x` } });
        assert.equal(wrong.status, 401);
        assert.equal((await fetch(base + p, { headers: { Authorization: 'Basic Zm9vOmJhcg==' } })).status, 401);
        assert.equal((await fetch(base + p, { headers: auth })).status, 200);
      }
      const health = (await (await fetch(`${base}/health`, { headers: auth })).json()) as Record<string, unknown>;
      assert.equal(health.healthy, true);
      assert.equal(health.polling, true);
      assert.deepEqual(health.queues, ['cpu']);
      assert.match(String(health.identity), new RegExp(`^ringrift-cpu-${worker.pid}@`));
    });

    await t.test('a worker binding beyond loopback refuses to start without a token', () => {
      const r = spawnSync(RINGRIFT_BIN, ['worker', '--queue', 'cpu'], {
        encoding: 'utf8',
        env: { ...process.env, RINGRIFT_TEMPORAL_ADDRESS: server.address, RINGRIFT_METRICS_HOST: '0.0.0.0', RINGRIFT_METRICS_TOKEN: '' },
        timeout: 60_000,
      });
      assert.equal(r.status, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /^ringrift: metrics\.host is 0\.0\.0\.0, beyond loopback: set a bearer token with RINGRIFT_METRICS_TOKEN/m);
      assert.doesNotMatch(r.stdout + r.stderr, /polling queue/);
    });

    const prometheus = findPrometheus();
    let prom: { url: string; child: ChildProcess } | null = null;
    if (prometheus) {
      prom = await startPrometheus(prometheus, dir, `127.0.0.1:${metricsPort}`, token);
      const kill = () => prom?.child.kill('SIGKILL');
      process.once('exit', kill);
      t.after(() => {
        prom!.child.kill('SIGTERM');
        process.removeListener('exit', kill);
      });
      const p = prom;
      await waitFor('a first scrape', 30_000, async () => ((await promValue(p.url, 'up{job="ringrift-worker"}')) === 1 ? true : undefined));
    }
    const gamesQuery = 'sum(ringrift_selfplay_games_total{job="ringrift-worker",config_key="square8_2p"})';
    const before = prom ? await promValue(prom.url, gamesQuery) : 0;

    // Self-play through the CLI, as a user runs it, with the token in its environment too.
    const outDb = path.join(dir, 'games.db');
    const run = spawnSync(
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
        '12',
        '--shard-size',
        '4',
        '--player-mix',
        'random',
        '--max-moves',
        '400',
        '--output-db',
        outDb,
        '--wait',
      ],
      { encoding: 'utf8', env: { ...process.env, ...env, RINGRIFT_TEMPORAL_ADDRESS: server.address }, timeout: 120_000 },
    );
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const client = await testClient(server.address);
    t.after(() => client.connection.close());
    const runs = [];
    for await (const wf of client.workflow.list({ query: `WorkflowType = 'canonicalSelfplay'` })) runs.push(wf);
    assert.equal(runs.length, 1);
    const result = (await client.workflow.getHandle(runs[0]!.workflowId).result()) as SelfplayResult;
    assert.equal(result.games, 12);

    await t.test(
      'Prometheus scraped the games counter rising by exactly the games played',
      {
        skip:
          !prom &&
          "prometheus is not installed (scripts/setup.sh installs Debian's package as root with apt-get); skipping the real-Prometheus check",
      },
      async () => {
        const p = prom!;
        const after = await waitFor('the games counter to reach the games played', 20_000, async () => {
          const v = await promValue(p.url, gamesQuery);
          return v - before >= result.games ? v : undefined;
        });
        const shards = await promValue(
          p.url,
          'sum(ringrift_activity_duration_seconds_count{activity_type="playSelfplayShard",outcome="completed"})',
        );
        const moves = await promValue(p.url, 'sum(ringrift_selfplay_moves_total{config_key="square8_2p"})');
        const lengths = await promValue(p.url, 'sum(ringrift_selfplay_game_length_moves_count{config_key="square8_2p"})');
        const runtime = await promQuery(p.url, 'temporal_num_pollers{job="ringrift-worker",task_queue="cpu"}');
        const connected = await promValue(p.url, 'ringrift_worker_temporal_connected{job="ringrift-worker"}');
        console.log(
          `# prometheus: ${gamesQuery} ${before} -> ${after} (games played ${result.games}); completed shards ${shards}; moves ${moves}; ` +
            `game-length observations ${lengths}; temporal_num_pollers series ${runtime.length}; connected ${connected}`,
        );
        assert.equal(after - before, result.games, 'games counter delta');
        assert.equal(shards, result.shards.length, 'completed shards');
        assert.equal(lengths, result.games, 'game-length observations');
        assert.ok(moves >= result.games, `moves ${moves}`);
        assert.ok(runtime.length > 0, 'Temporal SDK runtime metrics are merged into the same scrape');
        assert.equal(connected, 1, 'ringrift_worker_temporal_connected');
        // every query of the shipped Grafana dashboard parses; the self-play throughput panel has data
        const dashboard = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'config', 'grafana-dashboard.json'), 'utf8')) as {
          panels: { title: string; targets: { expr: string }[] }[];
        };
        for (const panel of dashboard.panels) {
          for (const target of panel.targets) await promQuery(p.url, target.expr.replaceAll('$__rate_interval', '1m'));
        }
        // rate() needs two samples of the series: wait for the next scrape if the run ended between two
        const throughput = await waitFor('the self-play throughput panel to have data', 10_000, async () => {
          const r = await promQuery(p.url, 'sum by (config_key) (rate(ringrift_selfplay_games_total[1m]))');
          return r.length ? r : undefined;
        });
        assert.deepEqual(
          throughput.map((r) => r.metric.config_key),
          ['square8_2p'],
        );
      },
    );

    await t.test('the token never appears in any workflow history', async () => {
      const needles = [Buffer.from(token), Buffer.from(Buffer.from(token).toString('base64').slice(0, 24))];
      let histories = 0;
      let sawOutput = false; // the search sees what a history holds: the run's output path is in there
      for await (const wf of client.workflow.list()) {
        const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
        const bytes = Buffer.from(temporal.api.history.v1.History.encode(history).finish());
        histories++;
        if (bytes.indexOf(Buffer.from(outDb)) !== -1) sawOutput = true;
        assert.ok(bytes.length > 0);
        for (const n of needles) assert.equal(bytes.indexOf(n), -1, `the token appears in the history of ${wf.workflowId}`);
        assert.equal(JSON.stringify(history).includes(token), false, wf.workflowId);
      }
      assert.ok(histories >= 1, 'at least the self-play run');
      assert.ok(sawOutput, 'the self-play history names its output DB');
    });

    await t.test('a worker cut off from Temporal reports unhealthy within the configured time', async () => {
      const live = await fetch(`${base}/health`, { headers: auth });
      assert.equal(live.status, 200);
      const stoppedAt = Date.now();
      await server.stop();
      serverStopped = true;
      const report = await waitFor('/health to answer 503', 15_000, async () => {
        const res = await fetch(`${base}/health`, { headers: auth });
        return res.status === 503
          ? ((await res.json()) as { problems: string[]; temporal: { connected: boolean }; polling: boolean })
          : undefined;
      });
      const seconds = (Date.now() - stoppedAt) / 1000;
      // disconnectedAfterSeconds 4 + one check interval (1s) + slack for a busy machine
      assert.ok(seconds <= 4 + 1 + 3, `unhealthy after ${seconds}s`);
      assert.equal(report.temporal.connected, false);
      assert.equal(report.polling, false);
      assert.match(report.problems.join('\n'), /Temporal at 127\.0\.0\.1:\d+ has not answered/);
      assert.equal(worker.child.exitCode, null, 'the worker keeps running (and retrying) while Temporal is gone');
      const text = await (await fetch(`${base}/metrics`, { headers: auth })).text();
      assert.match(text, /^ringrift_worker_temporal_connected\{queue="cpu"\} 0$/m);
      assert.match(text, /^ringrift_worker_healthy\{queue="cpu"\} 0$/m);
    });
  },
);
