// `ringrift pipeline run <phase> …` and `ringrift pipeline status [workflowId]`.
//
// Adding a phase: write `registerXxx(run: Command)` in its own module under cli/commands/ (see
// registerSelfplay below) and add one call in registerPipelineCommands. Validate every option before
// anything starts (UserError, one line), support --dry-run and --wait, and start through startPhase().
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { temporal } from '@temporalio/proto';
import { BOARD_TYPES, GameConfigMismatchError, closeGameDb, openGameDb, type BoardType } from '../../store/gameDb';
import { PlayerSpecError, parsePlayerSpec } from '../../ai/players';
import { configKey } from '../../ai/selfplay';
import { resolveShardModels } from '../../activities/selfplay';
import { resolveFromRoot } from '../../config/load';
import type { SelfplayInput, SelfplayResult } from '../../workflows/canonicalSelfplay';
import { planShards } from '../../workflows/canonicalSelfplay';
import { adaptiveShardSize } from '../../workflows/shardSize';
import { readRun } from '../runState';
import { readIteration } from '../iterationRun';
import { cliConfig } from '../context';
import { UserError } from '../errors';
import { startPhase, timestamp, uiLink } from '../pipelineRun';
import { connectOrExplain } from './cluster';
import { registerNpzExport, registerParityValidation } from './dataPhases';
import { registerTrain } from './train';
import { registerGauntlet } from './gauntlet';
import { registerPromote } from './promote';
import { registerIteration } from './iteration';

export function parseIntOption(name: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^-?\d+$/.test(value.trim())) throw new UserError(`${name}: expected an integer, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) {
    throw new UserError(`${name}: must be ${max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `between ${min} and ${max}`}, got ${n}`);
  }
  return n;
}

export function parseBoard(value: string): BoardType {
  if (!(BOARD_TYPES as readonly string[]).includes(value)) {
    throw new UserError(`--board: unknown board "${value}": use one of ${BOARD_TYPES.join(', ')}`);
  }
  return value as BoardType;
}

/** The directory of `file` exists (or can be created under a writable ancestor) and is writable. */
export function assertWritableDir(file: string, option: string): void {
  const dir = path.dirname(path.resolve(file));
  let existing = dir;
  while (!fs.existsSync(existing)) existing = path.dirname(existing);
  const fail = (why: string) => new UserError(`${option}: output directory ${dir} is not writable (${why})`);
  if (!fs.statSync(existing).isDirectory()) throw fail(`${existing} is not a directory`);
  try {
    fs.accessSync(existing, fs.constants.W_OK);
    // One level at a time: recursive mkdir spins on some pseudo file systems (/proc).
    const missing = path.relative(existing, dir).split(path.sep).filter(Boolean);
    for (let i = 1; i <= missing.length; i++) fs.mkdirSync(path.join(existing, ...missing.slice(0, i)));
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (err) {
    throw fail((err as NodeJS.ErrnoException).code ?? String(err));
  }
}

interface SelfplayOptions {
  board: string;
  players: string;
  numGames: string;
  outputDb: string;
  shardSize?: string;
  seed?: string;
  playerMix?: string;
  maxMoves?: string;
  workflowId?: string;
  dryRun?: boolean;
  wait?: boolean;
}

export function selfplayInputFromOptions(
  o: SelfplayOptions,
  defaults: { shardSize: number | null; maxMoves: number; playerMix: string[]; heartbeatTimeoutSeconds: number; queue?: string },
): SelfplayInput {
  const boardType = parseBoard(o.board);
  const numPlayers = parseIntOption('--players', o.players, 2, 4);
  const numGames = parseIntOption('--num-games', o.numGames, 1);
  const explicitShardSize = o.shardSize !== undefined ? parseIntOption('--shard-size', o.shardSize, 1) : defaults.shardSize;
  const seed = o.seed !== undefined ? parseIntOption('--seed', o.seed, 0, 0xffffffff) : 1;
  const maxMoves = o.maxMoves !== undefined ? parseIntOption('--max-moves', o.maxMoves, 1) : defaults.maxMoves;
  const playerMix = o.playerMix !== undefined ? o.playerMix.split(',').map((s) => s.trim()) : defaults.playerMix;
  try {
    playerMix.forEach(parsePlayerSpec);
  } catch (err) {
    if (err instanceof PlayerSpecError) throw new UserError(`--player-mix: ${err.message}`);
    throw err;
  }
  // Counted as given (before identical specs are merged): "random,random,random" is 3 specs, not 1.
  if (playerMix.length !== 1 && playerMix.length !== numPlayers) {
    throw new UserError(
      `--player-mix: ${playerMix.length} specs for ${numPlayers} players (--players ${numPlayers}): give one spec for all seats, or exactly one per seat`,
    );
  }
  const uniqueMix = [...new Set(playerMix)];
  const mix = uniqueMix.length === 1 ? uniqueMix : playerMix;
  const shardSize = explicitShardSize ?? adaptiveShardSize({ boardType, numPlayers, numGames, playerMix: mix });
  const outputDb = path.resolve(o.outputDb);
  assertWritableDir(outputDb, '--output-db');
  if (fs.existsSync(outputDb)) {
    try {
      closeGameDb(openGameDb(outputDb, { boardType, numPlayers, readonly: true }));
    } catch (err) {
      if (err instanceof GameConfigMismatchError) throw new UserError(`--output-db: ${err.message}`);
      throw new UserError(`--output-db: ${outputDb} exists but is not a usable game DB: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return {
    boardType,
    numPlayers,
    numGames,
    seed,
    shardSize,
    outputDb,
    playerMix: mix,
    maxMoves,
    ...(defaults.queue ? { activityQueue: defaults.queue } : {}),
    heartbeatTimeoutSeconds: defaults.heartbeatTimeoutSeconds,
  };
}

