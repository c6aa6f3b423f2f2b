/**
 * File transfer over SFTP (ssh2): pipelined reads or writes, written strictly in order, so a partial
 * file's size is always a valid offset to resume from. Used by artifact pulls (store/artifacts.ts)
 * and by `ringrift cluster sync`.
 *
 *   openSftp(client)                                   the SFTP session of a connected ssh2 client
 *   pullFile(sftp, remote, local, {offset, …})         remote → local, appending from `offset`
 *   pushFile(sftp, local, remote, {offset, …})         local → remote, the same the other way
 *   remoteStat(sftp, path) / readRemoteText / listRemote / removeRemote
 */
import type { Hash } from 'node:crypto';
import fs from 'node:fs';
import type { Client, OpenMode, SFTPWrapper } from 'ssh2';

export interface TransferOptions {
  /** bytes already at the destination (a resumed transfer); the destination is cut to this length first */
  offset?: number;
  /** bytes per request (ssh2 splits what the server's limit does not allow) */
  chunkBytes?: number;
  /** requests in flight */
  concurrency?: number;
  /** destination bytes so far (offset included), after each chunk is written */
  onProgress?: (bytesDone: number, size: number) => void;
  /** stops the transfer (the destination keeps what was written: a later call resumes) */
  signal?: AbortSignal;
  /** pullFile: fed every byte written, in file order (give it the first `offset` bytes first) */
  hash?: Hash;
}

export interface TransferResult {
  /** bytes moved by this call */
  bytes: number;
  /** size of the whole file */
  size: number;
  /** where this call started */
  offset: number;
}

/** Under OpenSSH's read limit (256 KiB less ssh2's 2 KiB overhead), so ssh2 never splits a request in two. */
export const DEFAULT_CHUNK = 252 * 1024;
/** 8 × 252 KiB is about ssh2's 2 MiB channel window: more in flight only waits on it. */
export const DEFAULT_CONCURRENCY = 8;

/** The SFTP session of a connected client. */
export function openSftp(client: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))));
}

export interface RemoteStat {
  size: number;
  isFile: boolean;
  mtimeMs: number;
}

/** stat of a remote path, or null when it does not exist. */
export function remoteStat(sftp: SFTPWrapper, remote: string): Promise<RemoteStat | null> {
  return new Promise((resolve, reject) =>
    sftp.stat(remote, (err, st) => {
      if (err) return (err as { code?: number }).code === 2 ? resolve(null) : reject(err); // 2 = SSH_FX_NO_SUCH_FILE
      resolve({ size: st.size, isFile: st.isFile(), mtimeMs: st.mtime * 1000 });
    }),
  );
}

/** Names in a remote folder ([] when it does not exist). */
export function listRemote(sftp: SFTPWrapper, dir: string): Promise<string[]> {
  return new Promise((resolve, reject) =>
    sftp.readdir(dir, (err, list) => {
      if (err) return (err as { code?: number }).code === 2 ? resolve([]) : reject(err);
      resolve(list.map((e) => e.filename));
    }),
  );
}

/** A small remote file as text. */
export function readRemoteText(sftp: SFTPWrapper, remote: string): Promise<string> {
  return new Promise((resolve, reject) => sftp.readFile(remote, (err, buf) => (err ? reject(err) : resolve(buf.toString('utf8')))));
}

/** Removes a remote file (or an empty folder); a path already gone is fine. */
export function removeRemote(sftp: SFTPWrapper, remote: string, dir = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error | null) => (!err || (err as { code?: number }).code === 2 ? resolve() : reject(err));
    if (dir) sftp.rmdir(remote, done);
    else sftp.unlink(remote, done);
  });
}

const openRemote = (sftp: SFTPWrapper, p: string, flags: OpenMode) =>
  new Promise<Buffer>((resolve, reject) => sftp.open(p, flags, (err, h) => (err ? reject(err) : resolve(h))));
/** Closes a handle; on a dead connection the answer never comes, so it gives up after a moment. */
const closeRemote = (sftp: SFTPWrapper, h: Buffer) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, 2000).unref();
    try {
      sftp.close(h, () => resolve());
    } catch {
      resolve();
    }
  });
const fstatRemote = (sftp: SFTPWrapper, h: Buffer) =>
  new Promise<number>((resolve, reject) => sftp.fstat(h, (err, st) => (err ? reject(err) : resolve(st.size))));

