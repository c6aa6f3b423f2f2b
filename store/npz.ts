/**
 * Write numpy `.npz` archives (a zip of `.npy` v1.0 arrays) without Python, and read back
 * what we write (for tests and sanity checks).
 *
 * Zip writer: our own, small and streaming — node's zlib deflate-raw stream for
 * compression, zlib.crc32 (table fallback for older Node), zip64 records when an entry or
 * the archive passes 4 GiB (or when forced). Output goes to a temp file in the same
 * directory and is renamed (or hard-linked, when not overwriting) into place. NpzStreamWriter
 * writes arrays whose shape is known but whose data arrives in pieces, in bounded memory
 * (writeNpz is built on it).
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

/** Bytes per element of a dtype. */
export function npyItemSize(dtype: NpyDtype): number {
  const uni = /^<U(\d+)$/.exec(dtype);
  if (uni) return Number(uni[1]) * 4;
  return { '<f4': 4, '<f8': 8, '|i1': 1, '<i2': 2, '<i4': 4, '<i8': 8, '|u1': 1, '|b1': 1 }[dtype as NpyNumericDtype];
}

function localHeader(nameBuf: Buffer, utf8: boolean, method: number, zip64: boolean, crc = 0, compressed = 0, uncompressed = 0): Buffer {
  const extra = zip64 ? Buffer.alloc(20) : Buffer.alloc(0);
  if (zip64) {
    extra.writeUInt16LE(0x0001, 0);
    extra.writeUInt16LE(16, 2);
    extra.writeBigUInt64LE(BigInt(uncompressed), 4);
    extra.writeBigUInt64LE(BigInt(compressed), 12);
  }
  const local = Buffer.alloc(30);
  local.writeUInt32LE(SIG_LOCAL, 0);
  local.writeUInt16LE(zip64 ? 45 : 20, 4);
  local.writeUInt16LE(utf8 ? 0x0800 : 0, 6);
  local.writeUInt16LE(method, 8);
  local.writeUInt16LE(0, 10); // time 00:00:00
  local.writeUInt16LE(DOS_DATE_1980_01_01, 12);
  local.writeUInt32LE(crc >>> 0, 14);
  local.writeUInt32LE(zip64 ? (uncompressed || compressed ? U32_MAX : 0) : compressed, 18);
  local.writeUInt32LE(zip64 ? (uncompressed || compressed ? U32_MAX : 0) : uncompressed, 22);
  local.writeUInt16LE(nameBuf.length, 26);
  local.writeUInt16LE(extra.length, 28);
  return Buffer.concat([local, nameBuf, extra]);
}

/** Deflates (or stores) one member's bytes into a sink, tracking CRC and sizes. */
class MemberBody {
  crc = 0;
  uncompressed = 0;
  readonly start: number;
  private readonly deflate?: zlib.DeflateRaw;
  private readonly drained?: Promise<void>;
  constructor(
    private readonly sink: FileSink,
    compress: boolean,
    level: number,
  ) {
    this.start = sink.pos;
    if (compress) {
      const d = zlib.createDeflateRaw({ level });
      this.deflate = d;
      this.drained = (async () => {
        for await (const out of d) sink.write(out as Buffer);
      })();
      this.drained.catch((err: unknown) => d.destroy(err as Error)); // e.g. ENOSPC: wake a pending write
    }
  }
  /** `buf` must not be modified afterwards: the deflate stream may still hold it. */
  async push(buf: Uint8Array): Promise<void> {
    if (buf.length === 0) return;
    this.crc = crc32(buf, this.crc);
    this.uncompressed += buf.length;
    if (!this.deflate) this.sink.write(buf);
    else if (!this.deflate.write(buf)) await once(this.deflate, 'drain');
  }
  /** Flush; returns the compressed size. */
  async end(): Promise<number> {
    if (this.deflate && this.drained) {
      this.deflate.end();
      await this.drained;
    }
    return this.sink.pos - this.start;
  }
}

const STAGE_BYTES = 1 << 20;

interface ClosedMember {
  crc: number;
  compressed: number;
  uncompressed: number;
}

/**
 * The body of one `.npy` member, written in pieces (C order) after its header. The shape is
 * declared up front; close() checks that exactly that many bytes arrived. Data is copied, so the
 * caller may reuse its buffers right after write() returns.
 */
