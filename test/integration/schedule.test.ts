// Integration: the nightly promotion Schedule on the real server. `ringrift schedule nightly` creates
// it (overlap SKIP, catch-up window, a note; `temporal schedule list` and `ringrift schedule list` show
// it); triggering it at once starts nightlyPromotion through the validated-input path (the run tags
// itself; a bad input fails the run at once, naming the field); the run judges the newest untested
// candidates (not the one older than best, not more than maxCandidates) through the promotion saga
// with real games and real networks; `schedule delete` removes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ScheduleOverlapPolicy, WorkflowFailedError, type Client } from '@temporalio/client';
import { REPO_ROOT } from '../../config/load';
import { closeRegistry, getModel, openRegistry } from '../../store/registry';
import { setBest } from '../../store/registryBest';
import type { NightlyResult } from '../../workflows/nightlyPromotion';
import { RINGRIFT_BIN, startTestServer, startTestWorker, testClient } from '../helpers/temporal';
import { registerModels, tinySquare8Models } from '../eval/tinyModels';

/** The id of the newest run a schedule started, once there is one. */
async function startedRun(client: Client, scheduleId: string): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const d = await client.schedule.getHandle(scheduleId).describe();
    const last = d.info.recentActions.at(-1);
    if (last) return last.action.workflow.workflowId;
    await sleep(100);
  }
  throw new Error(`schedule ${scheduleId} started no run`);
}

/** Schedule lists come from the visibility store, which follows a change a moment later. */
async function eventually(what: string, fn: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await fn()) return;
    await sleep(200);
  }
  throw new Error(`never: ${what}`);
}

