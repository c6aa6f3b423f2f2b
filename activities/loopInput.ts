// Completes the improvement loop's and the nightly promotion's inputs on the worker (see
// activities/phaseInput.ts): settings left out take this worker's config (loop, nightly, registry).
import { resolveFromRoot, type LoadedConfig } from '../config/load';
import type { z } from 'zod';
import type { WORKFLOW_INPUTS } from '../workflows/inputSchemas';
import type { LoopInput, LoopState } from '../workflows/improvementLoop';
import type { NightlyInput } from '../workflows/nightlyPromotion';
import { playerSpecProblems, type CompletedInput } from './phaseInput';

type Parsed<T extends keyof typeof WORKFLOW_INPUTS> = z.output<(typeof WORKFLOW_INPUTS)[T]['schema']>;

export function completeLoop(i: Parsed<'improvementLoop'>, cfg: LoadedConfig): CompletedInput<LoopInput> {
  const d = cfg.pipeline.loop;
  const problems: string[] = [];
  const dup = i.configKeys.filter((k, n) => i.configKeys.indexOf(k) !== n);
  if (dup.length) problems.push(`configKeys: ${dup.join(', ')} given twice`);
  for (const k of Object.keys(i.weights ?? {})) {
    if (!i.configKeys.includes(k)) problems.push(`weights.${k}: not one of this loop's config keys (${i.configKeys.join(', ')})`);
  }
  if (i.selfplayPlayer) problems.push(...playerSpecProblems([i.selfplayPlayer], 'selfplayPlayer'));
  const dir = (p: string | null | undefined) => (p ? resolveFromRoot(p) : null);
  return {
    input: {
      configKeys: i.configKeys,
      seed: i.seed,
      weights: i.weights ?? d.curriculum.weights,
      adapt: i.adapt ?? d.curriculum.adapt,
      gamesPerBatch: i.gamesPerBatch ?? d.gamesPerBatch,
      minNewPositions: i.minNewPositions ?? d.minNewPositions,
      maxConsecutiveFailures: i.maxConsecutiveFailures ?? d.maxConsecutiveFailures,
      maxIterations: i.maxIterations ?? null,
      selfplayPlayer: i.selfplayPlayer ?? null,
      trainSteps: i.trainSteps ?? null,
      skipGates: i.skipGates ?? false,
      dataDir: dir(i.dataDir),
      registryDir: dir(i.registryDir),
      ...(i.state ? { state: i.state as unknown as LoopState } : {}),
    },
    problems,
  };
}

export function completeNightly(i: Parsed<'nightlyPromotion'>, cfg: LoadedConfig): CompletedInput<NightlyInput> {
  return {
    input: {
      configKey: i.configKey,
      registryDir: resolveFromRoot(i.registryDir ?? cfg.pipeline.registry.dir),
      maxCandidates: i.maxCandidates ?? cfg.pipeline.nightly.maxCandidates,
      gauntlet: i.gauntlet,
    },
    problems: [],
  };
}
