/**
 * Write numpy `.npz` archives (a zip of `.npy` v1.0 arrays) without Python, and read back
 * what we write (for tests and sanity checks).
 *
 * Zip writer: our own, small and streaming — node's zlib deflate-raw stream for
 * compression, zlib.crc32 (table fallback for older Node), zip64 records when an entry or
 * the archive passes 4 GiB (or when forced). Output goes to a temp file in the same
 * directory and is renamed (or hard-linked, when not overwriting) into place.
 *
 * Supported dtypes: <f4 <f8 |i1 <i2 <i4 <i8 |u1 |b1 and <U{n} (unicode, loaded by numpy
 * without pickle). Object arrays are not supported (they would need pickle).
 */
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';

export type NumericTypedArray = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array | Uint8Array;

export type NpyNumericDtype = '<f4' | '<f8' | '|i1' | '<i2' | '<i4' | '<i8' | '|u1' | '|b1';
export type NpyDtype = NpyNumericDtype | `<U${number}`;

export interface NpyArraySpec {
  /**
   * Element data in C order. A typed array, a plain number/bigint/boolean/string array,
   * or a single scalar (0-d array when no shape is given).
   */
  data:
    NumericTypedArray | readonly number[] | readonly bigint[] | readonly boolean[] | readonly string[] | number | bigint | boolean | string;
  /** Defaults: [] for a scalar, [length] for an array. */
  shape?: readonly number[];
  /**
   * Defaults from the data: typed array kind; boolean → |b1; string → <U{max length};
   * bigint → <i8; number scalar/array → <i8 if every value is an integer, else <f8.
   */
  dtype?: NpyDtype;
}

/** A typed array (1-D), a scalar (0-d), or a full spec. */
export type NpyInput = NumericTypedArray | NpyArraySpec | number | bigint | boolean | string;

export interface WriteNpzOptions {
  /** Replace an existing file. Default false: refuse. */
  overwrite?: boolean;
  /** Deflate the members (numpy.savez_compressed). Default true; false = stored (numpy.savez). */
  compress?: boolean;
  /** zlib level 0..9, default 6. */
  level?: number;
  /** 'auto' (default): zip64 records only when needed; 'always': always (for testing readers). */
  zip64?: 'auto' | 'always';
}

export interface NpyArray {
  dtype: string;
  shape: number[];
  /** Typed array for numeric/bool dtypes (|b1 → Uint8Array of 0/1), string[] for <U. */
  data: NumericTypedArray | string[];
}

// ---------------------------------------------------------------------------
// .npy encoding
// ---------------------------------------------------------------------------

interface EncodedNpy {
  header: Buffer;
  body: Buffer;
  dtype: NpyDtype;
  shape: number[];
}

const TYPED_DTYPE: Array<[new (...args: never[]) => NumericTypedArray, NpyNumericDtype]> = [
  [Float32Array, '<f4'],
  [Float64Array, '<f8'],
  [Int8Array, '|i1'],
  [Int16Array, '<i2'],
  [Int32Array, '<i4'],
  [BigInt64Array, '<i8'],
  [Uint8Array, '|u1'],
];

function isTypedArray(x: unknown): x is NumericTypedArray {
  return TYPED_DTYPE.some(([ctor]) => x instanceof ctor);
}

function dtypeOfTyped(a: NumericTypedArray): NpyNumericDtype {
  // Buffer is a Uint8Array subclass; check exact families in order.
  for (const [ctor, dt] of TYPED_DTYPE) if (a instanceof ctor) return dt;
  throw new Error('unsupported typed array');
}

