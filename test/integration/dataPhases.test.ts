// Integration: real dev server, a real cpu worker process; parity_validation (sharded, tampered
// game flagged, threshold decides) and npz_export (file + manifest, refusal to overwrite), the
// parity phase once through the CLI with --wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { WorkflowFailedError } from '@temporalio/client';
import { WORKFLOW_QUEUE } from '../../workers/run';
import { closeGameDb, openGameDb, readGame } from '../../store/gameDb';
import type { ParityInput, ParityResult } from '../../workflows/parityValidation';
import type { NpzExportInput, NpzExportWorkflowResult } from '../../workflows/npzExport';
import { RINGRIFT_BIN, startTestServer, startTestWorker, testClient } from '../helpers/temporal';
import { buildDb, tmpDir } from '../parity/helpers';

const PYTHON = path.resolve(__dirname, '../../.venv/bin/python');

test('parity_validation and npz_export phases end to end on a real Temporal server', { timeout: 300_000 }, async (t) => {
  const dir = tmpDir(t, 'rr-phases-');
  const dbFile = path.join(dir, 'games.db');
  const ids = buildDb(dbFile, 'square8', 2, 7, 500);
  // tamper one stored hash
  const raw = new Database(dbFile);
  raw.prepare("UPDATE game_history_entries SET state_hash_after = 'deadbeefdeadbeef' WHERE game_id = ? AND move_number = 9").run(ids[4]);
  raw.close();

  const server = await startTestServer();
  t.after(() => server.stop());
  const worker = await startTestWorker(server.address, 'cpu');
  t.after(() => worker.stop('SIGKILL'));
  const client = await testClient(server.address);
  t.after(() => client.connection.close());

  const parityInput = (failThreshold: number): ParityInput => ({
    db: dbFile,
    sample: null,
    seed: 0,
    shardSize: 3,
    failThreshold,
    reportDir: path.join(dir, 'reports'),
    external: null,
  });

  // 1 of 7 failed: passes a 0.2 threshold; three shards
  const res = await client.workflow.execute<(i: ParityInput) => Promise<ParityResult>>('parityValidation', {
    taskQueue: WORKFLOW_QUEUE,
    workflowId: 'it-parity-ok',
    args: [parityInput(0.2)],
  });
  assert.equal(res.total, 7);
  assert.equal(res.passed, 6);
  assert.equal(res.failed, 1);
  assert.equal(res.shards.length, 3);
  assert.equal(res.ok, true);
  const report = JSON.parse(fs.readFileSync(res.report.path, 'utf8')) as {
    problems: { gameId: string; divergenceMove: number; expectedHash: string }[];
  };
  assert.deepEqual(
    report.problems.map((p) => [p.gameId, p.divergenceMove, p.expectedHash]),
    [[ids[4], 9, 'deadbeefdeadbeef']],
  );
  assert.match(fs.readFileSync(res.summary.path, 'utf8'), new RegExp(`FAILED ${ids[4]}: move 9`));
  assert.equal(fs.existsSync(path.join(dir, 'reports', '.parity-it-parity-ok')), false, 'work folder removed');
  const db = openGameDb(dbFile, { boardType: 'square8', numPlayers: 2, readonly: true });
  try {
    assert.equal(readGame(db, ids[4])!.parity.status, 'failed');
    assert.equal(readGame(db, ids[4])!.parity.divergenceMove, 9);
    assert.equal(readGame(db, ids[0])!.parity.status, 'passed');
  } finally {
    closeGameDb(db);
  }

  // the same run with threshold 0: the phase fails and says why
  await assert.rejects(
    client.workflow.execute('parityValidation', { taskQueue: WORKFLOW_QUEUE, workflowId: 'it-parity-fail', args: [parityInput(0)] }),
    (e: unknown) => e instanceof WorkflowFailedError && /exceeds fail_threshold/.test(String((e.cause as Error)?.message)),
  );

  // npz export of the 6 passed games
  const outDir = path.join(dir, 'npz');
  const npzInput: NpzExportInput = { db: dbFile, outputDir: outDir, outputName: 'train.npz', splitRatio: 0.7, splitSeed: 1 };
  const exp = await client.workflow.execute<(i: NpzExportInput) => Promise<NpzExportWorkflowResult>>('npzExport', {
    taskQueue: WORKFLOW_QUEUE,
    workflowId: 'it-npz',
    args: [npzInput],
  });
  assert.equal(exp.games, 6);
  assert.equal(exp.passedGames, 6);
  assert.equal(exp.trainGames + exp.valGames, 6);
  assert.equal(exp.output.path, path.join(outDir, 'train.npz'));
  assert.ok(fs.existsSync(exp.manifest));
  const py = spawnSync(
    PYTHON,
    [
      '-c',
      "import numpy as np,sys; z=np.load(sys.argv[1], allow_pickle=False); print(z['features'].shape[0], str(z['git_commit']), len(z['game_ids']))",
      exp.output.path,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(py.status, 0, py.stderr);
  const [n, commit, games] = py.stdout.trim().split(' ');
  assert.equal(Number(n), exp.positions);
  assert.match(commit, /^([0-9a-f]{40}|unknown)$/);
  assert.equal(Number(games), 6);

  // a second export to the same file is refused and leaves the file alone
  const before = fs.readFileSync(exp.output.path);
  await assert.rejects(
    client.workflow.execute('npzExport', { taskQueue: WORKFLOW_QUEUE, workflowId: 'it-npz-again', args: [npzInput] }),
    (e: unknown) => e instanceof WorkflowFailedError && /already exists/.test(String((e.cause as Error)?.message)),
  );
  assert.ok(before.equals(fs.readFileSync(exp.output.path)));

  // a replayer that cannot start, or that dies mid-run, fails the run and leaves every earlier
  // parity result as it was (an environment failure is not a fact about the games)
  const statuses = () => {
    const d = new Database(dbFile, { readonly: true });
    try {
      // (a shard whose games were all answered before the replayer died records those real results,
      // with a new parity_checked_at; the status of every game stays what it was)
      return d.prepare('SELECT game_id, parity_status FROM games ORDER BY game_id').all();
    } finally {
      d.close();
    }
  };
  const beforeStatuses = statuses();
  const fixture = `${process.execPath} --import tsx ${path.resolve(__dirname, '../fixtures/external-replayer.ts')}`;
  for (const [id, external, why] of [
    ['it-parity-noreplayer', '/nonexistent/replayer', /external replayer "\/nonexistent\/replayer" cannot be used: .*no such file/],
    [
      'it-parity-replayer-dies',
      `${fixture} --crash-after 1`,
      /external replayer ".*" failed on game .*: external replayer exited \(code 3\)/,
    ],
  ] as const) {
    await assert.rejects(
      client.workflow.execute('parityValidation', {
        taskQueue: WORKFLOW_QUEUE,
        workflowId: id,
        args: [{ ...parityInput(0.2), external }],
      }),
      (e: unknown) => e instanceof WorkflowFailedError && why.test(String((e.cause as Error)?.message)),
    );
    assert.deepEqual(statuses(), beforeStatuses, `${id}: parity statuses untouched`);
  }

  // the CLI: parity on a sample, waiting with progress
  const cli = spawnSync(
    RINGRIFT_BIN,
    [
      'pipeline',
      'run',
      'parity_validation',
      '--db',
      dbFile,
      '--sample',
      '4',
      '--seed',
      '3',
      '--fail-threshold',
      '0.5',
      '--report-dir',
      path.join(dir, 'reports'),
      '--wait',
    ],
    {
      env: { ...process.env, RINGRIFT_TEMPORAL_ADDRESS: server.address },
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  assert.equal(cli.status, 0, cli.stdout + cli.stderr);
  assert.match(cli.stdout, /done: 4 games checked/);
});
