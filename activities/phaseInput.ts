// Completes a validated workflow input on the worker: optional fields left out take the defaults of
// this worker's config/pipeline.yaml, relative paths are resolved under the repository root, and
// player specs are checked. Run as a local activity, so the result is recorded in the history and a
// replay reads it back instead of the config.
import { adaptiveShardSize } from '../workflows/shardSize';
import path from 'node:path';
import { DEFAULT_CONFIG_DIR, loadConfig, resolveFromRoot, type LoadedConfig } from '../config/load';
import { PlayerSpecError, parsePlayerSpec } from '../ai/players';
import type { z } from 'zod';
import type { WORKFLOW_INPUTS, WorkflowType } from '../workflows/inputSchemas';
import type { SelfplayInput } from '../workflows/canonicalSelfplay';
import type { ParityInput } from '../workflows/parityValidation';
import type { NpzExportInput } from '../workflows/npzExport';
import type { TrainInput } from '../workflows/train';
import type { ClusterHealthInput } from '../workflows/clusterHealth';

type Parsed<T extends WorkflowType> = z.output<(typeof WORKFLOW_INPUTS)[T]['schema']>;

export interface CompletedInput<T> {
  input: T;
  /** problems only the worker can see (player specs, …), one line each */
  problems: string[];
}

/** The player mix is one spec for every seat or exactly one per seat, each a known player. */
export function playerMixProblems(mix: string[], numPlayers: number, field = 'playerMix'): string[] {
  const problems: string[] = [];
  for (const spec of mix) {
    try {
      parsePlayerSpec(spec);
    } catch (err) {
      if (!(err instanceof PlayerSpecError)) throw err;
      problems.push(`${field}: ${err.message}`);
    }
  }
  if (mix.length !== 1 && mix.length !== numPlayers) {
    problems.push(`${field}: ${mix.length} specs for ${numPlayers} players: give one spec for all seats, or exactly one per seat`);
  }
  return problems;
}

export function completeSelfplay(i: Parsed<'canonicalSelfplay'>, cfg: LoadedConfig): CompletedInput<SelfplayInput> {
  const d = cfg.pipeline.phases.canonical_selfplay;
  const playerMix = i.playerMix ?? d.playerMix;
  const input: SelfplayInput = {
    ...i,
    outputDb: resolveFromRoot(i.outputDb),
    shardSize: i.shardSize ?? d.shardSize ?? adaptiveShardSize({ ...i, playerMix }),
    playerMix,
    maxMoves: i.maxMoves ?? d.maxMoves,
    activityQueue: i.activityQueue ?? d.queue ?? 'cpu',
    heartbeatTimeoutSeconds: i.heartbeatTimeoutSeconds ?? d.heartbeatTimeoutSeconds,
  };
  return { input, problems: playerMixProblems(input.playerMix, input.numPlayers) };
}

export function completeParity(i: Parsed<'parityValidation'>, cfg: LoadedConfig): CompletedInput<ParityInput> {
  const d = cfg.pipeline.phases.parity_validation;
  const db = resolveFromRoot(i.db);
  return {
    input: {
      ...i,
      db,
      shardSize: i.shardSize ?? d.shardSize,
      failThreshold: i.failThreshold ?? d.fail_threshold,
      reportDir: i.reportDir ? resolveFromRoot(i.reportDir) : path.dirname(db),
      activityQueue: i.activityQueue ?? d.queue ?? 'cpu',
    },
    problems: [],
  };
}

export function completeNpzExport(i: Parsed<'npzExport'>, cfg: LoadedConfig): CompletedInput<NpzExportInput> {
  const d = cfg.pipeline.phases.npz_export;
  const problems =
    i.outputName !== null && (i.outputName.includes('/') || !i.outputName.endsWith('.npz'))
      ? [`outputName: a file name ending in .npz (no folders), got "${i.outputName}"`]
      : [];
  return {
    input: {
      ...i,
      db: resolveFromRoot(i.db),
      outputDir: resolveFromRoot(i.outputDir),
      splitRatio: i.splitRatio ?? d.split_ratio,
      activityQueue: i.activityQueue ?? d.queue ?? 'cpu',
    },
    problems,
  };
}

export function completeTrain(i: Parsed<'train'>, cfg: LoadedConfig): CompletedInput<TrainInput> {
  const d = cfg.pipeline.phases.train;
  const h = i.hyperparameters;
  return {
    input: {
      configKey: i.configKey,
      npz: i.npz.map(resolveFromRoot),
      initFrom: i.initFrom,
      registryDir: resolveFromRoot(i.registryDir ?? cfg.pipeline.registry.dir),
      hyperparameters: {
        steps: h.steps ?? d.steps,
        batchSize: h.batchSize ?? d.batchSize,
        learningRate: h.learningRate ?? d.learningRate,
        weightDecay: h.weightDecay ?? d.weightDecay,
        warmupSteps: h.warmupSteps !== undefined ? h.warmupSteps : d.warmupSteps,
        preset: h.preset ?? d.preset,
        blocks: h.blocks !== undefined ? h.blocks : d.blocks,
        channels: h.channels !== undefined ? h.channels : d.channels,
        windowPositions: h.windowPositions ?? d.windowPositions,
        checkpointEvery: h.checkpointEvery ?? d.checkpointEvery,
        seed: h.seed ?? 1,
        threads: h.threads !== undefined ? h.threads : d.threads,
      },
      queue: i.queue ?? d.queue ?? 'gpu',
      fallbackQueue: i.fallbackQueue ?? d.fallbackQueue,
      heartbeatTimeoutSeconds: i.heartbeatTimeoutSeconds ?? d.heartbeatTimeoutSeconds,
    },
    problems: [],
  };
}

export function completeClusterHealth(i: Parsed<'clusterHealth'>, cfg: LoadedConfig): CompletedInput<ClusterHealthInput> {
  const d = cfg.pipeline.health;
  return {
    input: { queues: i.queues ?? d.queues, scheduleToStartSeconds: i.scheduleToStartSeconds ?? d.scheduleToStartSeconds },
    problems: [],
  };
}

const COMPLETERS: { [T in WorkflowType]: (i: Parsed<T>, cfg: LoadedConfig) => CompletedInput<unknown> } = {
  canonicalSelfplay: completeSelfplay,
  parityValidation: completeParity,
  npzExport: completeNpzExport,
  train: completeTrain,
  clusterHealth: completeClusterHealth,
};

export function createPhaseInputActivities(deps: { config?: LoadedConfig }) {
  return {
    /** The defaults this worker would use; the workflow records the answer. */
    async completeWorkflowInput<T extends WorkflowType>(req: { type: T; input: Parsed<T> }): Promise<CompletedInput<unknown>> {
      const cfg = deps.config ?? loadConfig(process.env.RINGRIFT_CONFIG_DIR ?? DEFAULT_CONFIG_DIR);
      return COMPLETERS[req.type](req.input, cfg);
    },
  };
}

export type PhaseInputActivities = ReturnType<typeof createPhaseInputActivities>;
