// One training iteration: self-play with the current best → parity validation → NPZ export → train
// (warm start from best) → promote (gauntlet + gates). Each phase is a child workflow of the existing
// phase workflows, with ids derived from this run's id so that a replay finds them; artifacts travel
// by path + sha256. Ends with a promoted or a rejected candidate.
//
// Cancellation (the loop's halt): the running child is cancelled and awaited. The promotion saga is
// never cut mid-step: it runs in a non-cancellable scope (and survives a terminated parent), and a
// cancellation that arrived meanwhile takes effect once it has finished.
import {
  CancellationScope,
  CancelledFailure,
  ChildWorkflowCancellationType,
  ParentClosePolicy,
  condition,
  executeChild,
  setHandler,
  workflowInfo,
  defineQuery,
} from '@temporalio/workflow';
import type { z } from 'zod';
import { eloFromScore } from '../store/ratings';
import type { trainingIterationInputSchema } from './inputSchemas';
import type { canonicalSelfplay } from './canonicalSelfplay';
import type { parityValidation } from './parityValidation';
import type { npzExport } from './npzExport';
import type { train } from './train';
import type { promote, PromoteResult, PromoteStartInput } from './promote';
import { phaseInput, tagRun } from './phaseInput';
import type { PhaseProgress } from './progress';

export interface TrainingIterationInput {
  /** e.g. square8_2p (required) */
  configKey: string;
  /** self-play games this iteration [config: phases.iteration.games] */
  games?: number;
  /** iteration seed: the self-play and gauntlet seeds derive from it */
  seed?: number;
  /** the loop's iteration counter, for ids and lineage (default 0) */
  iteration?: number;
  /** default: mcts:<best id>:sims=N when a best model exists, else phases.iteration.firstPlayer */
  selfplayPlayer?: string;
  /** override phases.iteration.trainSteps */
  trainSteps?: number;
  /** promote without gauntlet gates (tests only) */
  skipGates?: boolean;
  /** self-play, parity and export only (the loop's collect steps): outcome `collected` */
  collectOnly?: boolean;
  dataDir?: string;
  registryDir?: string;
}

/** What a run may be started with (Web UI, `temporal` CLI). */
export type TrainingIterationStartInput = z.input<typeof trainingIterationInputSchema>;

/** The complete input, filled on the worker from config and the registry (recorded in history). */
export interface TrainingIterationPlan {
  configKey: string;
  boardType: string;
  numPlayers: number;
  iteration: number;
  games: number;
  seed: number;
  /** `best` already pinned to its id */
  selfplayPlayer: string;
  /** best when the iteration started (the warm start), or null: train from scratch */
  bestId: string | null;
  trainSteps: number;
  skipGates: boolean;
  collectOnly: boolean;
  /** absolute; games under <dataDir>/games/<configKey>/, NPZ under <dataDir>/npz/<configKey>/ */
  dataDir: string;
  registryDir: string;
  /** the promotion's gauntlet settings (seed derived from the iteration seed) and regression check */
  gauntlet: NonNullable<PromoteStartInput['gauntlet']>;
  regressionGames: number;
  /** every phase's heartbeat timeout, or null: each phase's own */
  heartbeatTimeoutSeconds: number | null;
  /** the iteration's network and batch, over phases.train's */
  train: { batchSize?: number; learningRate?: number; blocks?: number | null; channels?: number | null };
}

export interface EloInterval {
  elo: number;
  lo: number;
  hi: number;
}

export interface TrainingIterationResult {
  configKey: string;
  iteration: number;
  /** collected: a collectOnly run (no candidate) */
  outcome: 'promoted' | 'rejected' | 'collected';
  /** the registered model id */
  candidateId: string | null;
  /** best after the iteration */
  bestId: string | null;
  /** self-play games added, NPZ positions exported */
  games: number;
  positions: number;
  trainLoss: number | null;
  valLoss: number | null;
  /** the candidate's Elo against each gauntlet opponent (95% interval), where a gauntlet ran */
  eloVsBaselines: Record<string, EloInterval>;
  /** why rejected (empty when promoted) */
  reasons: string[];
  artifacts: { gamesDb: { path: string; sha256: string }; npz: { path: string; sha256: string } };
  phases: { phase: string; workflowId: string; seconds: number }[];
}