function bytesView(a: NumericTypedArray): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function makeTyped(dtype: NpyNumericDtype, values: ArrayLike<number | bigint | boolean>, where: string): NumericTypedArray {
  const n = values.length;
  const num = (v: number | bigint | boolean): number => (typeof v === 'boolean' ? (v ? 1 : 0) : Number(v));
  switch (dtype) {
    case '<f4':
      return Float32Array.from({ length: n }, (_, i) => num(values[i]));
    case '<f8':
      return Float64Array.from({ length: n }, (_, i) => num(values[i]));
    case '|i1':
    case '<i2':
    case '<i4':
    case '|u1':
    case '|b1': {
      const out =
        dtype === '|i1' ? new Int8Array(n) : dtype === '<i2' ? new Int16Array(n) : dtype === '<i4' ? new Int32Array(n) : new Uint8Array(n);
      const [lo, hi] =
        dtype === '|i1'
          ? [-128, 127]
          : dtype === '<i2'
            ? [-32768, 32767]
            : dtype === '<i4'
              ? [-(2 ** 31), 2 ** 31 - 1]
              : dtype === '|u1'
                ? [0, 255]
                : [0, 1];
      for (let i = 0; i < n; i++) {
        const v = num(values[i]);
        if (!Number.isInteger(v) || v < lo || v > hi) {
          throw new RangeError(`${where}: value ${String(values[i])} at index ${i} does not fit ${dtype}`);
        }
        out[i] = v;
      }
      return out;
    }
    case '<i8': {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v === 'bigint') out[i] = v;
        else {
          const x = num(v);
          if (!Number.isSafeInteger(x)) throw new RangeError(`${where}: value ${String(v)} at index ${i} is not a safe integer for <i8`);
          out[i] = BigInt(x);
        }
      }
      return out;
    }
  }
}

function encodeUnicode(values: readonly string[], dtype: NpyDtype | undefined, where: string): { body: Buffer; dtype: NpyDtype } {
  const cps = values.map((s, i) => {
    if (typeof s !== 'string') throw new TypeError(`${where}: element ${i} is not a string`);
    const arr = Array.from(s, (ch) => ch.codePointAt(0) as number);
    if (arr.length > 0 && arr[arr.length - 1] === 0) {
      throw new RangeError(`${where}: element ${i} ends with NUL, which numpy strips on load`);
    }
    return arr;
  });
  const longest = Math.max(1, ...cps.map((c) => c.length));
  let width = longest;
  if (dtype !== undefined) {
    const m = /^<U(\d+)$/.exec(dtype);
    if (!m) throw new TypeError(`${where}: string data needs a <U dtype, got ${dtype}`);
    width = Number(m[1]);
    if (width < longest) throw new RangeError(`${where}: ${dtype} is narrower than the longest string (${longest})`);
  }
  const body = Buffer.alloc(cps.length * width * 4);
  cps.forEach((c, i) => c.forEach((cp, j) => body.writeUInt32LE(cp, (i * width + j) * 4)));
  return { body, dtype: `<U${width}` };
}

function checkShape(shape: readonly number[], count: number, where: string): number[] {
  if (shape.length > 32) throw new RangeError(`${where}: numpy supports at most 32 dimensions`);
  let product = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`${where}: bad dimension ${String(d)} in shape [${shape.join(', ')}]`);
    product *= d;
  }
  if (product !== count) {
    throw new RangeError(`${where}: shape [${shape.join(', ')}] holds ${product} elements but ${count} were given`);
  }
  return [...shape];
}

function npyHeader(dtype: string, shape: readonly number[]): Buffer {
  const shapeStr = shape.length === 0 ? '()' : shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const preamble = 10; // magic(6) + version(2) + header length(2)
  const total = Math.ceil((preamble + dict.length + 1) / 64) * 64;
  const hlen = total - preamble;
  if (hlen > 0xffff) throw new RangeError('npy header too long for format 1.0');
  const buf = Buffer.alloc(total, 0x20);
  buf.write('\x93NUMPY', 0, 'latin1');
  buf[6] = 1;
  buf[7] = 0;
  buf.writeUInt16LE(hlen, 8);
  buf.write(dict, preamble, 'latin1');
  buf[total - 1] = 0x0a;
  return buf;
}

