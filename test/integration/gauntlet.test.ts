// Integration: the gauntlet on the real server with two worker processes. One worker is SIGKILLed
// while it plays a shard; the other resumes it. The run's evaluation DB holds exactly the planned
// games (no duplicates), pairs share a seed with the seats swapped, every seat's spec and model are
// recorded, the SPRT against `best` stops early, and the result's numbers match the stored games.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { closeGameDb, iterateGames, openGameDb } from '../../store/gameDb';
import { gameSeed } from '../../ai/selfplay';
import { selfplayGameId } from '../../activities/selfplay';
import { candidateSeat } from '../../activities/gauntlet';
import type { GauntletInput, GauntletResult } from '../../workflows/gauntlet';
import type { PhaseProgress } from '../../workflows/progress';
import { RINGRIFT_BIN, startTestServer, startTestWorker, testClient } from '../helpers/temporal';

export function gauntletTestInput(dir: string, over: Partial<GauntletInput> = {}): GauntletInput {
  return {
    configKey: 'square8_2p',
    boardType: 'square8',
    numPlayers: 2,
    registryDir: path.join(dir, 'models'),
    candidate: 'heuristic',
    candidateTemplate: 'mcts:{model}',
    baselines: ['random'],
    includeBest: false,
    earlierBests: 0,
    gamesPerOpponent: 40,
    seed: 5,
    roundsPerShard: 25,
    maxMoves: 3000,
    evalDir: path.join(dir, 'eval'),
    sprt: { elo0: 0, elo1: 25, alpha: 0.05, beta: 0.05, maxGames: 400 },
    floors: { random: 0.8 },
    parallelShards: 2,
    heartbeatTimeoutSeconds: 4,
    ...over,
  };
}

