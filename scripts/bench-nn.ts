// bench:nn — neural players' throughput. Prints JSON lines:
//   1. raw onnxruntime-node throughput of the default square8 network (trainer preset cpu) at batch
//      1, 8, 32, 128 on one intra-op thread (positions/s);
//   2. our evaluator inside MCTS self-play at the same batch sizes (positions evaluated/s, the mean
//      batch actually run, and the ratio to raw); the session runs on one inference thread with one
//      intra-op thread, beside the JS thread that searches;
//   3. games/s and moves/s for mcts 64 sims and gumbel 16 sims on square8 2p and hex8 2p.
// The networks are trained by the real trainer (a few steps of preset cpu: throughput does not depend
// on the weights) and cached in the OS temp folder. Env: BENCH_SECONDS (per measurement, default 4),
// BENCH_REPEATS (raw/ours alternations per batch size, medians; default 3),
// BENCH_GAMES (games per games/s row, default 8), BENCH_MAX_MOVES (default 400).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { REPO_ROOT } from '../config/load';
import { applyMoveTrusted, createInitialState, legalMoves, mulberry32, type BoardType, type GameState } from '../engine';
import { encodeBatch, loadModel, type ModelRef } from '../ai/evaluator';
import { NeuralPlayers, playGameAsync, runLockstep } from '../ai/neural';
import { gameSeed } from '../ai/selfplay';
import { makeTrainingNpz } from '../test/helpers/trainingData';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const GAMES = Number(process.env.BENCH_GAMES ?? 8);
const MAX_MOVES = Number(process.env.BENCH_MAX_MOVES ?? 400);
const BATCHES = [1, 8, 32, 128];
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);

function line(o: Record<string, unknown>): void {
  console.log(JSON.stringify(o));
}

