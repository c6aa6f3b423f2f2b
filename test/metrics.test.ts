// Unit: the metrics endpoint's token rules, the health report, and the activity interceptor's metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { loadConfig } from '../config/load';
import type { MetricsSettings } from '../config/schema';
import { WorkerHealth } from '../workers/health';
import * as m from '../workers/metrics';
import { configKeyOf, metricsInterceptor, RESULT_METRICS } from '../workers/metricsInterceptor';
import { checkMetricsSettings, isLoopback, metricsPortFor, startMetricsServer } from '../workers/metricsServer';

const defaults = (): MetricsSettings => structuredClone(loadConfig(undefined, {}).pipeline.metrics);

async function value(
  metric: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number; metricName?: string }[] }> },
  labels: Record<string, string>,
  name?: string,
) {
  const { values } = await metric.get();
  const hit = values.find(
    (v) => (name === undefined || v.metricName === name) && Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want),
  );
  return hit?.value ?? 0;
}

test('metrics settings: loopback needs no token, anything else does; env overrides', () => {
  for (const h of ['127.0.0.1', '127.0.0.2', 'localhost', '::1']) assert.equal(isLoopback(h), true, h);
  for (const h of ['0.0.0.0', '10.1.2.3', '::', 'worker.example']) assert.equal(isLoopback(h), false, h);
  const s = defaults();
  assert.doesNotThrow(() => checkMetricsSettings(s));
  assert.throws(() => checkMetricsSettings({ ...s, host: '0.0.0.0' }), /beyond loopback: set a bearer token with RINGRIFT_METRICS_TOKEN/);
  assert.doesNotThrow(() => checkMetricsSettings({ ...s, host: '0.0.0.0', token: 'x'.repeat(32) }));
  assert.equal(metricsPortFor(s, 'cpu'), 9464);
  assert.equal(metricsPortFor(s, 'gpu'), 9465);
  assert.equal(metricsPortFor(s, 'other'), 0);
  const env = loadConfig(undefined, {
    RINGRIFT_METRICS_PORT: '9999',
    RINGRIFT_METRICS_HOST: '0.0.0.0',
    RINGRIFT_METRICS_TOKEN: 't'.repeat(20),
  }).pipeline.metrics;
  assert.equal(metricsPortFor(env, 'gpu'), 9999);
  assert.equal(env.host, '0.0.0.0');
  assert.equal(env.token, 't'.repeat(20));
  // a short token is refused without echoing it
  assert.throws(
    () => loadConfig(undefined, { RINGRIFT_METRICS_TOKEN: 'short-secret' }),
    (err: Error) => /metrics\.token: .*16 characters.*RINGRIFT_METRICS_TOKEN/.test(err.message) && !err.message.includes('short-secret'),
  );
});

