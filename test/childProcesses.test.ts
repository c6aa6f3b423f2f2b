// Child processes spawned by activities die with cancellation or worker shutdown, grandchildren included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { killAllChildren, liveChildCount, runChild } from '../workers/childProcesses';

/** Alive and not a zombie (an orphaned zombie waits for a reaper that a container's init may not be). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function grandchildPid(file: string): Promise<number> {
  const fs = await import('node:fs');
  for (let i = 0; i < 100; i++) {
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8').trim()) return Number(fs.readFileSync(file, 'utf8'));
    await sleep(20);
  }
  throw new Error('grandchild never started');
}

test('aborting the signal kills the child and its grandchildren', async () => {
  const file = `/tmp/ringrift-gc-${process.pid}-a`;
  const ac = new AbortController();
  const done = runChild('bash', ['-c', `sleep 300 & echo $! > ${file}; wait`], { signal: ac.signal, stdio: 'ignore' });
  const gc = await grandchildPid(file);
  assert.ok(alive(gc));
  ac.abort();
  const r = await done;
  assert.equal(r.signal, 'SIGTERM');
  await sleep(100);
  assert.equal(alive(gc), false, 'grandchild sleep must be gone');
  assert.equal(liveChildCount(), 0);
});

test('killAllChildren escalates to SIGKILL for a child that ignores SIGTERM', async () => {
  const done = runChild('bash', ['-c', `trap '' TERM; sleep 300 & wait; sleep 300`], { stdio: 'ignore' });
  await sleep(200);
  assert.equal(liveChildCount(), 1);
  await killAllChildren(300);
  const r = await done;
  assert.equal(r.signal, 'SIGKILL');
  assert.equal(liveChildCount(), 0);
});

test('a normal exit resolves with its code', async () => {
  const r = await runChild('bash', ['-c', 'exit 3'], { stdio: 'ignore' });
  assert.deepEqual(r, { code: 3, signal: null });
});
