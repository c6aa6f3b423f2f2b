// Integration: the improvement loop on the real server with a real worker, real self-play and real
// training. Step 1 collects a self-play batch (below the data threshold); step 2 trains, and `loop halt`
// in the middle of its training cancels it: no pending activity remains, no trainer process, no model
// promoted and no best pointer; the loop waits, halted, at a safe point (`loop status` says so). `loop
// update` (update-config) shortens training, `loop resume` continues: step 3 trains and promotes; `loop
// pause` during it makes the loop rest after it, and `loop stop` ends it there. Every step ran in its own
// run (continue-as-new), each history small.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { readRun } from '../../cli/runState';
import { bestModel, listModels, withRegistry } from '../../store/registry';
import type { LoopResult, LoopStatus } from '../../workflows/improvementLoop';
import { childId } from '../../workflows/trainingIteration';
import { RINGRIFT_BIN, startTestServer, startTestWorker, testClient } from '../helpers/temporal';

const LOOP = 'loop-square8_2p';

/** Processes whose command line mentions `needle` (the trainer's --out-dir lies under the registry). */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(needle)) pids.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return pids;
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 150_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await sleep(250);
  }
}

test('improvement loop: collect, halt mid-training, update, resume, pause, stop', { timeout: 420_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-loop-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const registryDir = path.join(dir, 'models');
  const cfgDir = path.join(dir, 'config');
  fs.mkdirSync(cfgDir);
  fs.writeFileSync(
    path.join(cfgDir, 'pipeline.yaml'),
    [
      'health:',
      '  queues: [cpu]',
      'phases:',
      '  train:',
      '    batchSize: 32',
      '    checkpointEvery: 20',
      '    threads: 1',
      '  iteration:',
      '    firstPlayer: random',
      `    dataDir: ${path.join(dir, 'data')}`,
      '    regressionGames: 0',
      'loop:',
      '  gamesPerBatch: 4',
      '  minNewPositions: 1',
      '',
    ].join('\n'),
  );
  const server = await startTestServer();
  t.after(() => server.stop());
  const env = { RINGRIFT_CONFIG_DIR: cfgDir, RINGRIFT_REGISTRY_DIR: registryDir };
  const worker = await startTestWorker(server.address, 'cpu', env);
  t.after(() => worker.stop('SIGKILL'));
  const client: Client = await testClient(server.address);
  t.after(() => client.connection.close());
  const cliEnv = { ...process.env, ...env, RINGRIFT_TEMPORAL_ADDRESS: server.address };
  const cli = (...args: string[]) =>
    promisify(execFile)(RINGRIFT_BIN, ['loop', ...args], { env: cliEnv, encoding: 'utf8' }).then(
      (r) => ({ status: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ status: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  const loop = client.workflow.getHandle(LOOP);
  const status = () => loop.query<LoopStatus>('status');

  const bad = await cli('start', '--config-keys', 'square8_2p,square9_2p');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^ringrift: --config-keys: "square9_2p" is not a config key/);
  assert.equal(
    (await cli('status')).stderr,
    'ringrift: no improvement loop is running: start one with ringrift loop start --config-keys K\n',
  );

  // Long training in step 2, so that the halt lands in the middle of it.
  const started = await cli('start', '--config-keys', 'square8_2p', '--train-steps', '100000', '--skip-gates');
  assert.equal(started.status, 0, started.stderr);
  assert.match(started.stdout, /^started loop: workflow loop-square8_2p\n/);

  const step2 = `${LOOP}-i2-square8_2p`;
  const trainId = childId(step2, 'train');
  await until('step 2 trains (steps done in the heartbeat)', async () => {
    const run = await readRun(client, trainId);
    return run.status === 'RUNNING' && (run.progress?.done ?? 0) > 0;
  });
  const s1 = (await status()).recent[0]!;
  assert.deepEqual([s1.iteration, s1.kind, s1.outcome], [1, 'collect', 'collected']);
  assert.equal(s1.games, 4);
  assert.ok(s1.positions > 0);
  assert.ok(processesMentioning(registryDir).length > 0, 'a trainer runs');

  const halted = await cli('halt');
  assert.equal(halted.stdout, `loop ${LOOP}: halting: the running step is being cancelled; \`loop resume\` continues\n`);
  const atRest = await until('the loop rests, halted', async () => {
    const s = await status();
    return s.mode === 'halted' && s.current === null && s.phase === 'halted' && s;
  });
  assert.deepEqual(
    atRest.recent.map((r) => [r.iteration, r.outcome]),
    [
      [1, 'collected'],
      [2, 'halted'],
    ],
  );
  for (const id of [step2, trainId]) {
    const d = await client.workflow.getHandle(id).describe();
    assert.equal(d.status.name, 'CANCELLED', `${id} cancelled`);
    assert.deepEqual(d.raw.pendingActivities ?? [], [], `${id}: no pending activity`);
  }
  assert.deepEqual(processesMentioning(registryDir), [], 'no trainer process remains');
  const registry = withRegistry(registryDir, (reg) => ({ best: bestModel(reg, 'square8_2p'), models: listModels(reg) }), { create: true });
  assert.equal(registry.best, null, 'best pointer unchanged');
  assert.deepEqual(registry.models, [], 'nothing registered or promoted from the halted step');
  assert.equal(fs.existsSync(path.join(registryDir, 'square8_2p', 'best.onnx')), false);
  const shown = await cli('status');
  assert.match(shown.stdout, /^loop loop-square8_2p: step 2, halted, halted\n/);
  assert.match(shown.stdout, /\n {2}square8_2p +\d+\.\d\d +4 +\d+ +0 {2}none \/ - \/ halted\n/);

  // update-config, then resume: step 3 trains briefly and promotes; pause, then stop at the safe point.
  assert.match((await cli('update', '--train-steps', '20')).stdout, /next steps use \{"trainSteps":20\}/);
  assert.equal((await cli('resume')).stdout, `loop ${LOOP}: resumed\n`);
  await until('step 3 runs', async () => (await status()).current?.workflowId === `${LOOP}-i3-square8_2p`);
  assert.equal((await cli('pause')).stdout, `loop ${LOOP}: pauses after the current step\n`);
  const paused = await until('the loop rests, paused, after step 3', async () => {
    const s = await status();
    return s.mode === 'paused' && s.phase === 'paused' && s.current === null && s;
  });
  assert.equal(paused.recent.length, 3);
  assert.equal((await cli('stop')).stdout, `loop ${LOOP}: stops after the current step\n`);
  const result = (await loop.result()) as LoopResult;
  assert.equal(result.ended, 'stopped');
  const s3 = result.recent.at(-1)!;
  assert.deepEqual([s3.iteration, s3.kind, s3.outcome], [3, 'train', 'promoted']);
  assert.ok(s3.trainLoss !== null && s3.valLoss !== null, 'losses reported');
  const key = result.keys[0]!;
  assert.equal(key.trainings, 1);
  assert.equal(key.positionsSinceTraining, 0, 'the threshold counts from the training on');
  assert.equal(key.bestId, s3.candidateId);
  assert.equal(
    withRegistry(registryDir, (reg) => bestModel(reg, 'square8_2p')?.id),
    s3.candidateId,
  );

  // one step per run: each history stays small
  const runs: string[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowId = '${LOOP}'` })) runs.push(w.runId);
  assert.ok(runs.length >= 3, `continue-as-new every step (${runs.length} runs)`);
  for (const runId of runs) {
    const h = await client.workflow.getHandle(LOOP, runId).fetchHistory();
    assert.ok(h.events!.length < 120, `run ${runId}: ${h.events!.length} events`);
  }
});
