// NPZ export: only parity-passed games, numpy loads every file with allow_pickle=False and checks
// shapes, dtypes, policy sums and split sizes; refusals (output exists, no games, nothing passed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { closeGameDb, fileSha256Sync, openGameDb, setParity, type BoardType } from '../../store/gameDb';
import { validateGames, selectParityGames } from '../../store/parity';
import { NpzExportError, exportNpz, rankValues, softPolicy, splitGames } from '../../store/npzExport';
import { readNpz } from '../../store/npz';
import { NUM_GLOBALS, NUM_PLANES, decodeMove, encodeMove, featureShape, policySize } from '../../ai/encoding';
import { applyMoveInPlace, createInitialState, legalMoves, moveKey, parseMove, playRandomGame } from '../../engine';
import { buildDb, tmpDir } from '../parity/helpers';

const ROOT = path.resolve(__dirname, '../..');
const PYTHON = path.join(ROOT, '.venv/bin/python');
const NOW = '2026-11-23T12:00:00.000Z';

/** numpy-side checks; prints a JSON summary. */
const CHECK_PY = `
import json, sys, zipfile
import numpy as np
path = sys.argv[1]
assert zipfile.ZipFile(path).testzip() is None
with np.load(path, allow_pickle=False) as z:
    a = {k: z[k] for k in z.files}
N = a['features'].shape[0]
C, H, W = a['features'].shape[1:]
assert a['features'].dtype == np.float32 and a['features'].ndim == 4
assert a['globals'].dtype == np.float32 and a['globals'].shape[0] == N
assert a['values'].dtype == np.float32 and a['values'].shape == (N,)
assert a['values_mp'].dtype == np.float32 and a['values_mp'].shape == (N, 4)
ip, ix, pr = a['policy_indptr'], a['policy_indices'], a['policy_probs']
assert ip.dtype == np.int64 and ip.shape == (N + 1,) and ip[0] == 0 and ip[-1] == ix.shape[0]
assert np.all(np.diff(ip) >= 1)
assert ix.dtype == np.int32 and pr.dtype == np.float32 and ix.shape == pr.shape
P = int(a['policy_size'])
assert ix.min() >= 0 and ix.max() < P
sums = np.add.reduceat(pr.astype(np.float64), ip[:-1])
assert np.allclose(sums, 1.0, atol=1e-5), sums
for k in ('game_index', 'move_number', 'total_game_moves'):
    assert a[k].dtype == np.int32 and a[k].shape == (N,), k
assert a['split'].dtype == np.uint8 and set(np.unique(a['split'])) <= {0, 1}
G = a['game_ids'].shape[0]
assert a['game_ids'].dtype.kind == 'U'
assert a['game_split'].shape == (G,)
# split is by game: every sample has its game's split
assert np.array_equal(a['split'], a['game_split'][a['game_index']])
# values: rank-aware, within [-1, 1], unused seats 0
n = int(a['num_players'])
assert np.all(np.abs(a['values_mp']) <= 1.0 + 1e-6)
assert np.all(a['values_mp'][:, n:] == 0)
ptm = a['player_to_move'].astype(np.int64)
assert np.allclose(a['values'], a['values_mp'][np.arange(N), ptm - 1])
# dense policy view works as a trainer would build it
dense = np.zeros((min(N, 50), P), np.float32)
for i in range(dense.shape[0]):
    dense[i, ix[ip[i]:ip[i+1]]] = pr[ip[i]:ip[i+1]]
assert np.allclose(dense.sum(1), 1.0)
for k in ('board_type', 'encoder_version', 'git_commit', 'source_db_sha256', 'format_version'):
    assert a[k].dtype.kind == 'U' and a[k].shape == (), k
print(json.dumps({
  'N': N, 'C': int(C), 'H': int(H), 'W': int(W), 'G': int(a['globals'].shape[1]), 'P': P, 'games': int(G),
  'train_samples': int((a['split'] == 0).sum()), 'val_samples': int((a['split'] == 1).sum()),
  'train_games': int((a['game_split'] == 0).sum()), 'val_games': int((a['game_split'] == 1).sum()),
  'board_type': str(a['board_type']), 'num_players': n, 'sha': str(a['source_db_sha256']), 'git': str(a['git_commit']),
  'values_rows': sorted(set(tuple(round(float(x), 4) for x in r[:n]) for r in a['values_mp'])),
  'planes': str(a['feature_planes']).split(','),
}))
`;

