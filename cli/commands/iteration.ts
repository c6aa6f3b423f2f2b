// `ringrift pipeline run iteration --config-key K [--games N] [--seed S] [--wait]`: one training
// iteration (workflows/trainingIteration.ts) — self-play → parity → export → train → promote.
import type { Command } from 'commander';
import { completeTrainingIteration } from '../../activities/iterationInput';
import { parseConfigKey } from '../../store/registry';
import { iterationPaths, type TrainingIterationInput, type TrainingIterationResult } from '../../workflows/trainingIteration';
import { cliConfig } from '../context';
import { UserError } from '../errors';
import { describeIteration, readIteration } from '../iterationRun';
import { startPhase, timestamp } from '../pipelineRun';
import { parseIntOption } from './pipeline';

interface IterationOptions {
  configKey: string;
  games?: string;
  seed?: string;
  iteration?: string;
  selfplayPlayer?: string;
  trainSteps?: string;
  skipGates?: boolean;
  workflowId?: string;
  dryRun?: boolean;
  wait?: boolean;
}

/** The minimal workflow input: what was given; the worker fills the rest from config (as the dry run shows). */
export function iterationInputFromOptions(o: IterationOptions): TrainingIterationInput {
  try {
    parseConfigKey(o.configKey);
  } catch (err) {
    throw new UserError(`--config-key: ${(err as Error).message}`);
  }
  return {
    configKey: o.configKey,
    ...(o.games !== undefined ? { games: parseIntOption('--games', o.games, 1) } : {}),
    // a fresh seed per run unless one is given: each iteration plays new games
    seed: o.seed !== undefined ? parseIntOption('--seed', o.seed, 0, 0xffffffff) : Date.now() % 0x100000000,
    ...(o.iteration !== undefined ? { iteration: parseIntOption('--iteration', o.iteration, 0) } : {}),
    ...(o.selfplayPlayer !== undefined ? { selfplayPlayer: o.selfplayPlayer } : {}),
    ...(o.trainSteps !== undefined ? { trainSteps: parseIntOption('--train-steps', o.trainSteps, 1) } : {}),
    ...(o.skipGates ? { skipGates: true } : {}),
  };
}

export function registerIteration(run: Command): void {
  run
    .command('iteration')
    .description(
      'one training iteration: self-play with best (heuristic before there is one) → parity → NPZ export → train (warm start from best) → gauntlet and promotion',
    )
    .requiredOption('--config-key <key>', 'e.g. square8_2p')
    .option('--games <n>', 'self-play games (default from config phases.iteration.games)')
    .option('--seed <n>', 'iteration seed; self-play and gauntlet seeds derive from it (default: from the clock)')
    .option('--iteration <n>', 'iteration number, for lineage (default 0)')
    .option('--selfplay-player <spec>', 'self-play player (default: phases.iteration.bestPlayer with best, else firstPlayer)')
    .option('--train-steps <n>', 'training steps (default from config)')
    .option('--skip-gates', 'promote without the gauntlet (tests)')
    .option('--workflow-id <id>', 'workflow id (default iteration-<config>-<timestamp>)')
    .option('--dry-run', 'print the plan and start nothing')
    .option('--wait', 'wait for the outcome, showing the running phase and its progress')
    .action(async (o: IterationOptions, cmd: Command) => {
      const cfg = cliConfig(cmd);
      const input = iterationInputFromOptions(o);
      const workflowId = o.workflowId ?? `iteration-${input.configKey}-${timestamp()}`;
      // the plan the worker would make (its config and registry may differ on another host)
      const { input: plan, problems } = completeTrainingIteration({ skipGates: false, collectOnly: false, ...input }, cfg);
      if (problems.length > 0) throw new UserError(problems.map((p) => p.replace(/^selfplayPlayer:/, '--selfplay-player:')).join('; '));
      if (o.dryRun) {
        const paths = iterationPaths(plan, workflowId);
        const g = plan.gauntlet;
        console.log(`dry run: iteration ${plan.iteration} of ${plan.configKey}, nothing started`);
        console.log(`  workflow id: ${workflowId}`);
        console.log(`  self-play:   ${plan.games} games as ${plan.selfplayPlayer} (seed ${plan.seed}) → ${paths.gamesDb}`);
        console.log(`  export:      ${paths.npzDir}/${paths.npzName}`);
        const t = { ...cfg.pipeline.phases.train, ...plan.train };
        const net = t.blocks && t.channels ? `${t.blocks}×${t.channels}` : `${t.preset} preset`;
        console.log(
          `  train:       ${plan.trainSteps} steps × ${t.batchSize} of a ${net} net from ${plan.bestId ?? 'scratch'} on ${paths.npzDir}`,
        );
        console.log(
          `  promote:     ${plan.skipGates ? 'gates skipped' : `gauntlet ${g.gamesPerOpponent} games per baseline, floors ${JSON.stringify(g.floors)}${plan.bestId ? `, SPRT vs best up to ${g.sprt?.maxGames ?? '-'} games` : ''}`}`,
        );
        return;
      }
      await startPhase(cfg, {
        workflowType: 'trainingIteration',
        workflowId,
        args: [input],
        board: plan.boardType,
        configKey: plan.configKey,
        phase: 'iteration',
        wait: o.wait ?? false,
        describeResult: (r) => describeIteration(r as TrainingIterationResult),
        readState: readIteration,
      });
    });
}
