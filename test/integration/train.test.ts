// Integration: the train phase on a real Temporal server with real worker processes and real PyTorch.
// A worker is SIGKILLed mid-training: its trainer dies with it, another worker resumes from the
// checkpoint, the run reaches exactly the target step, and exactly one model is registered. Then the
// CLI: dry run, models list/show/export, bad inputs (one line, nothing registered), and a cancel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { WORKFLOW_QUEUE } from '../../workers/run';
import { fileSha256Sync } from '../../store/gameDb';
import { listModels, withRegistry } from '../../store/registry';
import { modelLineage } from '../../store/registryLineage';
import { trainRunDir } from '../../activities/train';
import type { TrainInput, TrainResult } from '../../workflows/train';
import type { PhaseProgress } from '../../workflows/progress';
import { readRun } from '../../cli/runState';
import { RINGRIFT_BIN, startTestServer, startTestWorker, testClient } from '../helpers/temporal';
import { makeTrainingNpz } from '../helpers/trainingData';
import { tmpDir } from '../parity/helpers';

/** Pids of trainer processes working in `runDir` (a live orphan would show here). */
function trainerPids(runDir: string): number[] {
  const r = spawnSync('pgrep', ['-f', `trainer train .*${runDir}`], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((p) => p !== process.pid);
}

async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(300);
  }
}

function trainInput(npz: string, registryDir: string, steps: number): TrainInput {
  return {
    configKey: 'square8_2p',
    npz: [npz],
    initFrom: 'scratch',
    registryDir,
    hyperparameters: {
      steps,
      batchSize: 64,
      learningRate: 0.002,
      weightDecay: 0.0001,
      warmupSteps: null,
      preset: 'cpu',
      blocks: 2,
      channels: 16,
      windowPositions: 500000,
      checkpointEvery: 40,
      seed: 7,
      threads: 1,
    },
    queue: 'gpu',
    fallbackQueue: 'cpu',
    heartbeatTimeoutSeconds: 5,
  };
}

/** Live progress as `pipeline status` shows it: the query plus the trainer's heartbeat (step, losses). */
async function progress(client: Client, id: string): Promise<PhaseProgress> {
  const { progress: p } = await readRun(client, id);
  if (!p) throw new Error('no progress yet');
  return p;
}

