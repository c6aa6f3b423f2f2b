// Background processes started by `ringrift dev up`, remembered in pid files so `down` stops exactly those.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface PidRecord {
  name: string; // "temporal", "worker-cpu", ...
  pid: number;
  /** A string that must appear in /proc/<pid>/cmdline for the process to count as ours. */
  marker: string;
  startedAt: string;
  logFile: string;
}

export function pidDir(stateDir: string): string {
  return path.join(stateDir, 'pids');
}

function pidFile(stateDir: string, name: string): string {
  return path.join(pidDir(stateDir), `${name}.json`);
}

export function writePidRecord(stateDir: string, rec: PidRecord): void {
  fs.mkdirSync(pidDir(stateDir), { recursive: true });
  const file = pidFile(stateDir, rec.name);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(rec, null, 2));
  fs.renameSync(tmp, file);
}

export function readPidRecords(stateDir: string): PidRecord[] {
  const dir = pidDir(stateDir);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => {
      try {
        return [JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as PidRecord];
      } catch {
        return [];
      }
    });
}

export function readPidRecord(stateDir: string, name: string): PidRecord | undefined {
  return readPidRecords(stateDir).find((r) => r.name === name);
}

export function removePidRecord(stateDir: string, name: string): void {
  fs.rmSync(pidFile(stateDir, name), { force: true });
}

/** True when the pid is alive and its command line still carries our marker (pids get reused). */
export function isOurs(rec: PidRecord): boolean {
  try {
    process.kill(rec.pid, 0);
  } catch {
    return false;
  }
  try {
    const cmdline = fs.readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    return cmdline.includes(rec.marker);
  } catch {
    return true; // no /proc (macOS): trust the live pid
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves to how it ended. */
export async function stopProcess(pid: number, graceMs: number): Promise<'terminated' | 'killed' | 'gone'> {
  if (!alive(pid)) return 'gone';
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return 'terminated';
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'terminated';
  }
  while (alive(pid)) await sleep(50);
  return 'killed';
}
