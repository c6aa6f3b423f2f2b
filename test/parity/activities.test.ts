// Phase activities in a mock activity context: a parity shard resumes from its results file
// (a torn last line from a crash is dropped), runs the external replayer, and the npz export
// activity hands back its own finished file on a retry instead of refusing it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createParityActivities } from '../../activities/parity';
import { createNpzExportActivities } from '../../activities/npzExport';
import { closeGameDb, openGameDb } from '../../store/gameDb';
import { buildDb, tmpDir } from './helpers';

const signals: unknown[] = [];
const fakeClient = {
  workflow: { getHandle: () => ({ signal: async (_name: string, arg: unknown) => void signals.push(arg) }) },
} as unknown as Client;
const ROOT = path.resolve(__dirname, '../..');

/** env.run with the activity's own argument and result types. */
function run<A, R>(env: MockActivityEnvironment, fn: (a: A) => Promise<R>, arg: A): Promise<R> {
  return env.run<[A], R, (a: A) => Promise<R>>(fn, arg);
}

test('parity activities: plan, a shard resumed after a crash, external replayer, report', async (t) => {
  const dir = tmpDir(t);
  const db = path.join(dir, 'g.db');
  const ids = buildDb(db, 'hex8', 2, 6, 70, 80);
  const acts = createParityActivities({ client: fakeClient });
  const env = new MockActivityEnvironment();
  const plan = await run(env, acts.planParity, { workflowId: 'wf1', db, sample: 5, seed: 2, reportDir: dir });
  assert.equal(plan.selected, 5);
  assert.equal(plan.totalGames, 6);
  const listed = fs.readFileSync(plan.gameList.path, 'utf8').trim().split('\n');
  assert.equal(listed.length, 5);
  for (const id of listed) assert.ok(ids.includes(id));

  // a crashed first attempt left two complete result lines and a torn third
  const resultsFile = path.join(plan.workDir, 'shard-0000.jsonl');
  const done = listed.slice(0, 2).map((id) => JSON.stringify({ gameId: id, status: 'passed', divergenceMove: null, moves: 80 }) + '\n');
  fs.writeFileSync(resultsFile, done.join('') + '{"gameId":"torn');
  const shardInput = {
    workflowId: 'wf1',
    shardIndex: 0,
    db,
    boardType: plan.boardType,
    numPlayers: plan.numPlayers,
    gameList: plan.gameList,
    first: 0,
    count: 5,
    workDir: plan.workDir,
    external: `${process.execPath} --import tsx ${path.join(ROOT, 'test/fixtures/external-replayer.ts')} --wrong-move 40 --wrong-game ${listed[3]}`,
  };
  const heartbeats: unknown[] = [];
  const env2 = new MockActivityEnvironment({ attempt: 2 });
  env2.on('heartbeat', (d: unknown) => heartbeats.push(d));
  const res = await run(env2, acts.validateParityShard, shardInput);
  assert.equal(res.resumedFrom, 2);
  assert.equal(res.total, 5);
  assert.equal(res.failed, 1, 'the wrong external replayer is caught');
  assert.equal(res.passed, 4);
  assert.ok(heartbeats.length >= 3);
  const lines = fs
    .readFileSync(resultsFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { gameId: string });
  assert.deepEqual(
    lines.map((l) => l.gameId),
    listed,
  );

  const rep = await run(env, acts.writeParityReport, {
    workflowId: 'wf1',
    db,
    dbSha256: plan.dbSha256,
    sample: 5,
    seed: 2,
    failThreshold: 0.1,
    external: shardInput.external,
    shardResults: [res.results],
    reportDir: dir,
    workDir: plan.workDir,
    startedAtMs: Date.now() - 1000,
  });
  assert.equal(rep.ok, false);
  assert.equal(rep.failed, 1);
  assert.match(rep.firstProblems[0], new RegExp(`${listed[3]}: failed at move 40 \\(external_mismatch\\)`));
  assert.match(fs.readFileSync(rep.summary.path, 'utf8'), /\[external\]/);
  assert.equal(fs.existsSync(plan.workDir), false);

  // a changed game list is refused (artifacts are checked by sha256)
  fs.mkdirSync(plan.workDir, { recursive: true });
  fs.writeFileSync(plan.gameList.path, 'other\n');
  await assert.rejects(run(env, acts.validateParityShard, shardInput), /changed/);
});

