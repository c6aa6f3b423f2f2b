// Which host this worker is, where its data folder is, and how it reaches other hosts' artifacts.
//
// A worker names its host with RINGRIFT_HOST (`ringrift worker --host NAME`, or `cluster up`), so the
// refs it writes say where their files live; its data folder is RINGRIFT_DATA_DIR, else its hosts.yaml
// entry's dataDir, else <repo>/data. Other hosts are reached over SSH with their hosts.yaml entries.
import fs from 'node:fs';
import path from 'node:path';
import { Client as SshClient } from 'ssh2';
import { DEFAULT_CONFIG_DIR, REPO_ROOT, loadConfig, type LoadedConfig } from '../config/load';
import type { HostSession, ResolveContext } from '../store/artifacts';
import { openSftp } from '../store/sftpTransfer';

export interface WorkerHost {
  /** hosts.yaml name of this machine, or null (single machine, or shared storage only) */
  name: string | null;
  dataDir: string;
  cacheDir: string;
}

type HostEntryLike = LoadedConfig['hosts']['hosts'][number] & { dataDir?: string };

function configOf(config?: LoadedConfig): LoadedConfig {
  return config ?? loadConfig(process.env.RINGRIFT_CONFIG_DIR ?? DEFAULT_CONFIG_DIR);
}

/** This worker's host name and data folder (read from the environment and config each call: cheap). */
export function workerHost(config?: LoadedConfig, env: NodeJS.ProcessEnv = process.env): WorkerHost {
  const name = env.RINGRIFT_HOST?.trim() || null;
  let dataDir = env.RINGRIFT_DATA_DIR?.trim() || null;
  if (!dataDir && name) {
    const entry = configOf(config).hosts.hosts.find((h) => h.name === name) as HostEntryLike | undefined;
    dataDir = entry?.dataDir ?? null;
  }
  const dir = path.resolve(REPO_ROOT, dataDir ?? 'data');
  return { name, dataDir: dir, cacheDir: path.join(dir, 'cache') };
}

/** Opens an SFTP session to a hosts.yaml host (its pinned host key checked). */
export async function connectHostSftp(config: LoadedConfig, hostName: string): Promise<HostSession> {
  const entry = config.hosts.hosts.find((h) => h.name === hostName);
  if (!entry) {
    throw new Error(`host "${hostName}" is not in ${config.dir}/hosts.yaml: add it (address, ssh) so this worker can pull from it`);
  }
  const client = await connectStandIn(entry as HostEntryLike, config);
  try {
    const sftp = await openSftp(client);
    let open = true;
    client.on('close', () => (open = false));
    client.on('error', () => (open = false));
    return { sftp, close: () => client.end(), alive: () => open };
  } catch (err) {
    client.end();
    throw err;
  }
}

/**
 * Artifact resolution for an activity: this worker's host and cache, one SSH connection per host
 * (reused by every pull of the activity; close() ends them), progress to `onProgress`.
 */
export function artifactResolver(opts: { config?: LoadedConfig; onProgress?: ResolveContext['onProgress']; signal?: AbortSignal } = {}): {
  ctx: ResolveContext;
  host: WorkerHost;
  close(): void;
} {
  const config = configOf(opts.config);
  const host = workerHost(config);
  const open = new Map<string, Promise<HostSession>>();
  const ctx: ResolveContext = {
    self: host.name,
    cacheDir: host.cacheDir,
    connect: async (name) => {
      let s = open.get(name);
      if (s && !(await s.then((x) => x.alive?.() ?? true).catch(() => false))) s = undefined;
      if (!s) {
        s = connectHostSftp(config, name);
        open.set(name, s);
        // a failed connection is not reused
        s.catch(() => open.delete(name));
      }
      const session = await s;
      // the pool closes it (close() below)
      return { sftp: session.sftp, close: () => undefined, alive: () => session.alive?.() ?? true };
    },
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  return {
    ctx,
    host,
    close: () => {
      for (const s of open.values()) s.then((x) => x.close()).catch(() => undefined);
      open.clear();
    },
  };
}

// --- stand-in until workers/ssh.ts (helper "cluster") lands ---
async function connectStandIn(entry: HostEntryLike, config: LoadedConfig): Promise<SshClient> {
  const e = entry as unknown as { address: string; ssh?: { user: string; port?: number; identityFile?: string; keyPath?: string } };
  const knownHostsFile =
    (config.hosts as unknown as { knownHostsFile?: string }).knownHostsFile ??
    path.join(process.env.HOME ?? '', '.ringrift', 'known_hosts');
  const port = e.ssh?.port ?? 22;
  const keyFile = e.ssh?.identityFile ?? e.ssh?.keyPath;
  const pinned = fs.existsSync(knownHostsFile)
    ? fs
        .readFileSync(knownHostsFile, 'utf8')
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((p) => p[0] === (port === 22 ? e.address : `[${e.address}]:${port}`))
        .map((p) => p[2])
    : [];
  return new Promise((resolve, reject) => {
    const c = new SshClient();
    c.once('ready', () => resolve(c));
    c.once('error', reject);
    c.connect({
      host: e.address,
      port,
      username: e.ssh?.user ?? process.env.USER ?? 'root',
      ...(keyFile ? { privateKey: fs.readFileSync(keyFile) } : {}),
      readyTimeout: 20_000,
      hostVerifier: (key: Buffer) => pinned.includes(key.toString('base64')),
    });
  });
}
