// Streaming NPZ export against the in-memory reference on the same DB: numpy (allow_pickle=False)
// loads identical arrays (names, dtypes, shapes, values), and the files are byte-for-byte the same.
// Covers soft policy targets (nnz > N), a game skipped at replay, stored lengths that lie (second
// pass), and no temp files left behind. Parity's game listing pages through the DB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { closeGameDb, fileSha256Sync, listGameIds, openGameDb, setParity, type BoardType } from '../../store/gameDb';
import { iterateGameIdPages, sampleGameIds, selectParityGames, validateGames } from '../../store/parity';
import { exportNpz, exportNpzInMemory, type NpzExportOptions } from '../../store/npzExport';
import { createInitialState, legalMoves, moveKey } from '../../engine';
import { buildDb, tmpDir } from '../parity/helpers';

const ROOT = path.resolve(__dirname, '../..');
const PYTHON = path.join(ROOT, '.venv/bin/python');
const NOW = '2026-11-30T05:00:00.000Z';

const COMPARE_PY = `
import json, sys, zipfile
import numpy as np
a_path, b_path = sys.argv[1], sys.argv[2]
for p in (a_path, b_path):
    assert zipfile.ZipFile(p).testzip() is None
with np.load(a_path, allow_pickle=False) as za, np.load(b_path, allow_pickle=False) as zb:
    assert sorted(za.files) == sorted(zb.files), (za.files, zb.files)
    for k in za.files:
        x, y = za[k], zb[k]
        assert x.dtype == y.dtype, (k, x.dtype, y.dtype)
        assert x.shape == y.shape, (k, x.shape, y.shape)
        assert np.array_equal(x, y), k
    ip = za['policy_indptr']
    out = {'N': int(za['features'].shape[0]), 'nnz': int(za['policy_indices'].shape[0]), 'games': int(za['game_ids'].shape[0]),
           'order_a': zipfile.ZipFile(a_path).namelist(), 'order_b': zipfile.ZipFile(b_path).namelist(),
           'max_row': int(np.diff(ip).max())}
print(json.dumps(out))
`;

function compare(a: string, b: string): { N: number; nnz: number; games: number; order_a: string[]; order_b: string[]; max_row: number } {
  const res = spawnSync(PYTHON, ['-c', COMPARE_PY, a, b], { encoding: 'utf8' });
  assert.equal(res.status, 0, `numpy comparison failed: ${res.stderr}`);
  return JSON.parse(res.stdout) as ReturnType<typeof compare>;
}

/** A DB of parity-passed games; move 0 of every game gets a two-move soft target. */
function prepare(t: { after: (fn: () => void) => void }, bt: BoardType, np: number, games: number, maxMoves: number) {
  const dir = tmpDir(t, 'rr-npzstream-');
  const dbFile = path.join(dir, 'games.db');
  const ids = buildDb(dbFile, bt, np, games, 500, maxMoves);
  const db = openGameDb(dbFile, { boardType: bt, numPlayers: np });
  validateGames(db, selectParityGames(db), { checkedAt: NOW });
  const [m1, m2] = legalMoves(createInitialState({ boardType: bt, numPlayers: np }));
  const soft = JSON.stringify({ [moveKey(m1)]: 0.7, [moveKey(m2)]: 0.3 });
  db.sqlite.prepare('UPDATE game_moves SET move_probs = ? WHERE move_number = 0').run(soft);
  t.after(() => closeGameDb(db));
  return { dir, dbFile, db, ids };
}

function options(dir: string, name: string, dbFile: string): NpzExportOptions {
  return {
    output: path.join(dir, name),
    splitRatio: 0.8,
    splitSeed: 3,
    sourceSha256: fileSha256Sync(dbFile),
    gitCommit: 'g',
    createdAt: NOW,
  };
}

