// The trainer learns: a few hundred steps on heuristic-vs-heuristic square8 games (real self-play
// → parity → NPZ), then the exported model, run in onnxruntime-node the way a neural player uses
// it (policy masked to the legal moves), picks the played move of held-out (val) games far more
// often than a uniform pick among the legal moves, and its value loss on val is below that of
// predicting 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { policySize } from '../../ai/encoding';
import { readNpz } from '../../store/npz';
import { legalIndicesOfSplit, makeTrainingNpz } from '../helpers/trainingData';

const ROOT = path.resolve(__dirname, '../..');
const PYTHON = path.join(ROOT, '.venv/bin/python');
const GAMES = Number(process.env.RR_LEARNING_GAMES ?? 300);
const STEPS = Number(process.env.RR_LEARNING_STEPS ?? 300);

function runTrainer(args: string[]): Promise<{ code: number | null; events: Array<Record<string, unknown>>; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(PYTHON, ['-m', 'trainer', ...args], { cwd: ROOT, env: { ...process.env, PYTHONPATH: ROOT } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) =>
      resolve({
        code,
        stderr: err,
        events: out
          .split('\n')
          .filter((l) => l.trim())
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      }),
    );
  });
}

test('trainer learns square8 heuristic games: masked val top-1 ≫ uniform legal pick, val value loss < predicting 0', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-learn-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const data = await makeTrainingNpz({ board: 'square8', players: 2, games: GAMES, seed: 21, dir, playerMix: ['heuristic'] });
  const run = path.join(dir, 'run');
  const res = await runTrainer([
    'train',
    '--npz',
    data.npzPath,
    '--config-key',
    'square8_2p',
    '--out-dir',
    run,
    '--steps',
    String(STEPS),
    '--batch-size',
    '128',
    '--threads',
    '2',
    '--device',
    'cpu',
    '--log-every',
    '50',
  ]);
  assert.equal(res.code, 0, res.stderr.slice(-3000));
  const done = res.events.at(-1)!;
  assert.equal(done.event, 'done');
  const m = done.metrics as Record<string, number>;

  // the exported model as the neural player runs it: logits masked to the legal moves
  const { rows, legal } = legalIndicesOfSplit(data.npzPath, data.dbPath, 1);
  const z = readNpz(data.npzPath, ['features', 'globals', 'policy_indptr', 'policy_indices']);
  const [, C, H, W] = z.features.shape;
  const per = C * H * W;
  const feats = z.features.data as Float32Array;
  const globs = z.globals.data as Float32Array;
  const indptr = z.policy_indptr.data as BigInt64Array;
  const target = z.policy_indices.data as Int32Array;
  const session = await ort.InferenceSession.create(path.join(run, 'model.onnx'));
  const P = policySize('square8');
  let hits = 0;
  let uniform = 0;
  for (let s = 0; s < rows.length; s += 256) {
    const chunk = rows.slice(s, s + 256);
    const f = new Float32Array(chunk.length * per);
    const g = new Float32Array(chunk.length * 32);
    chunk.forEach((r, k) => {
      f.set(feats.subarray(r * per, (r + 1) * per), k * per);
      g.set(globs.subarray(r * 32, (r + 1) * 32), k * 32);
    });
    const out = await session.run({
      features: new ort.Tensor('float32', f, [chunk.length, C, H, W]),
      globals: new ort.Tensor('float32', g, [chunk.length, 32]),
    });
    const logits = out.policy.data as Float32Array;
    chunk.forEach((r, k) => {
      const lg = legal[s + k];
      let best = lg[0];
      for (const i of lg) if (logits[k * P + i] > logits[k * P + best]) best = i;
      // heuristic games store a one-hot target: the played move
      assert.equal(Number(indptr[r + 1] - indptr[r]), 1);
      const played = target[Number(indptr[r])];
      assert.ok(lg.includes(played));
      if (best === played) hits++;
      uniform += 1 / lg.length;
    });
  }
  const maskedTop1 = hits / rows.length;
  const uniformTop1 = uniform / rows.length;
  const report = {
    games: GAMES,
    steps: STEPS,
    positions: data.positions,
    valPositions: rows.length,
    maskedTop1,
    uniformTop1,
    trainerTop1Unmasked: m.val_policy_top1,
    priorTop1: m.val_prior_top1,
    valValueLoss: m.val_value_loss,
    valValueLossZero: m.val_value_loss_zero,
    valPolicyLoss: m.val_policy_loss,
  };
  t.diagnostic(JSON.stringify(report));
  assert.equal(m.val_positions, rows.length);
  // policy: far better than a uniform pick among the legal moves, and than the trainer's
  // per-phase most-frequent-move baseline
  assert.ok(maskedTop1 >= uniformTop1 + 0.15, `masked top-1 ${maskedTop1} vs uniform ${uniformTop1}`);
  assert.ok(maskedTop1 >= m.val_prior_top1 + 0.15, `masked top-1 ${maskedTop1} vs prior ${m.val_prior_top1}`);
  assert.ok(m.val_policy_top1 > uniformTop1, `unmasked top-1 ${m.val_policy_top1} vs uniform ${uniformTop1}`);
  // value: below the loss of predicting 0 for every seat
  assert.ok(m.val_value_loss < m.val_value_loss_zero, `value loss ${m.val_value_loss} vs ${m.val_value_loss_zero} for predicting 0`);
});
