// Completes a trainingIteration input on the worker (the phaseInput completer, recorded in history):
// config phases.iteration fills what is left out, and the registry decides the self-play player and
// the warm start — best pinned to its id, so every shard and the training see the same model.
import fs from 'node:fs';
import path from 'node:path';
import type { LoadedConfig } from '../config/load';
import { resolveFromRoot } from '../config/load';
import { formatPlayerSpec, isNeuralSpec, parsePlayerSpec, PlayerSpecError } from '../ai/players';
import { RegistryError, bestModel, parseConfigKey, resolveModel, withRegistry } from '../store/registry';
import type { TrainingIterationInput, TrainingIterationPlan } from '../workflows/trainingIteration';

export interface CompletedIteration {
  input: TrainingIterationPlan;
  problems: string[];
}

/** The best model id of a config key, or null (also when there is no registry yet). */
export function currentBestId(registryDir: string, configKey: string): string | null {
  if (!fs.existsSync(path.join(registryDir, 'registry.db'))) return null;
  return withRegistry(registryDir, (reg) => bestModel(reg, configKey)?.id ?? null);
}

/** A seed for another stream of the same iteration (self-play uses the seed itself). */
export function derivedSeed(seed: number, stream: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + stream * 0x27d4eb2f) >>> 0;
}

/** The self-play player: given (best pinned to its id, the model checked) or from config. */
function selfplayPlayer(
  given: string | undefined,
  bestId: string | null,
  d: LoadedConfig['pipeline']['phases']['iteration'],
  registryDir: string,
  configKey: string,
): { spec: string; problems: string[] } {
  const raw = given ?? (bestId ? d.bestPlayer.replaceAll('{model}', bestId) : d.firstPlayer);
  const field = given !== undefined ? 'selfplayPlayer' : `config phases.iteration.${bestId ? 'bestPlayer' : 'firstPlayer'}`;
  let spec;
  try {
    spec = parsePlayerSpec(raw);
  } catch (err) {
    if (err instanceof PlayerSpecError) return { spec: raw, problems: [`${field}: ${err.message}`] };
    throw err;
  }
  if (!isNeuralSpec(spec)) return { spec: formatPlayerSpec(spec), problems: [] };
  try {
    const m = resolveModel(registryDir, configKey, spec.model);
    return { spec: formatPlayerSpec({ ...spec, model: m.id }), problems: [] };
  } catch (err) {
    if (err instanceof RegistryError) return { spec: raw, problems: [`${field}: ${err.message}`] };
    throw err;
  }
}

export function completeTrainingIteration(
  i: TrainingIterationInput & { skipGates: boolean; collectOnly: boolean },
  cfg: LoadedConfig,
): CompletedIteration {
  const d = cfg.pipeline.phases.iteration;
  const { boardType, numPlayers } = parseConfigKey(i.configKey); // the schema checked the key
  const registryDir = resolveFromRoot(i.registryDir ?? cfg.pipeline.registry.dir);
  const bestId = currentBestId(registryDir, i.configKey);
  const player = selfplayPlayer(i.selfplayPlayer, bestId, d, registryDir, i.configKey);
  const seed = i.seed ?? Date.now() % 0x100000000;
  const input: TrainingIterationPlan = {
    configKey: i.configKey,
    boardType,
    numPlayers,
    iteration: i.iteration ?? 0,
    games: i.games ?? d.games,
    seed,
    selfplayPlayer: player.spec,
    bestId,
    trainSteps: i.trainSteps ?? d.trainSteps,
    skipGates: i.skipGates,
    collectOnly: i.collectOnly,
    dataDir: resolveFromRoot(i.dataDir ?? d.dataDir),
    registryDir,
    gauntlet: {
      gamesPerOpponent: d.gauntlet.gamesPerBaseline,
      candidateTemplate: d.gauntlet.candidatePlayer,
      floors: d.gauntlet.floors,
      sprt: d.gauntlet.sprt,
      seed: derivedSeed(seed, 1),
      ...(d.heartbeatTimeoutSeconds !== null ? { heartbeatTimeoutSeconds: d.heartbeatTimeoutSeconds } : {}),
    },
    regressionGames: d.regressionGames,
    heartbeatTimeoutSeconds: d.heartbeatTimeoutSeconds,
    train: d.train,
  };
  return { input, problems: player.problems };
}
