// npm run bench:export [-- --games N --board square8 --players 2 --keep]
// npm run bench:export -- --big N [--cache DIR] [--reparity]
//
// Default mode, in one run: builds a DB of N seeded random games, validates parity (games/s),
// exports the NPZ with the streaming writer in a child process (positions/s end to end: replay +
// encode + deflate + write, and the child's peak RSS), then has numpy.savez_compressed write the
// very same arrays (loaded from our file, not timed) and prints both speeds and peak RSS. numpy
// holds every array in memory, so it is skipped when they would not fit.
//
// Big-DB mode (--big N): a DB of random square8 2p games is built once and cached (default
// $TMPDIR/rr-bench-export-cache; grown when a larger N is asked for), parity runs over its
// unchecked games in pages (child process: games/s, peak RSS), and the first N games are exported
// (child process: positions/s, peak RSS). The cached DB takes about 80 MB per 1000 games.
//
// Last line: one JSON object with every number.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closeGameDb, countGames, fileSha256, openGameDb, writeGame, type BoardType } from '../store/gameDb';
import { iterateGameIdPages, probeGameDb, selectParityGames, validateGames } from '../store/parity';
import { exportNpz } from '../store/npzExport';
import { readNpz, writeNpz, type NpyDtype, type NpyInput } from '../store/npz';
import { featureShape } from '../ai/encoding';
import { randomGameRecord } from '../test/parity/helpers';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : dflt;
}

const ROOT = path.resolve(__dirname, '..');
const PY = path.join(ROOT, '.venv/bin/python');
const MiB = 2 ** 20;

/** Peak resident set size of this process, in bytes (VmHWM; maxRSS where /proc is missing). */
function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

const NUMPY_BENCH = `
import json, sys, time, os, resource
import numpy as np
src, dst = sys.argv[1], sys.argv[2]
with np.load(src, allow_pickle=False) as z:
    arrays = {k: z[k] for k in z.files}
t = time.perf_counter()
np.savez_compressed(dst, **arrays)
dt = time.perf_counter() - t
t = time.perf_counter()
with np.load(dst, allow_pickle=False) as z:
    for k in z.files: z[k]
lt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "bytes": os.path.getsize(dst), "load_seconds": lt, "numpy": np.__version__,
                  "max_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
`;

interface ExportChildResult {
  games: number;
  positions: number;
  seconds: number;
  buildSeconds: number;
  writeSeconds: number;
  bytes: number;
  passes: number;
  policyNonzeros: number;
  peakRss: number;
}

interface WriteChildResult {
  seconds: number;
  peakRss: number;
}

interface ParityChildResult {
  games: number;
  passed: number;
  moves: number;
  seconds: number;
  peakRss: number;
}

/** Run this script in a fresh node process (`--child …`) and parse its last stdout line. */
function child<T>(args: string[]): T {
  const res = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--child', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * MiB,
  });
  if (res.status !== 0) throw new Error(`child ${args.join(' ')} failed (exit ${res.status}): ${res.stdout}`);
  const lines = res.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}

async function childExport(dbFile: string, out: string, maxGames: number | undefined): Promise<void> {
  const info = probeGameDb(dbFile);
  const db = openGameDb(dbFile, { boardType: info.boardType as BoardType, numPlayers: info.numPlayers, readonly: true });
  try {
    const t = performance.now();
    const res = await exportNpz(db, {
      output: out,
      splitRatio: 0.9,
      sourceSha256: await fileSha256(dbFile),
      gitCommit: 'bench',
      createdAt: new Date().toISOString(),
      ...(maxGames ? { maxGames } : {}),
      yieldEvery: 0,
    });
    const seconds = (performance.now() - t) / 1000;
    const r: ExportChildResult = {
      games: res.games,
      positions: res.positions,
      seconds,
      buildSeconds: res.buildSeconds,
      writeSeconds: res.writeSeconds,
      bytes: res.bytes,
      passes: res.passes,
      policyNonzeros: res.policyNonzeros,
      peakRss: peakRss(),
    };
    console.log(JSON.stringify(r));
  } finally {
    closeGameDb(db);
  }
}

