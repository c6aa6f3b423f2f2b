// A gauntlet shard for 3 players, in-process: each rotation of 3 games shares one seed and puts the
// candidate in every seat; the outcomes are counted from the shard DB (so a resumed shard counts
// each game once), and a second run over the same DB plays nothing and counts the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { playShard, type ShardInput } from '../../activities/selfplay';
import { candidateSeat, shardOutcomes } from '../../activities/gauntlet';
import { gameSeed } from '../../ai/selfplay';
import { closeGameDb, iterateGames, openGameDb } from '../../store/gameDb';

test('3-player rotations: one seed per rotation, the candidate in every seat, outcomes from the DB', { timeout: 60_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-gauntlet-shard-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const input: ShardInput = {
    workflowId: 'g3',
    shardIndex: 0,
    firstGame: 0,
    numGames: 6,
    boardType: 'square8',
    numPlayers: 3,
    seed: 9,
    playerMix: ['heuristic', 'random', 'random'],
    maxMoves: 3000,
    shardDb: path.join(dir, 'shard.db'),
    gamesPerSeed: 3,
    gameIdPrefix: 'g3-random',
    source: 'gauntlet',
    metadata: { opponent: 'random' },
  };
  const first = await playShard(input, () => undefined);
  assert.equal(first.games, 6);
  const db = openGameDb(input.shardDb, { boardType: 'square8', numPlayers: 3, readonly: true });
  let wins = 0;
  let draws = 0;
  try {
    const seats = new Set<number>();
    for (const g of iterateGames(db)) {
      const index = Number(g.gameId.slice(-6));
      const seat = candidateSeat(index, 3);
      seats.add(seat);
      assert.deepEqual(
        g.players.map((p) => p.spec),
        [1, 2, 3].map((s) => (s === seat ? 'heuristic' : 'random')),
      );
      assert.equal(Number(g.seed), gameSeed(9, Math.floor(index / 3)));
      assert.equal(g.metadata.opponent, 'random');
      if (g.winner === seat) wins++;
      else if (g.winner === null) draws++;
    }
    assert.deepEqual([...seats].sort(), [1, 2, 3]);
  } finally {
    closeGameDb(db);
  }
  const out = shardOutcomes(input);
  assert.equal(out.games, 6);
  assert.equal(out.wins, wins);
  assert.equal(out.draws, draws);
  assert.equal(out.losses, 6 - wins - draws);
  assert.ok(Math.abs(out.score - (wins + draws / 3)) < 1e-9);
  assert.deepEqual(out.penta, [0, 0, 0, 0, 0], 'no pairs with 3 players');
  const again = await playShard(input, () => undefined);
  assert.equal(again.resumedFrom, 6);
  assert.deepEqual(shardOutcomes(input), out);
});
