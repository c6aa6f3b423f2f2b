import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NpyInput, NpzStreamWriter, crc32, encodeNpy, readNpz, writeNpz } from '../../store/npz';

const PYTHON = path.resolve(__dirname, '../../.venv/bin/python');

function tmpDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-npz-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface PyArray {
  dtype: string;
  shape: number[];
  values: unknown;
}

/** Load every array with numpy (allow_pickle=False) and describe it; int64 values as strings. */
function numpyLoad(file: string): Record<string, PyArray> {
  const script = `
import json, sys, zipfile
import numpy as np
path = sys.argv[1]
zipfile.ZipFile(path).testzip()
out = {}
with np.load(path, allow_pickle=False) as z:
    for name in z.files:
        a = z[name]
        if a.dtype == np.int64:
            vals = np.vectorize(str, otypes=[object])(a).tolist() if a.ndim else str(a.item())
        else:
            vals = a.tolist()
        out[name] = {"dtype": a.dtype.str, "shape": list(a.shape), "values": vals}
print(json.dumps(out))
`;
  const res = spawnSync(PYTHON, ['-c', script, file], { encoding: 'utf8' });
  assert.equal(res.status, 0, `python failed: ${res.stderr}`);
  return JSON.parse(res.stdout) as Record<string, PyArray>;
}

/** Nest a flat list into the given shape (C order), like ndarray.tolist(). */
function nest(flat: unknown[], shape: number[]): unknown {
  if (shape.length === 0) return flat[0];
  const [d, ...rest] = shape;
  const step = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: d }, (_, i) => nest(flat.slice(i * step, (i + 1) * step), rest));
}

test('writeNpz: numpy loads every dtype and shape without pickle, values exact', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'all.npz');

  const f4 = Float32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => (i - 60) / 7);
  const f8 = Float64Array.from([Math.PI, -0.5, 1e-300, 12345.678]);
  const i4 = Int32Array.from({ length: 6 }, (_, i) => (i % 2 ? -1 : 1) * i * 1_000_003);
  const i8 = BigInt64Array.from([0n, -1n, 2n ** 62n + 3n, -(2n ** 63n)]);
  const u1 = Uint8Array.from([0, 1, 127, 128, 255, 7]);
  const i1 = Int8Array.from([-128, -1, 0, 1, 127]);
  const i2 = Int16Array.from([-32768, -2, 0, 2, 32767, 9]);
  const bools = [true, false, false, true, true, false];

  const arrays: Record<string, NpyInput> = {
    features: { data: f4, shape: [2, 3, 4, 5] },
    globals: { data: f8, shape: [2, 2] },
    values: Float32Array.from([1, -1, 0.5]),
    policy_indices: { data: i4, shape: [3, 2] },
    seeds: i8,
    bytes: u1,
    small: i1,
    shorts: { data: i2, shape: [2, 3] },
    legal_mask: { data: bools, shape: [2, 3] },
    mask_u8: { data: Uint8Array.from([1, 0, 1]), dtype: '|b1' },
    board_type: 'square8',
    board_size: { data: 8, dtype: '<i8' },
    temperature: { data: 0.25, dtype: '<f4' },
    flag: true,
    phases: { data: ['ring_placement', 'movement', 'line_processing', 'çaß→✓𝄞'], shape: [2, 2] },
    count_f8: 3.5,
    empty: { data: new Float32Array(0), shape: [0, 4] },
  };
  await writeNpz(file, arrays);
  const py = numpyLoad(file);

  const expect: Record<string, { dtype: string; shape: number[]; values: unknown }> = {
    features: { dtype: '<f4', shape: [2, 3, 4, 5], values: nest([...f4], [2, 3, 4, 5]) },
    globals: { dtype: '<f8', shape: [2, 2], values: nest([...f8], [2, 2]) },
    values: { dtype: '<f4', shape: [3], values: [1, -1, 0.5] },
    policy_indices: { dtype: '<i4', shape: [3, 2], values: nest([...i4], [3, 2]) },
    seeds: { dtype: '<i8', shape: [4], values: [...i8].map(String) },
    bytes: { dtype: '|u1', shape: [6], values: [...u1] },
    small: { dtype: '|i1', shape: [5], values: [...i1] },
    shorts: { dtype: '<i2', shape: [2, 3], values: nest([...i2], [2, 3]) },
    legal_mask: { dtype: '|b1', shape: [2, 3], values: nest(bools, [2, 3]) },
    mask_u8: { dtype: '|b1', shape: [3], values: [true, false, true] },
    board_type: { dtype: '<U7', shape: [], values: 'square8' },
    board_size: { dtype: '<i8', shape: [], values: '8' },
    temperature: { dtype: '<f4', shape: [], values: 0.25 },
    flag: { dtype: '|b1', shape: [], values: true },
    phases: {
      dtype: '<U15',
      shape: [2, 2],
      values: [
        ['ring_placement', 'movement'],
        ['line_processing', 'çaß→✓𝄞'],
      ],
    },
    count_f8: { dtype: '<f8', shape: [], values: 3.5 },
    empty: { dtype: '<f4', shape: [0, 4], values: [] },
  };
  assert.deepEqual(Object.keys(py).sort(), Object.keys(expect).sort());
  for (const [name, e] of Object.entries(expect)) {
    assert.equal(py[name].dtype, e.dtype, `${name} dtype`);
    assert.deepEqual(py[name].shape, e.shape, `${name} shape`);
    assert.deepEqual(py[name].values, e.values, `${name} values`);
  }

  // Our own reader agrees.
  const ours = readNpz(file);
  assert.deepEqual([...(ours.features.data as Float32Array)], [...f4]);
  assert.deepEqual(ours.features.shape, [2, 3, 4, 5]);
  assert.deepEqual([...(ours.seeds.data as BigInt64Array)], [...i8]);
  assert.deepEqual(ours.phases.data, ['ring_placement', 'movement', 'line_processing', 'çaß→✓𝄞']);
  assert.equal(ours.legal_mask.dtype, '|b1');
  assert.deepEqual(ours.board_type, { dtype: '<U7', shape: [], data: ['square8'] });
});

