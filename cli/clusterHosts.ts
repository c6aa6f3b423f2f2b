// `ringrift cluster list|up|down|update` on the SSH hosts of hosts.yaml: small POSIX sh scripts run there.
// Workers run detached (setsid, nohup) from the host's checkout, each with a pid file and a log in
// <dataDir>/cluster/<host>/; a pid counts only while its command line is still `cli/main.ts worker`.
import type { Client } from 'ssh2';
import { resolveFromRoot, type LoadedConfig } from '../config/load';
import type { HostEntry } from '../config/schema';
import { execSsh, knownHostsPath, shPath, shQuote, withSsh, type SshOptions } from '../workers/ssh';
import { hostFacts } from '../workers/hostFacts';
import { isOurs, readPidRecords } from './background';
import { UserError } from './errors';

export interface WorkerProcess {
  name: string; // worker-<queue>-<i>
  queue: string;
  pid: number;
}

export interface RemoteFacts {
  os: string;
  cores: number | null;
  memoryGiB: number | null;
  gpus: string[];
  commit: string | null;
  workers: WorkerProcess[];
}

export type HostStatus = { host: HostEntry; reachable: true; facts: RemoteFacts } | { host: HostEntry; reachable: false; error: string };

/** The SSH hosts named by `--hosts a,b` (all SSH hosts when absent); an unknown name is refused. */
export function selectHosts(cfg: LoadedConfig, names?: string): HostEntry[] {
  const remote = cfg.hosts.hosts.filter((h) => h.ssh);
  if (!names) {
    if (remote.length === 0) {
      throw new UserError(
        `no SSH hosts in ${cfg.dir}/hosts.yaml: add hosts with an ssh: {user, identityFile} entry (README "Many machines")`,
      );
    }
    return remote;
  }
  const wanted = names
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const problems = wanted.flatMap((n) => {
    const h = cfg.hosts.hosts.find((x) => x.name === n);
    if (!h) return [`--hosts: no host "${n}" in ${cfg.dir}/hosts.yaml (known: ${cfg.hosts.hosts.map((x) => x.name).join(', ')})`];
    if (!h.ssh) return [`--hosts: host "${n}" has no ssh settings: it is this machine (use 'ringrift dev up')`];
    return [];
  });
  if (problems.length) throw new UserError(problems.join('\n'));
  return remote.filter((h) => wanted.includes(h.name));
}

export function sshOptions(cfg: LoadedConfig, acceptNew = false): SshOptions {
  return { knownHostsFile: knownHostsPath(cfg), acceptNew, timeoutMs: 20_000 };
}

/** Runs `fn` over `items` with at most `limit` at once, keeping the order of results. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(lanes);
  return out;
}

/** The host's data folder: `dataDir`, else <repoPath>/data. */
export function hostDataDir(host: HostEntry): string {
  return (host.dataDir ?? `${host.repoPath!.replace(/\/+$/, '')}/data`).replace(/\/+$/, '');
}

/** Shell prelude: paths of this host and `ours PID` (alive and still a `ringrift worker`). */
function prelude(host: HostEntry): string {
  return [
    'set -u',
    `REPO=${shPath(host.repoPath!)}`,
    `RUN=${shPath(hostDataDir(host))}/cluster/${shQuote(host.name)}`,
    'ours() {',
    '  [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1',
    // "bin/ringrift worker" while env/nohup/setsid/bash still exec their way to node, then "cli/main.ts worker"
    '  if [ -r "/proc/$1/cmdline" ]; then tr "\\000" " " <"/proc/$1/cmdline" | grep -Eq "(bin/ringrift|cli/main\\.ts) worker"',
    '  else ps -o args= -p "$1" 2>/dev/null | grep -Eq "(bin/ringrift|cli/main\\.ts) worker"; fi',
    '}',
    // prints "worker NAME PID" for each live worker of this host, removes stale pid files
    'live_workers() {',
    '  for f in "$RUN"/worker-*.pid; do',
    '    [ -e "$f" ] || continue',
    '    n=$(basename "$f" .pid); p=$(cat "$f" 2>/dev/null || true)',
    '    if ours "$p"; then echo "worker $n $p"; else rm -f "$f"; fi',
    '  done',
    '}',
    '',
  ].join('\n');
}