export class NpyMemberWriter {
  private stage = Buffer.allocUnsafe(STAGE_BYTES);
  private used = 0;
  private written = 0;
  private closed = false;
  constructor(
    readonly name: string,
    readonly expectedBytes: number,
    private readonly body: MemberBody,
    private readonly onClose: (m: ClosedMember) => void,
  ) {}

  get bytesWritten(): number {
    return this.written;
  }

  async write(data: NumericTypedArray | Uint8Array): Promise<void> {
    if (this.closed) throw new Error(`npz member ${this.name}: write after close`);
    const src = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (this.written + src.length > this.expectedBytes) {
      throw new RangeError(`npz member ${this.name}: more data than its shape holds (${this.expectedBytes} bytes)`);
    }
    this.written += src.length;
    let off = 0;
    while (off < src.length) {
      const n = Math.min(src.length - off, STAGE_BYTES - this.used);
      src.copy(this.stage, this.used, off, off + n);
      this.used += n;
      off += n;
      if (this.used === STAGE_BYTES) await this.flush();
    }
  }

  private async flush(): Promise<void> {
    if (this.used === 0) return;
    const b = this.stage.subarray(0, this.used);
    this.stage = Buffer.allocUnsafe(STAGE_BYTES);
    this.used = 0;
    await this.body.push(b);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.written !== this.expectedBytes) {
      throw new RangeError(`npz member ${this.name}: got ${this.written} bytes, its shape needs ${this.expectedBytes}`);
    }
    await this.flush();
    this.closed = true;
    const compressed = await this.body.end();
    this.onClose({ crc: this.body.crc >>> 0, compressed, uncompressed: this.body.uncompressed });
  }
}

/** An append-only temp file of raw bytes (for arrays whose length is known only at the end). */
export class RawSpill {
  bytes = 0;
  private fd: number;
  private buf = Buffer.allocUnsafe(STAGE_BYTES);
  private used = 0;
  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'wx+', 0o600);
  }
  write(data: NumericTypedArray | Uint8Array): void {
    const src = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    let off = 0;
    while (off < src.length) {
      const n = Math.min(src.length - off, STAGE_BYTES - this.used);
      src.copy(this.buf, this.used, off, off + n);
      this.used += n;
      off += n;
      if (this.used === STAGE_BYTES) this.flush();
    }
    this.bytes += src.length;
  }
  private flush(): void {
    let off = 0;
    while (off < this.used) off += fs.writeSync(this.fd, this.buf, off, this.used - off);
    this.used = 0;
  }
  /** The bytes written so far, in fresh buffers of up to 4 MiB. */
  *chunks(): Generator<Buffer> {
    this.flush();
    for (let pos = 0; pos < this.bytes;) {
      const b = Buffer.allocUnsafe(Math.min(CHUNK, this.bytes - pos));
      let got = 0;
      while (got < b.length) got += fs.readSync(this.fd, b, got, b.length - got, pos + got);
      pos += got;
      yield b;
    }
  }
  /** Close and delete the file. */
  remove(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    fs.rmSync(this.file, { force: true });
  }
}

/** A member compressed into its own temp file, appended to the archive later (see NpzStreamWriter.spill). */
export interface SpilledMember {
  readonly writer: NpyMemberWriter;
}

interface SpillState {
  writer: NpyMemberWriter;
  name: string;
  file: string;
  fd: number;
  closed?: ClosedMember;
  appended: boolean;
}

/**
 * Writes an .npz archive member by member, in bounded memory, into a temp file beside `file`
 * (linked, or with overwrite renamed, into place by commit()). Members are written straight into
 * the archive (member(), add(), addFromRaw(): one at a time), or compressed into their own temp
 * files (spill()) and copied in later with append(), so several arrays can be filled at once.
 * Output is the same bytes writeNpz produces for the same arrays in the same order.
 */
export class NpzStreamWriter {
  readonly tmp: string;
  private readonly fd: number;
  private readonly sink: FileSink;
  private readonly entries: CentralEntry[] = [];
  private readonly spills = new Set<SpillState>();
  private readonly raws = new Set<RawSpill>();
  private readonly names = new Set<string>();
  private openMember = false;
  private done = false;
  private serial = 0;
  private readonly compress: boolean;
  private readonly level: number;
  private readonly forceZip64: boolean;
  private readonly overwrite: boolean;

