// nightlyPromotion: what the nightly Schedule starts (`ringrift schedule nightly`). Plans the
// candidates of one config key that nobody judged yet (registered after the current best, status
// `candidate`; activities/nightly.ts), then runs each, oldest first, through the promotion saga
// (workflows/promote.ts) as a child: gauntlet and gates, best pointer, regression check. One at a
// time, so each promoted candidate raises the bar for the next.
import { executeChild, isCancellation, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { z } from 'zod';
import type { NightlyActivities } from '../activities/nightly';
import type { nightlyPromotionInputSchema } from './inputSchemas';
import { causeOf } from './failures';
import { phaseInput, tagRun } from './phaseInput';
import { progressQuery, type PhaseProgress } from './progress';
import type { PromoteResult, promote as PromoteFn } from './promote';

export interface NightlyInput {
  configKey: string;
  registryDir: string;
  maxCandidates: number;
  /** the promotion's gauntlet settings; each one left out comes from the worker's config */
  gauntlet: Record<string, unknown>;
}

export type NightlyStartInput = z.input<typeof nightlyPromotionInputSchema>;

export interface NightlyResult {
  configKey: string;
  bestBefore: string | null;
  bestAfter: string | null;
  /** failed: the saga failed (and compensated), e.g. a phase that could not run */
  judged: { candidate: string; outcome: PromoteResult['outcome'] | 'failed'; reason: string; workflowId: string }[];
  /** candidates left for a later night */
  skipped: number;
}

export async function nightlyPromotion(raw: NightlyStartInput): Promise<NightlyResult> {
  const { workflowId, taskQueue } = workflowInfo();
  const progress: PhaseProgress = { phase: 'plan', unit: 'candidates', target: 0, done: 0, shards: [] };
  setHandler(progressQuery, () => progress);
  const input = await phaseInput<NightlyInput>('nightlyPromotion', raw);
  const [, board, players] = /^(.+)_(\d)p$/.exec(input.configKey)!; // the schema checked the key
  tagRun('nightlyPromotion', board!, Number(players));

  const { planNightly } = proxyActivities<NightlyActivities>({
    startToCloseTimeout: '2m',
    retry: { maximumAttempts: 5, initialInterval: '2s', nonRetryableErrorTypes: ['RegistryError'] },
  });
  const plan = await planNightly({ registryDir: input.registryDir, configKey: input.configKey, maxCandidates: input.maxCandidates });
  progress.target = plan.candidates.length;
  const judged: NightlyResult['judged'] = [];
  let best = plan.bestId;
  for (const candidate of plan.candidates) {
    const id = `${workflowId}-${candidate}`;
    Object.assign(progress, { phase: 'promote', detail: `${candidate} (${id})` });
    try {
      const r = await executeChild<typeof PromoteFn>('promote', {
        workflowId: id,
        taskQueue,
        args: [{ mode: 'promote', configKey: input.configKey, candidate, registryDir: input.registryDir, gauntlet: input.gauntlet }],
      });
      judged.push({ candidate, outcome: r.outcome, reason: r.reason, workflowId: id });
      if (r.outcome === 'promoted') best = candidate;
    } catch (err) {
      if (isCancellation(err)) throw err;
      // the saga compensated what it had done; the other candidates still get their turn
      judged.push({ candidate, outcome: 'failed', reason: causeOf(err), workflowId: id });
    }
    progress.done++;
  }
  Object.assign(progress, { phase: 'done', detail: `${judged.length} judged, best ${best ?? 'none'}` });
  return { configKey: input.configKey, bestBefore: plan.bestId, bestAfter: best, judged, skipped: plan.skipped };
}