async function run(client: Client, script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return execSsh(client, `sh -c ${shQuote(script)}`);
}

function parseWorkers(stdout: string): WorkerProcess[] {
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[0] === 'worker' && f.length >= 3)
    .map(([, name, pid]) => ({ name: name!, queue: name!.replace(/^worker-/, '').replace(/-\d+$/, ''), pid: Number(pid) }));
}

function factsScript(host: HostEntry): string {
  return (
    prelude(host) +
    [
      'echo "os $(uname -s) $(uname -r) $(uname -m)"',
      'echo "cores $(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null)"',
      'if [ -r /proc/meminfo ]; then echo "memkib $(awk \'/^MemTotal:/{print $2}\' /proc/meminfo)";',
      'else echo "memkib $(( $(sysctl -n hw.memsize 2>/dev/null || echo 0) / 1024 ))"; fi',
      'if command -v nvidia-smi >/dev/null 2>&1; then',
      '  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | sed "s/^/gpu /"',
      'fi',
      'echo "commit $(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo none)"',
      'live_workers',
    ].join('\n')
  );
}

export function parseFacts(stdout: string): RemoteFacts {
  const facts: RemoteFacts = { os: 'unknown', cores: null, memoryGiB: null, gpus: [], commit: null, workers: parseWorkers(stdout) };
  for (const line of stdout.split('\n')) {
    const [key, ...rest] = line.trim().split(' ');
    const value = rest.join(' ').trim();
    if (key === 'os') facts.os = value;
    else if (key === 'cores' && /^\d+$/.test(value)) facts.cores = Number(value);
    else if (key === 'memkib' && /^\d+$/.test(value) && value !== '0') facts.memoryGiB = Math.round((Number(value) / 2 ** 20) * 10) / 10;
    else if (key === 'gpu' && value) facts.gpus.push(value);
    else if (key === 'commit' && /^[0-9a-f]{40}$/.test(value)) facts.commit = value;
  }
  return facts;
}

export async function remoteFacts(client: Client, host: HostEntry): Promise<RemoteFacts> {
  const r = await run(client, factsScript(host));
  if (r.code !== 0) throw new Error(`${host.name}: facts script failed (${r.code}): ${r.stderr.trim().split('\n').pop()}`);
  return parseFacts(r.stdout);
}

/** Each host's facts, or why it could not be reached (HostKeyError and SshConnectError messages are one line). */
export async function hostStatuses(cfg: LoadedConfig, hosts: HostEntry[], acceptNew = false): Promise<HostStatus[]> {
  const opts = sshOptions(cfg, acceptNew);
  return mapLimit(hosts, 16, async (host): Promise<HostStatus> => {
    try {
      return { host, reachable: true, facts: await withSsh(host, opts, (c) => remoteFacts(c, host)) };
    } catch (err) {
      return { host, reachable: false, error: (err as Error).message };
    }
  });
}

export function formatHostStatus(s: HostStatus): string {
  const h = s.host;
  const head = `${h.name}: ${h.ssh!.user}@${h.address}:${h.ssh!.port}`;
  const configured = `configured: ${h.queues.map((q) => `${q} ×${h.workers}`).join(', ')}${h.shared ? ', shared data folder' : ''}`;
  if (!s.reachable) return [`${head} unreachable`, `  ${s.error}`, `  ${configured}`].join('\n');
  const f = s.facts;
  const mem = f.memoryGiB === null ? '? GiB' : `${f.memoryGiB} GiB`;
  const polls = [...new Set(f.workers.map((w) => w.queue))];
  return [
    `${head} reachable, ${f.os}, ${f.cores ?? '?'} cores, ${mem} memory, GPU: ${f.gpus.length ? f.gpus.join('; ') : 'none'}`,
    `  checkout: ${h.repoPath} at ${f.commit ? f.commit.slice(0, 12) : 'no git checkout'}`,
    f.workers.length
      ? `  workers: ${f.workers.map((w) => `${w.name} (pid ${w.pid})`).join(', ')}; polling ${polls.join(', ')}`
      : '  workers: none running',
    `  ${configured}`,
  ].join('\n');
}