function numpyCheck(file: string): Record<string, unknown> {
  const res = spawnSync(PYTHON, ['-c', CHECK_PY, file], { encoding: 'utf8' });
  assert.equal(res.status, 0, `numpy check failed: ${res.stderr}`);
  return JSON.parse(res.stdout) as Record<string, unknown>;
}

async function exportConfig(t: { after: (fn: () => void) => void }, bt: BoardType, np: number, games: number, maxMoves = 3000) {
  const dir = tmpDir(t, 'rr-export-');
  const dbFile = path.join(dir, 'games.db');
  buildDb(dbFile, bt, np, games, 200, maxMoves);
  const db = openGameDb(dbFile, { boardType: bt, numPlayers: np });
  try {
    validateGames(db, selectParityGames(db), { checkedAt: NOW });
    const out = path.join(dir, 'out', 'data.npz');
    const sha = fileSha256Sync(dbFile);
    const res = await exportNpz(db, { output: out, splitRatio: 0.75, sourceSha256: sha, gitCommit: 'abc123', createdAt: NOW });
    return { dir, dbFile, out, res, sha };
  } finally {
    closeGameDb(db);
  }
}

for (const [bt, np, games, maxMoves] of [
  ['square8', 2, 8, 3000],
  ['square8', 4, 3, 3000],
  ['hex8', 3, 3, 3000],
  ['square19', 2, 2, 150],
  ['hexagonal', 3, 2, 150],
] as const) {
  test(`npz export ${bt} ${np}p: numpy loads it without pickle; shapes, dtypes, policy sums, split sizes`, async (t) => {
    const { out, res, sha } = await exportConfig(t, bt, np, games, maxMoves);
    const py = numpyCheck(out);
    const [C, H, W] = featureShape(bt);
    assert.deepEqual([py.C, py.H, py.W, py.G, py.P], [C, H, W, NUM_GLOBALS, policySize(bt)]);
    assert.equal(C, NUM_PLANES);
    assert.equal(py.N, res.positions);
    assert.equal(py.games, games);
    assert.equal(res.skippedGames.length, 0);
    assert.equal(py.train_samples, res.trainPositions);
    assert.equal(py.val_samples, res.valPositions);
    assert.equal(py.train_games, res.trainGames);
    assert.equal(py.val_games, res.valGames);
    assert.equal(res.valGames, Math.max(1, Math.round(games * 0.25)));
    assert.equal(py.board_type, bt);
    assert.equal(py.num_players, np);
    assert.equal(py.sha, sha);
    assert.equal(py.git, 'abc123');
    if (maxMoves === 3000) {
      // finished games: rank-aware values hold one +1 and one −1 per game
      for (const row of py.values_rows as number[][]) {
        if (row.every((x) => x === 0)) continue;
        assert.equal(Math.max(...row), 1);
        assert.equal(Math.min(...row), -1);
      }
    }
  });
}

test('npz export: policy indices decode back to the played moves; only parity-passed games are exported', async (t) => {
  const dir = tmpDir(t, 'rr-export-');
  const dbFile = path.join(dir, 'games.db');
  const ids = buildDb(dbFile, 'square8', 2, 4, 300);
  const db = openGameDb(dbFile, { boardType: 'square8', numPlayers: 2 });
  try {
    validateGames(db, ids, { checkedAt: NOW });
    setParity(db, ids[1], { status: 'failed', checkedAt: NOW, divergenceMove: 3 });
    setParity(db, ids[2], { status: 'pending', checkedAt: null, divergenceMove: null });
    const out = path.join(dir, 'd.npz');
    const res = await exportNpz(db, { output: out, splitRatio: 0.5, sourceSha256: 'x', gitCommit: 'y', createdAt: NOW });
    assert.equal(res.games, 2);
    const z = readNpz(out);
    assert.deepEqual(z.game_ids.data, [ids[0], ids[3]]);
    // replay game 0 and check each sample's policy index decodes to the played move
    const g0 = playRandomGame({ boardType: 'square8', numPlayers: 2, seed: 300, rulesOptions: { swapRuleEnabled: true } });
    const s = createInitialState({ boardType: 'square8', numPlayers: 2, seed: 300 });
    const indptr = z.policy_indptr.data as BigInt64Array;
    const idx = z.policy_indices.data as Int32Array;
    const gi = z.game_index.data as Int32Array;
    let k = 0;
    for (const m of g0.moves) {
      assert.equal(gi[k], 0);
      const back = decodeMove('square8', idx[Number(indptr[k])], s)!;
      assert.equal(moveKey(back), moveKey(m));
      applyMoveInPlace(s, parseMove(m as unknown as Record<string, unknown>));
      k++;
    }
  } finally {
    closeGameDb(db);
  }
});