test('npz export activity: plan checks, retry after the file was written returns it, another workflow is refused', async (t) => {
  const dir = tmpDir(t);
  const db = path.join(dir, 'g.db');
  buildDb(db, 'square8', 2, 3, 90, 60);
  const pa = createParityActivities({ client: fakeClient });
  const na = createNpzExportActivities({ client: fakeClient });
  const env = new MockActivityEnvironment();
  await assert.rejects(run(env, na.planNpzExport, { db, outputDir: dir, outputName: null, workflowId: 'n1' }), /passed parity/);
  const plan = await run(env, pa.planParity, { workflowId: 'p1', db, sample: null, seed: 0, reportDir: dir });
  await run(env, pa.validateParityShard, {
    workflowId: 'p1',
    shardIndex: 0,
    db,
    boardType: plan.boardType,
    numPlayers: plan.numPlayers,
    gameList: plan.gameList,
    first: 0,
    count: 3,
    workDir: plan.workDir,
    external: null,
  });
  // an output folder that cannot be created fails at once, for good (a recursive mkdir would spin)
  await assert.rejects(
    run(env, na.planNpzExport, { db, outputDir: '/proc/x/out', outputName: null, workflowId: 'n1' }),
    (e: Error) =>
      e instanceof ApplicationFailure &&
      e.type === 'NpzExport:output_unwritable' &&
      e.nonRetryable &&
      /^output folder \/proc\/x\/out is not writable/.test(e.message),
  );
  await assert.rejects(
    run(env, na.exportNpzFile, {
      workflowId: 'n1',
      db,
      dbSha256: 'x',
      boardType: 'square8' as const,
      numPlayers: 2,
      output: '/proc/x/out/g.npz',
      splitRatio: 0.5,
      splitSeed: 0,
    }),
    (e: Error) => e instanceof ApplicationFailure && e.type === 'NpzExport:output_unwritable',
  );
  const np = await run(env, na.planNpzExport, { db, outputDir: dir, outputName: null, workflowId: 'n1' });
  assert.equal(np.output, path.join(dir, 'g.square8_2p.npz'));
  assert.equal(np.passedGames, 3);
  const input = {
    workflowId: 'n1',
    db,
    dbSha256: np.dbSha256,
    boardType: np.boardType,
    numPlayers: np.numPlayers,
    output: np.output,
    splitRatio: 0.5,
    splitSeed: 0,
  };
  const first = await run(env, na.exportNpzFile, input);
  assert.equal(first.games, 3);
  assert.match(first.output.sha256, /^[0-9a-f]{64}$/);
  // retry of the same workflow (e.g. the worker died after writing): same result, file untouched
  const again = await run(env, na.exportNpzFile, input);
  assert.deepEqual(again.output, first.output);
  // plan of the same workflow accepts its own file; another workflow is refused
  await run(env, na.planNpzExport, { db, outputDir: dir, outputName: null, workflowId: 'n1' });
  await assert.rejects(run(env, na.planNpzExport, { db, outputDir: dir, outputName: null, workflowId: 'n2' }), /already exists/);
  await assert.rejects(run(env, na.exportNpzFile, { ...input, workflowId: 'n2' }), /already exists/);
});

test('parity activities: a replayer that cannot start or dies fails the run; no parity status is touched', async (t) => {
  const dir = tmpDir(t);
  const db = path.join(dir, 'g.db');
  buildDb(db, 'square8', 2, 4, 90, 40);
  // earlier results that an environment failure must not overwrite
  const h = openGameDb(db, { boardType: 'square8', numPlayers: 2 });
  h.sqlite.prepare("UPDATE games SET parity_status = 'passed', parity_checked_at = 'earlier'").run();
  closeGameDb(h);
  const statuses = () => {
    const d = openGameDb(db, { boardType: 'square8', numPlayers: 2, readonly: true });
    try {
      return d.sqlite.prepare('SELECT parity_status AS s, parity_checked_at AS c FROM games ORDER BY game_id').all();
    } finally {
      closeGameDb(d);
    }
  };
  const before = statuses();
  const acts = createParityActivities({ client: fakeClient });
  const env = new MockActivityEnvironment();
  await assert.rejects(
    run(env, acts.planParity, { workflowId: 'wf2', db, sample: null, seed: 0, reportDir: dir, external: '/nonexistent/replayer' }),
    (err: Error) =>
      err instanceof ApplicationFailure &&
      err.type === 'ExternalReplayerUnavailable' &&
      err.nonRetryable &&
      /^external replayer "\/nonexistent\/replayer" cannot be used: \/nonexistent\/replayer: no such file/.test(err.message),
  );
  const fixture = `${process.execPath} --import tsx ${path.join(ROOT, 'test/fixtures/external-replayer.ts')}`;
  const plan = await run(env, acts.planParity, { workflowId: 'wf2', db, sample: null, seed: 0, reportDir: dir, external: fixture });
  await assert.rejects(
    run(env, acts.validateParityShard, {
      workflowId: 'wf2',
      shardIndex: 0,
      db,
      boardType: plan.boardType,
      numPlayers: plan.numPlayers,
      gameList: plan.gameList,
      first: 0,
      count: 4,
      workDir: plan.workDir,
      external: `${fixture} --crash-after 1`,
    }),
    (err: Error) => err instanceof ApplicationFailure && err.type === 'ExternalReplayerFailed' && /exited \(code 3\)/.test(err.message),
  );
  assert.deepEqual(statuses(), before);
  assert.equal(fs.readFileSync(path.join(plan.workDir, 'shard-0000.jsonl'), 'utf8'), '');
});
