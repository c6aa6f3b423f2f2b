// `ringrift loop start|status|stop|halt|pause|resume|update [--config-keys …]`: the improvement loop
// (workflows/improvementLoop.ts), one workflow per set of config keys, id `loop-<keys>`.
import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { LoadedConfig } from '../../config/load';
import { parseConfigKey } from '../../store/registry';
import type { LoopSettings, LoopStartInput, LoopStatus } from '../../workflows/improvementLoop';
import { parseWorkflowInput } from '../../workflows/inputSchemas';
import type { IterationProgress } from '../../workflows/trainingIteration';
import { UserError } from '../errors';
import { cliConfig } from '../context';
import { startPhase, uiLink } from '../pipelineRun';
import { readRun } from '../runState';
import { connectOrExplain } from './cluster';
import { parseIntOption } from './pipeline';

interface TargetOptions {
  configKeys?: string;
  workflowId?: string;
}

function configKeys(list: string): string[] {
  const keys = [...new Set(list.split(',').map((s) => s.trim()))].filter(Boolean).sort();
  if (keys.length === 0) throw new UserError('--config-keys: give at least one config key, e.g. square8_2p,hex8_2p');
  for (const k of keys) {
    try {
      parseConfigKey(k);
    } catch (err) {
      throw new UserError(`--config-keys: ${(err as Error).message}`);
    }
  }
  return keys;
}

/** One loop per set of config keys: the same set always names the same workflow. */
export function loopWorkflowId(keys: string[]): string {
  return `loop-${[...keys].sort().join('+')}`;
}

