// Export parity: the trained torch model, onnxruntime (Python) and onnxruntime-node give the same
// policy logits and values (within 1e-4) on the same 64 stored positions; the ONNX file follows
// ai/MODEL.md (input/output names and shapes, dynamic batch, metadata).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { BoardType } from '../../engine';
import { policySize } from '../../ai/encoding';
import { readNpz } from '../../store/npz';
import { makeTrainingNpz } from '../helpers/trainingData';

const ROOT = path.resolve(__dirname, '../..');
const PYTHON = path.join(ROOT, '.venv/bin/python');

/** torch (from the checkpoint) and onnxruntime (Python) on 64 stored positions → an .npz for node */
const PARITY_PY = `
import json, sys
import numpy as np, torch, onnxruntime as ort
from trainer.checkpoint import load_checkpoint
from trainer.data import load_dataset
from trainer.model import PolicyValueNet
npz, run, key, out = sys.argv[1:5]
torch.set_num_threads(1)
ds = load_dataset([npz], key, 10**9, hash_files=False)
tr, va = ds.split_indices()
idx = (va if len(va) >= 64 else np.concatenate([va, tr]))[:64]
ck = load_checkpoint(run + "/checkpoint.pt")
a = ck["run"]["architecture"]
m = PolicyValueNet(ck["run"]["board_type"], a["blocks"], a["channels"])
m.load_state_dict(ck["model"]); m.eval()
f, g = np.ascontiguousarray(ds.features[idx]), np.ascontiguousarray(ds.globals[idx])
with torch.no_grad():
    tp, tv = (t.numpy() for t in m(torch.from_numpy(f), torch.from_numpy(g)))
s = ort.InferenceSession(run + "/model.onnx", providers=["CPUExecutionProvider"])
op, ov = s.run(["policy", "value"], {"features": f, "globals": g})
np.savez(out, features=f, globals=g, policy_torch=tp, value_torch=tv, policy_ort=op, value_ort=ov)
print(json.dumps({"n": len(idx), "policy": float(np.abs(tp - op).max()), "value": float(np.abs(tv - ov).max()),
                  "meta": {p.key: p.value for p in __import__("onnx").load(run + "/model.onnx").metadata_props}}))
`;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (const [board, arch, steps] of [
  ['square8', [], 30],
  ['hex8', ['--blocks', '2', '--channels', '16'], 20],
] as Array<[BoardType, string[], number]>) {
  test(`onnx parity ${board}: torch vs onnxruntime (Python) vs onnxruntime-node within 1e-4`, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-onnx-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const data = await makeTrainingNpz({ board, players: 2, games: board === 'square8' ? 12 : 6, seed: 3, dir });
    const run = path.join(dir, 'run');
    const env = { ...process.env, PYTHONPATH: ROOT };
    const tr = spawnSync(
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
        run,
        '--steps',
        String(steps),
        '--batch-size',
        '64',
        '--threads',
        '1',
        '--device',
        'cpu',
        ...arch,
      ],
      { encoding: 'utf8', env, cwd: ROOT },
    );
    assert.equal(tr.status, 0, tr.stderr.slice(-3000));
    const events = tr.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const exp = events.find((e) => e.event === 'export')!;
    const out = path.join(dir, 'parity.npz');
    const py = spawnSync(PYTHON, ['-c', PARITY_PY, data.npzPath, run, `${board}_2p`, out], { encoding: 'utf8', env });
    assert.equal(py.status, 0, py.stderr.slice(-3000));
    const pyRes = JSON.parse(py.stdout) as { n: number; policy: number; value: number; meta: Record<string, string> };
    assert.equal(pyRes.n, 64);
    assert.ok(pyRes.policy <= 1e-4 && pyRes.value <= 1e-4, `torch vs ORT python: ${JSON.stringify(pyRes)}`);
    assert.equal(pyRes.meta.board_type, board);
    assert.equal(pyRes.meta.policy_size, String(policySize(board)));
    assert.equal(pyRes.meta.encoder_version, 'rr-enc-v1');
    assert.equal(pyRes.meta.model_contract, 'rr-model-v1');

    const z = readNpz(out);
    const session = await ort.InferenceSession.create(path.join(run, 'model.onnx'));
    assert.deepEqual(session.inputNames, ['features', 'globals']);
    assert.deepEqual(session.outputNames, ['policy', 'value']);
    const feeds = {
      features: new ort.Tensor('float32', z.features.data as Float32Array, z.features.shape),
      globals: new ort.Tensor('float32', z.globals.data as Float32Array, z.globals.shape),
    };
    const res = await session.run(feeds);
    const P = policySize(board);
    assert.deepEqual(res.policy.dims, [64, P]);
    assert.deepEqual(res.value.dims, [64, 4]);
    const nodeP = res.policy.data as Float32Array;
    const nodeV = res.value.data as Float32Array;
    const diffs = {
      nodeVsOrtPyPolicy: maxAbsDiff(nodeP, z.policy_ort.data as Float32Array),
      nodeVsOrtPyValue: maxAbsDiff(nodeV, z.value_ort.data as Float32Array),
      nodeVsTorchPolicy: maxAbsDiff(nodeP, z.policy_torch.data as Float32Array),
      nodeVsTorchValue: maxAbsDiff(nodeV, z.value_torch.data as Float32Array),
      trainerCheck: [exp.max_abs_diff_policy, exp.max_abs_diff_value],
    };
    t.diagnostic(`${board} max abs diffs ${JSON.stringify({ torchVsOrtPy: [pyRes.policy, pyRes.value], ...diffs })}`);
    for (const [k, v] of Object.entries(diffs)) if (typeof v === 'number') assert.ok(v <= 1e-4, `${k} = ${v}`);
    // values are tanh outputs in [-1, 1]; the logits are not all equal (the model learned something)
    assert.ok(nodeV.every((v) => v >= -1 && v <= 1));
    assert.ok(Math.max(...nodeP.subarray(0, P)) - Math.min(...nodeP.subarray(0, P)) > 1e-3);
    // a batch of one works (dynamic batch axis)
    const one = await session.run({
      features: new ort.Tensor(
        'float32',
        (z.features.data as Float32Array).slice(
          0,
          z.features.shape.slice(1).reduce((a, b) => a * b, 1),
        ),
        [1, ...z.features.shape.slice(1)],
      ),
      globals: new ort.Tensor('float32', (z.globals.data as Float32Array).slice(0, 32), [1, 32]),
    });
    assert.ok(maxAbsDiff(one.policy.data as Float32Array, nodeP.subarray(0, P)) <= 1e-4);
  });
}
