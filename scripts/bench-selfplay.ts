// bench:selfplay — real work: square8 2-player heuristic games (at least a minute of play), the same
// shard code in a plain in-process loop (one DB, no Temporal) and through the canonicalSelfplay
// workflow on a real dev server with one worker, one activity slot (shards one after another on one
// core, as the plain loop plays), at the default (adaptive) shard size. Runs are interleaved
// (plain, temporal, temporal, plain) so that a machine's drift hits both; prints JSON lines and the
// orchestration overhead against the plain loop of the same run. BENCH_FULL=1 adds 1 worker with 2
// slots and 2 workers (speed-up), and heuristic games/s per board.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { REPO_ROOT, loadConfig } from '../config/load';
import { ensureSearchAttributes, freePort, spawnDevServer, waitForTemporal } from '../cli/devServer';
import { describePollers } from '../activities/health';
import { playShard } from '../activities/selfplay';
import { gameSeed, playGame } from '../ai/selfplay';
import type { SelfplayResult, SelfplayStartInput } from '../workflows/canonicalSelfplay';
import { adaptiveShardSize } from '../workflows/shardSize';

const BOARD = 'square8' as const;
const PLAYERS = 2;
const MIX = (process.env.BENCH_MIX ?? 'heuristic').split(',');
const GAMES = Number(process.env.BENCH_GAMES ?? 4000);
const SHARD = process.env.BENCH_SHARD
  ? Number(process.env.BENCH_SHARD)
  : adaptiveShardSize({ boardType: BOARD, numPlayers: PLAYERS, playerMix: MIX, numGames: GAMES });
const SEED = 1;

/** The plain loop: the shard code itself, every game into one DB, in this process. */
async function plainLoop(dbPath: string): Promise<number> {
  const t0 = performance.now();
  const r = await playShard(
    {
      workflowId: 'plain',
      shardIndex: 0,
      firstGame: 0,
      numGames: GAMES,
      boardType: BOARD,
      numPlayers: PLAYERS,
      seed: SEED,
      playerMix: MIX,
      maxMoves: 3000,
      shardDb: dbPath,
    },
    () => undefined,
  );
  if (r.games !== GAMES) throw new Error(`plain loop: ${r.games} games, expected ${GAMES}`);
  return (performance.now() - t0) / 1000;
}

async function startWorker(address: string, client: Client, configDir?: string): Promise<ChildProcess> {
  const child = spawn(path.join(REPO_ROOT, 'bin', 'ringrift'), ['worker', '--queue', 'cpu'], {
    // metrics on any free port: a `dev up` worker may hold the configured one
    env: {
      ...process.env,
      RINGRIFT_TEMPORAL_ADDRESS: address,
      RINGRIFT_METRICS_PORT: '0',
      ...(configDir ? { RINGRIFT_CONFIG_DIR: configDir } : {}),
    },
    stdio: 'ignore',
  });
  for (;;) {
    const [q] = await describePollers(client, 'default', ['cpu']);
    if (q?.activityPollers.some((p) => p.identity.includes(`-${child.pid}@`))) return child;
    if (child.exitCode !== null) throw new Error('worker exited');
    await sleep(200);
  }
}

async function runWorkflow(client: Client, dir: string, label: string, games = GAMES): Promise<number> {
  // shardSize left out: the worker fills the default (adaptive), as a run started from the UI gets
  const input: SelfplayStartInput = {
    boardType: BOARD,
    numPlayers: PLAYERS,
    numGames: games,
    seed: SEED,
    outputDb: path.join(dir, `${label}.db`),
    playerMix: MIX,
    maxMoves: 3000,
  };
  const t0 = performance.now();
  const result = (await client.workflow.execute('canonicalSelfplay', {
    taskQueue: 'cpu',
    workflowId: `bench-${label}-${Date.now()}`,
    args: [input],
  })) as SelfplayResult;
  if (result.games !== games) throw new Error(`${label}: ${result.games} games, expected ${games}`);
  if (games === GAMES && result.shardCount !== Math.ceil(GAMES / SHARD))
    throw new Error(`${label}: ${result.shardCount} shards, expected shard size ${SHARD}`);
  return (performance.now() - t0) / 1000;
}