/** Encode one array as .npy (v1.0): header + raw little-endian C-order body. */
export function encodeNpy(input: NpyInput, where = 'array'): EncodedNpy {
  if (os.endianness() !== 'LE') throw new Error('npz writer assumes a little-endian host');
  const spec: NpyArraySpec = isTypedArray(input) || typeof input !== 'object' ? { data: input } : input;
  const { data } = spec;
  let dtype = spec.dtype;
  let body: Buffer;
  let count: number;
  let scalar = false;

  if (isTypedArray(data)) {
    const natural = dtypeOfTyped(data);
    if (dtype === undefined) dtype = natural;
    else if (dtype !== natural && !(dtype === '|b1' && natural === '|u1')) {
      throw new TypeError(`${where}: dtype ${dtype} does not match a ${data.constructor.name} (${natural})`);
    }
    if (dtype === '|b1') {
      for (let i = 0; i < data.length; i++) {
        if (data[i] !== 0 && data[i] !== 1) throw new RangeError(`${where}: |b1 data must be 0/1, index ${i} is ${data[i]}`);
      }
    }
    body = bytesView(data);
    count = data.length;
  } else if (typeof data === 'string' || (Array.isArray(data) && data.length > 0 && typeof data[0] === 'string')) {
    const values = typeof data === 'string' ? [data] : (data as readonly string[]);
    scalar = typeof data === 'string';
    const enc = encodeUnicode(values, dtype, where);
    body = enc.body;
    dtype = enc.dtype;
    count = values.length;
  } else {
    const values: ReadonlyArray<number | bigint | boolean> = Array.isArray(data)
      ? (data as ReadonlyArray<number | bigint | boolean>)
      : [data as number | bigint | boolean];
    scalar = !Array.isArray(data);
    if (dtype === undefined) {
      if (values.length > 0 && values.every((v) => typeof v === 'boolean')) dtype = '|b1';
      else if (values.some((v) => typeof v === 'bigint')) dtype = '<i8';
      else dtype = values.every((v) => typeof v === 'number' && Number.isInteger(v)) ? '<i8' : '<f8';
    }
    if (dtype.startsWith('<U')) throw new TypeError(`${where}: ${dtype} needs string data`);
    const typed = makeTyped(dtype as NpyNumericDtype, values, where);
    body = bytesView(typed);
    count = values.length;
  }
  const shape = checkShape(spec.shape ?? (scalar ? [] : [count]), count, where);
  return { header: npyHeader(dtype, shape), body, dtype, shape };
}

// ---------------------------------------------------------------------------
// CRC32
// ---------------------------------------------------------------------------