export const ITERATION_PHASES = ['selfplay', 'parity', 'export', 'train', 'promote'] as const;
export type IterationPhase = (typeof ITERATION_PHASES)[number];

/** The `progress` query of an iteration: which phase runs now, in which child (whose own progress query has the bar). */
export interface IterationProgress extends PhaseProgress {
  iteration: number;
  /** the running child's workflow id, or null between phases */
  child: string | null;
  /** finished phases */
  phases: TrainingIterationResult['phases'];
}

export const iterationProgressQuery = defineQuery<IterationProgress>('progress');

/** Child ids and artifact names derive from the run id; the same safe form works in file names. */
export function safeId(workflowId: string): string {
  return workflowId.replace(/[^A-Za-z0-9_.-]/g, '_');
}

export function childId(iterationWorkflowId: string, phase: IterationPhase): string {
  return `${safeId(iterationWorkflowId)}-${phase}`;
}

/** Where an iteration's artifacts go: one games DB per iteration, NPZ files beside earlier iterations' (the training window). */
export function iterationPaths(plan: Pick<TrainingIterationPlan, 'dataDir' | 'configKey'>, workflowId: string) {
  return {
    gamesDb: `${plan.dataDir}/games/${plan.configKey}/${safeId(workflowId)}.db`,
    npzDir: `${plan.dataDir}/npz/${plan.configKey}`,
    npzName: `${safeId(workflowId)}.npz`,
  };
}

/** Elo of a score with its interval; a perfect score is clamped half a game from the end so the number stays finite. */
function eloInterval(rate: number, lo: number, hi: number, games: number): EloInterval {
  const eps = games > 0 ? 0.5 / games : 0.01;
  const elo = (s: number) => Math.round(eloFromScore(Math.min(1 - eps, Math.max(eps, s))) * 10) / 10;
  return { elo: elo(rate), lo: elo(lo), hi: elo(hi) };
}

export function eloFromGauntlet(g: PromoteResult['gauntlet']): Record<string, EloInterval> {
  const out: Record<string, EloInterval> = {};
  const opponents = g?.opponents ?? [];
  for (const o of opponents) {
    out[o.name] =
      o.role === 'best' && g!.sprt ? { elo: g!.sprt.elo, lo: g!.sprt.eloLo, hi: g!.sprt.eloHi } : eloInterval(o.rate, o.lo, o.hi, o.games);
  }
  return out;
}

