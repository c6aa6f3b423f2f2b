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
import { completeTrainingIteration } from './iterationInput';
import { completeLoop, completeNightly } from './loopInput';
import type { GauntletInput } from '../workflows/gauntlet';
import type { PromoteInput } from '../workflows/promote';

type Parsed<T extends WorkflowType> = z.output<(typeof WORKFLOW_INPUTS)[T]['schema']>;

export interface CompletedInput<T> {
  input: T;
  /** problems only the worker can see (player specs, …), one line each */
  problems: string[];
}

/** One line per spec that is not a known player. */
export function playerSpecProblems(specs: string[], field: string): string[] {
  const problems: string[] = [];
  for (const spec of specs) {
    try {
      parsePlayerSpec(spec);
    } catch (err) {
      if (!(err instanceof PlayerSpecError)) throw err;
      problems.push(`${field}: ${err.message}`);
    }
  }
  return problems;
}

/** The player mix is one spec for every seat or exactly one per seat, each a known player. */
export function playerMixProblems(mix: string[], numPlayers: number, field = 'playerMix'): string[] {
  const problems = playerSpecProblems(mix, field);
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

type GauntletSettings = Omit<Parsed<'gauntlet'>, 'configKey' | 'candidate' | 'plan'>;

/** The gauntlet's settings from `g`, each one left out taken from config (as `ringrift pipeline run gauntlet` does). */
function gauntletSettings(
  configKey: string,
  g: GauntletSettings,
  cfg: LoadedConfig,
  field: string,
): { settings: Omit<GauntletInput, 'candidate' | 'plan'>; problems: string[] } {
  const d = cfg.pipeline.phases.gauntlet;
  const [boardType, players] = configKey.split(/_(?=[2-4]p$)/) as [GauntletInput['boardType'], string];
  const numPlayers = Number(players.slice(0, -1));
  const problems: string[] = [];
  if (g.boardType !== undefined && g.boardType !== boardType)
    problems.push(`${field}boardType: ${g.boardType} does not match configKey ${configKey}`);
  if (g.numPlayers !== undefined && g.numPlayers !== numPlayers)
    problems.push(`${field}numPlayers: ${g.numPlayers} does not match configKey ${configKey}`);
  const baselines = g.baselines ?? d.baselines;
  problems.push(...playerSpecProblems(baselines, `${field}baselines`));
  const settings: Omit<GauntletInput, 'candidate' | 'plan'> = {
    configKey,
    boardType,
    numPlayers,
    registryDir: resolveFromRoot(g.registryDir ?? cfg.pipeline.registry.dir),
    candidateTemplate: g.candidateTemplate ?? d.candidatePlayer,
    baselines,
    includeBest: g.includeBest ?? d.includeBest,
    earlierBests: g.earlierBests ?? d.earlierBests,
    gamesPerOpponent: g.gamesPerOpponent ?? d.gamesPerBaseline,
    seed: g.seed ?? Date.now() % 0x100000000,
    roundsPerShard: g.roundsPerShard ?? d.roundsPerShard,
    maxMoves: g.maxMoves ?? d.maxMoves,
    evalDir: resolveFromRoot(g.evalDir ?? d.evalDir),
    sprt: g.sprt !== undefined ? g.sprt : d.sprt,
    floors: g.floors ?? d.floors,
    parallelShards: g.parallelShards ?? d.parallelShards,
    activityQueue: g.activityQueue ?? d.queue ?? 'cpu',
    heartbeatTimeoutSeconds: g.heartbeatTimeoutSeconds ?? d.heartbeatTimeoutSeconds,
  };
  if (!settings.candidateTemplate.includes('{model}')) problems.push(`${field}candidateTemplate: must contain {model}`);
  return { settings, problems };
}

export function completeGauntlet(i: Parsed<'gauntlet'>, cfg: LoadedConfig): CompletedInput<GauntletInput> {
  const { configKey, candidate, plan, ...g } = i;
  const { settings, problems } = gauntletSettings(configKey, g, cfg, '');
  return { input: { ...settings, candidate, ...(plan ? { plan } : {}) }, problems };
}

export function completePromote(i: Parsed<'promote'>, cfg: LoadedConfig): CompletedInput<PromoteInput> {
  const d = cfg.pipeline.phases.promote;
  const { configKey: gKey, ...g } = i.gauntlet;
  const problems: string[] = [];
  if (i.mode === 'promote' && i.candidate === undefined) problems.push('candidate: is required to promote');
  if (i.mode === 'rollback' && i.candidate !== undefined) problems.push('candidate: a rollback takes no candidate: remove it');
  if (gKey !== undefined && gKey !== i.configKey) problems.push(`gauntlet.configKey: ${gKey} does not match configKey ${i.configKey}`);
  const gauntlet = gauntletSettings(i.configKey, { ...g, registryDir: g.registryDir ?? i.registryDir }, cfg, 'gauntlet.');
  problems.push(...gauntlet.problems);
  return {
    input: {
      mode: i.mode,
      configKey: i.configKey,
      registryDir: resolveFromRoot(i.registryDir ?? cfg.pipeline.registry.dir),
      ...(i.candidate !== undefined ? { candidate: i.candidate } : {}),
      skipGates: i.skipGates,
      ...(i.mode === 'rollback' ? { reason: i.reason ?? 'no reason given' } : {}),
      gauntlet: gauntlet.settings,
      regressionGames: i.regressionGames ?? d.regressionGames,
      regressionMarginElo: i.regressionMarginElo ?? d.regressionMarginElo,
      reloadQueues: i.reloadQueues ?? cfg.pipeline.health.queues,
    },
    problems,
  };
}

const COMPLETERS: { [T in WorkflowType]: (i: Parsed<T>, cfg: LoadedConfig) => CompletedInput<unknown> } = {
  canonicalSelfplay: completeSelfplay,
  parityValidation: completeParity,
  npzExport: completeNpzExport,
  train: completeTrain,
  clusterHealth: completeClusterHealth,
  trainingIteration: completeTrainingIteration,
  gauntlet: completeGauntlet,
  promote: completePromote,
  improvementLoop: completeLoop,
  nightlyPromotion: completeNightly,
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
