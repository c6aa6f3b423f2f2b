// `ringrift pipeline run promote --candidate ID …`, `ringrift models promote <id> [--skip-gates]` and
// `ringrift models rollback --config-key K`: all start the same `promote` workflow (workflows/promote.ts).
import type { Command } from 'commander';
import type { LoadedConfig } from '../../config/load';
import { resolveFromRoot } from '../../config/load';
import { RegistryError, bestModel, parseConfigKey, requireModel, withRegistry } from '../../store/registry';
import type { PromoteInput, PromoteResult } from '../../workflows/promote';
import { UserError } from '../errors';
import { cliConfig } from '../context';
import { startPhase, timestamp } from '../pipelineRun';
import { gauntletInputFromOptions } from './gauntlet';

interface PromoteOptions {
  candidate: string;
  configKey?: string;
  games?: string;
  maxGames?: string;
  seed?: string;
  skipGates?: boolean;
  workflowId?: string;
  dryRun?: boolean;
  wait?: boolean;
}

function registryFacts<T>(cfg: LoadedConfig, fn: Parameters<typeof withRegistry<T>>[1]): T {
  try {
    return withRegistry(resolveFromRoot(cfg.pipeline.registry.dir), fn);
  } catch (err) {
    if (err instanceof RegistryError) throw new UserError(err.message);
    throw err;
  }
}

export function promoteInputFromOptions(o: PromoteOptions, cfg: LoadedConfig): PromoteInput {
  const p = cfg.pipeline.phases.promote;
  const m = registryFacts(cfg, (reg) => requireModel(reg, o.candidate));
  if (o.configKey && o.configKey !== m.configKey)
    throw new UserError(`--config-key: model ${m.id} is a ${m.configKey} model, not ${o.configKey}`);
  if (m.status === 'best') throw new UserError(`--candidate: model ${m.id} is already the best ${m.configKey} model`);
  if (m.status === 'rejected' || m.status === 'failed') {
    throw new UserError(`--candidate: model ${m.id} is ${m.status}${m.statusReason ? ` (${m.statusReason})` : ''}: it cannot be promoted`);
  }
  const { input: gauntlet } = gauntletInputFromOptions({ ...o, configKey: m.configKey }, cfg);
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { candidate: _candidate, ...tpl } = gauntlet;
  return {
    mode: 'promote',
    configKey: m.configKey,
    registryDir: resolveFromRoot(cfg.pipeline.registry.dir),
    candidate: m.id,
    skipGates: o.skipGates ?? false,
    gauntlet: tpl,
    regressionGames: p.regressionGames,
    regressionMarginElo: p.regressionMarginElo,
    reloadQueues: cfg.pipeline.health.queues,
  };
}

export function describePromotion(r: PromoteResult): string {
  const lines = [`${r.outcome}: ${r.modelId ?? '-'} (previous best ${r.previousBestId ?? 'none'}): ${r.reason}`];
  if (r.gauntlet)
    lines.push(`  gauntlet: ${r.gauntlet.games} games, ${r.gauntlet.passed ? 'gates passed' : r.gauntlet.reasons.join('; ')}`);
  if (r.regression) {
    lines.push(
      `  regression check: ${r.regression.games} games vs the previous best, Elo ${r.regression.elo.toFixed(1)} [${r.regression.eloLo.toFixed(1)}, ${r.regression.eloHi.toFixed(1)}]`,
    );
  }
  if (r.compensated.length) lines.push(`  compensations run: ${r.compensated.join(' → ')}`);
  return lines.join('\n');
}

async function start(cfg: LoadedConfig, input: PromoteInput, o: { workflowId?: string; wait?: boolean }): Promise<void> {
  const workflowId = o.workflowId ?? `${input.mode}-${input.configKey}-${timestamp()}`;
  await startPhase(cfg, {
    workflowType: 'promote',
    workflowId,
    args: [input],
    board: parseConfigKey(input.configKey).boardType,
    configKey: input.configKey,
    phase: input.mode,
    wait: o.wait ?? false,
    describeResult: (r) => describePromotion(r as PromoteResult),
  });
}

function promoteCommand(cmd: Command, name: string, positional: boolean): Command {
  const c = positional ? cmd.command(`${name} <id>`) : cmd.command(name).requiredOption('--candidate <id>', 'the model id to promote');
  return c
    .description(
      'promote a candidate through the saga: gauntlet and gates, best pointer and best.onnx together, regression check with automatic rollback',
    )
    .option('--config-key <key>', 'check that the model is of this config key')
    .option('--skip-gates', 'promote without the gauntlet (the regression check still runs)')
    .option('--games <n>', 'gauntlet games against each baseline (default from config)')
    .option('--max-games <n>', 'SPRT: most games against the best (default from config)')
    .option('--seed <n>', 'gauntlet seed (default: from the clock)')
    .option('--workflow-id <id>', 'workflow id (default promote-<config>-<timestamp>)')
    .option('--dry-run', 'print the plan and start nothing')
    .option('--wait', 'wait for the outcome with a progress bar');
}

async function runPromote(o: PromoteOptions, cmd: Command): Promise<void> {
  const cfg = cliConfig(cmd);
  const input = promoteInputFromOptions(o, cfg);
  if (o.dryRun) {
    console.log(`dry run: promote ${input.candidate} (${input.configKey}), nothing started`);
    console.log(
      `  gates:      ${input.skipGates ? 'skipped' : `gauntlet vs ${input.gauntlet!.baselines.join(', ')}${input.gauntlet!.includeBest ? ', best (SPRT)' : ''}`}`,
    );
    console.log(`  regression: ${input.regressionGames} games vs the previous best, roll back below -${input.regressionMarginElo} Elo`);
    return;
  }
  await start(cfg, input, o);
}

export function registerPromote(run: Command): void {
  promoteCommand(run, 'promote', false).action((o: PromoteOptions, cmd: Command) => runPromote(o, cmd));
}

export function registerModelsPromotion(models: Command): void {
  promoteCommand(models, 'promote', true).action((id: string, o: Omit<PromoteOptions, 'candidate'>, cmd: Command) =>
    runPromote({ ...o, candidate: id }, cmd),
  );
  models
    .command('rollback')
    .description('restore the previous best of a config key (pointer and best.onnx together) and record why')
    .requiredOption('--config-key <key>', 'e.g. square8_2p')
    .option('--reason <text>', 'recorded with the rollback')
    .option('--workflow-id <id>', 'workflow id (default rollback-<config>-<timestamp>)')
    .option('--wait', 'wait for the outcome')
    .action(async (o: { configKey: string; reason?: string; workflowId?: string; wait?: boolean }, cmd: Command) => {
      try {
        parseConfigKey(o.configKey);
      } catch (err) {
        throw new UserError(`--config-key: ${(err as Error).message}`);
      }
      const cfg = cliConfig(cmd);
      const current = registryFacts(cfg, (reg) => bestModel(reg, o.configKey));
      if (!current) throw new UserError(`--config-key: ${o.configKey} has no best model: nothing to roll back`);
      const p = cfg.pipeline.phases.promote;
      await start(
        cfg,
        {
          mode: 'rollback',
          configKey: o.configKey,
          registryDir: resolveFromRoot(cfg.pipeline.registry.dir),
          reason: o.reason ?? 'requested from the command line',
          regressionGames: p.regressionGames,
          regressionMarginElo: p.regressionMarginElo,
          reloadQueues: cfg.pipeline.health.queues,
        },
        o,
      );
    });
}