/** Our writer alone on the arrays of `src` (read into memory first, not timed), like numpy's savez_compressed. */
async function childWrite(src: string, dst: string): Promise<void> {
  const arrays = readNpz(src);
  const inputs: Record<string, NpyInput> = {};
  for (const [k, a] of Object.entries(arrays)) {
    inputs[k] = Array.isArray(a.data)
      ? { data: a.shape.length === 0 ? a.data[0] : a.data, dtype: a.dtype as NpyDtype, ...(a.shape.length ? { shape: a.shape } : {}) }
      : { data: a.data, shape: a.shape, dtype: a.dtype as NpyDtype };
  }
  const t = performance.now();
  await writeNpz(dst, inputs);
  const r: WriteChildResult = { seconds: (performance.now() - t) / 1000, peakRss: peakRss() };
  console.log(JSON.stringify(r));
}

/** Validate the pending games (all of them with `all`) page by page: bounded memory. */
function childParity(dbFile: string, all: boolean): void {
  const info = probeGameDb(dbFile);
  const db = openGameDb(dbFile, { boardType: info.boardType as BoardType, numPlayers: info.numPlayers });
  try {
    const t = performance.now();
    const out: ParityChildResult = { games: 0, passed: 0, moves: 0, seconds: 0, peakRss: 0 };
    const checkedAt = new Date().toISOString();
    let lastPrint = t;
    for (const page of iterateGameIdPages(db, { pageSize: 2000, ...(all ? {} : { parityStatus: 'pending' }) })) {
      const r = validateGames(db, page, { checkedAt });
      out.games += r.total;
      out.passed += r.passed;
      out.moves += r.movesReplayed;
      if (performance.now() - lastPrint > 30_000) {
        lastPrint = performance.now();
        console.error(`  parity: ${out.games} games, ${(out.games / ((lastPrint - t) / 1000)).toFixed(0)} games/s`);
      }
    }
    out.seconds = (performance.now() - t) / 1000;
    out.peakRss = peakRss();
    console.log(JSON.stringify(out));
  } finally {
    closeGameDb(db);
  }
}