/** The default (preset cpu) network of `board`, trained for a few steps; cached by trainer sources. */
async function benchModel(board: BoardType): Promise<ModelRef> {
  const h = createHash('sha256');
  for (const f of fs.readdirSync(path.join(REPO_ROOT, 'trainer')).sort()) {
    if (f.endsWith('.py')) h.update(f).update(fs.readFileSync(path.join(REPO_ROOT, 'trainer', f)));
  }
  const dir = path.join(os.tmpdir(), `rr-bench-nn-${board}-cpu-${h.digest('hex').slice(0, 16)}`);
  const onnx = path.join(dir, 'model.onnx');
  if (!fs.existsSync(onnx)) {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-bench-nn-work-'));
    try {
      const data = await makeTrainingNpz({ board, players: 2, games: 4, seed: 1, dir: work, maxMoves: 300 });
      const r = spawnSync(
        path.join(REPO_ROOT, '.venv/bin/python'),
        [
          '-m',
          'trainer',
          'train',
          '--npz',
          data.npzPath,
          '--config-key',
          `${board}_2p`,
          '--out-dir',
          path.join(work, 'run'),
          '--steps',
          '5',
          '--preset',
          'cpu',
          '--batch-size',
          '32',
        ],
        { cwd: REPO_ROOT, encoding: 'utf8' },
      );
      if (r.status !== 0) throw new Error(`trainer failed: ${r.stderr.slice(-2000)}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.copyFileSync(path.join(work, 'run', 'model.onnx'), `${onnx}.tmp`);
      fs.renameSync(`${onnx}.tmp`, onnx);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
  return { id: `bench-${board}`, path: onnx, sha256: createHash('sha256').update(fs.readFileSync(onnx)).digest('hex') };
}

/** Active states along a seeded random game, for realistic inputs. */
function sampleStates(board: BoardType, n: number): GameState[] {
  const out: GameState[] = [];
  for (let seed = 1; out.length < n; seed++) {
    const s = createInitialState({ boardType: board, numPlayers: 2, seed });
    const rng = mulberry32(seed);
    while (s.status === 'active' && out.length < n) {
      out.push(s.clone());
      const legal = legalMoves(s);
      applyMoveTrusted(s, legal[Math.floor(rng() * legal.length)]!);
    }
  }
  return out;
}

async function raw(ref: ModelRef, batch: number): Promise<number> {
  const session = await ort.InferenceSession.create(ref.path, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const { features, globals, shape } = encodeBatch(sampleStates('square8', batch));
  const feeds = {
    features: new ort.Tensor('float32', features, [batch, ...shape]),
    globals: new ort.Tensor('float32', globals, [batch, globals.length / batch]),
  };
  for (let i = 0; i < 3; i++) await session.run(feeds);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    await session.run(feeds);
    n += batch;
  }
  const rate = n / ((performance.now() - t0) / 1000);
  await session.release();
  return rate;
}

/** Self-play games in lockstep with the given batching; returns positions/s and mean batch. */
async function inSearch(
  ref: ModelRef,
  board: BoardType,
  spec: string,
  opts: { batchSize: number; games: number; leafBatch: number; seconds?: number; maxGames?: number },
) {
  const players = await NeuralPlayers.create(
    { best: ref },
    { boardType: board, numPlayers: 2 },
    { batchSize: opts.batchSize, concurrentGames: opts.games, leafBatch: opts.leafBatch, threads: 1 },
  );
  const ev = [...players.evaluators.values()][0]!;
  const deadline = opts.seconds !== undefined ? performance.now() + opts.seconds * 1000 : Infinity;
  let moves = 0;
  let games = 0;
  const t0 = performance.now();
  const busy0 = ev.stats.busyMs;
  const total = opts.maxGames ?? 1_000_000;
  await runLockstep(
    total,
    opts.games,
    async (k) => {
      if (performance.now() > deadline) return null;
      return playGameAsync({
        boardType: board,
        numPlayers: 2,
        seed: gameSeed(1, k),
        players: [players.player(spec), players.player(spec)],
        maxMoves: opts.seconds !== undefined ? Math.min(MAX_MOVES, 60) : MAX_MOVES,
      });
    },
    (_k, g) => {
      if (!g) return;
      games++;
      moves += g.moves.length;
    },
  );
  const secs = (performance.now() - t0) / 1000;
  return {
    seconds: secs,
    positionsPerS: ev.stats.positions / secs,
    meanBatch: ev.stats.positions / Math.max(1, ev.stats.batches),
    inferenceBusy: (ev.stats.busyMs - busy0) / 1000 / secs,
    games,
    moves,
  };
}

async function main(): Promise<void> {
  line({ bench: 'nn', host: { cpus: os.cpus().length, model: os.cpus()[0]?.model, load1: os.loadavg()[0] }, seconds: SECONDS });
  const sq = await benchModel('square8');
  const hex = await benchModel('hex8');
  const m = await loadModel(sq, { boardType: 'square8', numPlayers: 2 });
  line({ network: 'square8 preset cpu', architecture: JSON.parse(m.metadata['architecture'] ?? '{}') as unknown });

  // evaluator inside MCTS self-play: games × leaves per tree fill two batches, so that one batch's
  // search work (JS) runs while the inference thread runs the other. Raw and ours alternate
  // (REPEATS times each, medians) so that a change in the host's load hits both alike.
  const shapes: Record<number, { games: number; leafBatch: number }> = {
    1: { games: 2, leafBatch: 1 },
    8: { games: 2, leafBatch: 8 },
    32: { games: 8, leafBatch: 8 },
    128: { games: 32, leafBatch: 8 },
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const b of BATCHES) {
    const raws: number[] = [];
    const ours: Array<Awaited<ReturnType<typeof inSearch>>> = [];
    for (let k = 0; k < REPEATS; k++) {
      raws.push(await raw(sq, b));
      ours.push(await inSearch(sq, 'square8', 'mcts:best:sims=64', { batchSize: b, ...shapes[b]!, seconds: SECONDS }));
    }
    const r = median(raws);
    const o = median(ours.map((x) => x.positionsPerS));
    line({ kind: 'raw', board: 'square8', batch: b, threads: 1, positionsPerS: Math.round(r), runs: raws.map(Math.round) });
    line({
      kind: 'mcts_selfplay',
      board: 'square8',
      batch: b,
      games: shapes[b]!.games,
      leafBatch: shapes[b]!.leafBatch,
      threads: 1,
      positionsPerS: Math.round(o),
      runs: ours.map((x) => Math.round(x.positionsPerS)),
      meanBatch: Number(median(ours.map((x) => x.meanBatch)).toFixed(1)),
      ofRaw: Number((o / r).toFixed(3)),
      inferenceBusy: Number(median(ours.map((x) => x.inferenceBusy)).toFixed(3)),
    });
  }
  // games/s and moves/s with the default settings (16 games in lockstep, batch 32, leaf batch 8)
  for (const [board, ref] of [
    ['square8', sq],
    ['hex8', hex],
  ] as const) {
    for (const spec of ['mcts:best:sims=64', 'gumbel:best:sims=16']) {
      const r = await inSearch(ref, board, spec, { batchSize: 32, games: Math.min(16, GAMES), leafBatch: 8, maxGames: GAMES });
      line({
        kind: 'games',
        board,
        players: 2,
        spec: spec.replace(':best:', ':<model>:'),
        games: r.games,
        maxMoves: MAX_MOVES,
        seconds: Number(r.seconds.toFixed(1)),
        gamesPerS: Number((r.games / r.seconds).toFixed(4)),
        movesPerS: Number((r.moves / r.seconds).toFixed(1)),
        positionsPerS: Math.round(r.positionsPerS),
        meanBatch: Number(r.meanBatch.toFixed(1)),
      });
    }
  }
}

main().catch((e: unknown) => {
  console.error(`bench:nn: ${(e as Error).stack ?? String(e)}`);
  process.exit(1);
});
