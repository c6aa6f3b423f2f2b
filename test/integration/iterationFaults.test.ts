// Integration: one training iteration through every kind of crash. While self-play plays a shard the
// dev server and the worker are SIGKILLed and restarted on the same SQLite file; then the worker is
// SIGKILLed again as the iteration enters each later phase (parity, export, train, promote) and a new
// one started. The iteration completes with exactly the planned games, one run per phase, one model
// registered and promoted, and the best pointer and best.onnx in agreement.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection, type Client } from '@temporalio/client';
import { ensureSearchAttributes, freePort, spawnDevServer, tailFile, waitForTemporal } from '../../cli/devServer';
import { loadConfig } from '../../config/load';
import { pendingWork } from '../../cli/runState';
import { closeGameDb, countGames, fileSha256Sync, listGameIds, openGameDb } from '../../store/gameDb';
import { bestModel, listModels, publishedBestPath, withRegistry } from '../../store/registry';
import { ITERATION_PHASES, childId, type IterationProgress, type TrainingIterationResult } from '../../workflows/trainingIteration';
import { startTestWorker, testClient, type TestWorker } from '../helpers/temporal';
import { tinyIterationConfig } from '../helpers/iteration';
import { tmpDir } from '../parity/helpers';

/** A dev server on a fixed port and SQLite file, so that a SIGKILLed one restarts with the same history. */
async function devServer(dir: string, port: number): Promise<ChildProcess> {
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
  process.once('exit', () => child.kill('SIGKILL'));
  const address = `127.0.0.1:${port}`;
  try {
    await waitForTemporal(address, 'default', 90_000, () => child.exitCode === null);
    const conn = await Connection.connect({ address });
    await ensureSearchAttributes(conn, 'default', loadConfig().pipeline.searchAttributes).finally(() => conn.close());
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${tailFile(logFile)}`);
  }
  return child;
}

async function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await gone;
}

/** The iteration's progress query (null while no worker answers it). */
async function progressOf(client: Client, id: string): Promise<IterationProgress | null> {
  return client.workflow
    .getHandle(id)
    .query<IterationProgress>('progress')
    .catch(() => null);
}

test(
  'training iteration: server restart in self-play, worker SIGKILL in every later phase; nothing lost or duplicated',
  { timeout: 600_000 },
  async (t) => {
    const dir = tmpDir(t, 'rr-iterfault-');
    // long enough self-play shards that one is mid-way when killed; short heartbeats so retries come soon
    const games = 300;
    const cfgDir = tinyIterationConfig(dir, ['    heartbeatTimeoutSeconds: 6']);
    const cfgWithShards = path.join(cfgDir, 'pipeline.yaml');
    fs.writeFileSync(cfgWithShards, fs.readFileSync(cfgWithShards, 'utf8').replace('shardSize: 4', 'shardSize: 150'));
    const env = { RINGRIFT_CONFIG_DIR: cfgDir };
    const serverDir = path.join(dir, 'server');
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    let server = await devServer(serverDir, port);
    t.after(() => killed(server));
    let worker: TestWorker = await startTestWorker(address, 'cpu', env);
    t.after(() => worker.stop('SIGKILL'));
    let client = await testClient(address);
    t.after(() => client.connection.close());

    const id = 'iter-faults';
    await client.workflow.start('trainingIteration', {
      taskQueue: 'cpu',
      workflowId: id,
      args: [{ configKey: 'square8_2p', games, seed: 9 }],
    });

    // ── self-play: kill the server and the worker while a shard is being played, restart both ──
    const sp = childId(id, 'selfplay');
    let midShard = false;
    for (let i = 0; i < 1200 && !midShard; i++) {
      await sleep(100);
      const work = await pendingWork(client, sp).catch(() => []);
      midShard = work.some((a) => a.activityType === 'playSelfplayShard' && a.running);
    }
    assert.ok(midShard, 'a self-play shard was running');
    await Promise.all([killed(server), worker.stop('SIGKILL')]);
    await client.connection.close().catch(() => undefined);
    server = await devServer(serverDir, port);
    worker = await startTestWorker(address, 'cpu', env);
    client = await testClient(address);
    const observed: string[] = ['selfplay: server + worker SIGKILLed mid-shard'];

    // ── each later phase: SIGKILL the worker as the iteration enters it, start another ──
    for (const phase of ITERATION_PHASES.slice(1)) {
      let p: IterationProgress | null = null;
      for (let i = 0; i < 3000; i++) {
        p = await progressOf(client, id);
        if (p && (p.phase === phase || ITERATION_PHASES.indexOf(p.phase as never) > ITERATION_PHASES.indexOf(phase) || p.phase === 'done'))
          break;
        await sleep(100);
      }
      assert.ok(p, `the iteration answered its progress query before ${phase}`);
      if (p.phase !== phase) {
        const past = p.phase === 'done' || ITERATION_PHASES.indexOf(p.phase as never) > ITERATION_PHASES.indexOf(phase);
        observed.push(`${phase}: ${past ? 'already past it' : 'not reached in time, still in'} (${p.phase}) when seen`);
        continue;
      }
      await worker.stop('SIGKILL');
      const child = await client.workflow
        .getHandle(childId(id, phase))
        .describe()
        .catch(() => null);
      observed.push(`${phase}: worker SIGKILLed, child ${child?.status.name ?? 'not started yet'}`);
      worker = await startTestWorker(address, 'cpu', env);
    }
    console.log(`fault test: ${observed.join('; ')}`);

    const r = (await client.workflow.getHandle(id).result()) as TrainingIterationResult;
    assert.equal(r.outcome, 'promoted', JSON.stringify(r));
    // exactly the planned games, each once
    assert.equal(r.games, games);
    const db = openGameDb(r.artifacts.gamesDb.path, { boardType: 'square8', numPlayers: 2, readonly: true });
    const ids = listGameIds(db);
    assert.equal(countGames(db), games);
    closeGameDb(db);
    assert.equal(new Set(ids).size, games, 'no game twice');
    assert.equal(fileSha256Sync(r.artifacts.gamesDb.path), r.artifacts.gamesDb.sha256);
    assert.equal(fileSha256Sync(r.artifacts.npz.path), r.artifacts.npz.sha256);
    assert.deepEqual(
      fs.readdirSync(path.dirname(r.artifacts.npz.path)).filter((f) => f.endsWith('.npz')),
      [path.basename(r.artifacts.npz.path)],
      'one NPZ file',
    );
    // one run per phase
    for (const phase of ITERATION_PHASES) {
      const runs = [];
      for await (const w of client.workflow.list({ query: `WorkflowId = '${childId(id, phase)}'` })) runs.push(w.status.name);
      assert.deepEqual(runs, ['COMPLETED'], `${phase}: one run`);
    }
    // one model, promoted; pointer and published file agree
    const models = withRegistry(path.join(dir, 'models'), (reg) => listModels(reg));
    assert.deepEqual(
      models.map((m) => [m.id, m.status]),
      [[r.candidateId, 'best']],
    );
    withRegistry(path.join(dir, 'models'), (reg) => {
      assert.equal(bestModel(reg, 'square8_2p')?.id, r.candidateId);
      assert.equal(fileSha256Sync(publishedBestPath(reg, 'square8_2p')), models[0]!.sha256, 'best.onnx is the promoted model');
    });
    // the gauntlet played exactly its games once
    const evalDbs = fs.readdirSync(path.join(dir, 'eval', 'square8_2p')).filter((f) => f.endsWith('.db'));
    assert.deepEqual(evalDbs, [`${childId(id, 'promote')}-gauntlet.db`]);
    const evalDb = openGameDb(path.join(dir, 'eval', 'square8_2p', evalDbs[0]!), { boardType: 'square8', numPlayers: 2, readonly: true });
    assert.equal(countGames(evalDb), 4);
    closeGameDb(evalDb);
    await worker.stop('SIGTERM');
  },
);