/** A host without `ssh` is this machine: its facts, and the workers `ringrift dev up` started. */
export function localStatus(cfg: LoadedConfig, host: HostEntry) {
  const facts = hostFacts();
  const workers = readPidRecords(resolveFromRoot(cfg.pipeline.dev.stateDir))
    .filter((r) => r.name.startsWith('worker-') && isOurs(r))
    .map((r) => ({ name: r.name, queue: r.name.replace(/^worker-/, ''), pid: r.pid }));
  return { name: host.name, local: true, ...facts, workers };
}

export function formatLocalStatus(cfg: LoadedConfig, host: HostEntry): string {
  const s = localStatus(cfg, host);
  const gpu = s.gpus.length ? s.gpus.map((g) => g.name).join('; ') : 'none';
  return [
    `${host.name}: this machine ('ringrift dev up'), ${s.platform}, ${s.cores} cores, ${s.memoryGiB} GiB memory, GPU: ${gpu}`,
    s.workers.length
      ? `  workers: ${s.workers.map((w) => `${w.name} (pid ${w.pid})`).join(', ')}; polling ${[...new Set(s.workers.map((w) => w.queue))].join(', ')}`
      : '  workers: none running',
    `  configured: ${host.queues.join(', ')}`,
  ].join('\n');
}

/** The environment a worker on `host` starts with. */
function workerEnv(cfg: LoadedConfig, host: HostEntry): Record<string, string> {
  return {
    RINGRIFT_HOST: host.name,
    RINGRIFT_DATA_DIR: hostDataDir(host),
    RINGRIFT_TEMPORAL_ADDRESS: host.temporalAddress ?? cfg.pipeline.temporal.address,
    RINGRIFT_NAMESPACE: cfg.pipeline.temporal.namespace,
    // where `cluster sync` puts models (<dataDir>/models; the default registry when dataDir is <repo>/data)
    RINGRIFT_REGISTRY_DIR: `${hostDataDir(host)}/models`,
    ...host.env,
  };
}

export interface StartedWorker {
  name: string;
  pid: number;
  state: 'started' | 'running';
  /** the log's size before this start: the readiness line must come after it */
  logOffset: number;
}

function upScript(cfg: LoadedConfig, host: HostEntry): string {
  const env = Object.entries(workerEnv(cfg, host))
    .map(([k, v]) => `${k}=${shPath(v)}`) // "~/..." expands on the host
    .join(' ');
  const starts = host.queues.flatMap((q) => Array.from({ length: host.workers }, (_, i) => `start worker-${q}-${i} ${shQuote(q)}`));
  return (
    prelude(host) +
    [
      '[ -x "$REPO/bin/ringrift" ] || { echo "no $REPO/bin/ringrift: clone the repository there and run scripts/setup.sh (or ringrift cluster update)" >&2; exit 3; }',
      'mkdir -p "$RUN" || exit 3',
      'SETSID=$(command -v setsid || true)',
      'start() {',
      '  pidf="$RUN/$1.pid"; log="$RUN/$1.log"',
      '  p=$(cat "$pidf" 2>/dev/null || true)',
      '  if ours "$p"; then echo "running $1 $p 0"; return; fi',
      '  size=$(wc -c <"$log" 2>/dev/null || echo 0); size=$(echo $size)',
      '  echo "--- $(date -u +%Y-%m-%dT%H:%M:%SZ) ringrift cluster up: $1" >>"$log"',
      `  (cd "$REPO" && exec env ${env} nohup $SETSID ./bin/ringrift worker --queue "$2" </dev/null >>"$log" 2>&1) &`,
      '  p=$!',
      '  echo "$p" >"$pidf.tmp" && mv "$pidf.tmp" "$pidf"',
      '  echo "started $1 $p $size"',
      '}',
      ...starts,
    ].join('\n')
  );
}

