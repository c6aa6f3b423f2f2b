/**
 * Artifacts by reference across machines: a ref names the file's path, the host that holds it and
 * its sha256. resolveArtifact(ref) gives a local path with those bytes:
 *
 *   1. the path itself, when it exists here with the right sha256 and is this machine's path: a ref of this
 *      host, without a host, or of a host on the same shared storage (`shared: true`): the fast path;
 *   2. the content-addressed cache `<dataDir>/cache/sha256/<ab>/<sha256><ext>` of an earlier pull;
 *   3. a pull over SFTP from the ref's host into `<dataDir>/cache/partial/<sha256><ext>.part`, resumed from the
 *      partial file's size after an interruption, checked, then renamed into the cache.
 *
 * Failures are told apart, because only some are facts about the data:
 *   ArtifactChecksumError  the source's bytes (read in place, or a complete fresh transfer) do not have the ref's sha256 (data fact)
 *   ArtifactMissingError   the file is on no reachable place: gone from its host, or a ref without a host (data fact)
 *   ArtifactTransferError  connection refused or lost, a host that is not configured here (environment; retry)
 */
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { fileSha256 } from './gameDb';
import { ensureWritableDir } from './safeDir';
import { pullFile, remoteStat, type TransferOptions } from './sftpTransfer';

/** A large file travels by reference: where it lives and its checksum. */
export interface ArtifactRef {
  /** absolute path on `host` (or on shared storage, the same everywhere) */
  path: string;
  sha256: string;
  /** the host (hosts.yaml name) that made it; absent: shared storage or this machine */
  host?: string | null;
  /** bytes (lets a pull refuse a source of the wrong size before moving it) */
  size?: number;
}

export class ArtifactChecksumError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArtifactChecksumError';
  }
}

export class ArtifactMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArtifactMissingError';
  }
}

export class ArtifactTransferError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArtifactTransferError';
  }
}

/** Data facts (the same on every retry); an ArtifactTransferError is an environment failure and retries. */
export const ARTIFACT_DATA_FAILURES = ['ArtifactChecksumError', 'ArtifactMissingError'];

/** An SFTP session to a named host. */
export interface HostSession {
  sftp: SFTPWrapper;
  close(): void;
  /** false once the connection dropped (a pool must not hand it out again) */
  alive?(): boolean;
}

export interface ResolveContext {
  /** this worker's host name (RINGRIFT_HOST), or null */
  self: string | null;
  /**
   * hosts whose paths are this machine's paths too (hosts.yaml `shared: true`: one shared file system);
   * another host's path is never read directly, even when the same name exists here
   */
  sharedHosts?: ReadonlySet<string>;
  /** `<dataDir>/cache` of this worker */
  cacheDir: string;
  /** opens SFTP to a host named in a ref (throws for an unknown host or a refused connection) */
  connect(host: string): Promise<HostSession>;
  /** after each chunk of a pull: heartbeat it (the offset a retry resumes from) */
  onProgress?(p: { sha256: string; host: string; bytesDone: number; size: number }): void;
  signal?: AbortSignal;
  transfer?: Pick<TransferOptions, 'chunkBytes' | 'concurrency'>;
}

