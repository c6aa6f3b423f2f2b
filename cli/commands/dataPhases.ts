// `ringrift pipeline run parity_validation …` and `ringrift pipeline run npz_export …`.
// Every option and input is checked before anything starts (UserError, one line each).
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { probeGameDb, type GameDbSummary } from '../../store/parity';
import { defaultNpzName } from '../../store/npzExport';
import { probeReplayer, resolveReplayerCommand } from '../../store/externalReplayer';
import { ensureWritableDir, UnwritableDirError } from '../../store/safeDir';
import { planParityShards, type ParityInput, type ParityResult } from '../../workflows/parityValidation';
import type { NpzExportInput, NpzExportWorkflowResult } from '../../workflows/npzExport';
import { cliConfig } from '../context';
import { UserError } from '../errors';
import { startPhase, timestamp } from '../pipelineRun';

function parseInt10(name: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^-?\d+$/.test(value.trim())) throw new UserError(`${name}: expected an integer, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new UserError(`${name}: must be between ${min} and ${max}, got ${n}`);
  return n;
}

function parseFraction(name: string, value: string, lo: number, hi: number, openLo: boolean, openHi: boolean): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UserError(`${name}: expected a number, got "${value}"`);
  if ((openLo ? n <= lo : n < lo) || (openHi ? n >= hi : n > hi)) {
    throw new UserError(`${name}: must be in ${openLo ? '(' : '['}${lo}, ${hi}${openHi ? ')' : ']'}, got ${n}`);
  }
  return n;
}

/** Creates `dir` one level at a time (never a recursive mkdir, which spins on /proc) and checks it is writable. */
function writableDir(option: string, dir: string): void {
  try {
    ensureWritableDir(dir);
  } catch (err) {
    const why = err instanceof UnwritableDirError ? err.reason : String(err);
    throw new UserError(`${option}: ${dir} is not writable (${why}): pick a folder you can write to`);
  }
}

/** The DB exists, is a game DB and holds games (else a UserError naming --db). */
export function checkGameDb(file: string): GameDbSummary {
  const abs = path.resolve(file);
  if (!fs.existsSync(abs)) throw new UserError(`--db: no such file: ${abs}`);
  if (!fs.statSync(abs).isFile()) throw new UserError(`--db: ${abs} is not a file`);
  let info: GameDbSummary;
  try {
    info = probeGameDb(abs);
  } catch (err) {
    throw new UserError(`--db: ${(err as Error).message.split('\n')[0]}`);
  }
  if (info.games === 0) throw new UserError(`--db: ${abs} holds no games: nothing to do`);
  return info;
}

interface ParityOptions {
  db: string;
  sample?: string;
  seed?: string;
  shardSize?: string;
  failThreshold?: string;
  reportDir?: string;
  external?: string;
  workflowId?: string;
  dryRun?: boolean;
  wait?: boolean;
}

export function parityInputFromOptions(
  o: ParityOptions,
  defaults: { shardSize: number; fail_threshold: number; queue?: string },
): { input: ParityInput; info: GameDbSummary } {
  const db = path.resolve(o.db);
  const sample = o.sample !== undefined ? parseInt10('--sample', o.sample, 1) : null;
  const seed = o.seed !== undefined ? parseInt10('--seed', o.seed, 0, 0xffffffff) : 0;
  const shardSize = o.shardSize !== undefined ? parseInt10('--shard-size', o.shardSize, 1) : defaults.shardSize;
  const failThreshold =
    o.failThreshold !== undefined ? parseFraction('--fail-threshold', o.failThreshold, 0, 1, false, false) : defaults.fail_threshold;
  if (o.external !== undefined && o.external.trim() === '')
    throw new UserError('--external: give the replayer command line, e.g. "python3 replay.py"');
  if (o.external !== undefined) {
    try {
      resolveReplayerCommand(o.external);
    } catch (err) {
      throw new UserError(`--external: ${(err as Error).message}: give a replayer command that exists (store/EXTERNAL_REPLAYER.md)`);
    }
  }
  const info = checkGameDb(db);
  const reportDir = path.resolve(o.reportDir ?? path.dirname(db));
  writableDir('--report-dir', reportDir);
  return {
    info,
    input: {
      db,
      sample,
      seed,
      shardSize,
      failThreshold,
      reportDir,
      external: o.external ?? null,
      ...(defaults.queue ? { activityQueue: defaults.queue } : {}),
    },
  };
}

export function registerParityValidation(run: Command): void {
  run
    .command('parity_validation')
    .description('replay stored games through the engine, compare every step with the stored hashes, tag parity_status')
    .requiredOption('--db <path>', 'game DB to validate (parity columns are written into it)')
    .option('--sample <n>', 'validate a seeded sample of n games instead of all')
    .option('--seed <n>', 'sample seed (default 0)')
    .option('--shard-size <n>', 'games per shard activity (default from config)')
    .option('--fail-threshold <x>', 'fail the phase when (failed + error) / checked exceeds x (default from config)')
    .option('--report-dir <dir>', 'where <workflow id>.parity-report.json/.txt go (default: the DB folder)')
    .option('--external <command>', 'also replay every game with this external replayer (store/EXTERNAL_REPLAYER.md)')
    .option('--workflow-id <id>', 'workflow id (default parity-<board>_<n>p-<timestamp>)')
    .option('--dry-run', 'print the plan and start nothing')
    .option('--wait', 'wait for the result with a live progress bar')
    .action(async (o: ParityOptions, cmd: Command) => {
      const cfg = cliConfig(cmd);
      const d = cfg.pipeline.phases.parity_validation;
      const { input, info } = parityInputFromOptions(o, {
        shardSize: d.shardSize,
        fail_threshold: d.fail_threshold,
        ...(d.queue ? { queue: d.queue } : {}),
      });
      const key = `${info.boardType}_${info.numPlayers}p`;
      if (input.external !== null) {
        // before anything starts: the replayer must start and answer a protocol check
        try {
          await probeReplayer(input.external, { boardType: info.boardType, numPlayers: info.numPlayers });
        } catch (err) {
          throw new UserError(`--external: "${input.external}" cannot be used: ${(err as Error).message}`);
        }
      }
      const workflowId = o.workflowId ?? `parity-${key}-${timestamp()}`;
      const selected = input.sample === null ? info.games : Math.min(input.sample, info.games);
      const shards = planParityShards(selected, input.shardSize);
      if (o.dryRun) {
        const status = Object.entries(info.parity)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ');
        console.log(`dry run: parity_validation ${key}, nothing started`);
        console.log(`  workflow id:  ${workflowId}`);
        console.log(`  DB:           ${input.db} (${info.games} games; parity now: ${status})`);
        console.log(`  games:        ${input.sample === null ? `all ${selected}` : `seeded sample of ${selected} (seed ${input.seed})`}`);
        console.log(`  shards:       ${shards.length} x up to ${input.shardSize} games on queue ${input.activityQueue ?? 'cpu'}`);
        console.log(`  threshold:    fail when more than ${(input.failThreshold * 100).toFixed(2)}% fail`);
        console.log(`  external:     ${input.external ?? 'none'}`);
        console.log(`  report:       ${path.join(input.reportDir, `${workflowId}.parity-report.json`)} (+ .txt)`);
        return;
      }
      await startPhase(cfg, {
        workflowType: 'parityValidation',
        workflowId,
        args: [input],
        board: info.boardType,
        configKey: key,
        phase: 'parity_validation',
        wait: o.wait ?? false,
        describeResult: (r) => {
          const res = r as ParityResult;
          return (
            `done: ${res.total} games checked: ${res.passed} passed, ${res.failed} failed, ${res.error} error ` +
            `(${(res.failureRate * 100).toFixed(2)}%, threshold ${(res.failThreshold * 100).toFixed(2)}%), ${res.gamesPerSecond.toFixed(1)} games/s\n` +
            `  report: ${res.report.path}\n  summary: ${res.summary.path}`
          );
        },
      });
    });
}

interface NpzOptions {
  db: string;
  outputDir: string;
  outputName?: string;
  splitRatio?: string;
  splitSeed?: string;
  maxGames?: string;
  workflowId?: string;
  dryRun?: boolean;
  wait?: boolean;
}

export function npzInputFromOptions(
  o: NpzOptions,
  defaults: { split_ratio: number; queue?: string },
): { input: NpzExportInput; info: GameDbSummary; output: string } {
  const db = path.resolve(o.db);
  const splitRatio = o.splitRatio !== undefined ? parseFraction('--split-ratio', o.splitRatio, 0, 1, true, true) : defaults.split_ratio;
  const splitSeed = o.splitSeed !== undefined ? parseInt10('--split-seed', o.splitSeed, 0, 0xffffffff) : 0;
  const maxGames = o.maxGames !== undefined ? parseInt10('--max-games', o.maxGames, 1) : null;
  if (o.outputName !== undefined && (o.outputName.includes('/') || !o.outputName.endsWith('.npz'))) {
    throw new UserError(`--output-name: a file name ending in .npz (no folders), got "${o.outputName}"`);
  }
  const info = checkGameDb(db);
  const passed = info.parity['passed'] ?? 0;
  if (passed === 0) {
    throw new UserError(
      `--db: none of the ${info.games} games in ${db} passed parity: run 'ringrift pipeline run parity_validation --db ${db}' first`,
    );
  }
  const outputDir = path.resolve(o.outputDir);
  writableDir('--output-dir', outputDir);
  const output = path.join(outputDir, o.outputName ?? defaultNpzName(db, info.boardType, info.numPlayers));
  if (fs.existsSync(output)) {
    throw new UserError(
      `--output-dir: ${output} already exists; an existing dataset is never overwritten (remove it, or pick another --output-dir / --output-name)`,
    );
  }
  return {
    info,
    output,
    input: {
      db,
      outputDir,
      outputName: o.outputName ?? null,
      splitRatio,
      splitSeed,
      maxGames,
      ...(defaults.queue ? { activityQueue: defaults.queue } : {}),
    },
  };
}

export function registerNpzExport(run: Command): void {
  run
    .command('npz_export')
    .description('export games that passed parity into one compressed .npz of training tensors')
    .requiredOption('--db <path>', 'game DB (only games with parity_status = passed are exported)')
    .requiredOption('--output-dir <dir>', 'folder for the .npz (an existing file is never overwritten)')
    .option('--output-name <file.npz>', 'file name (default <db>.<board>_<n>p.npz)')
    .option('--split-ratio <r>', 'fraction of games in the train split (default from config)')
    .option('--split-seed <n>', 'seed of the by-game split (default 0)')
    .option('--max-games <n>', 'export at most n parity-passed games (DB order); big boards need this, the tensor is built in memory')
    .option('--workflow-id <id>', 'workflow id (default npz-<board>_<n>p-<timestamp>)')
    .option('--dry-run', 'print the plan and start nothing')
    .option('--wait', 'wait for the result with a live progress bar')
    .action(async (o: NpzOptions, cmd: Command) => {
      const cfg = cliConfig(cmd);
      const d = cfg.pipeline.phases.npz_export;
      const { input, info, output } = npzInputFromOptions(o, { split_ratio: d.split_ratio, ...(d.queue ? { queue: d.queue } : {}) });
      const key = `${info.boardType}_${info.numPlayers}p`;
      const workflowId = o.workflowId ?? `npz-${key}-${timestamp()}`;
      if (o.dryRun) {
        console.log(`dry run: npz_export ${key}, nothing started`);
        console.log(`  workflow id:  ${workflowId}`);
        const passed = info.parity['passed'] ?? 0;
        const n = input.maxGames ? Math.min(input.maxGames, passed) : passed;
        console.log(`  DB:           ${input.db} (${info.games} games, ${passed} passed parity; ${n} will be exported)`);
        console.log(`  output:       ${output}`);
        console.log(`  split:        ${input.splitRatio} of games to train (seed ${input.splitSeed}), by game`);
        console.log(`  queue:        ${input.activityQueue ?? 'cpu'}`);
        return;
      }
      await startPhase(cfg, {
        workflowType: 'npzExport',
        workflowId,
        args: [input],
        board: info.boardType,
        configKey: key,
        phase: 'npz_export',
        wait: o.wait ?? false,
        describeResult: (r) => {
          const res = r as NpzExportWorkflowResult;
          return (
            `done: ${res.positions} positions from ${res.games} games (train ${res.trainGames} / val ${res.valGames} games) → ${res.output.path}\n` +
            `  ${(res.bytes / 1e6).toFixed(2)} MB, sha256 ${res.output.sha256.slice(0, 12)}…, ${Math.round(res.positionsPerSecond)} positions/s`
          );
        },
      });
    });
}
