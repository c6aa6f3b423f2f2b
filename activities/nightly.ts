// The nightly promotion's plan: the candidates of a config key not judged yet (status `candidate`)
// and registered after the current best, the newest `maxCandidates` of them, oldest first.
import { ApplicationFailure } from '@temporalio/activity';
import { RegistryError, bestModel, listModels, withRegistry } from '../store/registry';

export interface NightlyPlanInput {
  registryDir: string;
  configKey: string;
  maxCandidates: number;
}

export interface NightlyPlan {
  bestId: string | null;
  /** model ids, oldest first: each one that is promoted raises the bar for the next */
  candidates: string[];
  /** candidates left for a later night (beyond maxCandidates) */
  skipped: number;
}

export function planNightlyPromotion(input: NightlyPlanInput): NightlyPlan {
  return withRegistry(input.registryDir, (reg) => {
    const best = bestModel(reg, input.configKey);
    const fresh = listModels(reg, { configKey: input.configKey, status: 'candidate' }).filter((m) => !best || m.createdAt > best.createdAt);
    const chosen = fresh.slice(-input.maxCandidates);
    return { bestId: best?.id ?? null, candidates: chosen.map((m) => m.id), skipped: fresh.length - chosen.length };
  });
}

export function createNightlyActivities() {
  return {
    async planNightly(input: NightlyPlanInput): Promise<NightlyPlan> {
      try {
        return planNightlyPromotion(input);
      } catch (err) {
        // no registry yet: nothing to judge tonight
        if (err instanceof RegistryError && err.code === 'no_registry') return { bestId: null, candidates: [], skipped: 0 };
        // a bad config key, an unreadable registry: nothing a retry can heal
        if (err instanceof RegistryError) throw ApplicationFailure.nonRetryable(err.message, 'RegistryError');
        throw err;
      }
    },
  };
}

export type NightlyActivities = ReturnType<typeof createNightlyActivities>;
