// Integration: runs of any size. A 10,000-shard self-play run (one random game per shard) completes
// with exactly 10,000 games and no workflow history in it passes 20,000 events (read from the
// histories themselves); a 2,000-shard parity run; `pipeline status` names a queue nobody polls and
// a workflow task that keeps failing within 10 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { closeGameDb, countGames, openGameDb } from '../../store/gameDb';
import type { SelfplayResult } from '../../workflows/canonicalSelfplay';
import type { ParityResult } from '../../workflows/parityValidation';
import { HISTORY_BUDGET, batchRanges, windowFor } from '../../workflows/fanOut';
import { adaptiveShardSize } from '../../workflows/shardSize';
import { RINGRIFT_BIN, startTestServer, startTestWorker, testClient } from '../helpers/temporal';

const run = promisify(execFile);
const SHARDS = Number(process.env.RINGRIFT_FANOUT_SHARDS ?? 10_000);

test('fan-out arithmetic: bounded window, batches that fit one history at every level', () => {
  assert.equal(windowFor(0, 2), 16, 'no poller yet: a modest default');
  assert.equal(windowFor(1, 2), 4);
  assert.equal(windowFor(3, 8), 48);
  assert.equal(windowFor(1000, 16), 500, 'far below the 2,000 pending activities per workflow');
  assert.deepEqual(
    batchRanges(0, 10_000, 2000),
    [0, 2000, 4000, 6000, 8000].map((first) => ({ first, count: 2000 })),
  );
  assert.deepEqual(batchRanges(0, 4500, 2000), [
    { first: 0, count: 2000 },
    { first: 2000, count: 2000 },
    { first: 4000, count: 500 },
  ]);
  // shard sizing: ~30 s of play per shard, at least 8 shards when the games allow
  const size = (boardType: string, numPlayers: number, mix: string[], numGames: number) =>
    adaptiveShardSize({ boardType, numPlayers, playerMix: mix, numGames });
  assert.equal(size('square8', 2, ['random'], 200), 25);
  assert.equal(size('square8', 2, ['heuristic'], 1_000_000), 857);
  assert.equal(size('square19', 2, ['heuristic'], 1_000_000), 15);
  assert.equal(size('hexagonal', 4, ['heuristic'], 1_000_000), 4);
  assert.equal(size('square8', 2, ['random', 'mcts:best:sims=800'], 1_000_000), 3, 'the slowest seat counts');
  assert.equal(size('square8', 2, ['random'], 3), 1);
  const huge = batchRanges(0, 5_000_000, 2000); // 5M shards: batches of 4M, each splitting into 2,000
  assert.equal(huge.length, 2);
  assert.ok(huge.every((b) => Math.ceil(b.count / 2000) <= 2000));
});

/** Every workflow run whose id starts with `prefix`, with its history length. */
async function historyLengths(client: Client, prefix: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const wf of client.workflow.list()) {
    if (!wf.workflowId.startsWith(prefix)) continue;
    const h = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    out.set(wf.workflowId, h.events?.length ?? 0);
  }
  return out;
}

function cli(address: string, args: string[]) {
  return run(RINGRIFT_BIN, args, { env: { ...process.env, RINGRIFT_TEMPORAL_ADDRESS: address }, timeout: 60_000 }).catch(
    (err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? '' }),
  );
}

