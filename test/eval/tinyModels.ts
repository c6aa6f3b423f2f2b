// Distinct tiny real networks for the gauntlet/promotion tests, cached in the OS temp folder under
// the trainer's and encoder's sources.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../config/load';
import { closeRegistry, openRegistry, registerModel, type ModelRecord } from '../../store/registry';
import { tinyModel } from '../ai/nnFixture';

function sourcesKey(): string {
  const h = createHash('sha256');
  const dir = path.join(REPO_ROOT, 'trainer');
  for (const f of fs
    .readdirSync(dir)
    .filter((x) => x.endsWith('.py'))
    .sort())
    h.update(f).update(fs.readFileSync(path.join(dir, f)));
  h.update(fs.readFileSync(path.join(REPO_ROOT, 'ai/encoding.ts')));
  return h.digest('hex').slice(0, 16);
}

const PERTURB = `
import sys, numpy as np, onnx
from onnx import numpy_helper
src, dst, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = onnx.load(src)
rng = np.random.default_rng(seed)
for init in m.graph.initializer:
    a = numpy_helper.to_array(init)
    if a.dtype == np.float32 and a.size > 1:
        a = (a + rng.normal(0, 0.5, a.shape) * (np.abs(a).mean() + 1e-3)).astype(np.float32)
        init.CopyFrom(numpy_helper.from_array(a, init.name))
onnx.save(m, dst)
`;

/**
 * ONNX files of distinct square8_2p networks, one per seed: the tiny trained model of the neural
 * tests (ai/nnFixture, trained once per source version) with its weights perturbed by that seed.
 */
export async function tinySquare8Models(seeds: number[]): Promise<string[]> {
  const base = await tinyModel('square8');
  const root = path.join(os.tmpdir(), `rr-test-eval-nn-${sourcesKey()}`);
  fs.mkdirSync(root, { recursive: true });
  return seeds.map((seed) => {
    const file = path.join(root, `seed-${seed}.onnx`);
    if (!fs.existsSync(file)) {
      const tmp = `${file}.${process.pid}.tmp`;
      const r = spawnSync(path.join(REPO_ROOT, '.venv/bin/python'), ['-c', PERTURB, base, tmp, String(seed)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`perturbing ${base} failed: ${r.stderr.slice(-1000)}`);
      fs.renameSync(tmp, file);
    }
    return file;
  });
}

/** Registers each file as a square8_2p candidate in the registry at `dir` (created). */
export function registerModels(dir: string, files: string[]): ModelRecord[] {
  const reg = openRegistry(dir, { create: true });
  try {
    return files.map(
      (onnxFile, i) =>
        registerModel(reg, {
          configKey: 'square8_2p',
          onnxFile,
          checkpointFile: null,
          architecture: { blocks: 1, channels: 8 },
          params: 0,
          trainingData: [],
          hyperparameters: { steps: 8, seed: i },
          metrics: {},
          gitCommit: 'test',
          workflowId: 'test-eval-nn',
          createdAt: new Date(Date.UTC(2026, 0, 1 + i)).toISOString(),
        }).model,
    );
  } finally {
    closeRegistry(reg);
  }
}
