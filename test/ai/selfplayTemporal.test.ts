// Integration: canonical self-play with `mcts:` players on the real Temporal server with two worker
// processes; the worker holding a shard is SIGKILLed mid-way, the other resumes the shard. Exactly
// N distinct games, every searched move carries its target, game i equals a local replay of game i,
// and a missing model fails the run at once (non-retryable) with one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError } from '@temporalio/client';
import { applyMoveInPlace, createInitialState, hashState, moveKey, parseMove } from '../../engine';
import { gameSeed } from '../../ai/selfplay';
import { closeGameDb, iterateGames, listGameIds, openGameDb, readGame } from '../../store/gameDb';
import type { SelfplayInput, SelfplayResult } from '../../workflows/canonicalSelfplay';
import { pendingWork } from '../../cli/runState';
import { playShard, selfplayGameId } from '../../activities/selfplay';
import { startTestServer, startTestWorker, testClient } from '../helpers/temporal';
import { registerTiny, tinyModel } from './nnFixture';

test(
  'mcts self-play through Temporal survives a SIGKILLed worker: exactly N games with search targets',
  { timeout: 300_000 },
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-nn-temporal-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const registryDir = path.join(dir, 'models');
    const model = registerTiny(registryDir, 'square8', await tinyModel('square8'));

    const server = await startTestServer();
    t.after(() => server.stop());
    // one game at a time per shard, long enough that the (throttled) heartbeats show a shard mid-way
    const env = { RINGRIFT_REGISTRY_DIR: registryDir, RINGRIFT_NN_GAMES: '1', RINGRIFT_NN_BATCH: '8' };
    const workerA = await startTestWorker(server.address, 'cpu', env);
    t.after(() => workerA.stop('SIGKILL'));
    const workerB = await startTestWorker(server.address, 'cpu', env);
    t.after(() => workerB.stop('SIGKILL'));
    const client = await testClient(server.address);
    t.after(() => client.connection.close());

    const input: SelfplayInput = {
      boardType: 'square8',
      numPlayers: 2,
      numGames: 32,
      seed: 3,
      shardSize: 16,
      outputDb: path.join(dir, 'games.db'),
      playerMix: [`mcts:${model.id}:sims=16`],
      maxMoves: 150,
      heartbeatTimeoutSeconds: 4,
    };
    const workflowId = 'selfplay-nn-fault-test';
    const handle = await client.workflow.start('canonicalSelfplay', { taskQueue: 'cpu', workflowId, args: [input] });

    let victimPid: number | undefined;
    let victimShard = -1;
    let last = '';
    const seen: string[] = [];
    // progress travels in the shard activities' heartbeat details
    for (let i = 0; i < 1200 && victimPid === undefined; i++) {
      await sleep(100);
      let pending;
      try {
        pending = await pendingWork(client, workflowId);
      } catch {
        continue;
      }
      const now = JSON.stringify(pending.map((a) => [a.activityType, a.heartbeat?.done ?? null]));
      if (now !== last) seen.push(now);
      last = now;
      const act = pending.find(
        (a) =>
          a.activityType === 'playSelfplayShard' &&
          a.worker &&
          typeof a.heartbeat?.shard === 'number' &&
          (a.heartbeat.done ?? 0) >= 2 &&
          (a.heartbeat.done ?? 0) <= input.shardSize - 3,
      );
      const m = act?.worker?.match(/^ringrift-cpu-(\d+)@/);
      if (act && m) {
        victimPid = Number(m[1]);
        victimShard = act.heartbeat!.shard!;
      }
    }
    assert.ok(
      victimPid === workerA.pid || victimPid === workerB.pid,
      `victim ${victimPid} is one of our workers; progress seen ${seen.join(' ')}`,
    );
    const [victim, survivor] = victimPid === workerA.pid ? [workerA, workerB] : [workerB, workerA];
    const killed = await victim.stop('SIGKILL');
    assert.equal(killed.signal, 'SIGKILL');

    const result = (await handle.result()) as SelfplayResult;
    assert.equal(result.games, input.numGames);
    assert.equal(result.outputDb.totalGames, input.numGames);
    const resumed = result.shards.find((s) => s.index === victimShard)!;
    assert.ok(resumed.resumedFrom >= 2, `shard ${victimShard} resumed from its committed games: ${JSON.stringify(result.shards)}`);
    assert.equal(survivor.child.exitCode, null, 'the survivor is still running');

    const db = openGameDb(input.outputDb, { boardType: 'square8', numPlayers: 2, readonly: true });
    t.after(() => closeGameDb(db));
    const ids: string[] = [];
    for (const g of iterateGames(db)) {
      ids.push(g.gameId);
      const index = Number(g.gameId.slice(-6));
      assert.equal(g.seed, gameSeed(input.seed, index));
      assert.deepEqual((g.metadata as { seatModels: string[] }).seatModels, [model.id, model.id]);
      const state = createInitialState({ boardType: 'square8', numPlayers: 2, seed: Number(g.seed) });
      let searched = 0;
      g.moves.forEach((m, k) => {
        assert.equal(g.steps[k]!.hashBefore, hashState(state), `${g.gameId} move ${k} before`);
        if (g.steps[k]!.moveProbs) searched++;
        applyMoveInPlace(state, parseMove(m));
        assert.equal(g.steps[k]!.hashAfter, hashState(state), `${g.gameId} move ${k} after`);
      });
      assert.ok(searched > g.moves.length / 3, `${g.gameId}: ${searched} searched moves of ${g.moves.length}`);
    }
    assert.equal(ids.length, input.numGames);
    assert.equal(new Set(ids).size, input.numGames, 'no duplicates');
    assert.deepEqual(ids.sort(), Array.from({ length: input.numGames }, (_, i) => selfplayGameId(workflowId, i)).sort());

    // game 13 (the killed shard's or not) equals a local replay with the same model and seed
    const local = path.join(dir, 'local.db');
    await playShard(
      {
        workflowId,
        shardIndex: 0,
        firstGame: 13,
        numGames: 1,
        boardType: 'square8',
        numPlayers: 2,
        seed: input.seed,
        playerMix: input.playerMix,
        maxMoves: input.maxMoves,
        shardDb: local,
        registryDir,
      },
      () => {},
    );
    const ldb = openGameDb(local, { boardType: 'square8', numPlayers: 2, readonly: true });
    try {
      const mine = readGame(ldb, listGameIds(ldb)[0]!)!;
      const theirs = readGame(db, selfplayGameId(workflowId, 13))!;
      assert.deepEqual(mine.moves.map(moveKey), theirs.moves.map(moveKey));
      assert.deepEqual(
        mine.steps.map((s) => s.moveProbs),
        theirs.steps.map((s) => s.moveProbs),
      );
    } finally {
      closeGameDb(ldb);
    }

    // a model the registry does not have: the run fails at once, not retried, with one line
    const bad = client.workflow.execute('canonicalSelfplay', {
      taskQueue: 'cpu',
      workflowId: 'selfplay-nn-missing-model',
      args: [{ ...input, outputDb: path.join(dir, 'bad.db'), playerMix: ['mcts:square8_2p-000000000000'] }],
    });
    await assert.rejects(bad, (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError);
      const msg = String((e.cause as { cause?: Error })?.cause?.message ?? e.cause?.message);
      assert.match(msg, /no model "square8_2p-000000000000"/);
      assert.ok(!msg.includes('\n'));
      return true;
    });
    const desc = await client.workflow.getHandle('selfplay-nn-missing-model').describe();
    assert.equal(desc.status.name, 'FAILED');
  },
);