test('writeNpz: stored (uncompressed) and forced zip64 archives load in numpy', async (t) => {
  const dir = tmpDir(t);
  const big = Float32Array.from({ length: 3_000_000 }, (_, i) => (i % 1000) * 0.5); // 12 MB, multiple chunks
  const idx = Int32Array.from({ length: 1000 }, (_, i) => i * 7);
  for (const [label, opts] of [
    ['stored', { compress: false }],
    ['zip64', { zip64: 'always' as const }],
    ['stored-zip64', { compress: false, zip64: 'always' as const }],
  ] as const) {
    const file = path.join(dir, `${label}.npz`);
    await writeNpz(file, { big: { data: big, shape: [3000, 1000] }, idx }, opts);
    const script = `
import sys, numpy as np
with np.load(sys.argv[1], allow_pickle=False) as z:
    big, idx = z["big"], z["idx"]
    assert big.dtype == np.float32 and big.shape == (3000, 1000), (big.dtype, big.shape)
    expect = (np.arange(3_000_000) % 1000).astype(np.float32).reshape(3000, 1000) * np.float32(0.5)
    assert np.array_equal(big, expect)
    assert idx.dtype == np.int32 and np.array_equal(idx, np.arange(1000, dtype=np.int32) * 7)
print("ok")
`;
    const res = spawnSync(PYTHON, ['-c', script, file], { encoding: 'utf8' });
    assert.equal(res.status, 0, `${label}: ${res.stderr}`);
    assert.equal(res.stdout.trim(), 'ok');
    const back = readNpz(file);
    assert.deepEqual(back.big.shape, [3000, 1000]);
    assert.equal((back.big.data as Float32Array)[2_999_999], 999 * 0.5);
  }
  // Compression actually compresses this repetitive data.
  assert.ok(fs.statSync(path.join(dir, 'zip64.npz')).size < fs.statSync(path.join(dir, 'stored.npz')).size / 2);
});

test('writeNpz refuses to overwrite unless asked, and leaves no temp files', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'd.npz');
  await writeNpz(file, { a: Int32Array.from([1, 2, 3]) });
  await assert.rejects(writeNpz(file, { a: Int32Array.from([9]) }), /refusing to overwrite/);
  assert.deepEqual([...(readNpz(file).a.data as Int32Array)], [1, 2, 3]);
  await writeNpz(file, { a: Int32Array.from([9]) }, { overwrite: true });
  assert.deepEqual([...(readNpz(file).a.data as Int32Array)], [9]);
  assert.deepEqual(fs.readdirSync(dir), ['d.npz']);
});

test('writeNpz validates input before creating anything', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'bad.npz');
  await assert.rejects(writeNpz(file, { a: { data: new Float32Array(6), shape: [4, 2] } }), /holds 8 elements but 6/);
  await assert.rejects(writeNpz(file, { a: { data: new Float32Array(2), dtype: '<i4' } }), /does not match/);
  await assert.rejects(writeNpz(file, { a: { data: [1, 300], dtype: '|u1' } }), /does not fit \|u1/);
  await assert.rejects(writeNpz(file, { a: { data: Uint8Array.from([0, 2]), dtype: '|b1' } }), /must be 0\/1/);
  await assert.rejects(writeNpz(file, { 'x/y': new Float32Array(1) }), /not allowed/);
  await assert.rejects(writeNpz(file, { s: { data: ['abc'], dtype: '<U2' } }), /narrower/);
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('npy header layout: magic, version 1.0, 64-byte alignment, descr and shape', () => {
  const enc = encodeNpy({ data: new Float32Array(12), shape: [3, 4] });
  assert.equal(enc.header.toString('latin1', 0, 6), '\x93NUMPY');
  assert.deepEqual([enc.header[6], enc.header[7]], [1, 0]);
  assert.equal(enc.header.length % 64, 0);
  assert.equal(enc.header.readUInt16LE(8), enc.header.length - 10);
  assert.equal(enc.header[enc.header.length - 1], 0x0a);
  const text = enc.header.toString('latin1', 10);
  assert.match(text, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(3, 4\), \} *\n$/);
  assert.match(encodeNpy(Int32Array.from([1])).header.toString('latin1'), /'shape': \(1,\)/);
  assert.match(encodeNpy({ data: 1n }).header.toString('latin1'), /'descr': '<i8'.*'shape': \(\)/);
  assert.equal(enc.body.length, 48);
});

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(crc32(Buffer.from('6789'), crc32(Buffer.from('12345'))), 0xcbf43926);
});

