// npm run bench:export [-- --games N --board square8 --players 2 --keep DIR]
//
// In one run: builds a DB of N seeded random games, validates parity (games/s), exports the NPZ
// (positions/s, end to end: replay + encode + deflate + write), then has numpy.savez_compressed
// write the very same arrays (loaded from our file, not timed) and prints the ratio.
// Last line: one JSON object with every number.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closeGameDb, fileSha256, openGameDb, writeGame, type BoardType } from '../store/gameDb';
import { selectParityGames, validateGames } from '../store/parity';
import { exportNpz } from '../store/npzExport';
import { randomGameRecord } from '../test/parity/helpers';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : dflt;
}

const ROOT = path.resolve(__dirname, '..');
const PY = path.join(ROOT, '.venv/bin/python');

const NUMPY_BENCH = `
import json, sys, time, os
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
print(json.dumps({"seconds": dt, "bytes": os.path.getsize(dst), "load_seconds": lt, "numpy": np.__version__}))
`;

async function main(): Promise<void> {
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
    console.log(
      `parity: ${par.passed}/${par.total} passed, ${par.movesReplayed} moves in ${paritySeconds.toFixed(2)} s → ${gamesPerSec.toFixed(1)} games/s, ${(par.movesReplayed / paritySeconds).toFixed(0)} moves/s`,
    );

    const out = path.join(dir, 'export.npz');
    const sha = await fileSha256(dbFile);
    t = performance.now();
    const res = await exportNpz(db, {
      output: out,
      splitRatio: 0.9,
      sourceSha256: sha,
      gitCommit: 'bench',
      createdAt: new Date().toISOString(),
    });
    const exportSeconds = (performance.now() - t) / 1000;
    closeGameDb(db);
    const posPerSec = res.positions / exportSeconds;
    console.log(
      `export: ${res.positions} positions (${res.games} games) in ${exportSeconds.toFixed(2)} s → ${posPerSec.toFixed(0)} positions/s ` +
        `(replay+encode ${res.buildSeconds.toFixed(2)} s, deflate+write ${res.writeSeconds.toFixed(2)} s); file ${(res.bytes / 1e6).toFixed(2)} MB`,
    );

    const np = spawnSync(PY, ['-c', NUMPY_BENCH, out, path.join(dir, 'numpy.npz')], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (np.status !== 0) throw new Error(`numpy benchmark failed: ${np.stderr}`);
    const nb = JSON.parse(np.stdout) as { seconds: number; bytes: number; load_seconds: number; numpy: string };
    const npPosPerSec = res.positions / nb.seconds;
    const ratio = posPerSec / npPosPerSec;
    const writeRatio = nb.seconds / res.writeSeconds;
    console.log(
      `numpy ${nb.numpy} savez_compressed of the same arrays: ${nb.seconds.toFixed(2)} s → ${npPosPerSec.toFixed(0)} positions/s; file ${(nb.bytes / 1e6).toFixed(2)} MB`,
    );
    console.log(
      `ratio ours/numpy (end-to-end export vs savez_compressed alone): ${ratio.toFixed(2)}; write-only speed ratio: ${writeRatio.toFixed(2)}`,
    );
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
        exportSeconds: Number(exportSeconds.toFixed(3)),
        buildSeconds: Number(res.buildSeconds.toFixed(3)),
        writeSeconds: Number(res.writeSeconds.toFixed(3)),
        numpySavezSeconds: Number(nb.seconds.toFixed(3)),
        numpyPositionsPerSec: Math.round(npPosPerSec),
        ratioOursToNumpy: Number(ratio.toFixed(3)),
        writeOnlyRatio: Number(writeRatio.toFixed(3)),
        bytes: res.bytes,
        numpyBytes: nb.bytes,
        bytesPer1000Games: Math.round(res.bytes * per1000),
        numpyBytesPer1000Games: Math.round(nb.bytes * per1000),
        dbBytesPer1000Games: Math.round(fs.statSync(dbFile).size * per1000),
        positionsPer1000Games: Math.round(res.positions * per1000),
      }),
    );
    if (keep) console.log(`kept ${dir}`);
  } finally {
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench:export: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