test('the endpoint: bearer token enforced when set, /health 503 when unhealthy, 404 elsewhere', async (t) => {
  const token = 'a-long-enough-test-token';
  const health = new WorkerHealth('ringrift-cpu-1@test', ['cpu'], { address: '127.0.0.1:1', namespace: 'default' }, defaults().health);
  const srv = await startMetricsServer({ settings: { ...defaults(), token }, port: 0, health });
  t.after(() => srv.close());
  assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal((await fetch(`${srv.url}/metrics`)).status, 401);
  assert.equal((await fetch(`${srv.url}/metrics`, { headers: { Authorization: 'Bearer wrong-token' } })).status, 401);
  const ok = await fetch(`${srv.url}/metrics`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /^# TYPE ringrift_selfplay_games_total counter$/m);
  // never connected, worker not running: unhealthy
  const h = await fetch(`${srv.url}/health`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(h.status, 503);
  const rep = (await h.json()) as { problems: string[] };
  assert.match(rep.problems.join('\n'), /worker state is STARTING/);
  assert.equal((await fetch(`${srv.url}/nope`, { headers: { Authorization: `Bearer ${token}` } })).status, 404);
});

test('a metrics port in use is one clear line', async (t) => {
  const blocker = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  t.after(() => blocker.close());
  const port = (blocker.address() as net.AddressInfo).port;
  const health = new WorkerHealth('w', ['cpu'], { address: 'a:1', namespace: 'default' }, defaults().health);
  await assert.rejects(
    startMetricsServer({ settings: defaults(), port, health }),
    new RegExp(`^UserError: port ${port} on 127\\.0\\.0\\.1 \\(worker metrics\\) is already in use: .*RINGRIFT_METRICS_PORT`),
  );
});

test('health: connection timeout and failures within the window', () => {
  let now = 1_000_000;
  const settings = { checkSeconds: 1, disconnectedAfterSeconds: 5, errorWindowMinutes: 1, maxErrors: 2 };
  const h = new WorkerHealth('w', ['cpu'], { address: 'a:1', namespace: 'default' }, settings, () => now);
  h.setWorkerState('RUNNING');
  assert.equal(h.report().healthy, false); // never answered
  h.connectionOk();
  assert.equal(h.report().healthy, true);
  assert.equal(h.report().polling, true);
  now += 6000;
  h.connectionFailed(new Error('14 UNAVAILABLE: down'));
  const down = h.report();
  assert.equal(down.healthy, false);
  assert.match(down.problems[0]!, /has not answered for 6s \(14 UNAVAILABLE: down\)/);
  h.connectionOk();
  const fail = { activityType: 'x', workflowId: 'w', outcome: 'failed' as const, finishedAt: '', seconds: 1 };
  h.activityFinished(fail);
  assert.equal(h.report().healthy, true);
  h.activityFinished(fail);
  assert.match(h.report().problems.join(), /2 activity failures in the last 1 minutes/);
  now += 61_000;
  h.connectionOk();
  assert.equal(h.report().healthy, true, 'failures age out of the window');
  assert.equal(h.report().lastActivity?.activityType, 'x');
});

test('interceptor: durations and failures per activity type; domain counters from results', async () => {
  const health = new WorkerHealth('w', ['cpu'], { address: 'a:1', namespace: 'default' }, defaults().health);
  const ctx = (activityType: string) =>
    ({
      info: { activityType, workflowExecution: { workflowId: 'wf' } },
      cancellationSignal: new AbortController().signal,
    }) as unknown as Context;
  const inbound = (type: string) => metricsInterceptor(health)(ctx(type)).inbound!;
  const parityIn = { boardType: 'hex8', numPlayers: 3 };
  const parityOut = { shardIndex: 0, total: 10, passed: 7, failed: 2, error: 1, movesReplayed: 500, resumedFrom: 0 };
  const before = await value(m.parityGames, { config_key: 'hex8_3p', result: 'failed' });
  await inbound('validateParityShard').execute!({ args: [parityIn], headers: {} }, () => Promise.resolve(parityOut));
  assert.equal((await value(m.parityGames, { config_key: 'hex8_3p', result: 'failed' })) - before, 2);
  assert.ok((await value(m.parityChecked, { config_key: 'hex8_3p' })) >= 10);
  assert.equal(
    await value(
      m.activityDuration,
      { activity_type: 'validateParityShard', outcome: 'completed' },
      'ringrift_activity_duration_seconds_count',
    ),
    1,
  );

  await assert.rejects(
    inbound('exportNpzFile').execute!({ args: [{}], headers: {} }, () =>
      Promise.reject(ApplicationFailure.nonRetryable('disk full', 'NpzExport:unwritable')),
    ),
    /disk full/,
  );
  assert.equal(await value(m.activityFailures, { activity_type: 'exportNpzFile', failure_type: 'NpzExport:unwritable' }), 1);
  assert.equal(health.report().errors.count, 1);
  assert.match(health.report().lastActivity!.failure!, /^NpzExport:unwritable: disk full/);

  RESULT_METRICS.exportNpzFile!({ boardType: 'square19', numPlayers: 2 }, { positions: 1234, games: 5 }, 1);
  assert.equal(await value(m.exportPositions, { config_key: 'square19_2p' }), 1234);
  RESULT_METRICS.playGauntletShard!(
    { shard: { boardType: 'square8', numPlayers: 4 }, opponent: 'random' },
    { opponent: 'random', wins: 3, draws: 1, losses: 2 },
    1,
  );
  assert.equal(await value(m.gauntletGames, { config_key: 'square8_4p', baseline: 'random', result: 'win' }), 3);
  RESULT_METRICS.promoteBest!({ configKey: 'hex8_4p' }, { previousBestId: null }, 1);
  RESULT_METRICS.restorePreviousBest!({ configKey: 'hex8_4p' }, { demotedId: 'x', changed: true }, 1);
  RESULT_METRICS.restorePreviousBest!({ configKey: 'hex8_4p' }, { demotedId: null, changed: false }, 1);
  assert.equal(await value(m.promotions, { config_key: 'hex8_4p' }), 1);
  assert.equal(await value(m.rollbacks, { config_key: 'hex8_4p' }), 1);
  m.recordTrainingStart('hexagonal_2p', 0);
  m.recordTrainingProgress('hexagonal_2p', { step: 10, policyLoss: 2.5, valueLoss: 0.4, positionsPerSecond: 900 });
  m.recordTrainingProgress('hexagonal_2p', { step: 25, policyLoss: 2.1, valueLoss: 0.3, positionsPerSecond: 950 });
  assert.equal(await value(m.trainingStep, { config_key: 'hexagonal_2p' }), 25);
  assert.equal(await value(m.trainingSteps, { config_key: 'hexagonal_2p' }), 25);
  assert.equal(await value(m.trainingLoss, { config_key: 'hexagonal_2p', kind: 'policy' }), 2.1);
  m.setLoopState('square8_2p', 'paused');
  assert.equal(await value(m.loopState, { config_key: 'square8_2p', state: 'paused' }), 1);
  assert.equal(await value(m.loopState, { config_key: 'square8_2p', state: 'running' }), 0);
  assert.equal(configKeyOf({ configKey: 'hex8_2p' }), 'hex8_2p');
  assert.equal(configKeyOf(undefined), 'none');
});
