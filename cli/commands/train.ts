// `ringrift pipeline run train`: NPZ files → a registered ONNX model (PyTorch on the gpu queue, or cpu).
import type { Command } from 'commander';
import { resolveFromRoot } from '../../config/load';
import { RegistryError, parseConfigKey, resolveModel } from '../../store/registry';
import { TrainingNpzError, describeTrainingNpz, expandNpzInputs, type TrainingNpzInfo } from '../../store/trainingNpz';
import type { TrainHyperparameters } from '../../activities/train';
import type { TrainInput, TrainResult } from '../../workflows/train';
import { cliConfig } from '../context';
import { UserError } from '../errors';
import { startPhase, timestamp } from '../pipelineRun';
import { parseIntOption } from './pipeline';

interface TrainOptions {
  npz: string[];
  configKey: string;
  steps?: string;
  batchSize?: string;
  lr?: string;
  preset?: string;
  blocks?: string;
  channels?: string;
  initFrom: string;
  seed?: string;
  workflowId?: string;
  dryRun?: boolean;
  wait?: boolean;
}

function parseNumberOption(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UserError(`${name}: expected a positive number, got "${value}"`);
  return n;
}

/** Every input checked as the workflow's plan will check it, so mistakes cost one line and start nothing. */
async function checkInputs(o: TrainOptions, registryDir: string): Promise<{ data: TrainingNpzInfo[]; parentId: string | null }> {
  try {
    parseConfigKey(o.configKey);
  } catch (err) {
    throw new UserError(`--config-key: ${(err as Error).message}`);
  }
  const data: TrainingNpzInfo[] = [];
  try {
    for (const f of expandNpzInputs(o.npz)) data.push(await describeTrainingNpz(f, o.configKey));
  } catch (err) {
    if (err instanceof TrainingNpzError) throw new UserError(`--npz: ${err.message}`);
    throw err;
  }
  if (data.reduce((n, d) => n + d.trainPositions, 0) === 0) {
    throw new UserError(`--npz: the training split is empty in ${data.map((d) => d.path).join(', ')}: export more games`);
  }
  if (o.initFrom === 'scratch') return { data, parentId: null };
  try {
    const m = resolveModel(registryDir, o.configKey, o.initFrom);
    if (!m.checkpointPath) throw new UserError(`--init-from: model ${m.id} has no training checkpoint to warm-start from: use scratch`);
    return { data, parentId: m.id };
  } catch (err) {
    if (err instanceof RegistryError) throw new UserError(`--init-from: ${err.message}`);
    throw err;
  }
}