test('nightly promotion schedule: create, list, trigger now, judge the newest candidates, delete', { timeout: 300_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-schedule-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const registryDir = path.join(dir, 'models');
  // created one day apart, in this order: an old untested candidate, the best, three newer candidates
  const [old, best, c1, c2, c3] = registerModels(registryDir, await tinySquare8Models([31, 32, 33, 34, 35]));
  const reg = openRegistry(registryDir);
  t.after(() => closeRegistry(reg));
  setBest(reg, best!.id, { reason: 'initial best' });

  const cfgDir = path.join(dir, 'config');
  fs.mkdirSync(cfgDir);
  // small real gauntlets: 4 policy games vs random with a floor every candidate passes, a 2-game regression check
  fs.writeFileSync(
    path.join(cfgDir, 'pipeline.yaml'),
    [
      'health:',
      '  queues: [cpu]',
      'phases:',
      '  gauntlet:',
      '    candidatePlayer: "policy:{model}"',
      '    gamesPerBaseline: 4',
      '    baselines: [random]',
      '    includeBest: false',
      '    roundsPerShard: 2',
      '    floors: { random: 0 }',
      `    evalDir: ${path.join(dir, 'eval')}`,
      '  promote:',
      '    regressionGames: 2',
      '    regressionMarginElo: 100000',
      'nightly:',
      '  maxCandidates: 2',
      '  catchupWindowMinutes: 30',
      '',
    ].join('\n'),
  );
  const server = await startTestServer();
  t.after(() => server.stop());
  const env = { RINGRIFT_CONFIG_DIR: cfgDir, RINGRIFT_REGISTRY_DIR: registryDir };
  const worker = await startTestWorker(server.address, 'cpu', env);
  t.after(() => worker.stop('SIGKILL'));
  const client = await testClient(server.address);
  t.after(() => client.connection.close());
  const cliEnv = { ...process.env, ...env, RINGRIFT_TEMPORAL_ADDRESS: server.address };
  const cli = (...args: string[]) =>
    promisify(execFile)(RINGRIFT_BIN, args, { env: cliEnv, encoding: 'utf8' }).then(
      (r) => ({ status: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ status: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  // Bad options: one line each, nothing created.
  const badAt = await cli('schedule', 'nightly', '--config-key', 'square8_2p', '--at', '25:00');
  assert.equal(badAt.status, 2);
  assert.equal(badAt.stderr, 'ringrift: --at: "25:00" is not a time of day: use HH:MM, e.g. 02:00\n');
  const badZone = await cli('schedule', 'nightly', '--config-key', 'square8_2p', '--timezone', 'Mars/Olympus');
  assert.equal(badZone.stderr, 'ringrift: --timezone: unknown time zone "Mars/Olympus": use an IANA name, e.g. UTC or Europe/Berlin\n');

  const created = await cli('schedule', 'nightly', '--config-key', 'square8_2p', '--at', '02:00', '--timezone', 'Europe/Berlin');
  assert.equal(created.status, 0, created.stderr);
  assert.match(
    created.stdout,
    /^created schedule nightly-square8_2p: nightlyPromotion of square8_2p \(square8\) every day at 02:00 Europe\/Berlin\n/,
  );
  const again = await cli('schedule', 'nightly', '--config-key', 'square8_2p');
  assert.equal(again.status, 2);
  assert.match(again.stderr, /schedule "nightly-square8_2p" already exists: delete it first/);

  const handle = client.schedule.getHandle('nightly-square8_2p');
  const d = await handle.describe();
  assert.equal(d.policies.overlap, ScheduleOverlapPolicy.SKIP);
  assert.equal(d.policies.catchupWindow, 30 * 60_000);
  assert.equal(d.spec.timezone, 'Europe/Berlin');
  assert.deepEqual(
    d.action.type === 'startWorkflow' && d.action.args,
    [{ configKey: 'square8_2p' }],
    'the raw input the workflow validates',
  );
  const next = d.info.nextActionTimes[0]!;
  const berlin = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit' }).format(next);
  assert.equal(berlin, '02:00', 'next run at 02:00 Berlin time');

  let listed = '';
  await eventually('ringrift schedule list shows it', async () => (listed = (await cli('schedule', 'list')).stdout).includes('nightly-'));
  assert.match(
    listed,
    /^nightly-square8_2p {2}nightlyPromotion {2}next \S+ {2}overlap SKIP {2}catch-up 30 min\n {2}nightly promotion of square8_2p at 02:00 Europe\/Berlin/m,
  );
  const temporal = path.join(REPO_ROOT, 'tools/bin/temporal');
  await eventually('temporal schedule list shows it', async () =>
    (await promisify(execFile)(temporal, ['schedule', 'list', '--address', server.address])).stdout.includes('nightly-square8_2p'),
  );

  // Trigger now: the run validates its input, tags itself, plans c2 and c3 (the newest two untested),
  // and promotes them in turn through the saga.
  await handle.trigger();
  const runId = await startedRun(client, 'nightly-square8_2p');
  assert.match(runId, /^nightly-square8_2p-/);
  const r = (await client.workflow.getHandle(runId).result()) as NightlyResult;
  assert.equal(r.bestBefore, best!.id);
  assert.deepEqual(
    r.judged.map((j) => [j.candidate, j.outcome]),
    [
      [c2!.id, 'promoted'],
      [c3!.id, 'promoted'],
    ],
  );
  assert.equal(r.skipped, 1, 'c1 waits for another night');
  assert.equal(r.bestAfter, c3!.id);
  assert.equal(getModel(reg, c3!.id)!.status, 'best');
  assert.equal(getModel(reg, c1!.id)!.status, 'candidate');
  assert.equal(getModel(reg, old!.id)!.status, 'candidate', 'older than the best: not judged');
  const attrs = (await client.workflow.getHandle(runId).describe()).searchAttributes;
  assert.deepEqual(attrs.RingRiftConfigKey, ['square8_2p']);
  assert.deepEqual(attrs.RingRiftPhase, ['nightly_promotion']);

  // The same path refuses a bad input at once, naming the field.
  await client.schedule.create({
    scheduleId: 'nightly-bad',
    spec: { calendars: [{ hour: 3 }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'nightlyPromotion',
      taskQueue: 'cpu',
      workflowId: 'nightly-bad',
      args: [{ configKey: 'square9_2p' }],
    },
  });
  await client.schedule.getHandle('nightly-bad').trigger();
  const bad = await startedRun(client, 'nightly-bad');
  await assert.rejects(client.workflow.getHandle(bad).result(), (err: unknown) => {
    assert.ok(err instanceof WorkflowFailedError);
    assert.match((err.cause as Error).message, /^invalid nightlyPromotion input: configKey: "square9_2p" is not a config key/);
    return true;
  });

  const deleted = await cli('schedule', 'delete', 'nightly-square8_2p');
  assert.equal(deleted.stdout, 'deleted schedule nightly-square8_2p\n');
  await client.schedule.getHandle('nightly-bad').delete();
  const gone = await cli('schedule', 'delete', 'nightly-square8_2p');
  assert.equal(gone.status, 2);
  assert.equal(gone.stderr, 'ringrift: no schedule "nightly-square8_2p" (see ringrift schedule list)\n');
  await eventually('the list is empty again', async () =>
    (await cli('schedule', 'list')).stdout.startsWith('no schedules: create one with'),
  );
});
