// `ringrift cluster sync`: the hosts that need an artifact get it, checked by sha256 at both ends.
// models (registry.dir: *.onnx, *.ckpt, registry.db) go to every host; npz (data/npz) to hosts polling the
// train queue or its fallback; games (data/games) to hosts polling the parity/export queues. A host's copy is
// <dataDir>/<kind>/<same relative path>; files are pushed over SFTP (store/sftpTransfer.ts) to a `.partial`
// name, resumed from a previous partial, verified there with sha256sum and renamed. Nothing is deleted.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Client } from 'ssh2';
import { REPO_ROOT, resolveFromRoot, type LoadedConfig } from '../config/load';
import type { HostEntry } from '../config/schema';
import { fileSha256 } from '../store/gameDb';
import { DEFAULT_CHUNK, DEFAULT_CONCURRENCY, openSftp, pushFile, remoteStat } from '../store/sftpTransfer';
import { execSsh, shPath, shQuote } from '../workers/ssh';
import { hostDataDir } from './clusterHosts';
import { WORKFLOW_QUEUE } from '../workers/run';

export const SYNC_KINDS = ['models', 'npz', 'games'] as const;
export type SyncKind = (typeof SYNC_KINDS)[number];

const PATTERNS: Record<SyncKind, RegExp> = {
  models: /\.(onnx|ckpt)$|^registry\.db$/,
  npz: /\.npz$/,
  games: /\.db$/,
};

/** This machine's folder for a kind. */
export function localRoot(cfg: LoadedConfig, kind: SyncKind): string {
  if (kind === 'models') return resolveFromRoot(cfg.pipeline.registry.dir);
  return path.join(path.resolve(REPO_ROOT, process.env.RINGRIFT_DATA_DIR ?? 'data'), kind);
}

export function remoteRoot(host: HostEntry, kind: SyncKind): string {
  return `${hostDataDir(host)}/${kind}`;
}

/** Whether workers on `host` read this kind. */
export function needs(cfg: LoadedConfig, host: HostEntry, kind: SyncKind): boolean {
  const p = cfg.pipeline.phases;
  if (kind === 'models') return true;
  const queues =
    kind === 'npz'
      ? [p.train.queue ?? 'gpu', p.train.fallbackQueue]
      : [p.parity_validation.queue ?? WORKFLOW_QUEUE, p.npz_export.queue ?? WORKFLOW_QUEUE];
  return host.queues.some((q) => queues.includes(q));
}

export interface LocalFile {
  rel: string; // relative to the kind's root, "/"-separated
  file: string; // what is sent (a SQLite DB: after a checkpoint, so the main file holds every commit)
  size: number;
  sha256: string;
}

function walk(root: string, rel = ''): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) return e.name === 'runs' || e.name === 'cache' ? [] : walk(root, r);
    return e.isFile() ? [r] : [];
  });
}

/** The kind's files here, with sha256. SQLite DBs are checkpointed first (their -wal folded in). */
export async function localFiles(cfg: LoadedConfig, kind: SyncKind): Promise<LocalFile[]> {
  const root = localRoot(cfg, kind);
  const rels = walk(root).filter((r) => PATTERNS[kind].test(path.basename(r)) && !r.endsWith('.partial'));
  const out: LocalFile[] = [];
  for (const rel of rels.sort()) {
    const file = path.join(root, rel);
    if (file.endsWith('.db')) {
      const db = new Database(file, { fileMustExist: true });
      try {
        db.pragma('wal_checkpoint(TRUNCATE)');
      } finally {
        db.close();
      }
    }
    out.push({ rel, file, size: fs.statSync(file).size, sha256: await fileSha256(file) });
  }
  return out;
}

