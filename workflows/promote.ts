// promote: a saga. Each step registers its compensation (plain data) before the next step runs; a
// failed gate, a failed phase or a regression after promotion runs them in reverse.
//   1 register the candidate           comp: mark it rejected
//   2 gauntlet + gates                 (fail: rejected with the reasons, alert)
//   3 move the best pointer and publish best.onnx together
//                                      comp: the previous best again, pointer and file together
//   4 tell the workers to reload best
//   5 regression check: new best vs previous best on fresh seeds; worse beyond the margin (upper end
//     of its 95% interval) runs the compensations: automatic rollback, alert
// `mode: 'rollback'` (ringrift models rollback) runs step 3's compensation alone, then step 4.
import {
  ApplicationFailure,
  executeChild,
  proxyActivities,
  setHandler,
  workflowInfo,
  type ChildWorkflowOptions,
} from '@temporalio/workflow';
import type { AlertActivities, AlertInput } from '../activities/alerts';
import type { PromotionActivities } from '../activities/promotion';
import { sprtStatus } from '../store/sprt';
import type { GauntletInput, GauntletResult, gauntlet as GauntletFn } from './gauntlet';

type GauntletWorkflow = typeof GauntletFn;
import { progressQuery, type PhaseProgress } from './progress';
import type { z } from 'zod';
import type { promoteInputSchema } from './inputSchemas';
import { phaseInput, tagRun } from './phaseInput';

export interface PromoteInput {
  mode: 'promote' | 'rollback';
  configKey: string;
  registryDir: string;
  /** promote: the model id */
  candidate?: string;
  skipGates?: boolean;
  /** rollback: why */
  reason?: string;
  /** the gauntlet of step 2 (its candidate is set here); its seed + 1 seeds the regression check */
  gauntlet?: Omit<GauntletInput, 'candidate' | 'plan'>;
  regressionGames: number;
  regressionMarginElo: number;
  /** queues whose workers are told to reload best (step 4) */
  reloadQueues: string[];
}

export type Compensation =
  { kind: 'markRejected'; modelId: string } | { kind: 'restoreBest'; previousBestId: string | null; promotedId: string };

export interface PromoteResult {
  outcome: 'promoted' | 'rejected' | 'rolled_back';
  modelId: string | null;
  previousBestId: string | null;
  reason: string;
  gauntlet: Pick<GauntletResult, 'passed' | 'reasons' | 'games' | 'sprt' | 'opponents'> | null;
  regression: { games: number; elo: number; eloLo: number; eloHi: number } | null;
  /** compensations run, in the order they ran */
  compensated: Compensation['kind'][];
}

class Rejection extends Error {}

/** The innermost failure message (an activity's or a child workflow's own words). */
function causeOf(err: unknown): string {
  let e = err as Error & { cause?: unknown };
  while (e.cause instanceof Error) e = e.cause as Error & { cause?: unknown };
  return e.message;
}

/** What a run may be started with (Web UI, `temporal` CLI): optional fields come from config. */
export type PromoteStartInput = z.input<typeof promoteInputSchema>;