export async function trainingIteration(raw: TrainingIterationStartInput): Promise<TrainingIterationResult> {
  const { workflowId, taskQueue } = workflowInfo();
  const progress: IterationProgress = {
    phase: 'plan',
    unit: 'phases',
    target: ITERATION_PHASES.length,
    done: 0,
    shards: [],
    iteration: 0,
    child: null,
    phases: [],
  };
  setHandler(iterationProgressQuery, () => progress);
  const plan = await phaseInput<TrainingIterationPlan>('trainingIteration', raw);
  tagRun('trainingIteration', plan.boardType, plan.numPlayers);
  progress.iteration = plan.iteration;
  const paths = iterationPaths(plan, workflowId);
  const hb = plan.heartbeatTimeoutSeconds !== null ? { heartbeatTimeoutSeconds: plan.heartbeatTimeoutSeconds } : {};

  /** Runs one phase as a child workflow; a cancelled iteration cancels it and waits until it has stopped. */
  const phase = async <T>(name: IterationPhase, type: string, args: unknown, opts: { saga?: boolean } = {}): Promise<T> => {
    const id = childId(workflowId, name);
    Object.assign(progress, { phase: name, child: id, detail: id });
    const t0 = Date.now();
    const run = () =>
      executeChild(type, {
        workflowId: id,
        taskQueue,
        args: [args],
        cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
        // the promotion saga finishes even when the iteration is terminated
        ...(opts.saga ? { parentClosePolicy: ParentClosePolicy.ABANDON } : {}),
      }) as Promise<T>;
    const result = opts.saga ? await CancellationScope.nonCancellable(run) : await run();
    progress.phases.push({ phase: name, workflowId: id, seconds: Math.round((Date.now() - t0) / 100) / 10 });
    progress.done += 1;
    progress.child = null;
    return result;
  };

  const selfplay = await phase<Awaited<ReturnType<typeof canonicalSelfplay>>>('selfplay', 'canonicalSelfplay', {
    boardType: plan.boardType,
    numPlayers: plan.numPlayers,
    numGames: plan.games,
    outputDb: paths.gamesDb,
    seed: plan.seed,
    playerMix: [plan.selfplayPlayer],
    ...hb,
  });
  const parity = await phase<Awaited<ReturnType<typeof parityValidation>>>('parity', 'parityValidation', {
    db: selfplay.outputDb.path,
    ...hb,
  });
  const npz = await phase<Awaited<ReturnType<typeof npzExport>>>('export', 'npzExport', {
    db: selfplay.outputDb.path,
    outputDir: paths.npzDir,
    outputName: paths.npzName,
    splitSeed: plan.seed,
    ...hb,
  });
  const artifacts = {
    // the DB as exported, with its parity columns: the one the model's lineage names
    gamesDb: npz.source ?? parity.db,
    npz: { path: npz.output.path, sha256: npz.output.sha256 },
  };
  const base = { configKey: plan.configKey, iteration: plan.iteration, games: selfplay.games, positions: npz.positions, artifacts };
  if (plan.collectOnly) {
    Object.assign(progress, { phase: 'done', target: progress.done, detail: `collected ${selfplay.games} games` });
    await condition(() => true);
    const none = { candidateId: null, trainLoss: null, valLoss: null, eloVsBaselines: {}, reasons: [] };
    return { ...base, ...none, outcome: 'collected', bestId: plan.bestId, phases: progress.phases };
  }
  const trained = await phase<Awaited<ReturnType<typeof train>>>('train', 'train', {
    configKey: plan.configKey,
    npz: [paths.npzDir],
    initFrom: plan.bestId ?? 'scratch',
    registryDir: plan.registryDir,
    hyperparameters: { ...plan.train, steps: plan.trainSteps, seed: plan.seed },
    ...hb,
  });
  const candidateId = trained.model.id;
  const promoted = await phase<Awaited<ReturnType<typeof promote>>>(
    'promote',
    'promote',
    {
      mode: 'promote',
      configKey: plan.configKey,
      candidate: candidateId,
      skipGates: plan.skipGates,
      registryDir: plan.registryDir,
      gauntlet: plan.gauntlet,
      regressionGames: plan.regressionGames,
    } satisfies PromoteStartInput,
    { saga: true },
  );
  // a halt that arrived while the saga ran takes effect now that it is complete
  if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('iteration cancelled after the promotion finished');

  const metric = (k: string) => {
    const v = trained.run.metrics[k];
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  };
  const outcome = promoted.outcome === 'promoted' ? 'promoted' : 'rejected';
  Object.assign(progress, { phase: 'done', detail: `${outcome}: ${candidateId}` });
  await condition(() => true); // let a last query see the final state
  return {
    ...base,
    outcome,
    candidateId,
    bestId: outcome === 'promoted' ? candidateId : (promoted.previousBestId ?? plan.bestId),
    trainLoss: metric('train_loss'),
    valLoss: metric('val_loss'),
    eloVsBaselines: eloFromGauntlet(promoted.gauntlet),
    reasons: outcome === 'promoted' ? [] : promoted.gauntlet?.reasons.length ? promoted.gauntlet.reasons : [promoted.reason],
    phases: progress.phases,
  };
}