/** sha256 of each file under a remote folder (relative paths), one `sha256sum`/`shasum` pass. */
async function remoteHashes(client: Client, root: string): Promise<Map<string, string>> {
  const script = [
    `cd ${shPath(root)} 2>/dev/null || exit 0`,
    'if command -v sha256sum >/dev/null 2>&1; then H=sha256sum; else H="shasum -a 256"; fi',
    'find . -type f ! -name "*.partial" -exec $H {} +',
  ].join('\n');
  const r = await execSsh(client, `sh -c ${shQuote(script)}`);
  if (r.code !== 0) throw new Error(`listing ${root} failed (${r.code}): ${r.stderr.trim()}`);
  const map = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^([0-9a-f]{64}) [ *]\.\/(.+)$/.exec(line);
    if (m) map.set(m[2]!, m[1]!);
  }
  return map;
}

export interface SyncEvent {
  host: string;
  kind: SyncKind;
  rel: string;
  action: 'present' | 'copied' | 'would copy';
  bytes: number;
  resumedFrom: number;
}

/**
 * Makes `host` hold every file of `files` under its kind root with the same sha256. A file whose copy
 * differs is replaced (temp + rename); a partial copy left by an interrupted sync is resumed.
 */
export async function syncHost(
  client: Client,
  host: HostEntry,
  kind: SyncKind,
  files: LocalFile[],
  opts: { dryRun: boolean; onEvent: (e: SyncEvent) => void },
): Promise<SyncEvent[]> {
  const root = remoteRoot(host, kind);
  const have = await remoteHashes(client, root);
  const missing = files.filter((f) => have.get(f.rel) !== f.sha256);
  const events: SyncEvent[] = files
    .filter((f) => have.get(f.rel) === f.sha256)
    .map((f) => ({ host: host.name, kind, rel: f.rel, action: 'present', bytes: 0, resumedFrom: 0 }));
  if (missing.length === 0 || opts.dryRun) {
    for (const f of missing) events.push({ host: host.name, kind, rel: f.rel, action: 'would copy', bytes: f.size, resumedFrom: 0 });
    events.forEach(opts.onEvent);
    return events;
  }
  events.forEach(opts.onEvent);
  // SFTP paths do not expand "~": the remote shell prints the absolute root
  const abs = (await execSsh(client, `sh -c ${shQuote(`mkdir -p ${shPath(root)} && cd ${shPath(root)} && pwd`)}`)).stdout.trim();
  if (!abs.startsWith('/')) throw new Error(`cannot create ${root}`);
  const sftp = await openSftp(client);
  try {
    for (const f of missing) {
      const dest = `${abs}/${f.rel}`;
      const partial = `${dest}.partial`;
      await execSsh(client, `mkdir -p ${shQuote(path.posix.dirname(dest))}`);
      // pushes write up to `concurrency` chunks ahead of the last confirmed byte: resume behind that window
      const prior = (await remoteStat(sftp, partial))?.size ?? 0;
      let offset = Math.max(0, Math.min(prior, f.size) - DEFAULT_CONCURRENCY * DEFAULT_CHUNK);
      for (let attempt = 0; ; attempt++) {
        const res = await pushFile(sftp, f.file, partial, { offset });
        const check = await execSsh(
          client,
          `sh -c ${shQuote(
            `P=${shQuote(partial)}; if command -v sha256sum >/dev/null 2>&1; then S=$(sha256sum "$P"); else S=$(shasum -a 256 "$P"); fi; ` +
              `S=\${S%% *}; if [ "$S" = ${f.sha256} ]; then mv -f "$P" ${shQuote(dest)} && echo ok; else echo "bad $S"; fi`,
          )}`,
        );
        if (/^ok$/m.test(check.stdout)) {
          const e: SyncEvent = { host: host.name, kind, rel: f.rel, action: 'copied', bytes: res.bytes, resumedFrom: offset };
          events.push(e);
          opts.onEvent(e);
          break;
        }
        if (attempt >= 1) {
          throw new Error(
            `${host.name}: ${f.rel}: sha256 on the host ${check.stdout.trim().replace(/^bad /, '')} ≠ ${f.sha256} after copying twice (changing here while copied?)`,
          );
        }
        offset = 0; // a bad resume or a file that changed: once more from the start
      }
    }
  } finally {
    sftp.end();
  }
  return events;
}