async function withClient<T>(cfg: LoadedConfig, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectOrExplain(cfg);
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

/** The loop named by --workflow-id or --config-keys, else the only running one. */
async function targetLoop(client: Client, o: TargetOptions): Promise<string> {
  if (o.workflowId) return o.workflowId;
  if (o.configKeys) return loopWorkflowId(configKeys(o.configKeys));
  const running: string[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowType = 'improvementLoop' AND ExecutionStatus = 'Running'` })) {
    running.push(w.workflowId);
  }
  if (running.length === 1) return running[0]!;
  if (running.length === 0) throw new UserError('no improvement loop is running: start one with ringrift loop start --config-keys K', 1);
  throw new UserError(`${running.length} loops are running (${running.join(', ')}): name one with --config-keys or --workflow-id`);
}

function weightsOption(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text.split(',')) {
    const [k, v] = part.split('=');
    const w = Number(v);
    if (!k || v === undefined || !Number.isFinite(w) || w < 0) {
      throw new UserError(`--weights: "${part}" is not key=weight (a number ≥ 0), e.g. square8_2p=2,hex8_2p=1`);
    }
    out[k.trim()] = w;
  }
  return out;
}

interface SettingsOptions {
  games?: string;
  minPositions?: string;
  trainSteps?: string;
  iterations?: string;
  selfplayPlayer?: string;
  weights?: string;
  adapt?: string;
  skipGates?: boolean;
}

function settingsFromOptions(o: SettingsOptions): Partial<LoopSettings> {
  const s: Partial<LoopSettings> = {};
  if (o.games !== undefined) s.gamesPerBatch = parseIntOption('--games', o.games, 1, 10_000_000);
  if (o.minPositions !== undefined) s.minNewPositions = parseIntOption('--min-positions', o.minPositions, 0, 1e12);
  if (o.trainSteps !== undefined) s.trainSteps = parseIntOption('--train-steps', o.trainSteps, 1, 1e9);
  if (o.iterations !== undefined) s.maxIterations = parseIntOption('--iterations', o.iterations, 1, 1e9);
  if (o.selfplayPlayer !== undefined) s.selfplayPlayer = o.selfplayPlayer;
  if (o.weights !== undefined) s.weights = weightsOption(o.weights);
  if (o.adapt !== undefined) {
    const a = Number(o.adapt);
    if (!Number.isFinite(a) || a < 0) throw new UserError(`--adapt: expected a number ≥ 0, got "${o.adapt}"`);
    s.adapt = a;
  }
  if (o.skipGates) s.skipGates = true;
  return s;
}

function settingsOptions(c: Command): Command {
  return c
    .option('--games <n>', 'self-play games per step [config: loop.gamesPerBatch]')
    .option('--min-positions <n>', 'train a key once this many positions arrived since its last training [config]')
    .option('--train-steps <n>', 'optimizer steps per training [config: phases of the iteration]')
    .option('--iterations <n>', 'end after this many steps (default: run until stopped)')
    .option('--selfplay-player <spec>', 'self-play player (default: the iteration picks, the best model with search)')
    .option('--weights <k=w,…>', 'curriculum base weights per config key [config: loop.curriculum.weights]')
    .option('--adapt <x>', 'how much keys whose Elo rose least are favoured; 0: fixed weights [config]')
    .option('--skip-gates', 'promote without the gauntlet (tests only)');
}

const fmtElo = (e: { elo: number; lo: number; hi: number } | undefined) =>
  e ? `${e.elo >= 0 ? '+' : ''}${e.elo.toFixed(0)} [${e.lo.toFixed(0)}, ${e.hi.toFixed(0)}]` : '-';

export function describeLoopStatus(id: string, s: LoopStatus, child: string | null): string {
  const lines = [`loop ${id}: step ${s.iteration}, ${s.mode}${s.stopRequested ? ' (stopping after this step)' : ''}, ${s.phase}`];
  if (s.current) lines.push(`  current: ${s.current.kind} ${s.current.configKey} in ${s.current.workflowId}${child ? `: ${child}` : ''}`);
  lines.push(
    `  settings: ${s.settings.gamesPerBatch} games per step, train at ${s.settings.minNewPositions} new positions, ${s.settings.maxIterations ?? 'no'} step limit`,
  );
  lines.push(
    `  ${'key'.padEnd(12)} ${'weight'.padStart(6)} ${'games'.padStart(7)} ${'positions'.padStart(10)} ${'trained'.padStart(7)}  best / Elo vs baselines / last`,
  );
  for (const k of s.keys) {
    const elo = Object.entries(k.eloVsBaselines)
      .map(([name, e]) => `${name} ${fmtElo(e)}`)
      .join(', ');
    lines.push(
      `  ${k.configKey.padEnd(12)} ${k.weight.toFixed(2).padStart(6)} ${String(k.gamesSinceTraining).padStart(7)} ${String(k.positionsSinceTraining).padStart(10)} ${String(k.trainings).padStart(7)}  ${k.bestId ?? 'none'} / ${elo || '-'} / ${k.lastOutcome ?? '-'}`,
    );
  }
  if (s.lastError) lines.push(`  last error: ${s.lastError}`);
  for (const r of s.recent.slice(-5)) {
    const loss = r.trainLoss !== null ? `, loss ${r.trainLoss.toFixed(3)}/${r.valLoss?.toFixed(3) ?? '-'}` : '';
    lines.push(
      `  step ${r.iteration} ${r.configKey} ${r.kind}: ${r.outcome}, ${r.games} games, ${r.positions} positions${loss}, ${r.seconds} s${r.error ? ` (${r.error})` : ''}`,
    );
  }
  return lines.join('\n');
}

/** "phase train: 120/400 steps" from the running iteration and its running phase. */
async function childLine(client: Client, iterationId: string): Promise<string | null> {
  const p = await client.workflow
    .getHandle(iterationId)
    .query<IterationProgress>('progress')
    .catch(() => null);
  if (!p) return null;
  if (!p.child) return `phase ${p.phase}`;
  const run = await readRun(client, p.child).catch(() => null);
  const q = run?.progress;
  return `phase ${p.phase}${q && q.target ? `: ${q.done}/${q.target} ${q.unit}` : ''}${q?.detail ? ` (${q.detail})` : ''}`;
}

const SIGNALS: Record<string, { signal: string; what: string; done: string }> = {
  stop: { signal: 'stop', what: 'end the loop after the current step (graceful)', done: 'stops after the current step' },
  halt: {
    signal: 'halt',
    what: 'emergency: cancel the running step now and wait, halted, at a safe point (resume continues)',
    done: 'halting: the running step is being cancelled; `loop resume` continues',
  },
  pause: { signal: 'pause', what: 'wait at the next safe point, after the current step', done: 'pauses after the current step' },
  resume: { signal: 'resume', what: 'continue a paused or halted loop', done: 'resumed' },
};

export function registerLoopCommands(program: Command): void {
  const loop = program.command('loop').description('the continuous improvement loop: self-play batches, training, gauntlet, promotion');

  settingsOptions(
    loop
      .command('start')
      .description('start the loop for a set of config keys (one loop per set)')
      .requiredOption('--config-keys <keys>', 'comma-separated, e.g. square8_2p,hex8_2p'),
  )
    .option('--seed <n>', 'loop seed (each step derives its own)', '1')
    .option('--workflow-id <id>', 'workflow id (default loop-<keys>)')
    .action(async (o: SettingsOptions & { configKeys: string; seed: string; workflowId?: string }, cmd: Command) => {
      const cfg = cliConfig(cmd);
      const keys = configKeys(o.configKeys);
      const input: LoopStartInput = {
        configKeys: keys,
        seed: parseIntOption('--seed', o.seed, 0, 0xffffffff),
        ...settingsFromOptions(o),
      };
      const parsed = parseWorkflowInput('improvementLoop', input);
      if (!parsed.ok) throw new UserError(parsed.problems.join('\n'));
      const [first] = keys;
      await startPhase(cfg, {
        workflowType: 'improvementLoop',
        workflowId: o.workflowId ?? loopWorkflowId(keys),
        args: [input],
        board: parseConfigKey(first!).boardType,
        configKey: first!,
        phase: 'loop',
        wait: false,
        describeResult: () => '',
      });
    });

  loop
    .command('status')
    .description('step, phase, games and positions since the last training, best model and Elo per key, last error')
    .option('--config-keys <keys>', 'the loop of these keys (default: the only running loop)')
    .option('--workflow-id <id>', 'the loop with this workflow id')
    .option('--json', 'the status query as JSON')
    .action(async (o: TargetOptions & { json?: boolean }, cmd: Command) => {
      const cfg = cliConfig(cmd);
      await withClient(cfg, async (client) => {
        const id = await targetLoop(client, o);
        const handle = client.workflow.getHandle(id);
        const desc = await handle.describe().catch(() => null);
        if (!desc) throw new UserError(`no loop ${id}: start it with ringrift loop start --config-keys …`, 1);
        // a run that has just continued as new answers once it has read its input
        let status: LoopStatus | null = null;
        for (let i = 0; !status; i++) {
          try {
            status = await handle.query<LoopStatus>('status');
          } catch (err) {
            if (i >= 10) throw err;
            await sleep(500);
          }
        }
        if (o.json) {
          console.log(JSON.stringify({ workflowId: id, status: desc.status.name, ...status }, null, 2));
          return;
        }
        const child = status.current ? await childLine(client, status.current.workflowId) : null;
        console.log(describeLoopStatus(id, status, child));
        if (desc.status.name !== 'RUNNING') console.log(`  workflow: ${desc.status.name.toLowerCase()}`);
        console.log(`  web UI: ${uiLink(cfg, id)}`);
      });
    });

  for (const [name, s] of Object.entries(SIGNALS)) {
    loop
      .command(name)
      .description(s.what)
      .option('--config-keys <keys>', 'the loop of these keys (default: the only running loop)')
      .option('--workflow-id <id>', 'the loop with this workflow id')
      .action(async (o: TargetOptions, cmd: Command) => {
        const cfg = cliConfig(cmd);
        await withClient(cfg, async (client) => {
          const id = await targetLoop(client, o);
          await signalLoop(client, id, s.signal);
          console.log(`loop ${id}: ${s.done}`);
        });
      });
  }

  settingsOptions(
    loop
      .command('update')
      .description('change the settings of the next steps (update-config signal)')
      .option('--config-keys <keys>', 'the loop of these keys (default: the only running loop)')
      .option('--workflow-id <id>', 'the loop with this workflow id'),
  ).action(async (o: TargetOptions & SettingsOptions, cmd: Command) => {
    const cfg = cliConfig(cmd);
    const update = settingsFromOptions(o);
    if (Object.keys(update).length === 0) throw new UserError('loop update: give at least one setting, e.g. --games 100');
    await withClient(cfg, async (client) => {
      const id = await targetLoop(client, o);
      await signalLoop(client, id, 'update-config', update);
      console.log(`loop ${id}: next steps use ${JSON.stringify(update)}`);
    });
  });
}

async function signalLoop(client: Client, id: string, signal: string, arg?: unknown): Promise<void> {
  try {
    await client.workflow.getHandle(id).signal(signal, ...(arg === undefined ? [] : [arg]));
  } catch (err) {
    if ((err as Error).name === 'WorkflowNotFoundError') throw new UserError(`no running loop ${id}`, 1);
    throw err;
  }
}