export function registerTrain(run: Command): void {
  run
    .command('train')
    .description('train a policy/value network on NPZ files and register the checked ONNX model as a candidate')
    .requiredOption('--npz <paths...>', 'NPZ files or folders of them (newest files first fill the window)')
    .requiredOption('--config-key <key>', 'e.g. square8_2p; every NPZ must hold this config')
    .option('--steps <n>', 'optimizer steps (default from config)')
    .option('--batch-size <n>', 'positions per step (default from config)')
    .option('--lr <x>', 'peak learning rate (default from config)')
    .option('--preset <name>', 'network size: cpu (small) or gpu (large)')
    .option('--blocks <n>', 'residual blocks (overrides the preset)')
    .option('--channels <n>', 'trunk channels (overrides the preset)')
    .option('--init-from <ref>', 'warm start: a model id, best, or scratch', 'scratch')
    .option('--seed <n>', 'data order and initialisation seed (default 1)')
    .option('--workflow-id <id>', 'workflow id (default train-<config>-<timestamp>)')
    .option('--dry-run', 'check the inputs, print the plan and start nothing')
    .option('--wait', 'wait for the result with a live progress bar')
    .action(async (o: TrainOptions, cmd: Command) => {
      const cfg = cliConfig(cmd);
      const d = cfg.pipeline.phases.train;
      const registryDir = resolveFromRoot(cfg.pipeline.registry.dir);
      const preset = o.preset ?? d.preset;
      if (preset !== 'cpu' && preset !== 'gpu') throw new UserError(`--preset: unknown preset "${preset}": use cpu or gpu`);
      const hyperparameters: TrainHyperparameters = {
        steps: o.steps !== undefined ? parseIntOption('--steps', o.steps, 1) : d.steps,
        batchSize: o.batchSize !== undefined ? parseIntOption('--batch-size', o.batchSize, 1, 65536) : d.batchSize,
        learningRate: o.lr !== undefined ? parseNumberOption('--lr', o.lr) : d.learningRate,
        weightDecay: d.weightDecay,
        warmupSteps: d.warmupSteps,
        preset,
        blocks: o.blocks !== undefined ? parseIntOption('--blocks', o.blocks, 1, 64) : d.blocks,
        channels: o.channels !== undefined ? parseIntOption('--channels', o.channels, 4, 1024) : d.channels,
        windowPositions: d.windowPositions,
        checkpointEvery: d.checkpointEvery,
        seed: o.seed !== undefined ? parseIntOption('--seed', o.seed, 0, 0xffffffff) : 1,
        threads: d.threads,
      };
      const { data, parentId } = await checkInputs(o, registryDir);
      const input: TrainInput = {
        configKey: o.configKey,
        npz: data.map((x) => x.path),
        initFrom: parentId ?? 'scratch',
        registryDir,
        hyperparameters,
        queue: d.queue ?? 'gpu',
        fallbackQueue: d.fallbackQueue,
        heartbeatTimeoutSeconds: d.heartbeatTimeoutSeconds,
      };
      const workflowId = o.workflowId ?? `train-${o.configKey}-${timestamp()}`;
      if (o.dryRun) {
        const net =
          hyperparameters.blocks || hyperparameters.channels
            ? `${hyperparameters.blocks ?? '?'}x${hyperparameters.channels ?? '?'}`
            : `preset ${preset}`;
        console.log(`dry run: train ${o.configKey}, nothing started`);
        console.log(`  workflow id:  ${workflowId}`);
        console.log(
          `  data:         ${data.length} NPZ file(s), ${data.reduce((n, x) => n + x.trainPositions, 0)} train / ${data.reduce((n, x) => n + x.valPositions, 0)} val positions`,
        );
        for (const x of data) console.log(`                ${x.path} (${x.positions} positions, sha256 ${x.sha256.slice(0, 12)}…)`);
        console.log(`  network:      ${net}, ${parentId ? `warm start from ${parentId}` : 'from scratch'}`);
        console.log(
          `  steps:        ${hyperparameters.steps} x ${hyperparameters.batchSize} positions, lr ${hyperparameters.learningRate}, checkpoint every ${hyperparameters.checkpointEvery}`,
        );
        console.log(`  queue:        ${input.queue} when a worker polls it, else ${input.fallbackQueue}`);
        console.log(`  registry:     ${registryDir}`);
        return;
      }
      const { boardType } = parseConfigKey(o.configKey);
      await startPhase(cfg, {
        workflowType: 'train',
        workflowId,
        args: [input],
        board: boardType,
        configKey: o.configKey,
        phase: 'train',
        wait: o.wait ?? false,
        describeResult: (r) => describeTrainResult(r as TrainResult),
      });
    });
}

export function describeTrainResult(res: TrainResult): string {
  const m = res.run.metrics as Record<string, number | undefined>;
  const num = (x: number | undefined, digits = 3) => (typeof x === 'number' ? x.toFixed(digits) : '?');
  return [
    `done: model ${res.model.id} registered as a candidate${res.model.created ? '' : ' (already registered)'}`,
    `  trained ${res.run.steps} steps on queue ${res.queue} (${res.run.device}) in ${res.run.seconds.toFixed(0)} s${res.run.resumedFrom !== null ? `, resumed from step ${res.run.resumedFrom}` : ''}`,
    `  validation: policy top-1 ${num(m.val_policy_top1)} (uniform pick ${num(m.val_uniform_top1)}), value loss ${num(m.val_value_loss)} (predicting 0: ${num(m.val_value_loss_zero)})`,
    `  file: ${res.model.path} (sha256 ${res.model.sha256.slice(0, 12)}…), export max |diff| ${res.run.exportMaxAbsDiff.policy.toExponential(1)} / ${res.run.exportMaxAbsDiff.value.toExponential(1)}`,
  ].join('\n');
}