test(`a ${SHARDS}-shard self-play run and a 2,000-shard parity run stay bounded`, { timeout: 2_700_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-fanout-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // more activity slots than the default 2: one-game shards are mostly round trips
  const cfgDir = path.join(dir, 'config');
  fs.mkdirSync(cfgDir);
  fs.writeFileSync(
    path.join(cfgDir, 'pipeline.yaml'),
    'workers:\n  queues:\n    cpu: { maxConcurrentActivities: 16, maxConcurrentWorkflowTasks: 20 }\n',
  );
  const server = await startTestServer();
  t.after(() => server.stop());
  const worker = await startTestWorker(server.address, 'cpu', { RINGRIFT_CONFIG_DIR: cfgDir });
  t.after(() => worker.stop('SIGKILL'));
  const client = await testClient(server.address);
  t.after(() => client.connection.close());

  const db = path.join(dir, 'big.db');
  const t0 = Date.now();
  const sp = (await client.workflow.execute('canonicalSelfplay', {
    taskQueue: 'cpu',
    workflowId: 'big-selfplay',
    args: [{ boardType: 'square8', numPlayers: 2, numGames: SHARDS, shardSize: 1, outputDb: db, playerMix: ['random'], seed: 5 }],
  })) as SelfplayResult;
  const seconds = (Date.now() - t0) / 1000;
  assert.equal(sp.games, SHARDS);
  assert.equal(sp.shardCount, SHARDS);
  assert.equal(sp.outputDb.gamesAdded, SHARDS);
  const g = openGameDb(db, { boardType: 'square8', numPlayers: 2, readonly: true });
  try {
    assert.equal(countGames(g), SHARDS, 'exactly one game per shard');
  } finally {
    closeGameDb(g);
  }
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.startsWith('.shards-')),
    [],
    'shard DBs are cleaned up',
  );
  const lengths = await historyLengths(client, 'big-selfplay');
  const worst = Math.max(...lengths.values());
  t.diagnostic(`${SHARDS} shards in ${seconds.toFixed(1)} s; histories: ${JSON.stringify(Object.fromEntries(lengths))}`);
  assert.ok(lengths.size >= 1 + Math.ceil(SHARDS / 2000) - (SHARDS <= 2000 ? 1 : 0), `the run and its batches: ${[...lengths.keys()]}`);
  assert.ok(worst <= HISTORY_BUDGET, `largest history ${worst} events (budget ${HISTORY_BUDGET})`);

  // parity over 2,000 of those games, one game per shard: 2,000 shard activities
  const p0 = Date.now();
  const par = (await client.workflow.execute('parityValidation', {
    taskQueue: 'cpu',
    workflowId: 'big-parity',
    args: [{ db, sample: 2000, seed: 3, shardSize: 1 }],
  })) as ParityResult;
  assert.equal(par.total, 2000);
  assert.equal(par.passed, 2000);
  assert.equal(par.shardCount, 2000);
  const parLengths = await historyLengths(client, 'big-parity');
  t.diagnostic(
    `2000 parity shards in ${((Date.now() - p0) / 1000).toFixed(1)} s; histories: ${JSON.stringify(Object.fromEntries(parLengths))}`,
  );
  assert.ok(Math.max(...parLengths.values()) <= HISTORY_BUDGET);
});

test('pipeline status names a queue nobody polls and a failing workflow task within 10 s', { timeout: 300_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-stall-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const server = await startTestServer();
  t.after(() => server.stop());
  const worker = await startTestWorker(server.address, 'cpu');
  t.after(() => worker.stop('SIGKILL'));
  const client = await testClient(server.address);
  t.after(() => client.connection.close());

  const waitFor = async (id: string, re: RegExp) => {
    const t0 = Date.now();
    let out = '';
    while (Date.now() - t0 < 10_000) {
      const r = await cli(server.address, ['pipeline', 'status', id]);
      out = r.stdout + r.stderr;
      if (re.test(out)) return (Date.now() - t0) / 1000;
      await sleep(500);
    }
    assert.fail(`pipeline status ${id} never matched ${re} within 10 s:\n${out}`);
  };

  // shards on a queue no worker polls
  await client.workflow.start('canonicalSelfplay', {
    taskQueue: 'cpu',
    workflowId: 'stall-activity-queue',
    args: [{ boardType: 'square8', numPlayers: 2, numGames: 4, outputDb: path.join(dir, 'a.db'), activityQueue: 'nobody-polls' }],
  });
  const s1 = await waitFor('stall-activity-queue', /no worker polls queue "nobody-polls"/);
  // the workflow itself on a queue no worker polls
  await client.workflow.start('canonicalSelfplay', {
    taskQueue: 'no-workflow-worker',
    workflowId: 'stall-workflow-queue',
    args: [{ boardType: 'square8', numPlayers: 2, numGames: 4, outputDb: path.join(dir, 'b.db') }],
  });
  const s2 = await waitFor('stall-workflow-queue', /no worker polls queue "no-workflow-worker"/);
  // a workflow task that fails every time (no such workflow type in the worker's bundle)
  await client.workflow.start('noSuchWorkflowType', { taskQueue: 'cpu', workflowId: 'stall-failing-task', args: [] });
  const s3 = await waitFor('stall-failing-task', /workflow task of stall-failing-task keeps failing \(attempt \d+\): .*noSuchWorkflowType/);
  t.diagnostic(`reported after ${s1}, ${s2}, ${s3} s`);
  for (const id of ['stall-activity-queue', 'stall-workflow-queue', 'stall-failing-task'])
    await client.workflow.getHandle(id).terminate('test over');
});
