// npm run bench:train — trainer throughput per board (JSON lines):
//   training positions/s of the default network (CPU; CUDA too when a GPU is present), the data
//   path's positions/s (index order → gathered batch → tensors, what the prefetch thread does) and
//   its ratio to the training rate (must be ≥ 3, so data never limits training).
// Data: a small real NPZ per board (self-play → parity → export, test/helpers/trainingData.ts).
// Options: --boards square8,hex8 --threads T (default 1: OpenMP threads on a busy machine stall) --batch-size B
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { BoardType } from '../engine';
import { makeTrainingNpz } from '../test/helpers/trainingData';

const ROOT = path.resolve(__dirname, '..');
const PYTHON = path.join(ROOT, '.venv/bin/python');

const PLAN: Record<BoardType, { games: number; maxMoves: number; mix: string[]; steps: number }> = {
  square8: { games: 12, maxMoves: 3000, mix: ['heuristic'], steps: 20 },
  hex8: { games: 8, maxMoves: 3000, mix: ['heuristic'], steps: 20 },
  square19: { games: 3, maxMoves: 300, mix: ['random'], steps: 4 },
  hexagonal: { games: 3, maxMoves: 300, mix: ['random'], steps: 3 },
};

function pyBench(npz: string, board: BoardType, device: string, extra: string[]): Record<string, unknown> | null {
  const r = spawnSync(PYTHON, ['-m', 'trainer', 'bench', '--npz', npz, '--config-key', `${board}_2p`, '--device', device, ...extra], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: ROOT },
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    const ev = JSON.parse(line) as Record<string, unknown>;
    if (ev.event === 'bench') return ev;
    console.log(JSON.stringify({ bench: 'train', board, device, error: ev.message ?? line }));
  } catch {
    console.log(JSON.stringify({ bench: 'train', board, device, error: (r.stderr || line).trim().split('\n').pop() }));
  }
  return null;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      boards: { type: 'string', default: 'square8,hex8,square19,hexagonal' },
      threads: { type: 'string', default: '1' },
      'batch-size': { type: 'string', default: '256' },
    },
  });
  const boards = (values.boards as string).split(',') as BoardType[];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-bench-train-'));
  const cuda = spawnSync(PYTHON, ['-c', 'import torch; print(int(torch.cuda.is_available()))'], { encoding: 'utf8' }).stdout.trim() === '1';
  let worst = Infinity;
  try {
    for (const board of boards) {
      const plan = PLAN[board];
      if (!plan) throw new Error(`unknown board ${board}`);
      const t0 = performance.now();
      const data = await makeTrainingNpz({
        board,
        players: 2,
        games: plan.games,
        seed: 11,
        dir,
        playerMix: plan.mix,
        maxMoves: plan.maxMoves,
      });
      const dataSeconds = (performance.now() - t0) / 1000;
      const runs: Array<[string, string[]]> = [['cpu', ['--threads', values.threads as string, '--steps', String(plan.steps)]]];
      if (cuda) {
        runs.push(['cuda', ['--steps', '50']]);
        runs.push(['cuda', ['--steps', '30', '--preset', 'gpu']]);
      }
      for (const [device, extra] of runs) {
        const ev = pyBench(data.npzPath, board, device, [...extra, '--batch-size', values['batch-size'] as string]);
        if (!ev) continue;
        const ratio = ev.data_to_train_ratio as number;
        worst = Math.min(worst, ratio);
        const arch = ev.architecture as { blocks: number; channels: number };
        console.log(
          JSON.stringify({
            bench: 'train',
            board,
            device,
            gpu: ev.gpu,
            amp: ev.amp,
            network: `${arch.blocks}x${arch.channels}`,
            params: ev.params,
            batch_size: ev.batch_size,
            threads: ev.threads,
            train_positions_per_s: Math.round(ev.train_positions_per_s as number),
            data_positions_per_s: Math.round(ev.data_positions_per_s as number),
            data_to_train_ratio: Number(ratio.toFixed(1)),
            data_ok: ratio >= 3,
            npz_positions: data.positions,
            npz_seconds: Number(dataSeconds.toFixed(1)),
          }),
        );
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    JSON.stringify({ bench: 'train', summary: true, cuda, min_data_to_train_ratio: Number(worst.toFixed(1)), data_ok: worst >= 3 }),
  );
}

main().catch((e: unknown) => {
  console.error(`bench:train: ${(e as Error).message}`);
  process.exit(1);
});
