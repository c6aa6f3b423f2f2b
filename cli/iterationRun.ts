// Reading and printing a training iteration: one combined progress line (the iteration's phase, k of
// 5, with that phase's own bar: games, steps, …) and the result summary. Used by `pipeline run
// iteration --wait` and by whatever shows iterations run by the loop.
import type { Client } from '@temporalio/client';
import { readRun, type RunState } from './runState';
import type { IterationProgress, TrainingIterationResult } from '../workflows/trainingIteration';

/**
 * The iteration's state as one RunState: phase "k/5 <phase>" and the bar of the running child (for
 * promote, of its gauntlet while that runs). Problems of the iteration and of its child together.
 */
export async function readIteration(client: Client, workflowId: string): Promise<RunState> {
  const outer = await readRun(client, workflowId, 0);
  const it = outer.progress as IterationProgress | null;
  if (!it || !it.child || outer.status !== 'RUNNING') return outer;
  let inner = await readRun(client, it.child).catch(() => null);
  // promote's own progress counts saga steps; the gauntlet child has the games
  if (inner?.progress?.phase === 'gauntlet' || inner?.progress?.phase === 'regression') {
    const g = await readRun(client, `${it.child}-${inner.progress.phase}`).catch(() => null);
    if (g?.progress) inner = { ...g, problems: [...inner.problems, ...g.problems] };
  }
  const label = `${Math.min(it.done + 1, it.target)}/${it.target} ${it.phase}`;
  const p = inner?.progress;
  const problems = [...outer.problems, ...(inner?.problems ?? []).filter((x) => !outer.problems.includes(x))];
  if (!p) return { status: outer.status, progress: { ...it, phase: label, target: 0 }, problems };
  const shardsDone = p.shardsDone ?? p.shards.filter((s) => s.status === 'done').length;
  return {
    status: outer.status,
    progress: {
      ...p,
      phase: `${label}${p.phase && p.phase !== it.phase ? `:${p.phase}` : ''}`,
      detail: p.detail ?? `shards ${shardsDone}/${p.shardsTotal ?? p.shards.length}`,
    },
    problems,
  };
}

const fmt = (x: number | null, digits = 3) => (x === null ? '-' : x.toFixed(digits));
const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(0)}`;

/** The result, several lines: outcome, candidate, best, data, losses, Elo with its interval, seconds per phase. */
export function describeIteration(r: TrainingIterationResult): string {
  const lines: string[] = [];
  if (r.outcome === 'collected') lines.push(`collected: iteration ${r.iteration} of ${r.configKey} (no training)`);
  else lines.push(`${r.outcome}: ${r.candidateId ?? '-'} (iteration ${r.iteration} of ${r.configKey}); best is now ${r.bestId ?? 'none'}`);
  for (const reason of r.reasons) lines.push(`  why:      ${reason}`);
  lines.push(`  games:    ${r.games} self-play games → ${r.artifacts.gamesDb.path} (sha256 ${r.artifacts.gamesDb.sha256.slice(0, 12)}…)`);
  lines.push(`  npz:      ${r.positions} positions → ${r.artifacts.npz.path} (sha256 ${r.artifacts.npz.sha256.slice(0, 12)}…)`);
  if (r.outcome !== 'collected') lines.push(`  losses:   train ${fmt(r.trainLoss)}, val ${fmt(r.valLoss)}`);
  for (const [name, e] of Object.entries(r.eloVsBaselines)) {
    lines.push(`  Elo vs ${name.padEnd(10)} ${signed(e.elo).padStart(5)}  95% [${signed(e.lo)}, ${signed(e.hi)}]`);
  }
  const total = r.phases.reduce((t, p) => t + p.seconds, 0);
  lines.push(`  seconds:  ${r.phases.map((p) => `${p.phase} ${p.seconds.toFixed(0)}`).join(' · ')} (total ${total.toFixed(0)})`);
  return lines.join('\n');
}