export interface ResolvedArtifact {
  /** a local file with the ref's bytes */
  path: string;
  via: 'local' | 'cache' | 'pull';
  /** bytes moved by this call (0 unless pulled) */
  bytes: number;
  /** where the pull started (a partial file's size), 0 for a fresh pull */
  resumedFrom: number;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** The cache file of a sha256 (keeps the ref's extension: trainers and loaders look at it). */
export function cachedPath(cacheDir: string, ref: Pick<ArtifactRef, 'sha256' | 'path'>): string {
  return path.join(cacheDir, 'sha256', ref.sha256.slice(0, 2), `${ref.sha256}${path.extname(ref.path)}`);
}

export function partialPath(cacheDir: string, ref: Pick<ArtifactRef, 'sha256' | 'path'>): string {
  return path.join(cacheDir, 'partial', `${ref.sha256}${path.extname(ref.path)}.part`);
}

/** A ref to a local file (sha256 and size read from it), made on `host`. */
export async function refOf(file: string, host: string | null): Promise<ArtifactRef> {
  const abs = path.resolve(file);
  return { path: abs, sha256: await fileSha256(abs), size: fs.statSync(abs).size, ...(host ? { host } : {}) };
}

/** Whether the ref's path is a path of this machine: no host (shared storage), this host, or a host sharing its storage. */
function readableHere(ref: ArtifactRef, ctx: ResolveContext): boolean {
  return !ref.host || ref.host === ctx.self || (ctx.sharedHosts?.has(ref.host) ?? false);
}

/** Where the ref's bytes are on this machine, if anywhere without a transfer. */
async function localCopy(ref: ArtifactRef, ctx: ResolveContext): Promise<ResolvedArtifact | null> {
  const direct = readableHere(ref, ctx) && fs.existsSync(ref.path);
  if (direct && (ref.size === undefined || fs.statSync(ref.path).size === ref.size)) {
    if ((await fileSha256(ref.path)) === ref.sha256) return { path: ref.path, via: 'local', bytes: 0, resumedFrom: 0 };
  }
  const cached = cachedPath(ctx.cacheDir, ref);
  if (fs.existsSync(cached)) return { path: cached, via: 'cache', bytes: 0, resumedFrom: 0 };
  return null;
}

/** A local file of the ref's bytes: the path itself, the cache, or a (resumed) SFTP pull from its host. */
export async function resolveArtifact(ref: ArtifactRef, ctx: ResolveContext): Promise<ResolvedArtifact> {
  if (!SHA256.test(ref.sha256)) throw new ArtifactMissingError(`artifact ${ref.path}: "${ref.sha256}" is not a sha256`);
  const here = await localCopy(ref, ctx);
  if (here) return here;
  const host = ref.host ?? null;
  if (host === null || host === ctx.self) {
    // nobody else to ask: the file is gone, or changed in place
    const where = `artifact ${ref.path}${host ? ` on ${host}` : ''}`;
    if (!fs.existsSync(ref.path)) throw new ArtifactMissingError(`${where} does not exist (nothing to pull it from)`);
    throw new ArtifactChecksumError(
      `${where}: sha256 mismatch: the file has ${(await fileSha256(ref.path)).slice(0, 12)}…, its ref says ${ref.sha256.slice(0, 12)}… (it changed or is corrupt)`,
    );
  }
  return withPullLock(partialPath(ctx.cacheDir, ref), ctx.signal, async () => {
    // another pull of the same file may have finished while we waited
    return (await localCopy(ref, ctx)) ?? pull(ref, host, ctx);
  });
}

async function pull(ref: ArtifactRef, host: string, ctx: ResolveContext): Promise<ResolvedArtifact> {
  const part = partialPath(ctx.cacheDir, ref);
  const cached = cachedPath(ctx.cacheDir, ref);
  ensureWritableDir(path.dirname(part));
  ensureWritableDir(path.dirname(cached));
  const where = `${host}:${ref.path}`;
  let session: HostSession;
  try {
    session = await ctx.connect(host);
  } catch (err) {
    const e = err as Error;
    // a pinned host key that does not match is a refusal, but about the machine, not the data
    throw new ArtifactTransferError(`cannot pull ${where}: ${e.message}`);
  }
  try {
    let moved = 0;
    let resumedFrom = 0;
    for (let fresh = false; ; fresh = true) {
      let st;
      try {
        st = await remoteStat(session.sftp, ref.path);
      } catch (err) {
        throw new ArtifactTransferError(`cannot pull ${where}: ${(err as Error).message}`);
      }
      if (!st || !st.isFile)
        throw new ArtifactMissingError(`artifact ${where} does not exist (expected sha256 ${ref.sha256.slice(0, 12)}…)`);
      if (ref.size !== undefined && st.size !== ref.size) {
        throw new ArtifactChecksumError(
          `artifact ${where} has ${st.size} bytes, its ref says ${ref.size}: the source changed or is corrupt`,
        );
      }
      const have = fresh || !fs.existsSync(part) ? 0 : fs.statSync(part).size;
      const offset = have <= st.size ? have : 0;
      if (!fresh) resumedFrom = offset;
      // hashed on the way in (the partial's bytes first), so the check costs no second read
      const hash = await hashPrefix(part, offset);
      try {
        const r = await pullFile(session.sftp, ref.path, part, {
          ...ctx.transfer,
          offset,
          hash,
          signal: ctx.signal,
          onProgress: (bytesDone, size) => ctx.onProgress?.({ sha256: ref.sha256, host, bytesDone, size }),
        });
        moved += r.bytes;
      } catch (err) {
        if (ctx.signal?.aborted) throw err;
        // the partial file keeps what arrived: the retry resumes from its size
        throw new ArtifactTransferError(`pull of ${where} interrupted (${(err as Error).message}); it resumes on retry`);
      }
      const got = hash.digest('hex');
      if (got === ref.sha256) break;
      fs.rmSync(part, { force: true });
      // a resumed partial may hold stale bytes: fetch the whole file once before blaming the source
      if (offset > 0 && !fresh) continue;
      throw new ArtifactChecksumError(
        `artifact ${where}: sha256 mismatch: the file there has ${got.slice(0, 12)}…, its ref says ${ref.sha256.slice(0, 12)}… (the source changed or is corrupt)`,
      );
    }
    fs.renameSync(part, cached);
    return { path: cached, via: 'pull', bytes: moved, resumedFrom };
  } finally {
    session.close();
  }
}

/** A sha256 fed with the first `bytes` bytes of `file`. */
async function hashPrefix(file: string, bytes: number): Promise<Hash> {
  const hash = createHash('sha256');
  if (bytes === 0) return hash;
  for await (const chunk of fs.createReadStream(file, { start: 0, end: bytes - 1 })) hash.update(chunk as Buffer);
  return hash;
}

/**
 * One pull of a file at a time per cache folder (workers of one host may share a data folder): a lock
 * file holding the pid; a lock whose process is gone is taken over.
 */
async function withPullLock<T>(part: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  ensureWritableDir(path.dirname(part));
  const lock = `${part}.lock`;
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number(fs.readFileSync(lock, 'utf8') || '0');
    if (pid > 0 && pid !== process.pid && !alive(pid)) {
      fs.rmSync(lock, { force: true });
      continue;
    }
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('cancelled');
    await new Promise((r) => setTimeout(r, 200));
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