for (const [bt, np, games, maxMoves] of [
  ['square8', 2, 12, 3000],
  ['square19', 2, 2, 120],
  ['hex8', 3, 4, 3000],
] as const) {
  test(`streaming export ${bt} ${np}p = in-memory export: same arrays through numpy, same bytes`, async (t) => {
    const { dir, dbFile, db } = prepare(t, bt, np, games, maxMoves);
    const streamed = await exportNpz(db, { ...options(dir, 'stream.npz', dbFile), yieldEvery: 1 });
    const inMemory = await exportNpzInMemory(db, options(dir, 'memory.npz', dbFile));
    assert.equal(streamed.passes, 1);
    const cmp = compare(streamed.output, inMemory.output);
    assert.equal(cmp.N, streamed.positions);
    assert.equal(cmp.games, games);
    assert.equal(cmp.nnz, streamed.positions + games, 'one extra target per game (soft move 0)');
    assert.equal(cmp.max_row, 2);
    assert.deepEqual(cmp.order_a, cmp.order_b, 'same member order');
    assert.equal(streamed.sha256, inMemory.sha256, 'byte-for-byte the same file');
    const facts = (r: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(r).filter(([k]) => !['output', 'sha256', 'buildSeconds', 'writeSeconds'].includes(k)));
    assert.deepEqual(facts({ ...streamed }), facts({ ...inMemory }));
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.includes('.tmp')),
      [],
    );
  });
}

test('streaming export: a game skipped at replay and stored lengths that lie cost a second pass, same result', async (t) => {
  const { dir, dbFile, db, ids } = prepare(t, 'square8', 2, 8, 3000);
  // game 2: its stored final hash no longer matches the replay → skipped
  db.sqlite
    .prepare(
      'UPDATE game_history_entries SET state_hash_after = ? WHERE game_id = ? AND move_number = (SELECT MAX(move_number) FROM game_history_entries WHERE game_id = ?)',
    )
    .run('0'.repeat(16), ids[2], ids[2]);
  // game 5: games.total_moves understates its length (the count pass is then wrong)
  db.sqlite.prepare('UPDATE games SET total_moves = total_moves - 3 WHERE game_id = ?').run(ids[5]);
  db.sqlite.prepare('UPDATE games SET total_moves = total_moves + 40 WHERE game_id = ?').run(ids[6]);
  const streamed = await exportNpz(db, options(dir, 'stream.npz', dbFile));
  const inMemory = await exportNpzInMemory(db, options(dir, 'memory.npz', dbFile));
  assert.equal(streamed.passes, 2);
  assert.deepEqual(streamed.skippedGames, [ids[2]]);
  assert.deepEqual(inMemory.skippedGames, [ids[2]]);
  assert.equal(streamed.games, 7);
  const cmp = compare(streamed.output, inMemory.output);
  assert.equal(cmp.N, streamed.positions);
  assert.equal(streamed.sha256, inMemory.sha256);
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.includes('.tmp')),
    [],
  );
});

test('streaming export with --max-games exports the first games only; an output that exists is refused untouched', async (t) => {
  const { dir, dbFile, db, ids } = prepare(t, 'square8', 2, 6, 3000);
  const res = await exportNpz(db, { ...options(dir, 'two.npz', dbFile), maxGames: 2 });
  assert.equal(res.games, 2);
  const mem = await exportNpzInMemory(db, { ...options(dir, 'two-mem.npz', dbFile), maxGames: 2 });
  assert.equal(res.sha256, mem.sha256);
  assert.ok(ids.length === 6);
  await assert.rejects(exportNpz(db, { ...options(dir, 'two.npz', dbFile) }), /already exists/);
  assert.equal(fileSha256Sync(path.join(dir, 'two.npz')), res.sha256);
});

test('game lists for parity come a page at a time, in listGameIds order; a seeded sample is the one sampleGameIds picks', (t) => {
  const dir = tmpDir(t, 'rr-npzstream-');
  const dbFile = path.join(dir, 'g.db');
  buildDb(dbFile, 'square8', 2, 75, 1, 12);
  const db = openGameDb(dbFile, { boardType: 'square8', numPlayers: 2 });
  t.after(() => closeGameDb(db));
  const all = listGameIds(db);
  const pages = [...iterateGameIdPages(db, { pageSize: 7 })];
  assert.ok(pages.every((p) => p.length <= 7));
  assert.deepEqual(pages.flat(), all);
  for (const n of [0, 1, 10, 74, 75, 200])
    for (const seed of [0, 5]) assert.deepEqual(selectParityGames(db, { sample: n, seed }), sampleGameIds(all, n, seed), `n=${n}`);
  setParity(db, all[4], { status: 'passed', checkedAt: NOW, divergenceMove: null });
  assert.deepEqual([...iterateGameIdPages(db, { parityStatus: 'passed' })].flat(), [all[4]]);
  assert.equal([...iterateGameIdPages(db, { pageSize: 10, parityStatus: 'pending' })].flat().length, 74);
});
