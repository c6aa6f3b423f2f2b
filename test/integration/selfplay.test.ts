// Integration: canonical self-play on the real server with two worker processes; one is SIGKILLed while
// it holds a shard, the other resumes that shard after the heartbeat timeout. Exactly N distinct games,
// every one replays through the engine to its stored hashes, and game i equals a local replay of game i.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { applyMoveInPlace, createInitialState, hashState, moveKey, parseMove } from '../../engine';
import { gameSeed, playGame, seatSpecs } from '../../ai/selfplay';
import { closeGameDb, iterateGames, openGameDb } from '../../store/gameDb';
import type { SelfplayInput, SelfplayResult } from '../../workflows/canonicalSelfplay';
import type { PhaseProgress } from '../../workflows/progress';
import { selfplayGameId } from '../../activities/selfplay';
import { startTestServer, startTestWorker, testClient } from '../helpers/temporal';
import { pendingWork } from '../../cli/runState';

test('self-play survives a SIGKILLed worker and yields exactly N replayable games', { timeout: 300_000 }, async (t) => {
  const server = await startTestServer();
  t.after(() => server.stop());
  const workerA = await startTestWorker(server.address, 'cpu');
  t.after(() => workerA.stop('SIGKILL'));
  const workerB = await startTestWorker(server.address, 'cpu');
  t.after(() => workerB.stop('SIGKILL'));
  const client = await testClient(server.address);
  t.after(() => client.connection.close());

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-selfplay-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const input: SelfplayInput = {
    boardType: 'square8',
    numPlayers: 2,
    // shards long enough that a heartbeat (throttled to 80% of the 4 s timeout) shows one mid-way
    numGames: 1000,
    seed: 11,
    shardSize: 500,
    outputDb: path.join(dir, 'games.db'),
    playerMix: ['heuristic'],
    maxMoves: 3000,
    heartbeatTimeoutSeconds: 4,
  };
  const workflowId = 'selfplay-fault-test';
  const handle = await client.workflow.start('canonicalSelfplay', { taskQueue: 'cpu', workflowId, args: [input] });

  // Wait until some shard is mid-way, then SIGKILL the worker running it.
  let victimPid: number | undefined;
  let victimShard = -1;
  let last = '';
  // Progress travels in heartbeat details: find a shard mid-way from the pending activities.
  for (let i = 0; i < 600 && victimPid === undefined; i++) {
    await sleep(100);
    let pending;
    try {
      pending = await pendingWork(client, workflowId);
    } catch {
      continue;
    }
    last = JSON.stringify(pending.map((a) => [a.activityType, a.heartbeat]));
    const act = pending.find(
      (a) =>
        a.activityType === 'playSelfplayShard' &&
        a.worker &&
        typeof a.heartbeat?.shard === 'number' &&
        (a.heartbeat.done ?? 0) >= 2 &&
        (a.heartbeat.done ?? 0) < input.shardSize - 20,
    );
    const m = act?.worker?.match(/^ringrift-cpu-(\d+)@/);
    if (act && m) {
      victimPid = Number(m[1]);
      victimShard = act.heartbeat!.shard!;
    }
  }
  assert.ok(victimPid === workerA.pid || victimPid === workerB.pid, `victim ${victimPid} is one of our workers; last progress ${last}`);
  const [victim, survivor] = victimPid === workerA.pid ? [workerA, workerB] : [workerB, workerA];
  const killed = await victim.stop('SIGKILL');
  assert.equal(killed.signal, 'SIGKILL');

  const result = (await handle.result()) as SelfplayResult;
  assert.equal(result.games, input.numGames);
  assert.equal(result.outputDb.totalGames, input.numGames);
  const resumed = result.shards.find((s) => s.index === victimShard)!;
  assert.ok(resumed.resumedFrom >= 2, `shard ${victimShard} resumed from its committed games: ${JSON.stringify(result.shards)}`);
  assert.match(result.outputDb.sha256, /^[0-9a-f]{64}$/);
  assert.equal(survivor.child.exitCode, null, 'the survivor is still running');

  // The DB: exactly the N expected ids, each replaying through the engine to its stored hashes.
  const db = openGameDb(input.outputDb, { boardType: 'square8', numPlayers: 2, readonly: true });
  t.after(() => closeGameDb(db));
  const ids: string[] = [];
  for (const g of iterateGames(db)) {
    ids.push(g.gameId);
    const index = Number(g.gameId.slice(-6));
    assert.equal(g.seed, gameSeed(input.seed, index));
    const state = createInitialState({ boardType: 'square8', numPlayers: 2, seed: Number(g.seed) });
    g.moves.forEach((m, k) => {
      assert.equal(g.steps[k]!.hashBefore, hashState(state), `${g.gameId} move ${k} before`);
      applyMoveInPlace(state, parseMove(m));
      assert.equal(g.steps[k]!.hashAfter, hashState(state), `${g.gameId} move ${k} after`);
    });
    if (index % 100 === 0) {
      const local = playGame({
        boardType: 'square8',
        numPlayers: 2,
        seed: gameSeed(input.seed, index),
        seats: seatSpecs(input.playerMix, 2, index),
        maxMoves: 3000,
      });
      assert.deepEqual(
        g.moves.map((m) => moveKey(m)),
        local.moves.map((m) => moveKey(m)),
        `${g.gameId} equals a local replay`,
      );
    }
  }
  assert.equal(ids.length, input.numGames);
  assert.deepEqual(ids.sort(), Array.from({ length: input.numGames }, (_, i) => selfplayGameId(workflowId, i)).sort());
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.startsWith('.shards-')),
    [],
    'shard DBs are cleaned up',
  );

  const progress = await handle.query<PhaseProgress>('progress');
  assert.equal(progress.phase, 'done');
  assert.equal(progress.done, input.numGames);

  // A second run appends to the same DB atomically; the first run's games stay as they were.
  const more = (await client.workflow.execute('canonicalSelfplay', {
    taskQueue: 'cpu',
    workflowId: 'selfplay-append-test',
    args: [{ ...input, numGames: 12, shardSize: 5, playerMix: ['random'] }],
  })) as SelfplayResult;
  assert.equal(more.outputDb.gamesAdded, 12);
  assert.equal(more.outputDb.totalGames, input.numGames + 12);
  assert.notEqual(more.outputDb.sha256, result.outputDb.sha256);
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.startsWith('.shards-')),
    [],
  );
});