/** Heuristic vs heuristic games/s per board, plain loop on one core (each board gets a time budget). */
function heuristicPerBoard(): void {
  for (const boardType of ['square8', 'hex8', 'square19', 'hexagonal'] as const) {
    const t0 = performance.now();
    let games = 0;
    let moves = 0;
    while (games < 50 && (games === 0 || performance.now() - t0 < 10_000)) {
      const g = playGame({ boardType, numPlayers: 2, seed: gameSeed(5, games), seats: ['heuristic', 'heuristic'], maxMoves: 3000 });
      moves += g.moves.length;
      games++;
    }
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      JSON.stringify({
        bench: 'selfplay',
        mode: 'heuristic-vs-heuristic',
        boardType,
        games,
        seconds: +seconds.toFixed(2),
        gamesPerSecond: +(games / seconds).toFixed(3),
        movesPerSecond: Math.round(moves / seconds),
      }),
    );
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-bench-selfplay-'));
  const port = await freePort();
  const server = spawnDevServer({
    ip: '127.0.0.1',
    port,
    uiPort: null,
    dbFile: path.join(dir, 'temporal.db'),
    logFile: path.join(dir, 'temporal.log'),
    namespace: 'default',
    detached: false,
  });
  const workers: ChildProcess[] = [];
  const address = `127.0.0.1:${port}`;
  try {
    await waitForTemporal(address, 'default', 60_000);
    const connection = await Connection.connect({ address });
    // as `ringrift dev up` does: workflows tag their runs with these
    await ensureSearchAttributes(connection, 'default', loadConfig().pipeline.searchAttributes);
    const client = new Client({ connection });

    // Warm-up (module load, JIT) so the plain loop is not penalised for going first.
    playGame({
      boardType: BOARD,
      numPlayers: PLAYERS,
      seed: gameSeed(99, 0),
      seats: MIX.length === 1 ? [MIX[0]!, MIX[0]!] : MIX,
      maxMoves: 3000,
    });
    const report = (mode: string, slots: number | null, seconds: number, plain: number | null) =>
      console.log(
        JSON.stringify({
          bench: 'selfplay',
          mode,
          boardType: BOARD,
          players: MIX,
          games: GAMES,
          shardSize: SHARD,
          ...(slots !== null ? { activitySlotsPerWorker: slots } : {}),
          seconds: +seconds.toFixed(2),
          gamesPerSecond: +(GAMES / seconds).toFixed(1),
          ...(plain !== null
            ? { ratioVsPlainLoop: +(seconds / plain).toFixed(3), overheadPercent: +((seconds / plain - 1) * 100).toFixed(1) }
            : {}),
        }),
      );

    // One slot: shards run one after another on one core, as the plain loop does: pure orchestration overhead.
    const oneSlotConfig = path.join(dir, 'config-1slot');
    fs.mkdirSync(oneSlotConfig);
    fs.writeFileSync(
      path.join(oneSlotConfig, 'pipeline.yaml'),
      'workers:\n  queues:\n    cpu: { maxConcurrentActivities: 1, maxConcurrentWorkflowTasks: 20 }\n',
    );
    const single = await startWorker(address, client, oneSlotConfig);
    await runWorkflow(client, dir, 'warmup', 40); // bundling, thread start, JIT
    const plainA = await plainLoop(path.join(dir, 'plain-a.db'));
    report('plain-loop', null, plainA, null);
    const tempA = await runWorkflow(client, dir, 'w1s1-a');
    report('temporal-1-worker-1-slot', 1, tempA, plainA);
    const tempB = await runWorkflow(client, dir, 'w1s1-b');
    const plainB = await plainLoop(path.join(dir, 'plain-b.db'));
    report('temporal-1-worker-1-slot', 1, tempB, plainB);
    report('plain-loop', null, plainB, null);
    const plain = (plainA + plainB) / 2;
    const temporal = (tempA + tempB) / 2;
    console.log(
      JSON.stringify({
        bench: 'selfplay',
        summary: 'overhead on real work (means of the interleaved runs)',
        plainSeconds: +plain.toFixed(2),
        temporalSeconds: +temporal.toFixed(2),
        overheadPercent: +((temporal / plain - 1) * 100).toFixed(1),
        goalPercent: 5,
      }),
    );
    single.kill('SIGTERM');
    await new Promise((r) => single.once('exit', r));

    if (process.env.BENCH_FULL === '1') {
      workers.push(await startWorker(address, client));
      report('temporal-1-worker', 2, await runWorkflow(client, dir, 'w1'), plain);
      workers.push(await startWorker(address, client));
      report('temporal-2-workers', 2, await runWorkflow(client, dir, 'w2'), plain);
    }
    await connection.close();
    if (process.env.BENCH_FULL === '1') heuristicPerBoard();
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await sleep(500);
    server.kill('SIGTERM');
    await sleep(500);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench:selfplay failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
