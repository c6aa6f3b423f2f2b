// `ringrift pipeline run gauntlet --candidate ID --config-key K [--games N] [--wait]`.
import type { Command } from 'commander';
import type { LoadedConfig } from '../../config/load';
import { resolveFromRoot } from '../../config/load';
import { planGauntlet, type GauntletPlan } from '../../activities/gauntlet';
import { RegistryError, parseConfigKey } from '../../store/registry';
import type { GauntletInput, GauntletResult } from '../../workflows/gauntlet';
import { UserError } from '../errors';
import { cliConfig } from '../context';
import { startPhase, timestamp } from '../pipelineRun';
import { parseIntOption } from './pipeline';

export interface GauntletOptions {
  candidate: string;
  configKey: string;
  games?: string;
  maxGames?: string;
  seed?: string;
  baselines?: string;
  noBest?: boolean;
  workflowId?: string;
  dryRun?: boolean;
  wait?: boolean;
}

/** The workflow input from options and config, every problem one line (UserError); the plan is checked here too. */
export function gauntletInputFromOptions(o: GauntletOptions, cfg: LoadedConfig): { input: GauntletInput; plan: GauntletPlan } {
  const g = cfg.pipeline.phases.gauntlet;
  let board;
  try {
    board = parseConfigKey(o.configKey);
  } catch (err) {
    throw new UserError(`--config-key: ${(err as Error).message}`);
  }
  const games = o.games !== undefined ? parseIntOption('--games', o.games, 1, 1_000_000) : g.gamesPerBaseline;
  const maxGames = o.maxGames !== undefined ? parseIntOption('--max-games', o.maxGames, 2, 1_000_000) : g.sprt.maxGames;
  const seed = o.seed !== undefined ? parseIntOption('--seed', o.seed, 0, 0xffffffff) : Date.now() % 0x100000000;
  const baselines = o.baselines !== undefined ? o.baselines.split(',').map((s) => s.trim()) : g.baselines;
  const input: GauntletInput = {
    configKey: o.configKey,
    boardType: board.boardType,
    numPlayers: board.numPlayers,
    registryDir: resolveFromRoot(cfg.pipeline.registry.dir),
    candidate: o.candidate,
    candidateTemplate: g.candidatePlayer,
    baselines,
    includeBest: g.includeBest && !o.noBest,
    earlierBests: g.earlierBests,
    gamesPerOpponent: games,
    seed,
    roundsPerShard: g.roundsPerShard,
    maxMoves: g.maxMoves,
    evalDir: resolveFromRoot(g.evalDir),
    sprt: { ...g.sprt, maxGames },
    floors: g.floors,
    parallelShards: g.parallelShards,
    heartbeatTimeoutSeconds: g.heartbeatTimeoutSeconds,
    ...(g.queue ? { activityQueue: g.queue } : {}),
  };
  try {
    return { input, plan: planGauntlet(input) };
  } catch (err) {
    if (err instanceof RegistryError) throw new UserError(`--candidate: ${err.message}`);
    throw err;
  }
}

export function describeGauntlet(r: GauntletResult): string {
  const lines = [`${r.passed ? 'passed' : 'failed'}: ${r.candidate.name}, ${r.games} games in ${r.evalDb.path}`];
  for (const o of r.opponents) {
    lines.push(
      `  vs ${o.name.padEnd(10)} ${String(o.games).padStart(5)} games  +${o.wins} =${o.draws} -${o.losses}  score ${o.rate.toFixed(3)} [${o.lo.toFixed(3)}, ${o.hi.toFixed(3)}]${o.floor !== null ? ` floor ${o.floor}` : ''}`,
    );
  }
  if (r.sprt) {
    lines.push(
      `  SPRT: ${r.sprt.state}, LLR ${r.sprt.llr.toFixed(2)} [${r.sprt.lower.toFixed(2)}, ${r.sprt.upper.toFixed(2)}], Elo ${r.sprt.elo.toFixed(1)} [${r.sprt.eloLo.toFixed(1)}, ${r.sprt.eloHi.toFixed(1)}], pentanomial ${r.sprt.pairs ? JSON.stringify(r.opponents.find((o) => o.role === 'best')?.penta) : '-'}`,
    );
  }
  for (const reason of r.reasons) lines.push(`  gate: ${reason}`);
  return lines.join('\n');
}

export function registerGauntlet(run: Command): void {
  run
    .command('gauntlet')
    .description('play a candidate against random, heuristic and the current best (SPRT), into its own evaluation DB; judge the gates')
    .requiredOption('--candidate <id>', 'a registry model id (played as gauntlet.candidatePlayer) or a player spec')
    .requiredOption('--config-key <key>', 'e.g. square8_2p')
    .option('--games <n>', 'games against each baseline (default from config)')
    .option('--max-games <n>', 'SPRT: most games against the best (default from config)')
    .option('--baselines <specs>', 'comma-separated baseline specs (default from config)')
    .option('--no-best', 'do not play the current best')
    .option('--seed <n>', 'run seed (default: from the clock, so each run has fresh seeds)')
    .option('--workflow-id <id>', 'workflow id (default gauntlet-<config>-<timestamp>)')
    .option('--dry-run', 'print the plan and start nothing')
    .option('--wait', 'wait for the result with a live progress bar (games, score, LLR)')
    .action(async (o: GauntletOptions & { best?: boolean }, cmd: Command) => {
      const cfg = cliConfig(cmd);
      const { input, plan } = gauntletInputFromOptions({ ...o, noBest: o.best === false }, cfg);
      const workflowId = o.workflowId ?? `gauntlet-${input.configKey}-${timestamp()}`;
      if (o.dryRun) {
        console.log(`dry run: gauntlet ${input.configKey}, nothing started`);
        console.log(`  workflow id: ${workflowId}`);
        console.log(`  candidate:   ${plan.candidate.spec}`);
        for (const op of plan.opponents) {
          const games =
            op.role === 'best' && input.numPlayers === 2
              ? `SPRT [${input.sprt!.elo0}, ${input.sprt!.elo1}], at most ${input.sprt!.maxGames} games`
              : `${input.gamesPerOpponent} games`;
          console.log(`  vs ${op.name.padEnd(10)} ${op.spec}: ${games}`);
        }
        console.log(`  eval DB:     ${input.evalDir}/${input.configKey}/${workflowId}.db (seed ${input.seed})`);
        return;
      }
      await startPhase(cfg, {
        workflowType: 'gauntlet',
        workflowId,
        args: [input],
        board: input.boardType,
        configKey: input.configKey,
        phase: 'gauntlet',
        wait: o.wait ?? false,
        describeResult: (r) => describeGauntlet(r as GauntletResult),
      });
    });
}
