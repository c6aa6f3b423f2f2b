// bench:selfplay — 200 square8 2-player random games: a plain loop in one process (play + store), then the
// canonicalSelfplay workflow on a real dev server with 1 and with 2 worker processes. Prints JSON lines
// and the orchestration overhead as a ratio against the plain loop measured in the same run (medians of 3).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { REPO_ROOT } from '../config/load';
import { freePort, spawnDevServer, waitForTemporal } from '../cli/devServer';
import { describePollers } from '../activities/health';
import { gameSeed, playGame, seatSpecs } from '../ai/selfplay';
import { closeGameDb, openGameDb, writeGame } from '../store/gameDb';
import type { SelfplayInput, SelfplayResult } from '../workflows/canonicalSelfplay';

const GAMES = Number(process.env.BENCH_GAMES ?? 200);
const SHARD = Number(process.env.BENCH_SHARD ?? 25);
const SEED = 1;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);

function plainLoop(dbPath: string): number {
  const t0 = performance.now();
  const db = openGameDb(dbPath, { boardType: 'square8', numPlayers: 2, create: true });
  for (let i = 0; i < GAMES; i++) {
    const seed = gameSeed(SEED, i);
    const seats = seatSpecs(['random'], 2, i);
    const g = playGame({ boardType: 'square8', numPlayers: 2, seed, seats, maxMoves: 3000 });
    writeGame(db, {
      gameId: `plain-${i}`,
      boardType: 'square8',
      numPlayers: 2,
      seed,
      players: seats.map((spec, k) => ({ seat: k + 1, playerType: 'ai', spec })),
      initialState: { fingerprint: g.initial.fingerprint, stateHash: g.initial.hash },
      moves: g.moves as unknown as Record<string, unknown>[],
      steps: g.steps.map((s) => ({ ...s, statusBefore: 'active' })),
      winner: g.winner,
      terminationReason: g.terminationReason,
      source: 'bench',
      engineMode: 'random_vs_random',
      createdAt: new Date().toISOString(),
    });
  }
  closeGameDb(db);
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

async function runWorkflow(client: Client, dir: string, label: string): Promise<{ seconds: number; result: SelfplayResult }> {
  const input: SelfplayInput = {
    boardType: 'square8',
    numPlayers: 2,
    numGames: GAMES,
    seed: SEED,
    shardSize: SHARD,
    outputDb: path.join(dir, `${label}.db`),
    playerMix: ['random'],
    maxMoves: 3000,
  };
  const t0 = performance.now();
  const result = (await client.workflow.execute('canonicalSelfplay', {
    taskQueue: 'cpu',
    workflowId: `bench-${label}-${Date.now()}`,
    args: [input],
  })) as SelfplayResult;
  return { seconds: (performance.now() - t0) / 1000, result };
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
    const client = new Client({ connection });

    // Warm-up (module load, JIT) so the plain loop is not penalised for going first.
    playGame({ boardType: 'square8', numPlayers: 2, seed: 99, seats: ['random', 'random'], maxMoves: 3000 });
    const plainRuns = Array.from({ length: REPEATS }, (_, i) => plainLoop(path.join(dir, `plain-${i}.db`))).sort((a, b) => a - b);
    const plain = plainRuns[Math.floor(REPEATS / 2)]!;
    console.log(
      JSON.stringify({
        bench: 'selfplay',
        mode: 'plain-loop',
        games: GAMES,
        seconds: +plain.toFixed(3),
        gamesPerSecond: +(GAMES / plain).toFixed(1),
      }),
    );

    // Median of REPEATS runs per set-up, after a warm-up run (bundling, thread start, JIT).
    const measure = async (label: string) => {
      await runWorkflow(client, dir, `${label}-warmup`);
      const runs = [];
      for (let i = 0; i < REPEATS; i++) runs.push(await runWorkflow(client, dir, `${label}-${i}`));
      for (const r of runs) if (r.result.games !== GAMES) throw new Error(`${label}: ${r.result.games} games, expected ${GAMES}`);
      return runs.map((r) => r.seconds).sort((a, b) => a - b)[Math.floor(REPEATS / 2)]!;
    };
    const report = (mode: string, slots: number, seconds: number) =>
      console.log(
        JSON.stringify({
          bench: 'selfplay',
          mode,
          games: GAMES,
          shardSize: SHARD,
          activitySlotsPerWorker: slots,
          seconds: +seconds.toFixed(3),
          gamesPerSecond: +(GAMES / seconds).toFixed(1),
          ratioVsPlainLoop: +(seconds / plain).toFixed(3),
          overheadPercent: +((seconds / plain - 1) * 100).toFixed(1),
        }),
      );

    // One slot: shards run one after another on one core, as the plain loop does: pure orchestration overhead.
    const oneSlotConfig = path.join(dir, 'config-1slot');
    fs.cpSync(path.join(REPO_ROOT, 'config'), oneSlotConfig, { recursive: true });
    const yamlPath = path.join(oneSlotConfig, 'pipeline.yaml');
    fs.writeFileSync(yamlPath, fs.readFileSync(yamlPath, 'utf8').replace(/(cpu:\n\s+maxConcurrentActivities:) \d+/, '$1 1'));
    const single = await startWorker(address, client, oneSlotConfig);
    report('temporal-1-worker-1-slot', 1, await measure('w1s1'));
    single.kill('SIGTERM');
    await new Promise((r) => single.once('exit', r));

    workers.push(await startWorker(address, client));
    report('temporal-1-worker', 2, await measure('w1'));
    workers.push(await startWorker(address, client));
    report('temporal-2-workers', 2, await measure('w2'));
    await connection.close();
    if (process.env.BENCH_SKIP_HEURISTIC !== '1') heuristicPerBoard();
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
