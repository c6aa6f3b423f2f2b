// Child processes started by activities: tracked so that cancellation and worker shutdown kill them
// (their whole process group), never leaving orphans.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

const live = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal); // negative pid: the child's process group
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Spawns `cmd` in its own process group. If `signal` aborts, the group gets SIGTERM, then SIGKILL after
 * `killAfterMs`. Resolves when the process exits.
 */
export function runChild(
  cmd: string,
  args: string[],
  opts: SpawnOptions & { signal?: AbortSignal; killAfterMs?: number; onSpawn?: (c: ChildProcess) => void } = {},
): Promise<RunResult> {
  const { signal, killAfterMs = 5000, onSpawn, ...spawnOpts } = opts;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'inherit', ...spawnOpts, detached: true });
    live.add(child);
    onSpawn?.(child);
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      killGroup(child, 'SIGTERM');
      timer = setTimeout(() => killGroup(child, 'SIGKILL'), killAfterMs);
      timer.unref();
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => {
      live.delete(child);
      reject(err);
    });
    child.once('exit', (code, sig) => {
      live.delete(child);
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve({ code, signal: sig });
    });
  });
}

/**
 * Tracks a child spawned elsewhere (e.g. a long-lived external replayer) so worker shutdown kills it.
 * Spawn it with `detached: true` so that its whole process group can be signalled.
 */
export function trackChild(child: ChildProcess): ChildProcess {
  if (child.exitCode !== null || child.signalCode !== null) return child;
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

export function liveChildCount(): number {
  return live.size;
}

/** Kills every tracked child's process group (SIGTERM, then SIGKILL after `graceMs`) and waits for them. */
export async function killAllChildren(graceMs = 3000): Promise<void> {
  const children = [...live];
  if (children.length === 0) return;
  const exited = children.map(
    (c) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r()))),
  );
  children.forEach((c) => killGroup(c, 'SIGTERM'));
  const timer = setTimeout(() => children.forEach((c) => killGroup(c, 'SIGKILL')), graceMs);
  await Promise.all(exited);
  clearTimeout(timer);
}

/** Last resort on process exit: synchronous SIGKILL to every tracked group. */
export function killAllChildrenSync(): void {
  for (const c of live) killGroup(c, 'SIGKILL');
}