test('train phase: SIGKILLed worker, resume from checkpoint, exactly one model; CLI and bad inputs', { timeout: 600_000 }, async (t) => {
  const dir = tmpDir(t, 'rr-train-');
  const registryDir = path.join(dir, 'models');
  const data = await makeTrainingNpz({ board: 'square8', players: 2, games: 24, seed: 11, dir: path.join(dir, 'data') });
  assert.ok(data.positions > 1000, `enough positions (${data.positions})`);

  const server = await startTestServer();
  t.after(() => server.stop());
  const client = await testClient(server.address);
  t.after(() => client.connection.close());
  const env = { RINGRIFT_REGISTRY_DIR: registryDir };
  const first = await startTestWorker(server.address, 'cpu', env);
  t.after(() => first.stop('SIGKILL'));

  // ── fault test ──
  // long enough that a heartbeat (throttled to 80% of the 5 s timeout) shows the run past a checkpoint
  const steps = 1000;
  const wfId = 'it-train-kill';
  const runDir = trainRunDir(registryDir, wfId);
  const handle = await client.workflow.start('train', {
    taskQueue: WORKFLOW_QUEUE,
    workflowId: wfId,
    args: [trainInput(data.npzPath, registryDir, steps)],
  });
  // wait until a checkpoint exists and training went past it
  const killedAt = await waitFor('a checkpoint, then more steps', 240_000, async () => {
    const p = await progress(client, wfId);
    const ckpt = fs.existsSync(path.join(runDir, 'checkpoint.pt'));
    return ckpt && p.done >= 50 && p.done < steps - 20 ? p.done : undefined;
  }).catch(async (err: Error) => {
    const desc = await handle.describe();
    const pending = (desc.raw.pendingActivities ?? []).map((a) => `${a.activityType?.name}: ${a.lastFailure?.message ?? 'no failure'}`);
    throw new Error(`${err.message}; workflow ${desc.status.name}; ${pending.join('; ')}\n${first.output()}`);
  });
  assert.ok(trainerPids(runDir).length > 0, 'the trainer runs while the worker lives');
  await first.stop('SIGKILL');
  // the trainer notices its worker is gone (stdin closes) and exits: no orphan keeps writing checkpoints
  await waitFor('the orphaned trainer to exit', 20_000, async () => (trainerPids(runDir).length === 0 ? true : undefined));

  const second = await startTestWorker(server.address, 'cpu', env);
  t.after(() => second.stop('SIGKILL'));
  const res = (await handle.result()) as TrainResult;
  t.diagnostic(
    `fault test: worker SIGKILLed at step ${killedAt}; attempt ${res.run.attempt} resumed from checkpoint step ${res.run.resumedFrom} and finished at step ${res.run.steps}; export max |diff| ${JSON.stringify(res.run.exportMaxAbsDiff)}`,
  );
  assert.equal(res.run.steps, steps, 'the final step is the target');
  assert.equal(res.queue, 'cpu', 'no gpu worker polls: the cpu fallback ran it');
  assert.ok(res.run.attempt >= 2, `a retry finished the run (attempt ${res.run.attempt})`);
  assert.ok(
    res.run.resumedFrom !== null && res.run.resumedFrom >= 40 && res.run.resumedFrom <= killedAt + 40,
    `resumed from ${res.run.resumedFrom} (killed near ${killedAt})`,
  );
  assert.equal(res.run.resumedFrom % 40, 0, 'resumed from a checkpoint step');
  assert.match(second.output(), /training resumed from checkpoint/, 'the worker log shows the resume');
  assert.ok(res.run.exportMaxAbsDiff.policy < 1e-4 && res.run.exportMaxAbsDiff.value < 1e-4, 'ONNX export checked');
  const models = withRegistry(registryDir, (reg) => listModels(reg));
  assert.equal(models.length, 1, 'exactly one model registered');
  const model = models[0]!;
  assert.equal(model.id, res.model.id);
  assert.equal(model.status, 'candidate');
  assert.equal(fileSha256Sync(model.path), model.sha256);
  assert.ok(model.checkpointPath && fs.existsSync(model.checkpointPath), 'the checkpoint is kept for warm starts');
  assert.equal(model.trainingData[0]!.sha256, fileSha256Sync(data.npzPath));
  const lineage = withRegistry(registryDir, (reg) => modelLineage(reg, model.id));
  assert.equal(lineage.length, 1);
  assert.equal(lineage[0]!.data[0]!.npz.state, 'ok');
  assert.equal(lineage[0]!.data[0]!.gameDb?.path, path.resolve(data.dbPath), 'lineage reaches the game DB');
  assert.equal(lineage[0]!.data[0]!.gameDb?.state, 'ok');
  assert.ok(!fs.existsSync(runDir), 'the run folder is removed once the registry holds the model');

  // ── CLI ──
  const cli = (...args: string[]) =>
    spawnSync(RINGRIFT_BIN, args, {
      encoding: 'utf8',
      env: { ...process.env, RINGRIFT_TEMPORAL_ADDRESS: server.address, RINGRIFT_REGISTRY_DIR: registryDir },
      timeout: 300_000,
    });
  const dryRun = (initFrom: string) =>
    cli(
      'pipeline',
      'run',
      'train',
      '--npz',
      path.dirname(data.npzPath),
      '--config-key',
      'square8_2p',
      '--init-from',
      initFrom,
      '--dry-run',
    );
  const dry = dryRun('best');
  assert.equal(dry.status, 2, 'no best yet');
  assert.match(dry.stderr, /--init-from: no best model for square8_2p/);
  const dry2 = dryRun(model.id);
  assert.equal(dry2.status, 0, dry2.stderr);
  assert.match(dry2.stdout, new RegExp(`warm start from ${model.id}`));
  assert.match(dry2.stdout, /1 NPZ file\(s\)/);

  const list = cli('models', 'list', '--config-key', 'square8_2p');
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${model.id}\\s+candidate\\s+2x16`));
  const show = cli('models', 'show', model.id);
  assert.equal(show.status, 0, show.stderr);
  assert.match(show.stdout, /lineage:/);
  assert.ok(show.stdout.includes(path.resolve(data.dbPath)), 'show prints the game DB of the lineage');
  const exported = path.join(dir, 'out', 'm.onnx');
  assert.equal(cli('models', 'export', model.id, exported).status, 0);
  assert.equal(fileSha256Sync(exported), model.sha256);
  const again = cli('models', 'export', model.id, exported);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /already exists; refusing to overwrite/);

  // bad inputs: one line each, exit 2, nothing registered
  const truncated = path.join(dir, 'bad', 'truncated.npz');
  fs.mkdirSync(path.dirname(truncated), { recursive: true });
  const bytes = fs.readFileSync(data.npzPath);
  fs.writeFileSync(truncated, bytes.subarray(0, bytes.length >> 1));
  const threeP = await makeTrainingNpz({ board: 'square8', players: 3, games: 4, seed: 3, dir: path.join(dir, 'data3') });
  const bad: [string[], RegExp][] = [
    [['--npz', data.npzPath, '--config-key', 'hex8_2p'], /--npz: NPZ .* holds square8_2p positions, not hex8_2p/],
    [['--npz', path.join(dir, 'nope.npz'), '--config-key', 'square8_2p'], /--npz: NPZ .*nope\.npz does not exist/],
    [['--npz', truncated, '--config-key', 'square8_2p'], /--npz: NPZ .*truncated\.npz cannot be read/],
    [
      ['--npz', threeP.npzPath, '--config-key', 'square8_3p', '--init-from', model.id],
      /--init-from: model .* is a square8_2p model, not square8_3p/,
    ],
    [['--npz', data.npzPath, '--config-key', 'square8_2p', '--steps', '0'], /--steps: must be at least 1/],
  ];
  for (const [args, msg] of bad) {
    const r = cli('pipeline', 'run', 'train', ...args, '--wait');
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  }
  // the same checks hold for a run started without the CLI: the plan refuses it, nothing is trained
  const refused = client.workflow.execute('train', {
    taskQueue: WORKFLOW_QUEUE,
    workflowId: 'it-train-refused',
    args: [{ ...trainInput(truncated, registryDir, 10) }],
  });
  await assert.rejects(refused, (err: unknown) => err instanceof WorkflowFailedError && /cannot be read/.test(String(err.cause?.message)));

  // ── cancel: the trainer stops, nothing is registered ──
  const cancelId = 'it-train-cancel';
  const cancelRun = trainRunDir(registryDir, cancelId);
  const h2 = await client.workflow.start('train', {
    taskQueue: WORKFLOW_QUEUE,
    workflowId: cancelId,
    args: [trainInput(data.npzPath, registryDir, 100000)],
  });
  await waitFor('training to start', 120_000, async () => ((await progress(client, cancelId)).done >= 10 ? true : undefined));
  assert.ok(trainerPids(cancelRun).length > 0);
  await h2.cancel();
  await assert.rejects(h2.result());
  await waitFor('the cancelled trainer to exit', 20_000, async () => (trainerPids(cancelRun).length === 0 ? true : undefined));
  assert.equal(withRegistry(registryDir, (reg) => listModels(reg)).length, 1, 'still exactly one model');
});