function readAt(sftp: SFTPWrapper, h: Buffer, pos: number, len: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    sftp.read(h, Buffer.allocUnsafe(len), 0, len, pos, (err, n, buf) => {
      if (err) return (err as { code?: number }).code === 1 ? resolve(Buffer.alloc(0)) : reject(err); // 1 = EOF
      resolve(buf.subarray(0, n));
    }),
  );
}

function writeAt(sftp: SFTPWrapper, h: Buffer, buf: Buffer, pos: number): Promise<void> {
  return new Promise((resolve, reject) => sftp.write(h, buf, 0, buf.length, pos, (err) => (err ? reject(err) : resolve())));
}

function aborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('transfer cancelled');
}

/**
 * Reads a file of `size` bytes from `offset` with up to `concurrency` requests in flight and hands
 * the chunks to `sink` in file order (so whatever the sink has written is a prefix of the file).
 */
async function pipelined(
  size: number,
  offset: number,
  opts: TransferOptions,
  read: (pos: number, len: number) => Promise<Buffer>,
  sink: (buf: Buffer, pos: number) => Promise<void>,
): Promise<number> {
  const chunk = opts.chunkBytes ?? DEFAULT_CHUNK;
  const concurrency = Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY);
  const inFlight: { pos: number; len: number; data: Promise<Buffer> }[] = [];
  let next = offset;
  let done = offset;
  const issue = () => {
    while (inFlight.length < concurrency && next < size) {
      const len = Math.min(chunk, size - next);
      const data = read(next, len);
      data.catch(() => undefined); // awaited in order below; a failure behind the head must not go unhandled
      inFlight.push({ pos: next, len, data });
      next += len;
    }
  };
  issue();
  while (inFlight.length > 0) {
    aborted(opts.signal);
    const head = inFlight.shift()!;
    let buf = await head.data;
    while (buf.length < head.len) {
      // a short read: fetch the rest of this chunk before anything after it is written
      const more = await read(head.pos + buf.length, head.len - buf.length);
      if (more.length === 0) throw new Error(`source ended at byte ${head.pos + buf.length} of ${size} (did it shrink?)`);
      buf = Buffer.concat([buf, more]);
    }
    await sink(buf, head.pos);
    done += buf.length;
    opts.onProgress?.(done, size);
    issue();
  }
  return done - offset;
}

/** Copies remote → local, appending from `offset` (the local file is cut to `offset` first). */
export async function pullFile(sftp: SFTPWrapper, remote: string, local: string, opts: TransferOptions = {}): Promise<TransferResult> {
  const h = await openRemote(sftp, remote, 'r');
  let fd: fs.promises.FileHandle | null = null;
  try {
    const size = await fstatRemote(sftp, h);
    const offset = Math.min(opts.offset ?? 0, size);
    fd = await fs.promises.open(local, offset > 0 ? 'r+' : 'w');
    await fd.truncate(offset);
    const file = fd;
    const bytes = await pipelined(
      size,
      offset,
      opts,
      (pos, len) => readAt(sftp, h, pos, len),
      async (buf, pos) => {
        opts.hash?.update(buf);
        await file.write(buf, 0, buf.length, pos);
      },
    );
    return { bytes, size, offset };
  } finally {
    await fd?.close();
    await closeRemote(sftp, h);
  }
}

/**
 * Copies local → remote, appending from `offset` (the remote file keeps its first `offset` bytes).
 * Writes are in flight together, so after an interruption resume from the last onProgress value
 * (not from the remote file's size); push to a temp name and rename when done.
 */
export async function pushFile(sftp: SFTPWrapper, local: string, remote: string, opts: TransferOptions = {}): Promise<TransferResult> {
  const fd = await fs.promises.open(local, 'r');
  let h: Buffer | null = null;
  try {
    const size = (await fd.stat()).size;
    const offset = Math.min(opts.offset ?? 0, size);
    h = await openRemote(sftp, remote, offset > 0 ? 'r+' : 'w');
    const handle = h;
    // writes go out in parallel (one round trip per chunk would crawl); progress counts them in order
    const bytes = await pipelined(
      size,
      offset,
      opts,
      async (pos, len) => {
        const buf = Buffer.allocUnsafe(len);
        const { bytesRead } = await fd.read(buf, 0, len, pos);
        await writeAt(sftp, handle, buf.subarray(0, bytesRead), pos);
        return buf.subarray(0, bytesRead);
      },
      async () => undefined,
    );
    return { bytes, size, offset };
  } finally {
    await fd.close();
    if (h) await closeRemote(sftp, h);
  }
}
