// bench:sftp — artifact pull throughput over SFTP (store/sftpTransfer.ts via ssh2, as workers pull
// shards, NPZ files and models) against OpenSSH's `scp` of the same file from the same sshd, measured
// in the same run. A real sshd on a loopback port (test/helpers/sshHosts.ts); the file is written once.
//
//   npm run bench:sftp [-- --mb 200 --runs 3 --chunk-kib 252 --concurrency 16]
//
// Prints MB/s of each (best of the runs) and the ratio ours / scp. Loopback measures the CPU cost of
// the two SSH stacks (ciphers, MACs, request pipelining), not a network.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config/load';
import { hostSchema, type HostEntry } from '../config/schema';
import { fileSha256 } from '../store/gameDb';
import { resolveArtifact } from '../store/artifacts';
import { DEFAULT_CHUNK, DEFAULT_CONCURRENCY, openSftp, pullFile } from '../store/sftpTransfer';
import { artifactResolver } from '../workers/artifactHost';
import { connectSsh } from '../workers/ssh';
import { sshSkipReason, startSshHosts } from '../test/helpers/sshHosts';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const MB = 1024 * 1024;

async function main(): Promise<void> {
  const mb = arg('mb', 200);
  const runs = arg('runs', 3);
  const transfer = { chunkBytes: arg('chunk-kib', DEFAULT_CHUNK / 1024) * 1024, concurrency: arg('concurrency', DEFAULT_CONCURRENCY) };
  const skip = sshSkipReason();
  if (skip) {
    console.error(`bench:sftp: ${skip}`);
    process.exit(1);
  }
  const cluster = await startSshHosts(1);
  const host = cluster.hosts[0]!;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-bench-sftp-'));
  try {
    // incompressible bytes (scp and ssh2 both leave compression off, but be sure)
    const src = path.join(host.dataDir, 'bench.bin');
    const fd = fs.openSync(src, 'w');
    const block = randomBytes(4 * MB);
    const hash = createHash('sha256');
    for (let left = mb * MB; left > 0; left -= block.length) {
      const n = Math.min(left, block.length);
      fs.writeSync(fd, block, 0, n);
      hash.update(block.subarray(0, n));
    }
    fs.closeSync(fd);
    const sha256 = hash.digest('hex');
    const size = mb * MB;
    const entry: HostEntry = hostSchema.parse(cluster.hostEntries()[0]);

    const ours: number[] = [];
    const oursChecked: number[] = [];
    const scp: number[] = [];
    const dest = path.join(work, 'copy.bin');
    for (let r = 0; r < runs; r++) {
      // our pull: connect (pinned host key), SFTP, pipelined reads written in order
      fs.rmSync(dest, { force: true });
      let t0 = process.hrtime.bigint();
      const client = await connectSsh(entry, { knownHostsFile: cluster.knownHostsFile });
      const sftp = await openSftp(client);
      await pullFile(sftp, src, dest, transfer);
      client.end();
      ours.push(Number(process.hrtime.bigint() - t0) / 1e9);
      if ((await fileSha256(dest)) !== sha256) throw new Error('our pull: sha256 mismatch');

      // the whole artifact pull a worker does: connect, pull into the cache, sha256 check, rename
      const config = loadConfig(writeConfig(work, cluster.knownHostsFile, entry));
      const cacheDir = path.join(work, `cache-${r}`);
      const resolver = artifactResolver({ config, host: { name: 'bench', dataDir: work, cacheDir } });
      t0 = process.hrtime.bigint();
      const got = await resolveArtifact({ path: src, sha256, host: host.name, size }, resolver.ctx);
      oursChecked.push(Number(process.hrtime.bigint() - t0) / 1e9);
      resolver.close();
      if (got.via !== 'pull') throw new Error(`expected a pull, got ${got.via}`);
      fs.rmSync(cacheDir, { recursive: true, force: true });

      // scp of the same file from the same sshd
      fs.rmSync(dest, { force: true });
      t0 = process.hrtime.bigint();
      execFileSync(
        'scp',
        [
          '-q',
          '-P',
          String(host.port),
          '-i',
          cluster.identityFile,
          '-o',
          `UserKnownHostsFile=${cluster.knownHostsFile}`,
          '-o',
          'StrictHostKeyChecking=yes',
          '-o',
          'BatchMode=yes',
          `${host.user}@${host.address}:${src}`,
          dest,
        ],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      scp.push(Number(process.hrtime.bigint() - t0) / 1e9);
      if ((await fileSha256(dest)) !== sha256) throw new Error('scp: sha256 mismatch');
    }
    const rate = (secs: number[]) => mb / Math.min(...secs);
    const scpVersion = spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr.trim() || 'OpenSSH';
    const rows: [string, number][] = [
      [`our SFTP pull (ssh2, ${transfer.concurrency} × ${transfer.chunkBytes / 1024} KiB in flight)`, rate(ours)],
      ['our artifact pull (+ sha256 check, cache rename)', rate(oursChecked)],
      [`scp (${scpVersion.split(/[ ,]/)[0]})`, rate(scp)],
    ];
    const width = Math.max(...rows.map(([l]) => l.length));
    console.log(`bench:sftp: ${mb} MB over loopback, best of ${runs} runs, ${os.cpus().length} cores`);
    for (const [label, r] of rows) console.log(`  ${label.padEnd(width)}  ${r.toFixed(1).padStart(7)} MB/s`);
    console.log(
      `  ratio ours / scp: ${(rate(ours) / rate(scp)).toFixed(2)} (pull), ${(rate(oursChecked) / rate(scp)).toFixed(2)} (checked pull)`,
    );
  } finally {
    await cluster.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** A config folder naming the bench host (for the artifact resolver, as a worker's config would). */
function writeConfig(work: string, knownHostsFile: string, entry: HostEntry): string {
  const dir = path.join(work, 'config');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'hosts.yaml'), JSON.stringify({ knownHostsFile, hosts: [entry] }));
  return dir;
}

main().catch((err: Error) => {
  console.error(`bench:sftp: ${err.message}`);
  process.exit(1);
});
