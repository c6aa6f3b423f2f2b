// Integration: the promotion saga on the real server with real worker processes and real (tiny)
// networks. Gates that fail reject the candidate; a worker SIGKILLed inside step 3 and another inside
// step 5 (the regression check) leave the best pointer and best.onnx agreeing at every moment, and
// the runs finish consistently (the second with an automatic rollback); a manual rollback from the
// CLI runs through the same workflow; every outcome is alerted to a real local webhook receiver
// (signed, retried after a 500) whose URL and secret never enter a workflow history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AddressInfo } from 'node:net';
import { alertSignature } from '../../activities/alerts';
import { readBestState } from '../../activities/promotion';
import { closeRegistry, getModel, openRegistry } from '../../store/registry';
import { listEvents, setBest } from '../../store/registryBest';
import type { PromoteInput, PromoteResult } from '../../workflows/promote';
import type { PhaseProgress } from '../../workflows/progress';
import type { Client } from '@temporalio/client';
import { RINGRIFT_BIN, startTestServer, startTestWorker, testClient, type TestWorker } from '../helpers/temporal';
import { registerModels, tinySquare8Models } from '../eval/tinyModels';

interface Received {
  body: string;
  timestamp: string;
  signature: string;
  status: number;
}

/** `p`, or a failure naming what the run was waiting on (pending activities, worker logs). */
async function withDiagnosis<T>(p: Promise<T>, ms: number, workers: TestWorker[], client: Client, workflowId: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void client.workflow
        .getHandle(workflowId)
        .describe()
        .then((d) => {
          const pending = (d.raw.pendingActivities ?? []).map(
            (a) => `${a.activityType?.name} attempt ${a.attempt} ${a.lastFailure?.message ?? ''}`,
          );
          reject(
            new Error(
              `${workflowId} still ${d.status.name} after ${ms} ms; pending: ${pending.join('; ')}\n${workers.map((w) => w.output().slice(-1500)).join('\n---\n')}`,
            ),
          );
        }, reject);
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

test('promotion saga: gates, kills in steps 3 and 5, automatic and manual rollback, alerts', { timeout: 420_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-promote-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const registryDir = path.join(dir, 'models');
  const [m0, m1, m2, m3] = registerModels(registryDir, await tinySquare8Models([21, 22, 23, 24]));
  const reg = openRegistry(registryDir);
  t.after(() => closeRegistry(reg));
  setBest(reg, m0!.id, { reason: 'initial best' });

  // The webhook receiver: the first request gets a 500 (the activity retries), the rest 200.
  const received: Received[] = [];
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const status = received.length === 0 ? 500 : 200;
      received.push({
        body,
        timestamp: String(req.headers['x-ringrift-timestamp']),
        signature: String(req.headers['x-ringrift-signature']),
        status,
      });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  t.after(() => receiver.close());
  const secret = 'test-secret-5c1f';
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/T000/B000/tokenXYZ`;

  // Pointer and published file: never seen disagreeing in two polls in a row (a single poll may
  // straddle the rename and the commit of one transaction).
  let disagreements = 0;
  let polls = 0;
  let lastBad = false;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const s = readBestState(reg, 'square8_2p');
      const bad = s.bestSha256 !== s.publishedSha256;
      if (bad && lastBad) disagreements++;
      lastBad = bad;
      polls++;
      await sleep(50);
    }
  })();
  const consistent = (what: string) => {
    if (process.env.RR_DEBUG) console.log(`${new Date().toISOString()} ${what}`);
    const s = readBestState(reg, 'square8_2p');
    assert.equal(s.publishedSha256, s.bestSha256, `${what}: best.onnx agrees with the pointer`);
    return s;
  };

  const server = await startTestServer();
  t.after(() => server.stop());
  const env = { RINGRIFT_ALERT_WEBHOOK_URL: hookUrl, RINGRIFT_ALERT_SECRET: secret, RINGRIFT_REGISTRY_DIR: registryDir };
  const workers: TestWorker[] = [];
  const worker = async (extra: Record<string, string> = {}) => {
    const w = await startTestWorker(server.address, 'cpu', { ...env, ...extra });
    workers.push(w);
    return w;
  };
  t.after(() => Promise.all(workers.map((w) => w.stop('SIGKILL'))));
  const client = await testClient(server.address);
  t.after(() => client.connection.close());

  const base: PromoteInput = {
    mode: 'promote',
    configKey: 'square8_2p',
    registryDir,
    gauntlet: {
      configKey: 'square8_2p',
      boardType: 'square8',
      numPlayers: 2,
      registryDir,
      candidateTemplate: 'policy:{model}',
      baselines: ['random'],
      includeBest: false,
      earlierBests: 0,
      gamesPerOpponent: 8,
      seed: 3,
      roundsPerShard: 4,
      maxMoves: 3000,
      evalDir: path.join(dir, 'eval'),
      sprt: null,
      floors: { random: 0.99 },
      parallelShards: 2,
      heartbeatTimeoutSeconds: 4,
    },
    regressionGames: 8,
    regressionMarginElo: 20,
    reloadQueues: ['cpu'],
  };

  // 1. Gates fail: 8 games cannot put the Wilson lower bound above 0.99 → rejected, best unchanged.
  // This worker pauses inside step 3 (after the pointer and best.onnx moved); run 1 never gets there.
  const paused = await worker({ RINGRIFT_TEST_PAUSE_PROMOTED_MS: '120000' });
  const r1 = (await client.workflow.execute('promote', {
    taskQueue: 'cpu',
    workflowId: 'promote-gates',
    args: [{ ...base, candidate: m1!.id }],
  })) as PromoteResult;
  assert.equal(r1.outcome, 'rejected');
  assert.match(r1.reason, /^gates failed: vs random: win rate \d\.\d{3} \(95% lower bound \d\.\d{3}\) is below the floor 0\.99$/);
  assert.equal(r1.gauntlet!.games, 8);
  assert.deepEqual(r1.compensated, ['markRejected']);
  assert.equal(getModel(reg, m1!.id)!.status, 'rejected');
  assert.equal(getModel(reg, m1!.id)!.statusReason, r1.reason);
  assert.equal(consistent('after the rejection').bestId, m0!.id);

  // 2. Kill inside step 3, after the pointer and best.onnx moved and before the step reported back.
  const h2 = await client.workflow.start('promote', {
    taskQueue: 'cpu',
    workflowId: 'promote-kill-step3',
    args: [{ ...base, candidate: m2!.id, skipGates: true, regressionMarginElo: 1e9 }],
  });
  for (let i = 0; i < 600 && !paused.output().includes('pausing in promoted'); i++) await sleep(100);
  assert.match(paused.output(), /pausing in promoted/);
  assert.equal((await paused.stop('SIGKILL')).signal, 'SIGKILL');
  const mid = consistent('with the worker killed inside step 3');
  assert.equal(mid.bestId, m2!.id);
  await worker();
  const r2 = (await withDiagnosis(h2.result(), 90_000, workers, client, 'promote-kill-step3')) as PromoteResult;
  assert.equal(r2.outcome, 'promoted');
  assert.equal(r2.previousBestId, m0!.id, 'the retried step reports the same previous best');
  assert.equal(r2.regression!.games, 8);
  assert.equal(consistent('after step 3 completed').bestId, m2!.id);
  assert.equal(listEvents(reg, { modelId: m2!.id }).filter((e) => e.kind === 'promoted').length, 1, 'promoted once');

  // 3. Kill inside step 5 (a regression-check shard); the margin demands the new best be proven better
  //    than any 24-game sample can show, so the check fails and the saga rolls back automatically.
  await worker();
  const h3 = await client.workflow.start('promote', {
    taskQueue: 'cpu',
    workflowId: 'promote-kill-step5',
    args: [{ ...base, candidate: m3!.id, skipGates: true, regressionGames: 24, regressionMarginElo: -1e9 }],
  });
  let victim: number | undefined;
  for (let i = 0; i < 900 && victim === undefined; i++) {
    await sleep(100);
    const p = await h3.query<PhaseProgress>('progress').catch(() => null);
    if (p?.phase !== 'regression') continue;
    const desc = await client.workflow
      .getHandle('promote-kill-step5-regression')
      .describe()
      .catch(() => null);
    const act = (desc?.raw.pendingActivities ?? []).find((a) => a.activityType?.name === 'playGauntletShard' && a.lastWorkerIdentity);
    const m = act?.lastWorkerIdentity?.match(/^ringrift-cpu-(\d+)@/);
    if (m) victim = Number(m[1]);
  }
  const killed = workers.find((w) => w.pid === victim);
  assert.ok(killed, `a worker runs a regression shard (${victim})`);
  assert.equal(consistent('in step 5').bestId, m3!.id);
  await killed.stop('SIGKILL');
  const r3 = (await withDiagnosis(h3.result(), 120_000, workers, client, 'promote-kill-step5')) as PromoteResult;
  assert.equal(r3.outcome, 'rolled_back');
  assert.equal(r3.regression!.games, 24);
  assert.match(r3.reason, /^regression: .* over 24 games/);
  assert.deepEqual(r3.compensated, ['restoreBest', 'markRejected']);
  assert.equal(consistent('after the automatic rollback').bestId, m2!.id);
  assert.equal(getModel(reg, m3!.id)!.status, 'rejected');
  assert.equal(getModel(reg, m2!.id)!.status, 'best');

  // 4. Manual rollback from the CLI, through the same workflow: m2 → m0.
  const cfgDir = path.join(dir, 'config');
  fs.mkdirSync(cfgDir);
  fs.writeFileSync(path.join(cfgDir, 'pipeline.yaml'), 'health:\n  queues: [cpu]\n');
  const cliEnv = {
    ...process.env,
    RINGRIFT_TEMPORAL_ADDRESS: server.address,
    RINGRIFT_CONFIG_DIR: cfgDir,
    RINGRIFT_REGISTRY_DIR: registryDir,
  };
  // asynchronous: the webhook receiver lives in this process and must keep answering meanwhile
  const cli = (...args: string[]) =>
    promisify(execFile)(RINGRIFT_BIN, args, { env: cliEnv, encoding: 'utf8' }).then(
      (r) => ({ status: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ status: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  const rb = await cli(
    'models',
    'rollback',
    '--config-key',
    'square8_2p',
    '--reason',
    'operator test',
    '--workflow-id',
    'rollback-cli',
    '--wait',
  );
  assert.equal(rb.status, 0, rb.stderr);
  assert.match(rb.stdout, /rolled_back: square8_2p-\w+ \(previous best square8_2p-\w+\): manual rollback: operator test/);
  assert.equal(consistent('after the manual rollback').bestId, m0!.id);
  assert.equal(getModel(reg, m2!.id)!.statusReason, 'manual rollback: operator test');
  const rolled = listEvents(reg, { configKey: 'square8_2p' }).filter((e) => e.kind === 'rolled_back');
  assert.deepEqual(
    rolled.map((e) => [e.modelId, e.previousBestId, e.workflowId]),
    [
      [m3!.id, m2!.id, 'promote-kill-step5'],
      [m2!.id, m0!.id, 'rollback-cli'],
    ],
  );

  // Bad input: one line, exit 2, nothing started.
  const bad = [
    ['models', 'promote', 'square8_2p-000000000000'],
    ['models', 'promote', m1!.id],
    ['models', 'rollback', '--config-key', 'hex8_3p'],
    ['pipeline', 'run', 'promote', '--candidate', m0!.id],
  ];
  for (const [i, r] of (await Promise.all(bad.map((args) => cli(...args)))).entries()) {
    assert.equal(r.status, 2, `${bad[i]!.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  assert.equal(consistent('after the refused commands').bestId, m0!.id);

  polling = false;
  await poller;
  assert.ok(polls > 20, `${polls} polls`);
  assert.equal(disagreements, 0, 'pointer and best.onnx never disagreed in two polls in a row');

  // Alerts: one per outcome (after one 500 and its retry), signed, in order; URL and secret in no history.
  await sleep(500);
  const ok = received.filter((r) => r.status === 200);
  assert.equal(received[0]!.status, 500);
  for (const r of received) assert.equal(r.signature, alertSignature(secret, r.timestamp, r.body));
  const kinds = ok.map((r) => (JSON.parse(r.body) as { ringrift: { kind: string; modelId: string } }).ringrift);
  assert.deepEqual(
    kinds.map((k) => [k.kind, k.modelId]),
    [
      ['rejected', m1!.id],
      ['promoted', m2!.id],
      ['rolled_back', m3!.id],
      ['rolled_back', m2!.id],
    ],
  );
  assert.match((JSON.parse(ok[0]!.body) as { text: string }).text, /^:x: RingRift square8_2p: .* rejected: gates failed/);
  for (const id of ['promote-gates', 'promote-kill-step3', 'promote-kill-step5', 'promote-kill-step5-regression', 'rollback-cli']) {
    const history = JSON.stringify(await client.workflow.getHandle(id).fetchHistory());
    assert.ok(!history.includes('tokenXYZ') && !history.includes(secret), `${id}: no webhook URL or secret in the history`);
  }
});