test('NpzStreamWriter: members direct, spilled and from raw temp files give writeNpz bytes, in any chunking; zip64 and stored too', async (t) => {
  const dir = tmpDir(t);
  const big = Float32Array.from({ length: 1_500_000 }, (_, i) => ((i * 7) % 1013) * 0.25); // 6 MB, several stage buffers
  const idx = Int32Array.from({ length: 300_001 }, (_, i) => (i * 31) % 7000);
  const vals = Float64Array.from({ length: 5000 }, (_, i) => Math.sin(i));
  const arrays: Record<string, NpyInput> = {
    big: { data: big, shape: [1500, 1000] },
    idx,
    vals: { data: vals, shape: [1000, 5] },
    name: 'square19',
    n: 7,
  };
  for (const [label, opts] of [
    ['deflate', {}],
    ['zip64', { zip64: 'always' as const }],
    ['stored', { compress: false }],
  ] as const) {
    const ref = path.join(dir, `${label}-ref.npz`);
    await writeNpz(ref, arrays, opts);
    const file = path.join(dir, `${label}.npz`);
    const w = new NpzStreamWriter(file, opts);
    const direct = await w.member('big', '<f4', [1500, 1000]);
    const spill = await w.spill('vals', '<f8', [1000, 5]);
    const raw = w.rawSpill();
    // interleave: big in odd-sized pieces, vals and idx a few elements at a time
    for (let off = 0, k = 0; off < big.length; k++) {
      const n = Math.min(big.length - off, 1 + ((k * 7919) % 400_000));
      await direct.write(big.subarray(off, off + n));
      off += n;
    }
    for (let off = 0; off < vals.length; off += 333) await spill.writer.write(vals.subarray(off, off + 333));
    for (let off = 0; off < idx.length; off += 1000) raw.write(idx.subarray(off, off + 1000));
    await direct.close();
    await spill.writer.close();
    await w.addFromRaw('idx', '<i4', [idx.length], raw);
    await w.append(spill);
    await w.add('name', 'square19');
    await w.add('n', 7);
    assert.ok(
      fs.readdirSync(dir).some((f) => f.includes('.tmp-')),
      'temp files while writing',
    );
    await w.commit();
    assert.deepEqual(fs.readFileSync(file), fs.readFileSync(ref), `${label}: same bytes as writeNpz`);
    const res = spawnSync(
      PYTHON,
      [
        '-c',
        'import sys, numpy as np\nz = np.load(sys.argv[1], allow_pickle=False)\nprint(z["big"].dtype.str, z["big"].shape, z["idx"].shape, int(z["idx"][-1]), str(z["name"]))',
        file,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(res.stdout.trim(), `<f4 (1500, 1000) (300001,) ${(300_000 * 31) % 7000} square19`, res.stderr);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.includes('.tmp')),
      [],
    );
  }
});

test('NpzStreamWriter: refuses more or fewer bytes than the shape, duplicate names, appending an open spill; abort removes its files', async (t) => {
  const dir = tmpDir(t);
  const w = new NpzStreamWriter(path.join(dir, 'x.npz'));
  const m = await w.member('a', '<i4', [3]);
  await assert.rejects(m.write(new Int32Array(4)), /more data than its shape/);
  await m.write(new Int32Array(2));
  await assert.rejects(m.close(), /got 8 bytes, its shape needs 12/);
  await m.write(new Int32Array(1));
  await m.close();
  await assert.rejects(w.member('a', '<i4', [1]), /written twice/);
  const s = await w.spill('b', '<f4', [2]);
  await assert.rejects(w.append(s), /close it before appending/);
  w.rawSpill().write(new Int32Array(10));
  w.abort();
  assert.deepEqual(fs.readdirSync(dir), []);
  await assert.rejects(
    writeNpz(path.join(dir, 'y.npz'), { a: new Int8Array(2) }).then(() => new NpzStreamWriter(path.join(dir, 'y.npz'))),
    /refusing to overwrite/,
  );
});
