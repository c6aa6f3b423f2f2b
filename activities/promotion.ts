// Promotion saga steps and their compensations, each one registry transaction (store/registryBest.ts)
// and idempotent, so a retry after a killed worker, or a compensation run twice, is safe. Every step
// first repairs best.onnx from the pointer (publishBest), so pointer and file agree whatever came before.
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { RegistryError, bestModel, closeRegistry, openRegistry, publishedBestPath, requireModel, type Registry } from '../store/registry';
import { listEvents, markModel, publishBest, restoreBest, setBest } from '../store/registryBest';
import { fileSha256Sync } from '../store/gameDb';
import fs from 'node:fs';

export interface RegistryStep {
  registryDir: string;
  workflowId: string;
}

function inRegistry<T>(dir: string, fn: (reg: Registry) => T): T {
  let reg: Registry;
  try {
    reg = openRegistry(dir);
  } catch (err) {
    if (err instanceof RegistryError) throw ApplicationFailure.nonRetryable(err.message, 'RegistryError');
    throw err;
  }
  try {
    return fn(reg);
  } catch (err) {
    if (err instanceof RegistryError && err.code !== 'bad_file') throw ApplicationFailure.nonRetryable(err.message, 'RegistryError');
    throw err;
  } finally {
    closeRegistry(reg);
  }
}

/** Test hook: the fault tests pause a step here so that a worker can be killed inside it. */
async function faultPause(step: string): Promise<void> {
  const ms = Number(process.env[`RINGRIFT_TEST_PAUSE_${step.toUpperCase()}_MS`] ?? 0);
  if (ms > 0) {
    log.info(`pausing in ${step}`, { ms });
    for (let left = ms; left > 0; left -= 1000) {
      Context.current().heartbeat();
      await sleep(Math.min(1000, left));
    }
  }
}

export interface BestState {
  configKey: string;
  bestId: string | null;
  bestSha256: string | null;
  /** sha256 of <configKey>/best.onnx, null when absent */
  publishedSha256: string | null;
}

/** The pointer and the published file, read together (the file is checked after the pointer). */
export function readBestState(reg: Registry, configKey: string): BestState {
  const best = bestModel(reg, configKey);
  const file = publishedBestPath(reg, configKey);
  return {
    configKey,
    bestId: best?.id ?? null,
    bestSha256: best?.sha256 ?? null,
    publishedSha256: fs.existsSync(file) ? fileSha256Sync(file) : null,
  };
}

export function createPromotionActivities() {
  return {
    /** Step 1: the candidate exists, is of this config key and may still be promoted. */
    async registerCandidate(input: RegistryStep & { modelId: string; configKey: string }): Promise<{ id: string; status: string }> {
      return inRegistry(input.registryDir, (reg) => {
        const m = requireModel(reg, input.modelId);
        if (m.configKey !== input.configKey)
          throw new RegistryError(`model ${m.id} is a ${m.configKey} model, not ${input.configKey}`, 'wrong_config');
        if (m.status === 'rejected' || m.status === 'failed') {
          throw new RegistryError(
            `model ${m.id} is ${m.status}${m.statusReason ? ` (${m.statusReason})` : ''}: it cannot be promoted`,
            'bad_status',
          );
        }
        if (m.status === 'best') throw new RegistryError(`model ${m.id} is already the best ${m.configKey} model`, 'bad_status');
        publishBest(reg, input.configKey);
        return { id: m.id, status: m.status };
      });
    },

    /** Compensation of step 1: the candidate becomes `rejected` with the reason (nothing when it already is). */
    async markRejected(input: RegistryStep & { modelId: string; reason: string }): Promise<void> {
      inRegistry(input.registryDir, (reg) => {
        const m = requireModel(reg, input.modelId);
        if (m.status === 'rejected' || m.status === 'best') return; // best: restoreBest runs first and demotes it
        markModel(reg, input.modelId, 'rejected', { reason: input.reason, workflowId: input.workflowId });
      });
    },

    /** Step 3: pointer and best.onnx move together (setBest); returns the previous best for the compensation. */
    async promoteBest(
      input: RegistryStep & { modelId: string; configKey: string; reason: string },
    ): Promise<{ previousBestId: string | null }> {
      await faultPause('promote');
      const r = inRegistry(input.registryDir, (reg) => {
        publishBest(reg, input.configKey);
        return setBest(reg, input.modelId, { reason: input.reason, workflowId: input.workflowId });
      });
      await faultPause('promoted');
      return { previousBestId: r.previousBestId };
    },

    /** Compensation of step 3 (and the manual rollback): the previous best again, pointer and file together. */
    async restorePreviousBest(
      input: RegistryStep & { configKey: string; previousBestId: string | null; expectedBestId: string | null; reason: string },
    ): Promise<{ demotedId: string | null; changed: boolean }> {
      return inRegistry(input.registryDir, (reg) => {
        publishBest(reg, input.configKey);
        const current = bestModel(reg, input.configKey);
        // A retried compensation finds the previous best already back: nothing to do.
        if (input.expectedBestId !== null && current?.id !== input.expectedBestId) return { demotedId: null, changed: false };
        return restoreBest(reg, input.configKey, input.previousBestId, {
          reason: input.reason,
          workflowId: input.workflowId,
          demoteTo: 'rejected',
        });
      });
    },

    /** The manual rollback's plan: the current best and the one it replaced. */
    async rollbackTarget(input: RegistryStep & { configKey: string }): Promise<{ currentId: string; previousBestId: string | null }> {
      return inRegistry(input.registryDir, (reg) => {
        const current = bestModel(reg, input.configKey);
        if (!current) throw new RegistryError(`no best model for ${input.configKey}: nothing to roll back`, 'no_best');
        const promoted = listEvents(reg, { configKey: input.configKey })
          .filter((e) => e.kind === 'promoted' && e.modelId === current.id)
          .pop();
        return { currentId: current.id, previousBestId: promoted?.previousBestId ?? null };
      });
    },

    /**
     * Step 4, on every queue's worker: the best a worker plays from now on is the pointer's (shards
     * resolve `best` when they start and neural sessions are cached by file sha256, so nothing stale
     * can be played); this checks that the worker sees the published file agree with the pointer.
     */
    async reloadBest(input: RegistryStep & { configKey: string }): Promise<BestState> {
      return inRegistry(input.registryDir, (reg) => {
        publishBest(reg, input.configKey);
        const s = readBestState(reg, input.configKey);
        if (s.bestSha256 !== s.publishedSha256) throw new Error(`best.onnx of ${input.configKey} does not match the pointer`);
        log.info('best reloaded', { configKey: input.configKey, best: s.bestId });
        return s;
      });
    },
  };
}

export type PromotionActivities = ReturnType<typeof createPromotionActivities>;
