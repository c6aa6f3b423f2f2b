// `ringrift models list|show|export`: the model registry (store/registry.ts) from the command line.
import type { Command } from 'commander';
import { resolveFromRoot } from '../../config/load';
import {
  MODEL_STATUSES,
  RegistryError,
  exportModel,
  listModels,
  withRegistry,
  type ModelRecord,
  type ModelStatus,
} from '../../store/registry';
import { modelLineage } from '../../store/registryLineage';
import { cliConfig } from '../context';
import { registerModelsPromotion } from './promote';
import { UserError } from '../errors';

function registryDir(cmd: Command): string {
  return resolveFromRoot(cliConfig(cmd).pipeline.registry.dir);
}

/** Registry errors are facts about the user's request: one line, exit 2. */
function inRegistry<T>(cmd: Command, fn: Parameters<typeof withRegistry<T>>[1]): T {
  try {
    return withRegistry(registryDir(cmd), fn);
  } catch (err) {
    if (err instanceof RegistryError) throw new UserError(err.message);
    throw err;
  }
}

const metric = (m: ModelRecord, key: string, digits = 3) => {
  const v = m.metrics[key];
  return typeof v === 'number' ? v.toFixed(digits) : '-';
};

function arch(m: ModelRecord): string {
  const a = m.architecture as { blocks?: number; channels?: number };
  return a.blocks && a.channels ? `${a.blocks}x${a.channels}` : '?';
}

export function registerModelsCommands(program: Command): void {
  const models = program.command('models').description('the model registry: trained models, their status and lineage');

  models
    .command('list')
    .description('models in the registry, oldest first')
    .option('--config-key <key>', 'only this config key, e.g. square8_2p')
    .option('--status <status>', `only this status: ${MODEL_STATUSES.join(', ')}`)
    .option('--json', 'one JSON object per model')
    .action((o: { configKey?: string; status?: string; json?: boolean }, cmd: Command) => {
      if (o.status !== undefined && !(MODEL_STATUSES as readonly string[]).includes(o.status)) {
        throw new UserError(`--status: unknown status "${o.status}": use one of ${MODEL_STATUSES.join(', ')}`);
      }
      const rows = inRegistry(cmd, (reg) =>
        listModels(reg, { ...(o.configKey ? { configKey: o.configKey } : {}), ...(o.status ? { status: o.status as ModelStatus } : {}) }),
      );
      if (o.json) {
        for (const m of rows) console.log(JSON.stringify(m));
        return;
      }
      if (rows.length === 0) {
        console.log(`no models${o.configKey ? ` for ${o.configKey}` : ''}: train one with 'ringrift pipeline run train'`);
        return;
      }
      console.log(
        `${'id'.padEnd(28)} ${'status'.padEnd(9)} ${'net'.padEnd(6)} ${'steps'.padStart(6)} ${'top-1'.padStart(6)} ${'v-loss'.padStart(6)}  parent / created`,
      );
      for (const m of rows) {
        const steps = typeof m.hyperparameters.steps === 'number' ? String(m.hyperparameters.steps) : '-';
        console.log(
          `${m.id.padEnd(28)} ${m.status.padEnd(9)} ${arch(m).padEnd(6)} ${steps.padStart(6)} ${metric(m, 'val_policy_top1').padStart(6)} ${metric(m, 'val_value_loss').padStart(6)}  ${m.parentId ?? 'scratch'} / ${m.createdAt}`,
        );
      }
    });

  models
    .command('show <id>')
    .description('one model: file, architecture, hyperparameters, metrics, and its lineage back to the game DBs')
    .option('--json', 'the record and lineage as JSON')
    .action((id: string, o: { json?: boolean }, cmd: Command) => {
      const lineage = inRegistry(cmd, (reg) => modelLineage(reg, id));
      const m = lineage[0]!.model;
      if (o.json) {
        console.log(JSON.stringify({ model: m, lineage: lineage.map((e) => ({ model: e.model.id, data: e.data })) }, null, 2));
        return;
      }
      console.log(`model:      ${m.id} (${m.status}${m.statusReason ? `: ${m.statusReason}` : ''})`);
      console.log(`config:     ${m.configKey}, ${arch(m)} residual net, ${m.params.toLocaleString('en-US')} parameters`);
      console.log(`file:       ${m.path} (sha256 ${m.sha256})`);
      console.log(`checkpoint: ${m.checkpointPath ?? '-'}`);
      console.log(`trained by: workflow ${m.workflowId} at ${m.createdAt}, git ${m.gitCommit.slice(0, 12)}`);
      console.log(`hyperparameters: ${JSON.stringify(m.hyperparameters)}`);
      console.log('metrics:');
      for (const [k, v] of Object.entries(m.metrics))
        console.log(`  ${k}: ${typeof v === 'number' ? +v.toPrecision(6) : JSON.stringify(v)}`);
      console.log('lineage:');
      lineage.forEach((e, depth) => {
        const pad = '  '.repeat(depth + 1);
        console.log(`${pad}${e.model.id}${depth === 0 ? '' : ` (${e.model.status})`}`);
        for (const d of e.data) {
          console.log(`${pad}  npz ${d.npz.path} [${d.npz.state}]${d.npz.positions !== null ? `, ${d.npz.positions} positions` : ''}`);
          if (d.gameDb) console.log(`${pad}    games ${d.gameDb.path} [${d.gameDb.state}]`);
        }
      });
      if (!lineage[lineage.length - 1]!.model.parentId) console.log(`${'  '.repeat(lineage.length + 1)}(trained from scratch)`);
    });

  models
    .command('export <id> <path>')
    .description("copy a model's ONNX file out of the registry (checked against its sha256; never overwrites)")
    .action((id: string, dest: string, _o, cmd: Command) => {
      const m = inRegistry(cmd, (reg) => exportModel(reg, id, dest));
      console.log(`exported ${m.id} to ${dest} (sha256 ${m.sha256.slice(0, 12)}…)`);
    });

  registerModelsPromotion(models);
}
