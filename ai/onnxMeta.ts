// Reads an ONNX file's `metadata_props` (ModelProto field 14, repeated {key: 1, value: 2}) without a
// protobuf library: onnxruntime-node does not expose custom metadata. Only the top level of the
// ModelProto is walked; the graph (field 7) is skipped by its length.
import fs from 'node:fs';

export class OnnxFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxFormatError';
  }
}

function readVarint(buf: Uint8Array, pos: number): [value: number, next: number] {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new OnnxFormatError('truncated varint');
    const b = buf[pos++]!;
    result += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return [result, pos];
    mul *= 128;
  }
  throw new OnnxFormatError('varint too long');
}

/** Calls `onField(field, start, end)` for every length-delimited field of one message level. */
function walk(buf: Uint8Array, start: number, end: number, onField: (field: number, s: number, e: number) => void): void {
  let pos = start;
  while (pos < end) {
    const [tag, p1] = readVarint(buf, pos);
    pos = p1;
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) pos = readVarint(buf, pos)[1];
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [len, p2] = readVarint(buf, pos);
      if (p2 + len > end) throw new OnnxFormatError(`field ${field} runs past the end of the file`);
      onField(field, p2, p2 + len);
      pos = p2 + len;
    } else throw new OnnxFormatError(`unsupported wire type ${wire}`);
  }
  if (pos !== end) throw new OnnxFormatError('message runs past its end');
}

/** The metadata_props of an ONNX model (bytes or a file path). */
export function readOnnxMetadata(source: string | Uint8Array): Record<string, string> {
  const buf = typeof source === 'string' ? fs.readFileSync(source) : source;
  const dec = new TextDecoder();
  const out: Record<string, string> = {};
  walk(buf, 0, buf.length, (field, s, e) => {
    if (field !== 14) return;
    let key = '';
    let value = '';
    walk(buf, s, e, (f, a, b) => {
      if (f === 1) key = dec.decode(buf.subarray(a, b));
      else if (f === 2) value = dec.decode(buf.subarray(a, b));
    });
    out[key] = value;
  });
  return out;
}
