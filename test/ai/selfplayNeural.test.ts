// Self-play shards with neural players (in process, no Temporal): the search targets in
// game_moves.move_probs, the seat models, the NPZ export of such a DB, determinism per seed, and
// the one-line refusals of bad specs and missing models.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { applyMoveTrusted, legalMoveKeys, parseMove, type Move } from '../../engine';
import { initialStateFor, replayGame, selectParityGames, validateGames } from '../../store/parity';
import { closeGameDb, fileSha256Sync, listGameIds, openGameDb, readGame, type StoredGame } from '../../store/gameDb';
import { exportNpz } from '../../store/npzExport';
import { readNpz } from '../../store/npz';
import { playShard, resolveShardModels, type ShardInput } from '../../activities/selfplay';
import { PlayerSpecError, parsePlayerSpec } from '../../ai/players';
import { registerTiny, tinyModel } from './nnFixture';

async function setup(t: { after: (fn: () => void) => void }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-nn-selfplay-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const onnx = await tinyModel('square8');
  const model = registerTiny(path.join(dir, 'models'), 'square8', onnx);
  const input = (over: Partial<ShardInput> = {}): ShardInput => ({
    workflowId: 'selfplay-square8_2p-nn',
    shardIndex: 0,
    firstGame: 0,
    numGames: 2,
    boardType: 'square8',
    numPlayers: 2,
    seed: 5,
    playerMix: ['mcts:best:sims=12', 'gumbel:best:sims=8'],
    maxMoves: 40,
    shardDb: path.join(dir, 'shard.db'),
    registryDir: path.join(dir, 'models'),
    neural: { concurrentGames: 2, batchSize: 16, leafBatch: 4 },
    ...over,
  });
  return { dir, model, input };
}

function games(file: string): StoredGame[] {
  const db = openGameDb(file, { boardType: 'square8', numPlayers: 2, readonly: true });
  try {
    return listGameIds(db).map((id) => readGame(db, id)!);
  } finally {
    closeGameDb(db);
  }
}

test('neural self-play stores every searched move’s target (sums to 1 over legal moves only) and each seat’s model; the NPZ keeps the soft targets', async (t) => {
  const { dir, model, input } = await setup(t);
  const res = await playShard(input(), () => {});
  assert.equal(res.games, 2);
  const stored = games(input().shardDb);
  assert.equal(stored.length, 2);
  let searched = 0;
  for (const g of stored) {
    // seats rotate per game; each seat's spec and model are stored
    const meta = g.metadata as { seatModels: string[] };
    assert.deepEqual(meta.seatModels, [model.id, model.id]);
    assert.deepEqual(g.players.map((p) => p.spec).sort(), ['gumbel:best:sims=8', 'mcts:best:sims=12']);
    const state = initialStateFor(g);
    g.moves.forEach((mj, i) => {
      const legal = legalMoveKeys(state);
      const probs = g.steps[i]!.moveProbs as Record<string, number> | undefined;
      if (legal.length === 1) assert.equal(probs, undefined, 'a forced move is not searched');
      else {
        assert.ok(probs, `move ${i} of ${g.gameId} has a target`);
        searched++;
        const keys = Object.keys(probs);
        for (const k of keys) assert.ok(legal.includes(k), `target on an illegal move at ${i}: ${k}`);
        const sum = Object.values(probs).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - 1) < 1e-9, `sums to 1 (${sum})`);
        assert.ok(Object.values(probs).every((p) => p > 0 && p <= 1));
        assert.ok(keys.length > 1, `more than one move searched at ${i}`);
      }
      applyMoveTrusted(state, parseMove(mj as Record<string, unknown>) as Move);
    });
    assert.equal(replayGame(g).result.status, 'passed');
  }
  assert.ok(searched >= 20, `searched moves: ${searched}`);

  // the NPZ export reads the targets: more than one non-zero entry at every searched position
  const db = openGameDb(input().shardDb, { boardType: 'square8', numPlayers: 2 });
  const npzPath = path.join(dir, 'out.npz');
  try {
    validateGames(db, selectParityGames(db), { checkedAt: '2026-11-30T00:00:00.000Z' });
    await exportNpz(db, {
      output: npzPath,
      splitRatio: 0.5,
      sourceSha256: fileSha256Sync(input().shardDb),
      gitCommit: 'test',
      createdAt: '2026-11-30T00:00:00.000Z',
    });
  } finally {
    closeGameDb(db);
  }
  const z = readNpz(npzPath, ['policy_indptr', 'policy_probs', 'game_ids', 'game_index', 'move_number']);
  const indptr = z.policy_indptr.data as BigInt64Array;
  const probs = z.policy_probs.data as Float32Array;
  const ids = z.game_ids.data as string[];
  const gIdx = z.game_index.data as Int32Array;
  const moveNo = z.move_number.data as Int32Array;
  const byId = new Map(stored.map((g) => [g.gameId, g]));
  let multi = 0;
  for (let r = 0; r + 1 < indptr.length; r++) {
    const a = Number(indptr[r]);
    const b = Number(indptr[r + 1]);
    const g = byId.get(ids[gIdx[r]!]!)!;
    const target = g.steps[moveNo[r]!]!.moveProbs as Record<string, number> | undefined;
    let s = 0;
    for (let k = a; k < b; k++) s += probs[k]!;
    assert.ok(Math.abs(s - 1) < 1e-5);
    if (target) {
      assert.equal(b - a, Object.keys(target).length, `row ${r}: one entry per searched move`);
      assert.ok(b - a > 1);
      multi++;
    } else assert.equal(b - a, 1);
  }
  assert.equal(multi, searched);
});