test('gauntlet: SIGKILLed worker, exactly the planned games, pairs on one seed, SPRT stops early', { timeout: 300_000 }, async (t) => {
  const server = await startTestServer();
  t.after(() => server.stop());
  const workerA = await startTestWorker(server.address, 'cpu');
  t.after(() => workerA.stop('SIGKILL'));
  const workerB = await startTestWorker(server.address, 'cpu');
  t.after(() => workerB.stop('SIGKILL'));
  const client = await testClient(server.address);
  t.after(() => client.connection.close());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-gauntlet-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));

  // Without neural players yet, `best` is played by `random` under the SPRT (role best).
  const input = gauntletTestInput(dir, {
    plan: {
      candidate: { name: 'heuristic', spec: 'heuristic', modelId: null },
      opponents: [
        { name: 'random', spec: 'random', modelId: null, role: 'baseline' },
        { name: 'best', spec: 'random', modelId: null, role: 'best' },
      ],
    },
  });
  const workflowId = 'gauntlet-fault-test';
  const started = Date.now();
  const handle = await client.workflow.start('gauntlet', { taskQueue: 'cpu', workflowId, args: [input] });

  // Kill the worker that runs a shard once that shard has committed a game or two.
  let victimPid: number | undefined;
  let seen = '';
  for (let i = 0; i < 600 && victimPid === undefined; i++) {
    await sleep(100);
    const desc = await handle.describe();
    const running = (desc.raw.pendingActivities ?? []).filter((a) => a.activityType?.name === 'playGauntletShard' && a.lastWorkerIdentity);
    for (const a of running) {
      const details = a.heartbeatDetails?.payloads?.[0]?.data;
      const done = details ? (JSON.parse(Buffer.from(details).toString()) as { gamesDone: number }).gamesDone : 0;
      const m = a.lastWorkerIdentity!.match(/^ringrift-cpu-(\d+)@/);
      seen = `${a.activityId}: ${done} (${desc.status.name})`;
      if (done >= 1 && done <= 30 && m) victimPid = Number(m[1]);
    }
  }
  assert.ok(victimPid === workerA.pid || victimPid === workerB.pid, `victim ${victimPid}; last seen ${seen}`);
  const [victim, survivor] = victimPid === workerA.pid ? [workerA, workerB] : [workerB, workerA];
  assert.equal((await victim.stop('SIGKILL')).signal, 'SIGKILL');

  const result = (await handle.result()) as GauntletResult;
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `gauntlet: ${result.games} games in ${seconds.toFixed(1)} s (${(result.games / seconds).toFixed(2)} games/s on 2 workers, one killed)`,
  );
  const best = result.opponents.find((o) => o.name === 'best')!;
  const random = result.opponents.find((o) => o.name === 'random')!;
  assert.equal(random.games, 40);
  assert.equal(result.sprt!.state, 'H1', JSON.stringify(result.sprt));
  assert.ok(best.games < 400 && best.games % 50 === 0, `the SPRT stopped early at a shard boundary: ${best.games}`);
  assert.equal(result.sprt!.games, best.games);
  assert.equal(result.games, random.games + best.games);
  assert.equal(result.passed, true, result.reasons.join('; '));

  // The eval DB: exactly the planned ids, and every number of the result recomputed from the games.
  const db = openGameDb(result.evalDb.path, { boardType: 'square8', numPlayers: 2, readonly: true });
  t.after(() => closeGameDb(db));
  const ids: string[] = [];
  const seeds = new Map<string, number>();
  const tally = new Map<string, { games: number; score: number; penta: number[]; pair: number }>();
  for (const g of iterateGames(db)) {
    ids.push(g.gameId);
    const opp = g.metadata.opponent as string;
    const index = Number(g.gameId.slice(-6));
    const cand = candidateSeat(index, 2);
    assert.equal(g.players[cand - 1]!.spec, 'heuristic');
    assert.equal(g.players[2 - cand]!.spec, 'random');
    assert.deepEqual(g.metadata.models, { heuristic: null, random: null });
    assert.equal(g.source, 'gauntlet');
    assert.equal(Number(g.seed), gameSeed(input.seed, Math.floor(index / 2)), 'a pair shares its seed');
    const pairKey = `${opp}/${Math.floor(index / 2)}`;
    if (seeds.has(pairKey)) assert.equal(seeds.get(pairKey), Number(g.seed));
    seeds.set(pairKey, Number(g.seed));
    const s = tally.get(opp) ?? { games: 0, score: 0, penta: [0, 0, 0, 0, 0], pair: 0 };
    const pts = g.winner === null ? 0.5 : g.winner === cand ? 1 : 0;
    s.games++;
    s.score += pts;
    tally.set(opp, s);
  }
  const planned = [
    ...Array.from({ length: 40 }, (_, i) => selfplayGameId(`${workflowId}-random`, i)),
    ...Array.from({ length: best.games }, (_, i) => selfplayGameId(`${workflowId}-best`, i)),
  ];
  assert.deepEqual(ids.sort(), planned.sort());
  assert.equal(new Set(ids).size, ids.length, 'no duplicates');
  assert.equal(tally.get('random')!.score / 40, random.rate);
  assert.equal(tally.get('best')!.score / best.games, best.rate);
  assert.equal(
    best.penta.reduce((a, b) => a + b, 0),
    best.games / 2,
  );
  assert.deepEqual(
    fs.readdirSync(path.dirname(result.evalDb.path)).filter((f) => f.startsWith('.shards-')),
    [],
  );

  assert.match(survivor.output(), /resumed gauntlet shard/, 'the survivor resumed the killed shard from its DB');

  // The CLI: same workflow, the result summary after the progress bar.
  const cfgDir = path.join(dir, 'config');
  fs.mkdirSync(cfgDir);
  fs.writeFileSync(path.join(cfgDir, 'pipeline.yaml'), `phases:\n  gauntlet:\n    evalDir: ${path.join(dir, 'eval')}\n`);
  const cli = await promisify(execFile)(
    RINGRIFT_BIN,
    ['pipeline', 'run', 'gauntlet', '--candidate', 'heuristic', '--config-key', 'square8_2p', '--baselines', 'random', '--no-best'].concat([
      '--games',
      '10',
      '--seed',
      '3',
      '--workflow-id',
      'gauntlet-cli',
      '--wait',
    ]),
    {
      env: {
        ...process.env,
        RINGRIFT_TEMPORAL_ADDRESS: server.address,
        RINGRIFT_CONFIG_DIR: cfgDir,
        RINGRIFT_REGISTRY_DIR: path.join(dir, 'models'),
      },
    },
  );
  assert.match(cli.stdout, /^started gauntlet: workflow gauntlet-cli/);
  assert.match(
    cli.stdout,
    /\n(passed|failed): heuristic, 10 games in .*\/square8_2p\/gauntlet-cli\.db\n {2}vs random +10 games +\+\d+ =\d+ -\d+ +score \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\] floor 0\.9/,
  );
  assert.match(cli.stderr, /gauntlet|merge|done/, 'the progress bar');

  const progress = await handle.query<PhaseProgress>('progress');
  assert.equal(progress.phase, 'done');
  assert.equal(progress.done, result.games);
  assert.equal(progress.target, result.games, 'the target shrinks to the games played once the SPRT decided');
  assert.match(progress.detail!, /best 0\.\d{3} LLR \d/);
});
