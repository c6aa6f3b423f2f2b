// Which host this worker is, where its data folder is, and how it reaches other hosts' artifacts.
//
// A worker names its host with RINGRIFT_HOST (`ringrift worker --host NAME`, or `cluster up`), so the
// refs it writes say where their files live; its data folder is RINGRIFT_DATA_DIR, else its hosts.yaml
// entry's dataDir, else <repo>/data. Other hosts are reached over SSH with their hosts.yaml entries.
import path from 'node:path';
import { DEFAULT_CONFIG_DIR, REPO_ROOT, loadConfig, type LoadedConfig } from '../config/load';
import type { HostSession, ResolveContext } from '../store/artifacts';
import { openSftp } from '../store/sftpTransfer';
import { connectSsh, expandHome, knownHostsPath } from './ssh';

export interface WorkerHost {
  /** hosts.yaml name of this machine, or null (single machine, or shared storage only) */
  name: string | null;
  dataDir: string;
  cacheDir: string;
}

function configOf(config?: LoadedConfig): LoadedConfig {
  return config ?? loadConfig(process.env.RINGRIFT_CONFIG_DIR ?? DEFAULT_CONFIG_DIR);
}

/** This worker's host name and data folder (read from the environment and config each call: cheap). */
export function workerHost(config?: LoadedConfig, env: NodeJS.ProcessEnv = process.env): WorkerHost {
  const name = env.RINGRIFT_HOST?.trim() || null;
  let dataDir = env.RINGRIFT_DATA_DIR?.trim() || null;
  const entry = name ? configOf(config).hosts.hosts.find((h) => h.name === name) : undefined;
  if (!dataDir && entry) dataDir = entry.dataDir ?? (entry.repoPath ? path.join(entry.repoPath, 'data') : null);
  const dir = path.resolve(REPO_ROOT, expandHome(dataDir ?? 'data'));
  return { name, dataDir: dir, cacheDir: path.join(dir, 'cache') };
}

/** Opens an SFTP session to a hosts.yaml host (its pinned host key checked). */
export async function connectHostSftp(config: LoadedConfig, hostName: string): Promise<HostSession> {
  const entry = config.hosts.hosts.find((h) => h.name === hostName);
  if (!entry) {
    throw new Error(`host "${hostName}" is not in ${config.dir}/hosts.yaml: add it (address, ssh) so this worker can pull from it`);
  }
  const client = await connectSsh(entry, { knownHostsFile: knownHostsPath(config) });
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
export function artifactResolver(
  opts: { config?: LoadedConfig; host?: WorkerHost; onProgress?: ResolveContext['onProgress']; signal?: AbortSignal } = {},
): { ctx: ResolveContext; host: WorkerHost; close(): void } {
  const config = configOf(opts.config);
  const host = opts.host ?? workerHost(config);
  const open = new Map<string, Promise<HostSession>>();
  // hosts marked `shared` have one file system: their paths are ours when we are one of them (or unnamed)
  const selfEntry = config.hosts.hosts.find((h) => h.name === host.name);
  const shared = host.name === null || (selfEntry?.shared ?? false);
  const sharedHosts = new Set(shared ? config.hosts.hosts.filter((h) => h.shared).map((h) => h.name) : []);
  const ctx: ResolveContext = {
    self: host.name,
    sharedHosts,
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