function registerSelfplay(run: Command): void {
  run
    .command('canonical_selfplay')
    .description('play self-play games with the canonical engine into a GameReplayDB-compatible SQLite file')
    .requiredOption('--board <type>', `board: ${BOARD_TYPES.join(', ')}`)
    .requiredOption('--players <n>', 'players per game (2-4)')
    .requiredOption('--num-games <n>', 'games to play')
    .requiredOption('--output-db <path>', 'game DB to create or append to')
    .option('--shard-size <n>', 'games per shard activity (default from config, else adaptive: about 30 s of play per shard)')
    .option('--seed <n>', 'run seed; game i is the same whoever plays it (default 1)')
    .option(
      '--player-mix <specs>',
      'comma-separated player specs: one for all seats or one per seat (random, heuristic, policy:<model>, mcts:<model>[:sims=N], gumbel:<model>[:sims=N]; <model> a registry id or best)',
    )
    .option('--max-moves <n>', 'stop a game after this many moves')
    .option('--workflow-id <id>', 'workflow id (default selfplay-<board>_<n>p-<timestamp>)')
    .option('--dry-run', 'print the plan and start nothing')
    .option('--wait', 'wait for the result with a live progress bar')
    .action(async (o: SelfplayOptions, cmd: Command) => {
      const cfg = cliConfig(cmd);
      const d = cfg.pipeline.phases.canonical_selfplay;
      const input = selfplayInputFromOptions(o, { ...d, ...(d.queue ? { queue: d.queue } : {}) });
      // neural players: every model must be in the registry (sha256 checked) before anything starts;
      // `best` is pinned to its id so that every shard plays the same model
      try {
        const models = resolveShardModels({ ...input, registryDir: resolveFromRoot(cfg.pipeline.registry.dir) });
        input.playerMix = input.playerMix.map((spec) =>
          spec.replace(/^(policy|mcts|gumbel):best(?=$|:)/, (_m, k: string) => `${k}:${models['best']!.id}`),
        );
      } catch (err) {
        const prefix = `player mix ${input.playerMix.join(',')}: `;
        const msg = (err as Error).message;
        throw new UserError(`--player-mix: ${msg.startsWith(prefix) ? msg.slice(prefix.length) : msg}`);
      }
      const key = configKey(input);
      const workflowId = o.workflowId ?? `selfplay-${key}-${timestamp()}`;
      const shards = planShards(input, workflowId);
      if (o.dryRun) {
        console.log(`dry run: canonical_selfplay ${key}, nothing started`);
        console.log(`  workflow id:  ${workflowId}`);
        console.log(`  games:        ${input.numGames} (seed ${input.seed}, max ${input.maxMoves} moves each)`);
        console.log(`  players:      ${input.playerMix.join(', ')}${input.playerMix.length > 1 ? ' (rotated per game)' : ''}`);
        console.log(`  shards:       ${shards.length} x up to ${input.shardSize} games on queue ${input.activityQueue ?? 'cpu'}`);
        console.log(`  output DB:    ${input.outputDb}${fs.existsSync(input.outputDb) ? ' (exists: games are appended)' : ''}`);
        return;
      }
      await startPhase(cfg, {
        workflowType: 'canonicalSelfplay',
        workflowId,
        args: [input],
        board: input.boardType,
        configKey: key,
        phase: 'canonical_selfplay',
        wait: o.wait ?? false,
        describeResult: (r) => {
          const res = r as SelfplayResult;
          return `done: ${res.games} games added to ${res.outputDb.path} (${res.outputDb.totalGames} in total, sha256 ${res.outputDb.sha256.slice(0, 12)}…)`;
        },
      });
    });
}

const { PendingActivityState } = temporal.api.enums.v1;