let crcTable: Uint32Array | undefined;
function crc32Fallback(buf: Uint8Array, prev: number): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = ~prev >>> 0;
  for (let i = 0; i < buf.length; i++) c = crcTable[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

const nativeCrc32 = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
export function crc32(buf: Uint8Array, prev = 0): number {
  return nativeCrc32 ? nativeCrc32(buf, prev) >>> 0 : crc32Fallback(buf, prev);
}

// ---------------------------------------------------------------------------
// Zip writer
// ---------------------------------------------------------------------------

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOC = 0x07064b50;
const U32_MAX = 0xffffffff;
const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1;
const CHUNK = 4 * 1024 * 1024;
/** Entries at least this large get zip64 local records (leaves room for deflate expansion). */
const ZIP64_ENTRY_THRESHOLD = 0xff000000;

interface CentralEntry {
  name: Buffer;
  utf8: boolean;
  method: number;
  crc: number;
  compressed: number;
  uncompressed: number;
  offset: number;
  zip64: boolean;
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

class FileSink {
  pos = 0;
  constructor(readonly fd: number) {}
  write(buf: Uint8Array): void {
    let off = 0;
    while (off < buf.length) {
      const n = fs.writeSync(this.fd, buf, off, buf.length - off, this.pos);
      off += n;
      this.pos += n;
    }
  }
  patch(buf: Buffer, at: number): void {
    let off = 0;
    while (off < buf.length) off += fs.writeSync(this.fd, buf, off, buf.length - off, at + off);
  }
}

function* chunks(buf: Buffer): Generator<Buffer> {
  for (let off = 0; off < buf.length; off += CHUNK) yield buf.subarray(off, Math.min(buf.length, off + CHUNK));
}

async function writeEntry(
  sink: FileSink,
  name: string,
  npy: EncodedNpy,
  compress: boolean,
  level: number,
  forceZip64: boolean,
): Promise<CentralEntry> {
  const nameBuf = Buffer.from(name, 'utf8');
  const utf8 = /[^\x20-\x7e]/.test(name);
  const uncompressed = npy.header.length + npy.body.length;
  const zip64 = forceZip64 || uncompressed >= ZIP64_ENTRY_THRESHOLD;
  const method = compress ? 8 : 0;
  const offset = sink.pos;

  const extra = zip64 ? Buffer.alloc(20) : Buffer.alloc(0);
  if (zip64) {
    extra.writeUInt16LE(0x0001, 0);
    extra.writeUInt16LE(16, 2);
  }
  const local = Buffer.alloc(30);
  local.writeUInt32LE(SIG_LOCAL, 0);
  local.writeUInt16LE(zip64 ? 45 : 20, 4);
  local.writeUInt16LE(utf8 ? 0x0800 : 0, 6);
  local.writeUInt16LE(method, 8);
  local.writeUInt16LE(0, 10); // time 00:00:00
  local.writeUInt16LE(DOS_DATE_1980_01_01, 12);
  // crc (14) and sizes (18, 22) are patched after the data is written.
  local.writeUInt16LE(nameBuf.length, 26);
  local.writeUInt16LE(extra.length, 28);
  sink.write(local);
  sink.write(nameBuf);
  sink.write(extra);

  let crc = 0;
  const dataStart = sink.pos;
  const pieces = [npy.header, ...chunks(npy.body)];
  if (!compress) {
    for (const p of pieces) {
      crc = crc32(p, crc);
      sink.write(p);
    }
  } else {
    const deflate = zlib.createDeflateRaw({ level });
    const drained = (async () => {
      for await (const out of deflate) sink.write(out as Buffer);
    })();
    try {
      for (const p of pieces) {
        crc = crc32(p, crc);
        if (!deflate.write(p)) await once(deflate, 'drain');
      }
      deflate.end();
    } finally {
      await drained;
    }
  }
  const compressed = sink.pos - dataStart;
  if (!zip64 && compressed >= U32_MAX) throw new Error(`npz entry ${name}: compressed size passed 4 GiB without zip64`);

  const fix = Buffer.alloc(12);
  fix.writeUInt32LE(crc >>> 0, 0);
  fix.writeUInt32LE(zip64 ? U32_MAX : compressed, 4);
  fix.writeUInt32LE(zip64 ? U32_MAX : uncompressed, 8);
  sink.patch(fix, offset + 14);
  if (zip64) sink.patch(Buffer.concat([u64(uncompressed), u64(compressed)]), offset + 30 + nameBuf.length + 4);
  return { name: nameBuf, utf8, method, crc: crc >>> 0, compressed, uncompressed, offset, zip64 };
}

function writeCentral(sink: FileSink, entries: CentralEntry[], forceZip64: boolean): void {
  const cdStart = sink.pos;
  for (const e of entries) {
    const big = e.zip64 || e.offset >= U32_MAX;
    const extra = big
      ? Buffer.concat([Buffer.from([0x01, 0x00, 24, 0x00]), u64(e.uncompressed), u64(e.compressed), u64(e.offset)])
      : Buffer.alloc(0);
    const h = Buffer.alloc(46);
    h.writeUInt32LE(SIG_CENTRAL, 0);
    h.writeUInt16LE((3 << 8) | (big ? 45 : 20), 4); // made by: unix
    h.writeUInt16LE(big ? 45 : 20, 6);
    h.writeUInt16LE(e.utf8 ? 0x0800 : 0, 8);
    h.writeUInt16LE(e.method, 10);
    h.writeUInt16LE(0, 12);
    h.writeUInt16LE(DOS_DATE_1980_01_01, 14);
    h.writeUInt32LE(e.crc, 16);
    h.writeUInt32LE(big ? U32_MAX : e.compressed, 20);
    h.writeUInt32LE(big ? U32_MAX : e.uncompressed, 24);
    h.writeUInt16LE(e.name.length, 28);
    h.writeUInt16LE(extra.length, 30);
    h.writeUInt16LE(0, 32); // comment
    h.writeUInt16LE(0, 34); // disk
    h.writeUInt16LE(0, 36); // internal attrs
    h.writeUInt32LE((0o100644 << 16) >>> 0, 38);
    h.writeUInt32LE(big ? U32_MAX : e.offset, 42);
    sink.write(h);
    sink.write(e.name);
    sink.write(extra);
  }
  const cdSize = sink.pos - cdStart;
  const need64 = forceZip64 || entries.length > 0xffff || cdStart >= U32_MAX || cdSize >= U32_MAX || entries.some((e) => e.zip64);
  if (need64) {
    const eocd64At = sink.pos;
    const r = Buffer.alloc(56);
    r.writeUInt32LE(SIG_EOCD64, 0);
    r.writeBigUInt64LE(44n, 4);
    r.writeUInt16LE((3 << 8) | 45, 12);
    r.writeUInt16LE(45, 14);
    r.writeUInt32LE(0, 16);
    r.writeUInt32LE(0, 20);
    r.writeBigUInt64LE(BigInt(entries.length), 24);
    r.writeBigUInt64LE(BigInt(entries.length), 32);
    r.writeBigUInt64LE(BigInt(cdSize), 40);
    r.writeBigUInt64LE(BigInt(cdStart), 48);
    sink.write(r);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(SIG_EOCD64_LOC, 0);
    loc.writeUInt32LE(0, 4);
    loc.writeBigUInt64LE(BigInt(eocd64At), 8);
    loc.writeUInt32LE(1, 16);
    sink.write(loc);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(SIG_EOCD, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(need64 ? 0xffff : entries.length, 8);
  end.writeUInt16LE(need64 ? 0xffff : entries.length, 10);
  end.writeUInt32LE(need64 ? U32_MAX : cdSize, 12);
  end.writeUInt32LE(need64 ? U32_MAX : cdStart, 16);
  end.writeUInt16LE(0, 20);
  sink.write(end);
}

function validateName(name: string): void {
  if (name.length === 0 || name.includes('/') || name.includes('\\') || name.includes('\0')) {
    throw new TypeError(`npz array name ${JSON.stringify(name)} is not allowed`);
  }
}

/**
 * Write `arrays` as an .npz at `file` (member `<name>.npy` per array), atomically:
 * a temp file in the same directory is written, fsynced and then moved into place.
 * Refuses to replace an existing file unless `overwrite: true`.
 */
export async function writeNpz(file: string, arrays: Record<string, NpyInput>, opts: WriteNpzOptions = {}): Promise<void> {
  const overwrite = opts.overwrite === true;
  const compress = opts.compress !== false;
  const level = opts.level ?? 6;
  const forceZip64 = opts.zip64 === 'always';
  if (!overwrite && fs.existsSync(file)) throw new Error(`refusing to overwrite existing ${file} (pass overwrite: true)`);
  const names = Object.keys(arrays);
  names.forEach(validateName);
  // Encode (and validate) everything before creating any file.
  const encoded = names.map((n) => encodeNpy(arrays[n], `npz array ${JSON.stringify(n)}`));

  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  const fd = fs.openSync(tmp, 'wx', 0o644);
  let closed = false;
  try {
    const sink = new FileSink(fd);
    const entries: CentralEntry[] = [];
    for (let i = 0; i < names.length; i++) {
      entries.push(await writeEntry(sink, `${names[i]}.npy`, encoded[i], compress, level, forceZip64));
    }
    writeCentral(sink, entries, forceZip64);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    closed = true;
    if (overwrite) {
      fs.renameSync(tmp, file);
    } else {
      fs.linkSync(tmp, file); // fails with EEXIST if the file appeared meanwhile
      fs.rmSync(tmp, { force: true });
    }
    try {
      const dfd = fs.openSync(dir, 'r');
      try {
        fs.fsyncSync(dfd);
      } finally {
        fs.closeSync(dfd);
      }
    } catch {
      // directory fsync unsupported: best effort
    }
  } catch (err) {
    if (!closed) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Reader (for what writeNpz produces: stored/deflated members, zip64, npy v1–v3)
// ---------------------------------------------------------------------------

function decodeNpy(buf: Buffer, where: string): NpyArray {
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${where}: not an .npy member`);
  const major = buf[6];
  let hlen: number;
  let start: number;
  if (major === 1) {
    hlen = buf.readUInt16LE(8);
    start = 10;
  } else if (major === 2 || major === 3) {
    hlen = buf.readUInt32LE(8);
    start = 12;
  } else throw new Error(`${where}: unsupported npy version ${major}`);
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeStr === undefined) throw new Error(`${where}: bad npy header ${header}`);
  if (fortran === 'True') throw new Error(`${where}: fortran_order arrays are not supported`);
  const shape = shapeStr
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const body = buf.subarray(start + hlen);
  const copy = (bytes: number) => {
    if (body.length !== count * bytes) throw new Error(`${where}: body has ${body.length} bytes, expected ${count * bytes}`);
    const ab = new ArrayBuffer(body.length);
    new Uint8Array(ab).set(body);
    return ab;
  };
  const uni = /^<U(\d+)$/.exec(descr);
  if (uni) {
    const width = Number(uni[1]);
    if (body.length !== count * width * 4) throw new Error(`${where}: body size mismatch for ${descr}`);
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
      const cps: number[] = [];
      for (let j = 0; j < width; j++) {
        const cp = body.readUInt32LE((i * width + j) * 4);
        if (cp === 0) break;
        cps.push(cp);
      }
      out.push(String.fromCodePoint(...cps));
    }
    return { dtype: descr, shape, data: out };
  }
  switch (descr) {
    case '<f4':
      return { dtype: descr, shape, data: new Float32Array(copy(4)) };
    case '<f8':
      return { dtype: descr, shape, data: new Float64Array(copy(8)) };
    case '|i1':
      return { dtype: descr, shape, data: new Int8Array(copy(1)) };
    case '<i2':
      return { dtype: descr, shape, data: new Int16Array(copy(2)) };
    case '<i4':
      return { dtype: descr, shape, data: new Int32Array(copy(4)) };
    case '<i8':
      return { dtype: descr, shape, data: new BigInt64Array(copy(8)) };
    case '|u1':
    case '|b1':
      return { dtype: descr, shape, data: new Uint8Array(copy(1)) };
    default:
      throw new Error(`${where}: unsupported dtype ${descr}`);
  }
}

/**
 * Read an .npz (as written by writeNpz or numpy) into name → array. With `only`, just those members
 * are read and inflated (positional reads), so metadata of a large file costs a few kilobytes.
 */
export function readNpz(file: string, only?: readonly string[]): Record<string, NpyArray> {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const readAt = (pos: number, len: number): Buffer => {
      if (pos < 0 || pos + len > size) throw new Error(`${file}: truncated (needs bytes ${pos}..${pos + len}, file has ${size})`);
      const b = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const n = fs.readSync(fd, b, got, len - got, pos + got);
        if (n === 0) throw new Error(`${file}: truncated`);
        got += n;
      }
      return b;
    };
    const tailLen = Math.min(size, 22 + 0xffff + 20);
    const tail = readAt(size - tailLen, tailLen);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === SIG_EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error(`${file}: not a zip archive (no end of central directory; truncated?)`);
    let entries = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    if (eocd >= 20 && tail.readUInt32LE(eocd - 20) === SIG_EOCD64_LOC) {
      const at = Number(tail.readBigUInt64LE(eocd - 20 + 8));
      const rec = readAt(at, 56);
      if (rec.readUInt32LE(0) !== SIG_EOCD64) throw new Error(`${file}: bad zip64 end record`);
      entries = Number(rec.readBigUInt64LE(32));
      cdSize = Number(rec.readBigUInt64LE(40));
      cdOffset = Number(rec.readBigUInt64LE(48));
    }
    const cd = readAt(cdOffset, cdSize);
    const wanted = only ? new Set(only) : null;
    const out: Record<string, NpyArray> = {};
    let p = 0;
    for (let k = 0; k < entries; k++) {
      if (cd.readUInt32LE(p) !== SIG_CENTRAL) throw new Error(`${file}: bad central directory entry ${k}`);
      const method = cd.readUInt16LE(p + 10);
      const crc = cd.readUInt32LE(p + 16);
      let compressed = cd.readUInt32LE(p + 20);
      let uncompressed = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let offset = cd.readUInt32LE(p + 42);
      const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
      // zip64 extra: values present for fields saturated at 0xFFFFFFFF, in this order.
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const tag = cd.readUInt16LE(e);
        const len = cd.readUInt16LE(e + 2);
        if (tag === 0x0001) {
          let q = e + 4;
          if (uncompressed === U32_MAX) {
            uncompressed = Number(cd.readBigUInt64LE(q));
            q += 8;
          }
          if (compressed === U32_MAX) {
            compressed = Number(cd.readBigUInt64LE(q));
            q += 8;
          }
          if (offset === U32_MAX) offset = Number(cd.readBigUInt64LE(q));
        }
        e += 4 + len;
      }
      p = eEnd + commentLen;
      const key = name.endsWith('.npy') ? name.slice(0, -4) : name;
      if (wanted && !wanted.has(key)) continue;

      const local = readAt(offset, 30);
      if (local.readUInt32LE(0) !== SIG_LOCAL) throw new Error(`${file}: bad local header for ${name}`);
      const raw = readAt(offset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28), compressed);
      const data = method === 0 ? raw : method === 8 ? zlib.inflateRawSync(raw) : undefined;
      if (data === undefined) throw new Error(`${file}: ${name} uses unsupported compression method ${method}`);
      if (data.length !== uncompressed) throw new Error(`${file}: ${name} size mismatch`);
      if (crc32(data) !== crc) throw new Error(`${file}: ${name} CRC mismatch`);
      out[key] = decodeNpy(data, `${file}:${name}`);
    }
    const missing = only?.filter((n) => !(n in out)) ?? [];
    if (missing.length) throw new Error(`${file}: no member ${missing.join(', ')}`);
    return out;
  } finally {
    fs.closeSync(fd);
  }
}
