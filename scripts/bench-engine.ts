// `npm run bench:engine`: engine throughput, one JSON line per board plus a replay-only line.
//
// Self-play workload (2 players, one process, one thread): every step enumerates the legal
// moves, draws one mulberry32 number, picks moves[floor(r * n)], applies it (the host
// end-of-game checks run inside apply). No fingerprints or hashes during play. The pick uses the
// engine's generation-order list (`legalMovesUnsorted`), which is deterministic but not the
// reference's key-sorted order. Each line also reports the same workload with the key-sorted host
// list (`legalMoves`, exactly what the reference random player does: sortedPick*). Each
// measurement runs for at least --seconds (default 3) after a warm-up.
//
// Throughput is reported per CPU second of this process (user + system, i.e. one core) and per
// wall second. The ratio compares CPU-based moves/s with the reference engine (perf.json run1).
// The replay line applies the recorded square8_2p trace moves (parsed beforehand) with the host
// checks and no enumeration, repeated for --seconds.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import {
  applyMoveTrusted,
  createInitialState,
  legalMoves,
  legalMovesUnsorted,
  mulberry32,
  parseMove,
  type BoardType,
  type Move,
} from '../engine';

const REF_DIR = path.resolve(__dirname, '..', '../shared/ringrift-reference');
const args = process.argv.slice(2);
const secIdx = args.indexOf('--seconds');
const minSeconds = secIdx >= 0 ? Number(args[secIdx + 1]) : 3;

interface RefPerf {
  movesPerSecond: number;
  gamesPerSecond: number;
}

function loadReference(): { selfPlay: Record<string, RefPerf>; replay: number | null } {
  const out: { selfPlay: Record<string, RefPerf>; replay: number | null } = { selfPlay: {}, replay: null };
  try {
    const perf = JSON.parse(fs.readFileSync(path.join(REF_DIR, 'perf.json'), 'utf8')) as {
      run1: {
        selfPlay: { boardType: string; numPlayers: number; movesPerSecond: number; gamesPerSecond: number }[];
        replayOnly?: { movesPerSecond: number };
      };
    };
    for (const r of perf.run1.selfPlay)
      if (r.numPlayers === 2) out.selfPlay[r.boardType] = { movesPerSecond: r.movesPerSecond, gamesPerSecond: r.gamesPerSecond };
    out.replay = perf.run1.replayOnly?.movesPerSecond ?? null;
  } catch {
    // perf.json absent: ratios are reported as null
  }
  return out;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function playOne(boardType: BoardType, seed: number, sorted: boolean): number {
  const s = createInitialState({ boardType, numPlayers: 2, seed });
  const rng = mulberry32(seed);
  let moves = 0;
  while (s.status === 'active' && moves < 3000) {
    const lm = sorted ? legalMoves(s) : legalMovesUnsorted(s);
    applyMoveTrusted(s, lm[Math.floor(rng() * lm.length)]);
    moves++;
  }
  return moves;
}

const TARGET: Record<BoardType, number> = { square8: 20, hex8: 10, square19: 10, hexagonal: 10 };

function measure(boardType: BoardType, sorted: boolean): { games: number; moves: number; cpu: number; wall: number } {
  // warm-up
  const warmUntil = performance.now() + 400;
  for (let seed = 100001; performance.now() < warmUntil; seed++) playOne(boardType, seed, sorted);
  const w0 = performance.now();
  const c0 = cpuSeconds();
  let games = 0;
  let moves = 0;
  for (let seed = 1; ; seed++) {
    moves += playOne(boardType, seed, sorted);
    games++;
    if ((performance.now() - w0) / 1000 >= minSeconds && games >= 3) break;
  }
  return { games, moves, cpu: cpuSeconds() - c0, wall: (performance.now() - w0) / 1000 };
}

function benchBoard(boardType: BoardType, ref: RefPerf | undefined): Record<string, unknown> {
  const a = measure(boardType, false);
  const b = measure(boardType, true);
  const mps = a.moves / a.cpu;
  const smps = b.moves / b.cpu;
  return {
    bench: 'selfplay',
    boardType,
    numPlayers: 2,
    pick: 'generation-order',
    games: a.games,
    moves: a.moves,
    cpuSeconds: +a.cpu.toFixed(3),
    wallSeconds: +a.wall.toFixed(3),
    movesPerSecond: Math.round(mps),
    gamesPerSecond: +(a.games / a.cpu).toFixed(2),
    wallMovesPerSecond: Math.round(a.moves / a.wall),
    referenceMovesPerSecond: ref?.movesPerSecond ?? null,
    referenceGamesPerSecond: ref?.gamesPerSecond ?? null,
    ratioVsReference: ref ? +(mps / ref.movesPerSecond).toFixed(1) : null,
    sortedPickMovesPerSecond: Math.round(smps),
    sortedPickGamesPerSecond: +(b.games / b.cpu).toFixed(2),
    sortedPickRatioVsReference: ref ? +(smps / ref.movesPerSecond).toFixed(1) : null,
    targetRatio: ref ? TARGET[boardType] : null,
  };
}

function benchReplay(refMps: number | null): Record<string, unknown> {
  const file = path.join(REF_DIR, 'traces', 'square8_2p.jsonl.gz');
  if (!fs.existsSync(file)) return { bench: 'replay', error: `missing ${file}` };
  const games = zlib
    .gunzipSync(fs.readFileSync(file))
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map(
      (l) =>
        JSON.parse(l) as {
          boardType: BoardType;
          numPlayers: number;
          seed: number;
          rulesOptions?: object;
          steps: { move: Record<string, unknown> }[];
        },
    )
    .map((g) => ({ g, moves: g.steps.map((st) => parseMove(st.move)) as Move[] }));
  const run = (): { moves: number; cpu: number; wall: number } => {
    const w0 = performance.now();
    const c0 = cpuSeconds();
    let moves = 0;
    for (const { g, moves: ms } of games) {
      const s = createInitialState({ boardType: g.boardType, numPlayers: g.numPlayers, seed: g.seed, rulesOptions: g.rulesOptions });
      for (const m of ms) applyMoveTrusted(s, m);
      moves += ms.length;
    }
    return { moves, cpu: cpuSeconds() - c0, wall: (performance.now() - w0) / 1000 };
  };
  run(); // warm-up
  // repeat the whole replay until at least --seconds of wall time have passed
  const tot = { moves: 0, cpu: 0, wall: 0, passes: 0 };
  while (tot.wall < minSeconds) {
    const r = run();
    tot.moves += r.moves;
    tot.cpu += r.cpu;
    tot.wall += r.wall;
    tot.passes++;
  }
  const mps = tot.moves / tot.cpu;
  return {
    bench: 'replay',
    input: 'traces/square8_2p (60 games)',
    games: games.length,
    passes: tot.passes,
    moves: tot.moves,
    cpuSeconds: +tot.cpu.toFixed(3),
    wallSeconds: +tot.wall.toFixed(3),
    movesPerSecond: Math.round(mps),
    wallMovesPerSecond: Math.round(tot.moves / tot.wall),
    referenceMovesPerSecond: refMps,
    ratioVsReference: refMps ? +(mps / refMps).toFixed(1) : null,
  };
}

function main(): void {
  const ref = loadReference();
  for (const b of ['square8', 'hex8', 'square19', 'hexagonal'] as BoardType[]) {
    process.stdout.write(JSON.stringify(benchBoard(b, ref.selfPlay[b])) + '\n');
  }
  process.stdout.write(JSON.stringify(benchReplay(ref.replay)) + '\n');
}

main();