function numpyBench(src: string, dst: string) {
  const np = spawnSync(PY, ['-c', NUMPY_BENCH, src, dst], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (np.status !== 0) throw new Error(`numpy benchmark failed: ${np.stderr}`);
  return JSON.parse(np.stdout) as { seconds: number; bytes: number; load_seconds: number; numpy: string; max_rss: number };
}

const mib = (b: number) => `${(b / MiB).toFixed(0)} MiB`;

async function benchDefault(): Promise<void> {
  const games = Number(arg('games', '200'));
  const boardType = arg('board', 'square8') as BoardType;
  const numPlayers = Number(arg('players', '2'));
  const keep = process.argv.includes('--keep');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-bench-export-'));
  try {
    const dbFile = path.join(dir, 'games.db');
    let t = performance.now();
    const db = openGameDb(dbFile, { boardType, numPlayers, create: true });
    for (let i = 0; i < games; i++) writeGame(db, randomGameRecord(boardType, numPlayers, 1000 + i));
    const genSeconds = (performance.now() - t) / 1000;
    console.log(`generated ${games} ${boardType} ${numPlayers}p random games in ${genSeconds.toFixed(1)} s`);

    t = performance.now();
    const ids = selectParityGames(db);
    const par = validateGames(db, ids, { checkedAt: new Date().toISOString() });
    const paritySeconds = (performance.now() - t) / 1000;
    const gamesPerSec = par.total / paritySeconds;
    closeGameDb(db);
    console.log(
      `parity: ${par.passed}/${par.total} passed, ${par.movesReplayed} moves in ${paritySeconds.toFixed(2)} s → ${gamesPerSec.toFixed(1)} games/s, ${(par.movesReplayed / paritySeconds).toFixed(0)} moves/s`,
    );

    const out = path.join(dir, 'export.npz');
    const res = child<ExportChildResult>(['export', dbFile, out]);
    const posPerSec = res.positions / res.seconds;
    const [C, H, W] = featureShape(boardType);
    const featureBytes = res.positions * C * H * W * 4;
    console.log(
      `streaming export: ${res.positions} positions (${res.games} games) in ${res.seconds.toFixed(2)} s → ${posPerSec.toFixed(0)} positions/s ` +
        `(replay+encode+deflate ${res.buildSeconds.toFixed(2)} s, append+metadata ${res.writeSeconds.toFixed(2)} s); ` +
        `peak RSS ${mib(res.peakRss)} (the features alone are ${mib(featureBytes)} in memory); file ${(res.bytes / 1e6).toFixed(2)} MB`,
    );

    // numpy needs every array in memory (and a copy while loading): skip when that cannot fit
    let nb: ReturnType<typeof numpyBench> | null = null;
    let wr: WriteChildResult | null = null;
    if (featureBytes * 2.5 < os.freemem() * 0.6) {
      nb = numpyBench(out, path.join(dir, 'numpy.npz'));
      wr = child<WriteChildResult>(['write', out, path.join(dir, 'rewrite.npz')]);
      console.log(
        `numpy ${nb.numpy} savez_compressed of the same arrays: ${nb.seconds.toFixed(2)} s → ${(res.positions / nb.seconds).toFixed(0)} positions/s; ` +
          `peak RSS ${mib(nb.max_rss)} (arrays loaded in memory); file ${(nb.bytes / 1e6).toFixed(2)} MB`,
      );
      console.log(
        `ratio ours/numpy (end-to-end export vs savez_compressed alone): ${(posPerSec / (res.positions / nb.seconds)).toFixed(2)}; ` +
          `peak RSS ratio ours/numpy: ${(res.peakRss / nb.max_rss).toFixed(2)}`,
      );
      console.log(
        `our writer alone on the same in-memory arrays (writeNpz): ${wr.seconds.toFixed(2)} s → ${(res.positions / wr.seconds).toFixed(0)} positions/s, ` +
          `${(nb.seconds / wr.seconds).toFixed(2)}× numpy's speed`,
      );
    } else {
      console.log(`numpy savez_compressed skipped: the arrays (${mib(featureBytes)} of features) do not fit in free memory`);
    }
    const per1000 = 1000 / res.games;
    console.log(
      JSON.stringify({
        bench: 'export',
        boardType,
        numPlayers,
        games: res.games,
        positions: res.positions,
        parityGamesPerSec: Number(gamesPerSec.toFixed(2)),
        parityMovesPerSec: Math.round(par.movesReplayed / paritySeconds),
        exportPositionsPerSec: Math.round(posPerSec),
        exportSeconds: Number(res.seconds.toFixed(3)),
        buildSeconds: Number(res.buildSeconds.toFixed(3)),
        writeSeconds: Number(res.writeSeconds.toFixed(3)),
        exportPeakRssMiB: Math.round(res.peakRss / MiB),
        featureMiB: Math.round(featureBytes / MiB),
        numpySavezSeconds: nb ? Number(nb.seconds.toFixed(3)) : null,
        numpyPositionsPerSec: nb ? Math.round(res.positions / nb.seconds) : null,
        numpyPeakRssMiB: nb ? Math.round(nb.max_rss / MiB) : null,
        ratioOursToNumpy: nb ? Number((posPerSec / (res.positions / nb.seconds)).toFixed(3)) : null,
        writerOnlySeconds: wr ? Number(wr.seconds.toFixed(3)) : null,
        writerOnlyToNumpySpeed: wr && nb ? Number((nb.seconds / wr.seconds).toFixed(3)) : null,
        bytes: res.bytes,
        numpyBytes: nb ? nb.bytes : null,
        bytesPer1000Games: Math.round(res.bytes * per1000),
        dbBytesPer1000Games: Math.round(fs.statSync(dbFile).size * per1000),
        positionsPer1000Games: Math.round(res.positions * per1000),
      }),
    );
    if (keep) console.log(`kept ${dir}`);
  } finally {
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function benchBig(n: number): Promise<void> {
  const cache = path.resolve(arg('cache', path.join(os.tmpdir(), 'rr-bench-export-cache')));
  fs.mkdirSync(cache, { recursive: true });
  const dbFile = path.join(cache, 'square8_2p_random.db');
  const db = openGameDb(dbFile, { boardType: 'square8', numPlayers: 2, create: true });
  const have = countGames(db);
  let genSeconds = 0;
  if (have < n) {
    const t = performance.now();
    let last = t;
    console.log(`growing the cached DB ${dbFile} from ${have} to ${n} random square8 2p games`);
    for (let i = have; i < n; i++) {
      writeGame(db, randomGameRecord('square8', 2, 1_000_000 + i));
      if (performance.now() - last > 30_000) {
        last = performance.now();
        console.log(`  ${i + 1}/${n} games (${((i + 1 - have) / ((last - t) / 1000)).toFixed(0)} games/s)`);
      }
    }
    genSeconds = (performance.now() - t) / 1000;
  }
  closeGameDb(db);
  console.log(
    `cached DB: ${Math.max(have, n)} games, ${(fs.statSync(dbFile).size / 1e9).toFixed(2)} GB` +
      (genSeconds ? ` (${n - have} generated in ${genSeconds.toFixed(0)} s)` : ' (reused)'),
  );

  const par = child<ParityChildResult>(['parity', dbFile, process.argv.includes('--reparity') ? 'all' : 'pending']);
  if (par.games > 0)
    console.log(
      `parity (pages of 2000 ids): ${par.passed}/${par.games} passed, ${par.moves} moves in ${par.seconds.toFixed(1)} s → ` +
        `${(par.games / par.seconds).toFixed(0)} games/s, ${(par.moves / par.seconds).toFixed(0)} moves/s; peak RSS ${mib(par.peakRss)}`,
    );
  else console.log('parity: every game already checked (pass --reparity to redo it)');

  const out = path.join(cache, `export-${process.pid}.npz`);
  try {
    const res = child<ExportChildResult>(['export', dbFile, out, String(n)]);
    console.log(
      `streaming export of ${res.games} games: ${res.positions} positions in ${res.seconds.toFixed(1)} s → ` +
        `${(res.positions / res.seconds).toFixed(0)} positions/s; peak RSS ${mib(res.peakRss)}; file ${(res.bytes / 1e6).toFixed(1)} MB`,
    );
    console.log(
      JSON.stringify({
        bench: 'export-big',
        games: res.games,
        positions: res.positions,
        dbBytes: fs.statSync(dbFile).size,
        parityGames: par.games,
        parityGamesPerSec: par.games ? Math.round(par.games / par.seconds) : null,
        parityPeakRssMiB: par.games ? Math.round(par.peakRss / MiB) : null,
        exportPositionsPerSec: Math.round(res.positions / res.seconds),
        exportSeconds: Number(res.seconds.toFixed(1)),
        exportPeakRssMiB: Math.round(res.peakRss / MiB),
        bytes: res.bytes,
      }),
    );
  } finally {
    fs.rmSync(out, { force: true });
  }
}

async function main(): Promise<void> {
  const ci = process.argv.indexOf('--child');
  if (ci >= 0) {
    const [kind, a, b, c] = process.argv.slice(ci + 1);
    if (kind === 'export') return childExport(a, b, c ? Number(c) : undefined);
    if (kind === 'parity') return childParity(a, b === 'all');
    if (kind === 'write') return childWrite(a, b);
    throw new Error(`unknown child ${kind}`);
  }
  const big = arg('big', '');
  if (big) return benchBig(Number(big));
  return benchDefault();
}

main().catch((err: unknown) => {
  console.error(`bench:export: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