export async function promote(raw: PromoteStartInput): Promise<PromoteResult> {
  const { workflowId } = workflowInfo();
  const progress: PhaseProgress = { phase: 'register', unit: 'steps', target: 5, done: 0, shards: [] };
  setHandler(progressQuery, () => progress);
  const input = await phaseInput<PromoteInput>('promote', raw);
  const [, board, players] = /^(.+)_(\d)p$/.exec(input.configKey)!; // the schema checked the key
  tagRun('promote', board!, Number(players), input.mode);
  const step = (phase: string, done: number, detail?: string) => Object.assign(progress, { phase, done, ...(detail ? { detail } : {}) });
  const acts = proxyActivities<PromotionActivities>({
    startToCloseTimeout: '10m',
    heartbeatTimeout: '10s', // a killed worker's step is retried after this long
    retry: { maximumAttempts: 10, initialInterval: '1s', nonRetryableErrorTypes: ['RegistryError'] },
  });
  const alerts = proxyActivities<AlertActivities>({ startToCloseTimeout: '15s', retry: { maximumAttempts: 4, initialInterval: '1s' } });
  const pendingAlerts: Promise<unknown>[] = [];
  const alert = (kind: AlertInput['kind'], modelId: string | null, text: string) =>
    pendingAlerts.push(alerts.sendAlert({ kind, configKey: input.configKey, modelId, workflowId, text }).catch(() => undefined));
  const reg = { registryDir: input.registryDir, workflowId };
  const child = (id: string): ChildWorkflowOptions => ({ workflowId: `${workflowId}-${id}`, taskQueue: workflowInfo().taskQueue });
  const reload = async () => {
    step('reload', 4);
    await Promise.all(
      input.reloadQueues.map(
        (q) =>
          proxyActivities<PromotionActivities>({
            taskQueue: q,
            scheduleToStartTimeout: '10s',
            startToCloseTimeout: '30s',
            retry: { maximumAttempts: 1 },
          })
            .reloadBest({ ...reg, configKey: input.configKey })
            .catch(() => undefined), // a queue nobody polls resolves best when its workers start
      ),
    );
  };
  const finish = async (r: PromoteResult) => {
    await Promise.all(pendingAlerts);
    step('done', 5, `${r.outcome}: ${r.reason}`);
    return r;
  };

  if (input.mode === 'rollback') {
    const reason = `manual rollback: ${input.reason ?? 'no reason given'}`;
    let t: { currentId: string; previousBestId: string | null };
    try {
      t = await acts.rollbackTarget({ ...reg, configKey: input.configKey });
      step('restore', 3);
      await acts.restorePreviousBest({
        ...reg,
        configKey: input.configKey,
        previousBestId: t.previousBestId,
        expectedBestId: t.currentId,
        reason,
      });
    } catch (err) {
      alert('phase_failed', null, `rollback failed: ${causeOf(err)}`);
      await Promise.all(pendingAlerts);
      throw ApplicationFailure.nonRetryable(`rollback failed: ${causeOf(err)}`, 'PromotionFailed');
    }
    await reload();
    alert('rolled_back', t.currentId, `${t.currentId} rolled back to ${t.previousBestId ?? 'no best'} (${reason})`);
    return finish({
      outcome: 'rolled_back',
      modelId: t.currentId,
      previousBestId: t.previousBestId,
      reason,
      gauntlet: null,
      regression: null,
      compensated: ['restoreBest'],
    });
  }

  const modelId = input.candidate!;
  const compensations: Compensation[] = [];
  let gauntlet: PromoteResult['gauntlet'] = null;
  let regression: PromoteResult['regression'] = null;
  let previousBestId: string | null = null;
  try {
    await acts.registerCandidate({ ...reg, modelId, configKey: input.configKey });
    compensations.unshift({ kind: 'markRejected', modelId });

    if (!input.skipGates) {
      step('gauntlet', 1);
      const g = await executeChild<GauntletWorkflow>('gauntlet', {
        ...child('gauntlet'),
        args: [{ ...input.gauntlet!, candidate: modelId }],
      });
      gauntlet = { passed: g.passed, reasons: g.reasons, games: g.games, sprt: g.sprt, opponents: g.opponents };
      if (!g.passed) throw new Rejection(`gates failed: ${g.reasons.join('; ')}`);
    }

    step('promote', 2);
    previousBestId = (await acts.promoteBest({ ...reg, modelId, configKey: input.configKey, reason: `promoted by ${workflowId}` }))
      .previousBestId;
    compensations.unshift({ kind: 'restoreBest', previousBestId, promotedId: modelId });
    await reload();

    if (previousBestId && input.regressionGames > 0 && input.gauntlet) {
      step('regression', 4);
      const tpl = input.gauntlet;
      const spec = (id: string) => tpl.candidateTemplate.replaceAll('{model}', id);
      const r = await executeChild<GauntletWorkflow>('gauntlet', {
        ...child('regression'),
        args: [
          {
            ...tpl,
            candidate: modelId,
            seed: (tpl.seed + 1) >>> 0,
            gamesPerOpponent: input.regressionGames,
            sprt: null,
            floors: {},
            plan: {
              candidate: { name: modelId, spec: spec(modelId), modelId },
              opponents: [{ name: 'previous', spec: spec(previousBestId), modelId: previousBestId, role: 'earlier' }],
            },
          },
        ],
      });
      const prev = r.opponents[0]!;
      const s = sprtStatus(prev.penta, { elo0: 0, elo1: 1, alpha: 0.05, beta: 0.05, maxGames: Infinity });
      regression = { games: prev.games, elo: s.elo, eloLo: s.eloLo, eloHi: s.eloHi };
      if (s.eloHi < -input.regressionMarginElo) {
        throw new Rejection(
          `regression: ${modelId} scored Elo ${s.elo.toFixed(1)} [${s.eloLo.toFixed(1)}, ${s.eloHi.toFixed(1)}] against the previous best ${previousBestId} over ${prev.games} games (margin ${input.regressionMarginElo})`,
        );
      }
    }
    alert('promoted', modelId, `${modelId} is the new best (was ${previousBestId ?? 'none'})`);
    return finish({
      outcome: 'promoted',
      modelId,
      previousBestId,
      reason: `promoted by ${workflowId}`,
      gauntlet,
      regression,
      compensated: [],
    });
  } catch (err) {
    const rejected = err instanceof Rejection;
    const reason = rejected ? err.message : `phase failed: ${causeOf(err)}`;
    step('compensate', progress.done, reason);
    const compensated: Compensation['kind'][] = [];
    for (const c of compensations) {
      if (c.kind === 'restoreBest') {
        await acts.restorePreviousBest({
          ...reg,
          configKey: input.configKey,
          previousBestId: c.previousBestId,
          expectedBestId: c.promotedId,
          reason,
        });
        await reload();
      } else await acts.markRejected({ ...reg, modelId: c.modelId, reason });
      compensated.push(c.kind);
    }
    const rolledBack = compensated.includes('restoreBest');
    alert(
      rejected ? (rolledBack ? 'rolled_back' : 'rejected') : 'phase_failed',
      modelId,
      `${modelId} ${rolledBack ? 'rolled back' : 'rejected'}: ${reason}`,
    );
    if (!rejected) {
      await Promise.all(pendingAlerts);
      throw ApplicationFailure.nonRetryable(reason, 'PromotionFailed');
    }
    return finish({ outcome: rolledBack ? 'rolled_back' : 'rejected', modelId, previousBestId, reason, gauntlet, regression, compensated });
  }
}
