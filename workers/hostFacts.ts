// Facts about the machine a worker runs on: cores, memory, GPUs (via nvidia-smi).
import os from 'node:os';
import { spawnSync } from 'node:child_process';

export interface GpuInfo {
  name: string;
  memoryMiB: number | null;
}

export interface HostFacts {
  hostname: string;
  platform: string;
  cores: number;
  memoryGiB: number;
  gpus: GpuInfo[];
  node: string;
}

/** GPUs reported by nvidia-smi; empty when it is missing or finds none. */
export function detectGpus(): GpuInfo[] {
  const r = spawnSync('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (r.error || r.status !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line) => {
      const [name, mem] = line.split(',').map((s) => s.trim());
      const memoryMiB = Number(mem);
      return { name: name ?? 'unknown', memoryMiB: Number.isFinite(memoryMiB) ? memoryMiB : null };
    });
}

export function hostFacts(): HostFacts {
  return {
    hostname: os.hostname(),
    platform: `${os.platform()}-${os.arch()}`,
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    gpus: detectGpus(),
    node: process.version,
  };
}
