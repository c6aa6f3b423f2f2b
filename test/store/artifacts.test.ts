// Artifact refs resolved across hosts: the local fast path, the cache, SFTP pulls from a real sshd
// (checked, resumed after a killed connection), and the failures told apart.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client as SshClient } from 'ssh2';
import {
  ArtifactChecksumError,
  ArtifactMissingError,
  ArtifactTransferError,
  cachedPath,
  partialPath,
  refOf,
  resolveArtifact,
  type HostSession,
  type ResolveContext,
} from '../../store/artifacts';
import { openSftp, pullFile, pushFile } from '../../store/sftpTransfer';
import { sshSkipReason, startSshHosts, type SshTestCluster, type SshTestHost } from '../helpers/sshHosts';

const skip = sshSkipReason();

function connectTo(h: SshTestHost, cluster: SshTestCluster): Promise<SshClient> {
  return new Promise((resolve, reject) => {
    const c = new SshClient();
    c.once('ready', () => resolve(c));
    c.once('error', reject);
    c.connect({
      host: h.address,
      port: h.port,
      username: h.user,
      privateKey: fs.readFileSync(cluster.identityFile),
      hostVerifier: (key: Buffer) => key.toString('base64') === h.hostPublicKey.split(' ')[1],
    });
  });
}

/** Deterministic bytes (so a test can say what a file holds without keeping it). */
function writeBytes(file: string, size: number, seed: number): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'w');
  const block = Buffer.alloc(1 << 20);
  for (let off = 0; off < size; off += block.length) {
    for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((Math.imul(off + i, 2654435761) ^ seed) >>> 0, i);
    const n = Math.min(block.length, size - off);
    fs.writeSync(fd, block, 0, n);
    hash.update(block.subarray(0, n));
  }
  fs.closeSync(fd);
  return hash.digest('hex');
}