  constructor(
    readonly file: string,
    opts: WriteNpzOptions = {},
  ) {
    if (os.endianness() !== 'LE') throw new Error('npz writer assumes a little-endian host');
    this.overwrite = opts.overwrite === true;
    this.compress = opts.compress !== false;
    this.level = opts.level ?? 6;
    this.forceZip64 = opts.zip64 === 'always';
    if (!this.overwrite && fs.existsSync(file)) throw new Error(`refusing to overwrite existing ${file} (pass overwrite: true)`);
    const dir = path.dirname(path.resolve(file));
    this.tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    this.fd = fs.openSync(this.tmp, 'wx', 0o644);
    this.sink = new FileSink(this.fd);
  }

  private claim(name: string, dtype: NpyDtype, shape: readonly number[]): { header: Buffer; bodyBytes: number; member: string } {
    if (this.done) throw new Error('npz writer already committed or aborted');
    validateName(name);
    if (this.names.has(name)) throw new Error(`npz array ${JSON.stringify(name)} written twice`);
    let count = 1;
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`npz array ${name}: bad dimension ${String(d)}`);
      count *= d;
    }
    this.names.add(name);
    return { header: npyHeader(dtype, shape), bodyBytes: count * npyItemSize(dtype), member: `${name}.npy` };
  }

  private zip64For(uncompressed: number): boolean {
    return this.forceZip64 || uncompressed >= ZIP64_ENTRY_THRESHOLD;
  }

  /** Start a member written straight into the archive; close it before starting another. */
  async member(name: string, dtype: NpyDtype, shape: readonly number[]): Promise<NpyMemberWriter> {
    if (this.openMember) throw new Error('npz writer: close the open member first');
    const { header, bodyBytes, member } = this.claim(name, dtype, shape);
    const nameBuf = Buffer.from(member, 'utf8');
    const utf8 = /[^\x20-\x7e]/.test(member);
    const uncompressed = header.length + bodyBytes;
    const zip64 = this.zip64For(uncompressed);
    const method = this.compress ? 8 : 0;
    const offset = this.sink.pos;
    this.sink.write(localHeader(nameBuf, utf8, method, zip64));
    const body = new MemberBody(this.sink, this.compress, this.level);
    await body.push(header);
    this.openMember = true;
    return new NpyMemberWriter(member, bodyBytes, body, (m) => {
      this.openMember = false;
      if (m.uncompressed !== uncompressed) throw new Error(`npz member ${member}: size mismatch`);
      if (!zip64 && m.compressed >= U32_MAX) throw new Error(`npz entry ${member}: compressed size passed 4 GiB without zip64`);
      const fix = Buffer.alloc(12);
      fix.writeUInt32LE(m.crc, 0);
      fix.writeUInt32LE(zip64 ? U32_MAX : m.compressed, 4);
      fix.writeUInt32LE(zip64 ? U32_MAX : uncompressed, 8);
      this.sink.patch(fix, offset + 14);
      if (zip64) this.sink.patch(Buffer.concat([u64(uncompressed), u64(m.compressed)]), offset + 30 + nameBuf.length + 4);
      this.entries.push({ name: nameBuf, utf8, method, crc: m.crc, compressed: m.compressed, uncompressed, offset, zip64 });
    });
  }

  /** Write a whole (small) array as the next member. */
  async add(name: string, input: NpyInput): Promise<void> {
    const enc = encodeNpy(input, `npz array ${JSON.stringify(name)}`);
    const w = await this.member(name, enc.dtype, enc.shape);
    for (const c of chunks(enc.body)) await w.write(c);
    await w.close();
  }

  /** A member compressed into its own temp file now, copied into the archive by append(). */
  async spill(name: string, dtype: NpyDtype, shape: readonly number[]): Promise<SpilledMember> {
    const { header, bodyBytes, member } = this.claim(name, dtype, shape);
    const file = `${this.tmp}.${++this.serial}`;
    const fd = fs.openSync(file, 'wx+', 0o600);
    const body = new MemberBody(new FileSink(fd), this.compress, this.level);
    await body.push(header);
    const st: SpillState = { name: member, file, fd, appended: false, writer: undefined as unknown as NpyMemberWriter };
    st.writer = new NpyMemberWriter(member, bodyBytes, body, (m) => (st.closed = m));
    this.spills.add(st);
    return st;
  }

  /** Copy a closed spilled member into the archive as the next member. */
  async append(spilled: SpilledMember): Promise<void> {
    const st = spilled as unknown as SpillState;
    if (!this.spills.has(st) || st.appended) throw new Error('npz writer: unknown or already appended spill');
    if (!st.closed) throw new Error(`npz member ${st.name}: close it before appending`);
    if (this.openMember) throw new Error('npz writer: close the open member first');
    const { crc, compressed, uncompressed } = st.closed;
    const nameBuf = Buffer.from(st.name, 'utf8');
    const utf8 = /[^\x20-\x7e]/.test(st.name);
    const zip64 = this.zip64For(uncompressed);
    if (!zip64 && compressed >= U32_MAX) throw new Error(`npz entry ${st.name}: compressed size passed 4 GiB without zip64`);
    const method = this.compress ? 8 : 0;
    const offset = this.sink.pos;
    this.sink.write(localHeader(nameBuf, utf8, method, zip64, crc, compressed, uncompressed));
    const b = Buffer.allocUnsafe(CHUNK);
    for (let pos = 0; pos < compressed;) {
      const n = fs.readSync(st.fd, b, 0, Math.min(CHUNK, compressed - pos), pos);
      if (n === 0) throw new Error(`npz member ${st.name}: spill file truncated`);
      this.sink.write(b.subarray(0, n));
      pos += n;
      if ((pos / CHUNK) % 16 === 0) await new Promise<void>((r) => setImmediate(r));
    }
    this.entries.push({ name: nameBuf, utf8, method, crc, compressed, uncompressed, offset, zip64 });
    st.appended = true;
    fs.closeSync(st.fd);
    fs.rmSync(st.file, { force: true });
    this.spills.delete(st);
  }

  /** A raw temp file beside the archive, for an array whose length is known only at the end. */
  rawSpill(): RawSpill {
    const r = new RawSpill(`${this.tmp}.${++this.serial}`);
    this.raws.add(r);
    return r;
  }

  /** Write a raw spill's bytes as the next member (length must match the shape), then delete it. */
  async addFromRaw(name: string, dtype: NpyDtype, shape: readonly number[], raw: RawSpill): Promise<void> {
    const w = await this.member(name, dtype, shape);
    for (const c of raw.chunks()) await w.write(c);
    await w.close();
    raw.remove();
    this.raws.delete(raw);
  }

  /** Finish the archive (central directory, fsync) and move it into place. */
  async commit(): Promise<void> {
    if (this.openMember) throw new Error('npz writer: a member is still open');
    if (this.spills.size > 0) throw new Error('npz writer: spilled members were never appended');
    this.done = true;
    let closed = false;
    try {
      writeCentral(this.sink, this.entries, this.forceZip64);
      fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
      closed = true;
      for (const r of this.raws) r.remove();
      if (this.overwrite) {
        fs.renameSync(this.tmp, this.file);
      } else {
        fs.linkSync(this.tmp, this.file); // fails with EEXIST if the file appeared meanwhile
        fs.rmSync(this.tmp, { force: true });
      }
      const dir = path.dirname(path.resolve(this.file));
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
      if (!closed) fs.closeSync(this.fd);
      fs.rmSync(this.tmp, { force: true });
      throw err;
    }
  }

  /** Drop everything written (temp files included); safe to call more than once. */
  abort(): void {
    if (!this.done) {
      this.done = true;
      try {
        fs.closeSync(this.fd);
      } catch {
        // already closed
      }
    }
    fs.rmSync(this.tmp, { force: true });
    for (const st of this.spills) {
      try {
        fs.closeSync(st.fd);
      } catch {
        // already closed
      }
      fs.rmSync(st.file, { force: true });
    }
    this.spills.clear();
    for (const r of this.raws) r.remove();
    this.raws.clear();
  }
}

function* chunks(buf: Buffer): Generator<Buffer> {
  for (let off = 0; off < buf.length; off += CHUNK) yield buf.subarray(off, Math.min(buf.length, off + CHUNK));
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
  if (!overwrite && fs.existsSync(file)) throw new Error(`refusing to overwrite existing ${file} (pass overwrite: true)`);
  const names = Object.keys(arrays);
  names.forEach(validateName);
  // Encode (and validate) everything before creating any file.
  const encoded = names.map((n) => encodeNpy(arrays[n], `npz array ${JSON.stringify(n)}`));
  const w = new NpzStreamWriter(file, opts);
  try {
    for (let i = 0; i < names.length; i++) {
      const m = await w.member(names[i], encoded[i].dtype, encoded[i].shape);
      for (const c of chunks(encoded[i].body)) await m.write(c);
      await m.close();
    }
  } catch (err) {
    w.abort();
    throw err;
  }
  await w.commit();
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