/** Starts the host's missing workers (one per queue × `workers`); running ones are left alone. */
export async function startWorkers(client: Client, cfg: LoadedConfig, host: HostEntry): Promise<StartedWorker[]> {
  const r = await run(client, upScript(cfg, host));
  if (r.code !== 0) throw new Error(`${host.name}: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}`);
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => (f[0] === 'started' || f[0] === 'running') && f.length === 4)
    .map(([state, name, pid, size]) => ({ name: name!, pid: Number(pid), state: state as 'started' | 'running', logOffset: Number(size) }));
}

/**
 * Waits until each started worker's log says it polls (`worker ... polling queue`), or fails with the
 * log's tail when one exits first or `timeoutMs` passes.
 */
export async function waitPolling(client: Client, host: HostEntry, started: StartedWorker[], timeoutMs: number): Promise<void> {
  const pending = started.filter((w) => w.state === 'started');
  const deadline = Date.now() + timeoutMs;
  while (pending.length > 0) {
    const checks = pending
      .map(
        (w) =>
          `if tail -c +${w.logOffset + 1} "$RUN/${w.name}.log" 2>/dev/null | grep -q "polling queue"; then echo "polling ${w.name}"; ` +
          `elif ! ours ${w.pid}; then echo "died ${w.name}"; tail -c +${w.logOffset + 1} "$RUN/${w.name}.log" | tail -n 15 | sed "s/^/  | /"; fi`,
      )
      .join('\n');
    const r = await run(client, prelude(host) + checks);
    const died = /^died (\S+)/m.exec(r.stdout);
    if (died) throw new Error(`${host.name}: ${died[1]} exited before polling; its log:\n${r.stdout.split('\n').slice(1).join('\n')}`);
    for (const m of r.stdout.matchAll(/^polling (\S+)/gm))
      pending.splice(
        pending.findIndex((w) => w.name === m[1]),
        1,
      );
    if (pending.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${host.name}: ${pending.map((w) => w.name).join(', ')} not polling after ${Math.round(timeoutMs / 1000)} s (log in ${hostDataDir(host)}/cluster/${host.name}/)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

export interface StoppedWorker {
  name: string;
  pid: number;
  how: 'stopped' | 'killed';
}

/**
 * SIGTERM to every worker of the host: each drains (in-flight activities get workers.shutdownGraceSeconds,
 * then are cancelled and retried elsewhere); a worker still alive after `waitSeconds` is killed with its
 * process group.
 */
export async function stopWorkers(client: Client, host: HostEntry, waitSeconds: number): Promise<StoppedWorker[]> {
  const script =
    prelude(host) +
    [
      'list=$(live_workers)',
      'echo "$list" | while read -r _ n p; do [ -n "${p:-}" ] && kill -TERM "$p" 2>/dev/null; done',
      `deadline=$(( $(date +%s) + ${Math.ceil(waitSeconds)} ))`,
      'echo "$list" | while read -r _ n p; do',
      '  [ -n "${p:-}" ] || continue',
      '  while ours "$p" && [ "$(date +%s)" -lt "$deadline" ]; do sleep 1; done',
      '  if ours "$p"; then kill -KILL "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null; echo "killed $n $p"; else echo "stopped $n $p"; fi',
      '  rm -f "$RUN/$n.pid"',
      'done',
    ].join('\n');
  const r = await run(client, script);
  if (r.code !== 0) throw new Error(`${host.name}: stopping workers failed (${r.code}): ${r.stderr.trim().split('\n').pop()}`);
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => (f[0] === 'stopped' || f[0] === 'killed') && f.length === 3)
    .map(([how, name, pid]) => ({ name: name!, pid: Number(pid), how: how as 'stopped' | 'killed' }));
}

/** Seconds `down` waits for a draining worker: its grace, the SDK's force time (+10 s), and slack. */
export function stopWaitSeconds(cfg: LoadedConfig): number {
  return cfg.pipeline.workers.shutdownGraceSeconds + 20;
}