async function showStatus(cmd: Command, workflowId: string | undefined): Promise<void> {
  const cfg = cliConfig(cmd);
  const client = await connectOrExplain(cfg);
  try {
    if (!workflowId) {
      const rows: string[] = [];
      for await (const wf of client.workflow.list({ query: `RingRiftPhase != ''` })) {
        const sa = wf.searchAttributes as Record<string, unknown[] | undefined>;
        rows.push(
          `${wf.workflowId.padEnd(44)} ${String(sa.RingRiftPhase?.[0] ?? '').padEnd(20)} ${wf.status.name.padEnd(11)} ${wf.startTime.toISOString()}`,
        );
        if (rows.length >= 20) break;
      }
      console.log(rows.length ? rows.join('\n') : 'no pipeline runs yet: start one with `ringrift pipeline run canonical_selfplay …`');
      return;
    }
    const handle = client.workflow.getHandle(workflowId);
    let desc;
    try {
      desc = await handle.describe();
    } catch (err) {
      if ((err as Error).name === 'WorkflowNotFoundError')
        throw new UserError(`no workflow with id ${workflowId} (list runs with: ringrift pipeline status)`);
      throw err;
    }
    const sa = desc.searchAttributes as Record<string, unknown[] | undefined>;
    console.log(`workflow: ${workflowId} (${desc.type})`);
    console.log(
      `status:   ${desc.status.name}${desc.closeTime ? ` at ${desc.closeTime.toISOString()}` : ''}, started ${desc.startTime.toISOString()}`,
    );
    console.log(`config:   ${String(sa.RingRiftConfigKey?.[0] ?? '?')}, phase ${String(sa.RingRiftPhase?.[0] ?? '?')}`);
    console.log(`web UI:   ${uiLink(cfg, workflowId)}`);
    // live progress: the query (finished work) plus heartbeats of work in flight; why a run stalls
    // an iteration shows its running phase's own progress
    const state = await (desc.type === 'trainingIteration' ? readIteration : readRun)(client, workflowId);
    const p = state.progress;
    if (p) {
      const shardsDone = p.shardsDone ?? p.shards.filter((s) => s.status === 'done').length;
      console.log(
        `progress: ${p.phase}, ${p.done}/${p.target} ${p.unit}, shards ${shardsDone}/${p.shardsTotal ?? p.shards.length} done${p.detail ? ` | ${p.detail}` : ''}`,
      );
      const running = p.shards.filter((x) => x.status === 'running');
      for (const s of running.slice(0, 10)) console.log(`  shard ${s.index}: ${s.done}/${s.target} ${p.unit}`);
      if (running.length > 10) console.log(`  … and ${running.length - 10} more running shards`);
    } else if (desc.status.name === 'RUNNING') {
      console.log('progress: not available (no worker answered the query)');
    }
    for (const problem of state.problems) console.log(`stalled:  ${problem}`);
    const raw = desc.raw.pendingActivities ?? [];
    for (const a of raw.slice(0, 10)) {
      const state = a.state === PendingActivityState.PENDING_ACTIVITY_STATE_STARTED ? 'running' : 'scheduled';
      const failure = a.lastFailure?.message ? `, last failure: ${a.lastFailure.message}` : '';
      console.log(
        `  activity ${a.activityType?.name ?? '?'} (${a.activityId}): ${state}, attempt ${a.attempt ?? 1}${a.lastWorkerIdentity ? ` on ${a.lastWorkerIdentity}` : ''}${failure}`,
      );
    }
    if (raw.length > 10) console.log(`  … and ${raw.length - 10} more pending activities`);
    const children = desc.raw.pendingChildren ?? [];
    if (children.length > 0) console.log(`  child batches running: ${children.map((c) => c.workflowId).join(', ')}`);
    if (desc.status.name === 'FAILED' || desc.status.name === 'TERMINATED' || desc.status.name === 'TIMED_OUT') {
      try {
        await handle.result();
      } catch (err) {
        const cause = (err as Error & { cause?: Error }).cause;
        console.log(`failure:  ${cause?.message ?? (err as Error).message}`);
      }
      process.exitCode = 1;
    }
  } finally {
    await client.connection.close();
  }
}

export function registerPipelineCommands(program: Command): void {
  const pipeline = program.command('pipeline').description('run and inspect pipeline phases');
  const run = pipeline.command('run').description('start a pipeline phase as a Temporal workflow');
  registerSelfplay(run);
  registerParityValidation(run);
  registerNpzExport(run);
  registerTrain(run);
  registerGauntlet(run);
  registerPromote(run);
  registerIteration(run);
  pipeline
    .command('status [workflowId]')
    .description('phase, progress and failures of a run (recent runs without an id)')
    .action(async (workflowId: string | undefined, _opts, cmd: Command) => showStatus(cmd, workflowId));
}