describe('artifact refs across hosts', { skip }, () => {
  let cluster: SshTestCluster;
  let remote: SshTestHost;
  let local: string;
  const clients: SshClient[] = [];

  before(async () => {
    cluster = await startSshHosts(1);
    remote = cluster.hosts[0]!;
    local = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-artifacts-'));
  });
  after(async () => {
    for (const c of clients) c.end();
    await cluster?.stop();
    fs.rmSync(local, { recursive: true, force: true });
  });

  /** A resolve context on "this" host (named local) pulling from the fixture host. */
  function context(cacheName: string, extra: Partial<ResolveContext> = {}): ResolveContext & { last: SshClient | null } {
    const ctx = {
      self: 'local',
      cacheDir: path.join(local, cacheName),
      last: null as SshClient | null,
      connect: async (name: string): Promise<HostSession> => {
        if (name !== remote.name) throw new Error(`host "${name}" is not configured`);
        const c = await connectTo(remote, cluster);
        clients.push(c);
        ctx.last = c;
        return { sftp: await openSftp(c), close: () => c.end() };
      },
      ...extra,
    };
    return ctx;
  }

  test('a ref of another host is pulled over SFTP, checked and cached; resumed after the connection is killed mid-transfer', async () => {
    const size = 48 * 1024 * 1024 + 123;
    const src = path.join(remote.dataDir, 'big.npz');
    const sha = writeBytes(src, size, 7);
    const ref = { path: src, sha256: sha, host: remote.name, size };
    // The fixture host shares this machine's disk, but its paths are not read directly: it is not `shared`.
    const ctx = context('c1', { transfer: { chunkBytes: 64 * 1024, concurrency: 8 } });
    let killedAt = 0;
    ctx.onProgress = (p) => {
      if (killedAt === 0 && p.bytesDone >= 8 * 1024 * 1024) {
        killedAt = p.bytesDone;
        ctx.last!.destroy(); // the connection dies mid-transfer
      }
    };
    const err = await resolveArtifact(ref, ctx).catch((e: Error) => e);
    assert.ok(err instanceof ArtifactTransferError, `expected a transfer failure, got ${String(err)}`);
    const part = partialPath(ctx.cacheDir, ref);
    const partial = fs.statSync(part).size;
    assert.ok(partial >= 8 * 1024 * 1024 && partial < size, `partial file ${partial} bytes`);
    assert.ok(!fs.existsSync(cachedPath(ctx.cacheDir, ref)), 'nothing cached from a failed pull');

    ctx.onProgress = undefined;
    const r = await resolveArtifact(ref, ctx);
    assert.equal(r.via, 'pull');
    assert.equal(r.resumedFrom, partial);
    assert.equal(r.bytes, size - partial);
    assert.ok(r.bytes < size, 'the second transfer moved less than the whole file');
    assert.equal(r.path, cachedPath(ctx.cacheDir, ref));
    assert.ok(r.path.endsWith('.npz'));
    assert.equal((await refOf(r.path, null)).sha256, sha);
    assert.ok(!fs.existsSync(part));

    // again: from the cache, nothing moved
    const again = await resolveArtifact(ref, ctx);
    assert.deepEqual([again.via, again.bytes], ['cache', 0]);

    // shared storage: the same ref from a host marked shared is read in place (the fast path)
    const shared = await resolveArtifact(ref, context('c2', { sharedHosts: new Set([remote.name]) }));
    assert.deepEqual([shared.via, shared.path, shared.bytes], ['local', src, 0]);
    // and a ref of this host (or without one) is its own path
    const own = await resolveArtifact({ ...ref, host: 'local' }, context('c3'));
    assert.deepEqual([own.via, own.path], ['local', src]);
  });

  test('a corrupted source is a checksum mismatch (nothing cached); a missing file and an unknown host are told apart', async () => {
    const src = path.join(remote.dataDir, 'shard.db');
    const sha = writeBytes(src, 1_000_000, 3);
    // flip one byte on the host after the ref was made
    const fd = fs.openSync(src, 'r+');
    fs.writeSync(fd, Buffer.from([0xff]), 0, 1, 500_000);
    fs.closeSync(fd);
    const ref = { path: src, sha256: sha, host: remote.name, size: 1_000_000 };
    const ctx = context('c5');
    const bad = await resolveArtifact(ref, ctx).catch((e: Error) => e);
    assert.ok(bad instanceof ArtifactChecksumError, String(bad));
    assert.match(bad.message, /sha256 mismatch/);
    assert.ok(!fs.existsSync(cachedPath(ctx.cacheDir, ref)));
    assert.ok(!fs.existsSync(partialPath(ctx.cacheDir, ref)));

    const missing = await resolveArtifact({ ...ref, path: path.join(remote.dataDir, 'never.db') }, context('c6')).catch((e: Error) => e);
    assert.ok(missing instanceof ArtifactMissingError, String(missing));
    const unknown = await resolveArtifact({ ...ref, host: 'elsewhere' }, context('c7')).catch((e: Error) => e);
    assert.ok(unknown instanceof ArtifactTransferError, String(unknown));
    assert.match(unknown.message, /elsewhere/);
    const noHost = await resolveArtifact({ ...ref, host: null }, context('c8')).catch((e: Error) => e);
    assert.ok(noHost instanceof ArtifactChecksumError, String(noHost));
    const gone = await resolveArtifact({ ...ref, host: null, path: `${src}.gone` }, context('c8')).catch((e: Error) => e);
    assert.ok(gone instanceof ArtifactMissingError, String(gone));
  });

  test('pushFile and pullFile resume from an offset and move only the rest', async () => {
    const a = path.join(local, 'push-src.bin');
    const sha = writeBytes(a, 5_000_001, 11);
    const c = await connectTo(remote, cluster);
    clients.push(c);
    const sftp = await openSftp(c);
    const dest = path.join(remote.dataDir, 'pushed.bin');
    // a first push that stopped after 2 MB (as if the connection died there)
    fs.writeFileSync(dest, fs.readFileSync(a).subarray(0, 2_000_000));
    const pushed = await pushFile(sftp, a, dest, { offset: 2_000_000 });
    assert.deepEqual([pushed.offset, pushed.bytes, pushed.size], [2_000_000, 3_000_001, 5_000_001]);
    assert.equal((await refOf(dest, null)).sha256, sha);
    const back = path.join(local, 'pulled.bin');
    fs.writeFileSync(back, fs.readFileSync(a).subarray(0, 1_000_000));
    const pulled = await pullFile(sftp, dest, back, { offset: 1_000_000, chunkBytes: 100_000, concurrency: 4 });
    assert.equal(pulled.bytes, 4_000_001);
    assert.equal((await refOf(back, null)).sha256, sha);
  });
});
