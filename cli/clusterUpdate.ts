// `ringrift cluster update`: a host's checkout onto one commit, the README set-up there, its workers restarted
// gracefully (SIGTERM: in-flight activities finish within workers.shutdownGraceSeconds or are retried elsewhere).
// A failed checkout or set-up puts the previous commit back and restarts the workers that ran.
import { execFileSync } from 'node:child_process';
import type { Client } from 'ssh2';
import { REPO_ROOT, type LoadedConfig } from '../config/load';
import type { HostEntry } from '../config/schema';
import { shPath, shQuote, execSsh } from '../workers/ssh';
import { hostDataDir, startWorkers, stopWaitSeconds, stopWorkers, waitPolling, type WorkerProcess } from './clusterHosts';
import { UserError } from './errors';

/** The set-up the README names, run in the checkout; idempotent (a second run installs nothing). */
export const SETUP_COMMAND = 'bash scripts/setup.sh';

/** `--commit` (any revision this checkout knows, or a full SHA) as a full SHA; default this checkout's HEAD. */
export function resolveCommit(rev = 'HEAD'): string {
  try {
    return execFileSync('git', ['-C', REPO_ROOT, 'rev-parse', '--verify', '--quiet', `${rev}^{commit}`], { encoding: 'utf8' }).trim();
  } catch {
    if (/^[0-9a-f]{40}$/.test(rev)) return rev;
    throw new UserError(
      `--commit ${rev}: not a commit of ${REPO_ROOT}; give a full 40-character SHA for a commit only the hosts' origin has`,
    );
  }
}

interface Checkout {
  head: string | null;
  present: boolean;
  dirty: string | null;
  workers: WorkerProcess[];
}

async function sh(client: Client, host: HostEntry, body: string) {
  const script = `set -u\nREPO=${shPath(host.repoPath!)}\ncd "$REPO" 2>/dev/null || { echo "no checkout at ${host.repoPath}" >&2; exit 4; }\n${body}`;
  return execSsh(client, `sh -c ${shQuote(script)}`);
}

async function inspect(client: Client, host: HostEntry, target: string, workers: () => Promise<WorkerProcess[]>): Promise<Checkout> {
  const r = await sh(
    client,
    host,
    [
      'echo "head $(git rev-parse HEAD 2>/dev/null)"',
      `git cat-file -e ${target}^{commit} 2>/dev/null && echo present`,
      'd=$(git status --porcelain --untracked-files=no 2>/dev/null | head -3 | tr "\\n" " ")',
      '[ -n "$d" ] && echo "dirty $d"',
      'true',
    ].join('\n'),
  );
  if (r.code === 4)
    throw new Error(
      `${host.name}: no git checkout at ${host.repoPath}: clone the repository there first (git clone <url> ${host.repoPath})`,
    );
  if (r.code !== 0) throw new Error(`${host.name}: cannot inspect ${host.repoPath} (${r.code}): ${r.stderr.trim()}`);
  const head = /^head ([0-9a-f]{40})$/m.exec(r.stdout)?.[1] ?? null;
  return {
    head,
    present: /^present$/m.test(r.stdout),
    dirty: /^dirty (.*)$/m.exec(r.stdout)?.[1]?.trim() ?? null,
    workers: await workers(),
  };
}

export interface UpdateOptions {
  commit: string;
  dryRun: boolean;
  waitPollingMs: number;
  log: (line: string) => void;
}

/** Updates one host; resolves to what happened, rejects with a one-line reason (after a rollback where one applies). */
export async function updateHost(
  client: Client,
  cfg: LoadedConfig,
  host: HostEntry,
  opts: UpdateOptions,
  listWorkers: () => Promise<WorkerProcess[]>,
): Promise<'updated' | 'unchanged' | 'planned'> {
  const target = opts.commit;
  const short = (s: string | null) => (s ? s.slice(0, 12) : 'none');
  const say = (line: string) => opts.log(`${host.name}: ${line}`);
  const co = await inspect(client, host, target, listWorkers);
  const running = co.workers.map((w) => `${w.name} (pid ${w.pid})`).join(', ') || 'no workers running';
  if (co.head === target) {
    say(`already at ${short(target)}; ${running}; nothing to do`);
    return 'unchanged';
  }
  if (co.dirty) throw new Error(`${host.name}: ${host.repoPath} has local changes (${co.dirty}): commit or discard them there first`);
  if (opts.dryRun) {
    say(
      `would move ${host.repoPath} from ${short(co.head)} to ${short(target)} (${co.present ? 'commit present' : 'after git fetch origin'})`,
    );
    say(`would run ${SETUP_COMMAND} there`);
    say(co.workers.length ? `would restart gracefully: ${running}` : 'no workers running: none would be started (ringrift cluster up)');
    return 'planned';
  }

  if (!co.present) {
    say('fetching from origin');
    const f = await sh(
      client,
      host,
      `git fetch --quiet origin && git cat-file -e ${target}^{commit} 2>/dev/null || git fetch --quiet origin ${target}\ngit cat-file -e ${target}^{commit}`,
    );
    if (f.code !== 0)
      throw new Error(
        `${host.name}: commit ${short(target)} is not on the host's origin (${f.stderr.trim().split('\n').pop()}): push it there first`,
      );
  }
  if (co.workers.length) {
    say(`stopping ${running} (SIGTERM: in-flight activities get ${cfg.pipeline.workers.shutdownGraceSeconds} s, then are retried)`);
    for (const w of await stopWorkers(client, host, stopWaitSeconds(cfg)))
      say(`${w.name} (pid ${w.pid}) ${w.how === 'stopped' ? 'stopped' : 'killed after the grace period'}`);
  }
  const restart = async (): Promise<void> => {
    if (!co.workers.length) return;
    const started = await startWorkers(client, cfg, host);
    await waitPolling(client, host, started, opts.waitPollingMs);
    say(`workers polling again: ${started.map((w) => `${w.name} (pid ${w.pid})`).join(', ')}`);
  };

  say(`checking out ${short(target)} and running ${SETUP_COMMAND}`);
  const setupLog = `${hostDataDir(host)}/cluster/${host.name}/update.log`;
  const u = await sh(
    client,
    host,
    [
      `LOG=${shPath(setupLog)}`,
      'mkdir -p "$(dirname "$LOG")"',
      `git checkout --quiet --detach ${target} || exit 5`,
      `${SETUP_COMMAND} >"$LOG" 2>&1 || { tail -n 15 "$LOG"; exit 6; }`,
    ].join('\n'),
  );
  if (u.code !== 0) {
    const back = co.head ? `; rolled back to ${short(co.head)}` : '';
    const what =
      u.code === 5
        ? `git checkout failed${back}: ${u.stderr.trim().split('\n').pop()}`
        : `set-up failed${back} (log ${setupLog}), its last lines:\n${u.stdout.trimEnd()}`;
    if (co.head) {
      say(`rolling back to ${short(co.head)}`);
      await sh(client, host, `git checkout --quiet --detach ${co.head}`);
      await restart();
    }
    throw new Error(`${host.name}: ${what}`);
  }
  say(`at ${short(target)}; set-up done`);
  if (co.workers.length) await restart();
  else say('no workers were running: none started (ringrift cluster up)');
  return 'updated';
}
