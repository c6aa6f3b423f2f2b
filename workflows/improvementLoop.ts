// improvementLoop: the continuous loop over a set of config keys. Each run of this workflow is one
// step, then it continues as new with its state in the input, so a loop runs for months with a
// bounded history:
//   1 a safe point: wait while paused or halted; end when stopped or at maxIterations
//   2 pick a key by the curriculum (workflows/curriculum.ts)
//   3 run one trainingIteration child for it: a self-play batch only (collectOnly) while the key has
//     fewer than minNewPositions positions since its last training, else a full iteration that trains
//     on them and gauntlets and promotes the candidate
//   4 fold the result into the state, continue as new
// Signals: halt (cancel the running child now; it cancels its running phase and waits for it, and never
// leaves a promotion half-done; the loop then waits, halted, for resume), pause / resume (pause takes
// effect at the next safe point), stop (end after the current step), update-config (settings for the
// next steps). Query: status.
import {
  CancellationScope,
  ParentClosePolicy,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  executeChild,
  isCancellation,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { z } from 'zod';
import { effectiveWeights, pickKey, type CurriculumKey } from './curriculum';
import { loopSettingsUpdateSchema, inputProblems, type improvementLoopInputSchema } from './inputSchemas';
import { causeOf } from './failures';
import { phaseInput, tagRun } from './phaseInput';
import type { TrainingIterationInput, TrainingIterationResult, trainingIteration as TrainingIterationFn } from './trainingIteration';

/** What the next steps run with; update-config changes it. */
export interface LoopSettings {
  weights: Record<string, number>;
  adapt: number;
  gamesPerBatch: number;
  minNewPositions: number;
  maxConsecutiveFailures: number;
  /** end after this many steps (benchmarks, tests); null: run until stopped */
  maxIterations: number | null;
  selfplayPlayer: string | null;
  trainSteps: number | null;
  skipGates: boolean;
  dataDir: string | null;
  registryDir: string | null;
}

export interface KeyState extends CurriculumKey {
  gamesSinceTraining: number;
  positionsSinceTraining: number;
  trainings: number;
  bestId: string | null;
  /** the best's Elo (mean over the baselines) when it was judged */
  bestElo: number | null;
  eloVsBaselines: TrainingIterationResult['eloVsBaselines'];
  weight: number;
  lastOutcome: StepRecord['outcome'] | null;
}

export interface StepRecord {
  iteration: number;
  configKey: string;
  kind: 'collect' | 'train';
  outcome: 'collected' | 'promoted' | 'rejected' | 'failed' | 'halted';
  workflowId: string;
  games: number;
  positions: number;
  trainLoss: number | null;
  valLoss: number | null;
  candidateId: string | null;
  eloVsBaselines: TrainingIterationResult['eloVsBaselines'];
  seconds: number;
  error?: string;
}

export interface LoopState {
  /** steps started so far (the number of the last one) */
  iteration: number;
  /** steps that ran to an end (collected, trained or failed; not halted): what maxIterations counts */
  finished: number;
  keys: KeyState[];
  mode: 'running' | 'paused' | 'halted';
  stopRequested: boolean;
  lastError: string | null;
  consecutiveFailures: number;
  /** the last RECENT steps, newest last */
  recent: StepRecord[];
}

/** The complete input (after phaseInput): settings and, from the second run on, the carried state. */
export interface LoopInput extends LoopSettings {
  configKeys: string[];
  seed: number;
  state?: LoopState;
}

export type LoopStartInput = z.input<typeof improvementLoopInputSchema>;

export interface LoopStatus {
  iteration: number;
  /** idle | paused | halted | halting | collect <key> | train <key> | waiting after a failure | stopped | done */
  phase: string;
  mode: LoopState['mode'];
  stopRequested: boolean;
  /** the running trainingIteration (query its `progress` for its phase) */
  current: { workflowId: string; configKey: string; kind: StepRecord['kind'] } | null;
  lastError: string | null;
  settings: LoopSettings;
  keys: KeyState[];
  recent: StepRecord[];
}

export interface LoopResult {
  ended: 'stopped' | 'done';
  /** steps started (halted ones included) */
  iterations: number;
  keys: KeyState[];
  recent: StepRecord[];
}

export const statusQuery = defineQuery<LoopStatus>('status');
export const haltSignal = defineSignal('halt');
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const stopSignal = defineSignal('stop');
export const updateConfigSignal = defineSignal<[Partial<LoopSettings>]>('update-config');

const RECENT = 20;

function freshState(keys: string[]): LoopState {
  return {
    iteration: 0,
    finished: 0,
    keys: keys.map((configKey) => ({
      configKey,
      credit: 0,
      lastGain: null,
      gamesSinceTraining: 0,
      positionsSinceTraining: 0,
      trainings: 0,
      bestId: null,
      bestElo: null,
      eloVsBaselines: {},
      weight: 1,
      lastOutcome: null,
    })),
    mode: 'running',
    stopRequested: false,
    lastError: null,
    consecutiveFailures: 0,
    recent: [],
  };
}

function meanElo(e: TrainingIterationResult['eloVsBaselines']): number | null {
  const v = Object.values(e).map((x) => x.elo);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

/** A step's result folded into its key's state. */
function fold(k: KeyState, kind: StepRecord['kind'], r: TrainingIterationResult): void {
  k.gamesSinceTraining += r.games;
  k.positionsSinceTraining += r.positions;
  if (kind === 'collect') return;
  k.trainings++;
  k.gamesSinceTraining = 0;
  k.positionsSinceTraining = 0;
  k.lastOutcome = r.outcome;
  const elo = meanElo(r.eloVsBaselines);
  if (r.outcome === 'promoted') {
    k.lastGain = elo !== null && k.bestElo !== null ? elo - k.bestElo : elo;
    k.bestElo = elo ?? k.bestElo;
    k.eloVsBaselines = r.eloVsBaselines;
  } else if (elo !== null) k.lastGain = 0;
  k.bestId = r.bestId;
}

export async function improvementLoop(raw: LoopStartInput): Promise<LoopResult> {
  const { workflowId, taskQueue } = workflowInfo();
  const input = await phaseInput<LoopInput>('improvementLoop', raw);
  const [, board, players] = /^(.+)_(\d)p$/.exec(input.configKeys[0]!)!; // the schema checked the keys
  tagRun('improvementLoop', board!, Number(players));
  const { configKeys, seed, state: carried, ...initial } = input;
  const settings: LoopSettings = { ...initial };
  const state = carried ?? freshState(configKeys);
  let phase = 'idle';
  let current: LoopStatus['current'] = null;
  let scope: CancellationScope | null = null;

  setHandler(statusQuery, () => ({
    iteration: state.iteration,
    phase,
    mode: state.mode,
    stopRequested: state.stopRequested,
    current,
    lastError: state.lastError,
    settings,
    keys: state.keys,
    recent: state.recent,
  }));
  setHandler(haltSignal, () => {
    state.mode = 'halted';
    if (scope) {
      phase = 'halting';
      scope.cancel();
    }
  });
  setHandler(pauseSignal, () => {
    if (state.mode === 'running') state.mode = 'paused';
  });
  setHandler(resumeSignal, () => {
    state.mode = 'running';
    state.consecutiveFailures = 0;
  });
  setHandler(stopSignal, () => void (state.stopRequested = true));
  setHandler(updateConfigSignal, (update) => {
    const parsed = loopSettingsUpdateSchema.safeParse(update);
    if (!parsed.success) state.lastError = `update-config refused: ${inputProblems(parsed.error).join('; ')}`;
    else Object.assign(settings, parsed.data);
  });

  const finish = (ended: LoopResult['ended']): LoopResult => {
    phase = ended;
    return { ended, iterations: state.iteration, keys: state.keys, recent: state.recent };
  };

  // 1 the safe point
  if (state.mode !== 'running') {
    phase = state.mode;
    await condition(() => state.mode === 'running' || state.stopRequested);
  }
  if (state.stopRequested) return finish('stopped');
  if (settings.maxIterations !== null && state.finished >= settings.maxIterations) return finish('done');

  // 2 the curriculum
  const weights = effectiveWeights(state.keys, settings.weights, settings.adapt);
  for (const k of state.keys) k.weight = weights[k.configKey]!;
  const key = state.keys.find((k) => k.configKey === pickKey(state.keys, weights))!;
  const kind: StepRecord['kind'] = key.positionsSinceTraining >= settings.minNewPositions ? 'train' : 'collect';
  const iteration = ++state.iteration;

  // 3 one iteration (or batch) as a child
  const childId = `${workflowId}-i${iteration}-${key.configKey}`;
  const args: TrainingIterationInput = {
    configKey: key.configKey,
    games: settings.gamesPerBatch,
    seed: (seed + iteration * 7919) >>> 0,
    iteration,
    collectOnly: kind === 'collect',
    skipGates: settings.skipGates,
    ...(settings.selfplayPlayer !== null ? { selfplayPlayer: settings.selfplayPlayer } : {}),
    ...(settings.trainSteps !== null ? { trainSteps: settings.trainSteps } : {}),
    ...(settings.dataDir !== null ? { dataDir: settings.dataDir } : {}),
    ...(settings.registryDir !== null ? { registryDir: settings.registryDir } : {}),
  };
  current = { workflowId: childId, configKey: key.configKey, kind };
  phase = `${kind} ${key.configKey}`;
  const started = Date.now(); // workflow time: deterministic
  const record = (outcome: StepRecord['outcome'], r?: TrainingIterationResult, error?: string) => {
    state.recent.push({
      iteration,
      configKey: key.configKey,
      kind,
      outcome,
      workflowId: childId,
      games: r?.games ?? 0,
      positions: r?.positions ?? 0,
      trainLoss: r?.trainLoss ?? null,
      valLoss: r?.valLoss ?? null,
      candidateId: r?.candidateId ?? null,
      eloVsBaselines: r?.eloVsBaselines ?? {},
      seconds: Math.round((Date.now() - started) / 1000),
      ...(error ? { error } : {}),
    });
    if (state.recent.length > RECENT) state.recent.splice(0, state.recent.length - RECENT);
  };
  scope = new CancellationScope();
  try {
    const r = await scope.run(() =>
      executeChild<typeof TrainingIterationFn>('trainingIteration', {
        workflowId: childId,
        taskQueue,
        args: [args],
        // a loop terminated by hand still lets its iteration stop cleanly
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      }),
    );
    fold(key, kind, r);
    state.finished++;
    record(r.outcome === 'promoted' || r.outcome === 'rejected' ? r.outcome : 'collected', r);
    state.consecutiveFailures = 0;
  } catch (err) {
    if (isCancellation(err) && state.mode === 'halted') {
      record('halted', undefined, 'halted');
      key.lastOutcome = 'halted';
    } else if (isCancellation(err)) {
      throw err; // the loop itself was cancelled
    } else {
      const message = causeOf(err);
      record('failed', undefined, message);
      state.finished++;
      key.lastOutcome = 'failed';
      state.consecutiveFailures++;
      state.lastError = `iteration ${iteration} (${key.configKey}) failed: ${message}`;
      if (state.consecutiveFailures >= settings.maxConsecutiveFailures) {
        state.mode = 'paused';
        state.lastError = `paused after ${state.consecutiveFailures} failed iterations in a row; last: ${state.lastError}`;
      } else {
        phase = 'waiting after a failure';
        await condition(() => state.mode !== 'running' || state.stopRequested, `${60 * state.consecutiveFailures}s`);
      }
    }
  } finally {
    scope = null;
    current = null;
  }

  // 4 the next step, in a fresh history
  if (settings.maxIterations !== null && state.finished >= settings.maxIterations && state.mode === 'running') return finish('done');
  if (state.stopRequested) return finish('stopped');
  phase = 'idle';
  return continueAsNew<typeof improvementLoop>({ ...settings, configKeys, seed, state } as unknown as LoopStartInput);
}