test('neural self-play is deterministic per seed whatever the batching and concurrency', async (t) => {
  const { dir, input } = await setup(t);
  const a = path.join(dir, 'a.db');
  const b = path.join(dir, 'b.db');
  await playShard(input({ shardDb: a, numGames: 3, neural: { concurrentGames: 3, batchSize: 32, leafBatch: 4 } }), () => {});
  await playShard(input({ shardDb: b, numGames: 3, neural: { concurrentGames: 1, batchSize: 1, leafBatch: 4 } }), () => {});
  const ga = games(a);
  const gb = games(b);
  assert.equal(ga.length, 3);
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(ga[i]!.moves, gb[i]!.moves, `game ${i} moves`);
    assert.deepEqual(
      ga[i]!.steps.map((s) => s.moveProbs),
      gb[i]!.steps.map((s) => s.moveProbs),
    );
  }
  // different games differ (seeded noise and sampling)
  assert.notDeepEqual(ga[0]!.moves, ga[1]!.moves);
  // a resumed shard plays only what is missing
  const again = await playShard(input({ shardDb: a, numGames: 4, neural: { concurrentGames: 2 } }), () => {});
  assert.deepEqual([again.resumedFrom, again.games], [3, 4]);
});

test('bad neural specs and missing models are one line each', async (t) => {
  const { dir, input } = await setup(t);
  assert.deepEqual(parsePlayerSpec('mcts:best:sims=32'), { kind: 'mcts', model: 'best', sims: 32 });
  assert.deepEqual(parsePlayerSpec('gumbel:square8_2p-0123456789ab'), { kind: 'gumbel', model: 'square8_2p-0123456789ab' });
  assert.deepEqual(parsePlayerSpec('policy:best'), { kind: 'policy', model: 'best' });
  for (const [spec, msg] of [
    ['mcts', /give a model, e\.g\. mcts:best/],
    ['mcts:', /"" is not a model id/],
    ['mcts:best:sims=0', /sims must be between 1 and/],
    ['mcts:best:cpuct=2', /unknown option "cpuct=2"/],
    ['policy:best:sims=4', /policy players do not search/],
    ['gumbel:../m.onnx', /is not a model id/],
  ] as const) {
    assert.throws(
      () => parsePlayerSpec(spec),
      (e: unknown) => e instanceof PlayerSpecError && msg.test(e.message) && !e.message.includes('\n'),
      spec,
    );
  }
  assert.throws(
    () => resolveShardModels(input({ playerMix: ['mcts:square8_2p-000000000000'] })),
    (e: unknown) =>
      e instanceof Error &&
      e.name === 'ModelNotFoundError' &&
      /no model "square8_2p-000000000000"/.test(e.message) &&
      !e.message.includes('\n'),
  );
  assert.throws(
    () => resolveShardModels(input({ playerMix: ['mcts:best'], registryDir: path.join(dir, 'nowhere') })),
    /no model registry at/,
  );
  // a registry entry whose file is another board's network: refused with one line before any game
  const wrongReg = path.join(dir, 'wrongreg');
  registerTiny(wrongReg, 'square8', await tinyModel('hex8'));
  assert.throws(
    () => resolveShardModels(input({ playerMix: ['mcts:best'], registryDir: wrongReg })),
    (e: unknown) =>
      e instanceof Error &&
      e.name === 'ModelLoadError' &&
      /board_type is hex8, the game is square8/.test(e.message) &&
      !e.message.includes('\n'),
  );
  // a square8 model in a hex8 shard: refused when the thread loads it, before any game
  const onnx = await tinyModel('square8');
  const hexReg = path.join(dir, 'hexreg');
  const reg = registerTiny(hexReg, 'square8', onnx);
  await assert.rejects(
    playShard(
      input({
        boardType: 'hex8',
        shardDb: path.join(dir, 'hex.db'),
        models: { best: { id: reg.id, path: reg.path, sha256: reg.sha256 } },
      }),
      () => {},
    ),
    (e: unknown) => e instanceof Error && e.name === 'ModelLoadError' && /board_type is square8, the game is hex8/.test(e.message),
  );
});

test('policy players play without search (no target stored) beside a heuristic seat', async (t) => {
  const { input, model } = await setup(t);
  const file = input().shardDb.replace('shard.db', 'policy.db');
  const res = await playShard(input({ shardDb: file, numGames: 2, playerMix: ['policy:best', 'heuristic'], maxMoves: 60 }), () => {});
  assert.equal(res.games, 2);
  for (const g of games(file)) {
    const policySeat = g.players.find((p) => p.spec === 'policy:best')!.seat;
    assert.deepEqual(
      g.players.map((p) => p.aiType),
      policySeat === 1 ? ['policy', 'heuristic'] : ['heuristic', 'policy'],
    );
    assert.deepEqual((g.metadata as { seatModels: (string | null)[] }).seatModels, policySeat === 1 ? [model.id, null] : [null, model.id]);
    assert.ok(g.steps.every((s) => s.moveProbs === undefined));
    assert.equal(replayGame(g).result.status, 'passed');
  }
});