test('npz export refuses: existing output (untouched), DB with no games, nothing passed parity', async (t) => {
  const dir = tmpDir(t, 'rr-export-');
  const empty = path.join(dir, 'empty.db');
  closeGameDb(openGameDb(empty, { boardType: 'square8', numPlayers: 2, create: true }));
  const dbE = openGameDb(empty, { boardType: 'square8', numPlayers: 2 });
  try {
    await assert.rejects(
      exportNpz(dbE, { output: path.join(dir, 'a.npz'), splitRatio: 0.9, sourceSha256: 'x', gitCommit: 'y', createdAt: NOW }),
      (e: unknown) => e instanceof NpzExportError && e.code === 'no_games',
    );
  } finally {
    closeGameDb(dbE);
  }
  const dbFile = path.join(dir, 'g.db');
  const ids = buildDb(dbFile, 'square8', 2, 2, 9, 30);
  const db = openGameDb(dbFile, { boardType: 'square8', numPlayers: 2 });
  try {
    await assert.rejects(
      exportNpz(db, { output: path.join(dir, 'a.npz'), splitRatio: 0.9, sourceSha256: 'x', gitCommit: 'y', createdAt: NOW }),
      (e: unknown) => e instanceof NpzExportError && e.code === 'nothing_passed' && /passed parity/.test(e.message),
    );
    validateGames(db, ids, { checkedAt: NOW });
    const existing = path.join(dir, 'big.npz');
    fs.writeFileSync(existing, 'a larger dataset');
    await assert.rejects(
      exportNpz(db, { output: existing, splitRatio: 0.9, sourceSha256: 'x', gitCommit: 'y', createdAt: NOW }),
      (e: unknown) => e instanceof NpzExportError && e.code === 'output_exists',
    );
    assert.equal(fs.readFileSync(existing, 'utf8'), 'a larger dataset');
    const one = await exportNpz(db, {
      output: path.join(dir, 'c.npz'),
      splitRatio: 0.9,
      sourceSha256: 'x',
      gitCommit: 'y',
      createdAt: NOW,
      maxGames: 1,
    });
    assert.equal(one.games, 1);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.includes('.tmp')),
      [],
    );
  } finally {
    closeGameDb(db);
  }
});

test('rank-aware values and the by-game split', () => {
  const r = playRandomGame({ boardType: 'square8', numPlayers: 4, seed: 3 });
  const v = rankValues(r.state, r.result.winner, true);
  const vals = Array.from(v).slice(0, 4);
  assert.equal(vals[r.result.winner! - 1], 1);
  assert.ok(Math.abs(vals.reduce((a, b) => a + b, 0)) < 1e-6, `4p values sum to 0: ${vals.join(',')}`);
  assert.deepEqual(Array.from(rankValues(r.state, null, true)), [0, 0, 0, 0]);
  const ids = Array.from({ length: 100 }, (_, i) => `g${i}`);
  const a = splitGames(ids, 0.9, 1);
  assert.equal([...a.values()].filter((x) => x === 'val').length, 10);
  assert.deepEqual(a, splitGames([...ids].reverse(), 0.9, 1), 'independent of input order');
  assert.notDeepEqual(a, splitGames(ids, 0.9, 2));
  assert.equal([...splitGames(['only'], 0.9, 1).values()][0], 'train');
});

test('soft policy targets from move_probs (keyed by move key, or a list of {move, prob})', () => {
  const s = createInitialState({ boardType: 'square8', numPlayers: 2 });
  const [a, b] = legalMoves(s);
  const byKey = softPolicy('square8', { [moveKey(a)]: 3, [moveKey(b)]: 1 })!;
  assert.deepEqual(
    [...byKey.entries()].sort(),
    [
      [encodeMove('square8', a), 0.75],
      [encodeMove('square8', b), 0.25],
    ].sort(),
  );
  const list = softPolicy('square8', [
    { move: a, prob: 0.5 },
    { move: b, p: 0.5 },
  ])!;
  assert.equal(list.size, 2);
  assert.equal(softPolicy('square8', 'nonsense'), null);
  assert.equal(softPolicy('square8', { '{"type":"bogus"}': 1 }), null);
});
