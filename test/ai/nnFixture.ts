// Tiny real networks for the neural-player tests: heuristic self-play → NPZ → the real trainer
// (python -m trainer train, 1 block × 8 channels, a few steps) → ONNX, registered in a temp registry.
// The trained file is cached in the OS temp folder under a key made of the trainer's and the
// encoder's sources, so the test files of one run (and later runs) train each board once.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BoardType } from '../../engine';
import { closeRegistry, openRegistry, registerModel, type ModelRecord } from '../../store/registry';
import { setBest } from '../../store/registryBest';
import { makeTrainingNpz } from '../helpers/trainingData';

const ROOT = path.resolve(__dirname, '../..');
const PYTHON = path.join(ROOT, '.venv/bin/python');

function sourcesKey(): string {
  const h = createHash('sha256');
  const files = [
    ...fs
      .readdirSync(path.join(ROOT, 'trainer'))
      .filter((f) => f.endsWith('.py'))
      .sort()
      .map((f) => path.join(ROOT, 'trainer', f)),
    path.join(ROOT, 'ai/encoding.ts'),
  ];
  for (const f of files) h.update(f).update(fs.readFileSync(f));
  return h.digest('hex').slice(0, 16);
}

/** A trained tiny ONNX model for `board` 2p (path), trained once per source version. */
export async function tinyModel(board: BoardType): Promise<string> {
  const dir = path.join(os.tmpdir(), `rr-test-nn-${board}-${sourcesKey()}`);
  const onnx = path.join(dir, 'model.onnx');
  // one trainer per board at a time across the test processes: a lock folder (mkdir is atomic)
  const lock = `${dir}.lock`;
  for (;;) {
    if (fs.existsSync(onnx)) return onnx;
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 10 * 60_000) fs.rmSync(lock, { recursive: true, force: true });
      } catch {
        // the holder just removed it
      }
      await sleep(500);
    }
  }
  try {
    if (!fs.existsSync(onnx)) await train(board, dir, onnx);
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
  return onnx;
}

async function train(board: BoardType, dir: string, onnx: string): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `rr-test-nn-${board}-work-`));
  try {
    const data = await makeTrainingNpz({ board, players: 2, games: 6, seed: 3, dir: work, maxMoves: 400 });
    const out = path.join(work, 'run');
    const r = spawnSync(
      PYTHON,
      [
        '-m',
        'trainer',
        'train',
        '--npz',
        data.npzPath,
        '--config-key',
        `${board}_2p`,
        '--out-dir',
        out,
        '--steps',
        '30',
        '--blocks',
        '1',
        '--channels',
        '8',
        '--threads',
        '1',
        '--batch-size',
        '64',
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`trainer failed (${r.status}): ${r.stderr.slice(-2000)}`);
    fs.mkdirSync(dir, { recursive: true });
    const tmp = path.join(dir, `model.onnx.${process.pid}.tmp`);
    fs.copyFileSync(path.join(out, 'model.onnx'), tmp);
    fs.renameSync(tmp, onnx);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** A fresh registry in `dir` holding `onnx` as the best model of `<board>_2p`. */
export function registerTiny(dir: string, board: BoardType, onnx: string): ModelRecord {
  const reg = openRegistry(dir, { create: true });
  try {
    const { model } = registerModel(reg, {
      configKey: `${board}_2p`,
      onnxFile: onnx,
      checkpointFile: null,
      architecture: { blocks: 1, channels: 8 },
      params: 0,
      trainingData: [],
      hyperparameters: { steps: 30 },
      metrics: {},
      gitCommit: 'test',
      workflowId: 'test-nn',
    });
    setBest(reg, model.id, { reason: 'test' });
    return model;
  } finally {
    closeRegistry(reg);
  }
}

export function fileSha256(p: string): string {
  return createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}
