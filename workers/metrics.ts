// The worker's Prometheus metrics (prom-client): one registry per process, the domain metrics of
// every phase, and small helpers activities call where a result alone does not carry the number.
// Served by workers/metricsServer.ts; most values come from workers/metricsInterceptor.ts.
import client from 'prom-client';

export const registry = new client.Registry();

let defaultsCollected = false;
/** Process metrics (CPU, memory, event loop, GC) and the labels every series of this worker carries. */
export function initMetrics(labels: { queue: string }): void {
  registry.setDefaultLabels(labels);
  if (!defaultsCollected) {
    client.collectDefaultMetrics({ register: registry });
    defaultsCollected = true;
  }
}

const r = [registry];

// --- the worker -------------------------------------------------------------------------------------
export const workerInfo = new client.Gauge({
  name: 'ringrift_worker_info',
  help: 'Always 1; the labels name the worker (identity, Temporal address and namespace)',
  labelNames: ['identity', 'address', 'namespace'],
  registers: r,
});
export const temporalConnected = new client.Gauge({
  name: 'ringrift_worker_temporal_connected',
  help: '1 while the worker reaches Temporal (checked every metrics.health.checkSeconds), else 0',
  registers: r,
});
export const workerPolling = new client.Gauge({
  name: 'ringrift_worker_polling',
  help: '1 while the worker runs and reaches Temporal, so it polls its task queue; else 0',
  registers: r,
});
export const workerHealthy = new client.Gauge({
  name: 'ringrift_worker_healthy',
  help: '1 when /health answers 200, else 0',
  registers: r,
});

// --- activities (all types, from the interceptor) -----------------------------------------------------
export const activityDuration = new client.Histogram({
  name: 'ringrift_activity_duration_seconds',
  help: 'Activity executions on this worker, by activity type and outcome (completed, failed, cancelled)',
  labelNames: ['activity_type', 'outcome'],
  buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
  registers: r,
});
export const activityFailures = new client.Counter({
  name: 'ringrift_activity_failures_total',
  help: 'Activity attempts that failed (cancellations excluded), by activity type and failure type',
  labelNames: ['activity_type', 'failure_type'],
  registers: r,
});
export const activitiesInFlight = new client.Gauge({
  name: 'ringrift_activities_in_flight',
  help: 'Activities executing on this worker now, by activity type',
  labelNames: ['activity_type'],
  registers: r,
});

// --- self-play ---------------------------------------------------------------------------------------
export const selfplayGames = new client.Counter({
  name: 'ringrift_selfplay_games_total',
  help: 'Self-play games in shards completed on this worker (a resumed shard counts its games once, when it completes)',
  labelNames: ['config_key'],
  registers: r,
});
export const selfplayMoves = new client.Counter({
  name: 'ringrift_selfplay_moves_total',
  help: 'Moves of the self-play games counted in ringrift_selfplay_games_total',
  labelNames: ['config_key'],
  registers: r,
});
export const selfplayMovesPerSecond = new client.Gauge({
  name: 'ringrift_selfplay_moves_per_second',
  help: 'Moves per second of the last completed shard (moves played in that attempt / its wall time)',
  labelNames: ['config_key'],
  registers: r,
});
export const selfplayGameLength = new client.Histogram({
  name: 'ringrift_selfplay_game_length_moves',
  help: 'Moves per self-play game',
  labelNames: ['config_key'],
  buckets: [10, 25, 50, 100, 150, 200, 300, 500, 1000, 2000, 3000],
  registers: r,
});

// --- parity ------------------------------------------------------------------------------------------
export const parityChecked = new client.Counter({
  name: 'ringrift_parity_games_checked_total',
  help: 'Games replayed by parity validation shards completed on this worker',
  labelNames: ['config_key'],
  registers: r,
});
export const parityGames = new client.Counter({
  name: 'ringrift_parity_games_total',
  help: 'Parity validation results by outcome: passed, failed (a hash differs), error (the replay threw)',
  labelNames: ['config_key', 'result'],
  registers: r,
});
export const parityMoves = new client.Counter({
  name: 'ringrift_parity_moves_replayed_total',
  help: 'Moves replayed by parity validation',
  labelNames: ['config_key'],
  registers: r,
});

// --- NPZ export --------------------------------------------------------------------------------------
export const exportPositions = new client.Counter({
  name: 'ringrift_export_positions_total',
  help: 'Positions written into NPZ files by exports completed on this worker',
  labelNames: ['config_key'],
  registers: r,
});
export const exportGames = new client.Counter({
  name: 'ringrift_export_games_total',
  help: 'Games exported into NPZ files',
  labelNames: ['config_key'],
  registers: r,
});
export const exportFiles = new client.Counter({
  name: 'ringrift_export_files_total',
  help: 'NPZ files written',
  labelNames: ['config_key'],
  registers: r,
});

// --- training ----------------------------------------------------------------------------------------
export const trainingStep = new client.Gauge({
  name: 'ringrift_training_step',
  help: 'The current step of the training run on this worker (live, from the trainer)',
  labelNames: ['config_key'],
  registers: r,
});
export const trainingLoss = new client.Gauge({
  name: 'ringrift_training_loss',
  help: 'The latest training loss reported by the trainer, by kind (policy, value)',
  labelNames: ['config_key', 'kind'],
  registers: r,
});
export const trainingPositionsPerSecond = new client.Gauge({
  name: 'ringrift_training_positions_per_second',
  help: 'Training throughput reported by the trainer',
  labelNames: ['config_key'],
  registers: r,
});
export const trainingSteps = new client.Counter({
  name: 'ringrift_training_steps_total',
  help: 'Training steps run on this worker (steps replayed after a resume are not counted twice)',
  labelNames: ['config_key'],
  registers: r,
});
export const trainingRuns = new client.Counter({
  name: 'ringrift_training_runs_total',
  help: 'Training activities that ended with an exported model on this worker',
  labelNames: ['config_key', 'device'],
  registers: r,
});

// --- gauntlet, promotion, the loop (defined now; set when those phases land) -------------------------
export const gauntletGames = new client.Counter({
  name: 'ringrift_gauntlet_games_total',
  help: "Gauntlet games of a candidate against a baseline, by result (win, loss, draw) from the candidate's side",
  labelNames: ['config_key', 'baseline', 'result'],
  registers: r,
});
export const gauntletLlr = new client.Gauge({
  name: 'ringrift_gauntlet_llr',
  help: 'The current SPRT log-likelihood ratio of the candidate under test',
  labelNames: ['config_key', 'candidate'],
  registers: r,
});
export const bestElo = new client.Gauge({
  name: 'ringrift_best_elo',
  help: 'Elo of the `best` model per config key',
  labelNames: ['config_key', 'model'],
  registers: r,
});
export const modelElo = new client.Gauge({
  name: 'ringrift_model_elo',
  help: 'Elo of every rated model (the ladder)',
  labelNames: ['config_key', 'model'],
  registers: r,
});
export const promotions = new client.Counter({
  name: 'ringrift_promotions_total',
  help: 'Candidates promoted to best',
  labelNames: ['config_key'],
  registers: r,
});
export const rollbacks = new client.Counter({
  name: 'ringrift_rollbacks_total',
  help: 'Rollbacks of best to an earlier model',
  labelNames: ['config_key'],
  registers: r,
});
export const LOOP_STATES = ['running', 'paused', 'halted'] as const;
export type LoopState = (typeof LOOP_STATES)[number];
export const loopState = new client.Gauge({
  name: 'ringrift_loop_state',
  help: "The training loop's state per config key: 1 for the current state (running, paused, halted), 0 for the others",
  labelNames: ['config_key', 'state'],
  registers: r,
});

// --- helpers for activities ----------------------------------------------------------------------------
export function setLoopState(configKey: string, state: LoopState): void {
  for (const s of LOOP_STATES) loopState.set({ config_key: configKey, state: s }, s === state ? 1 : 0);
}

export function recordGauntletGame(configKey: string, baseline: string, result: 'win' | 'loss' | 'draw'): void {
  gauntletGames.inc({ config_key: configKey, baseline, result });
}

const lastTrainStep = new Map<string, number>();

/** The trainer's live numbers (called from the train activity's JSON-line handler). */
export function recordTrainingProgress(
  configKey: string,
  p: { step: number; policyLoss?: number | null; valueLoss?: number | null; positionsPerSecond?: number | null },
): void {
  const labels = { config_key: configKey };
  if (!Number.isFinite(p.step)) return;
  const last = lastTrainStep.get(configKey);
  if (last !== undefined && p.step > last) trainingSteps.inc(labels, p.step - last);
  lastTrainStep.set(configKey, p.step);
  trainingStep.set(labels, p.step);
  if (p.policyLoss != null && Number.isFinite(p.policyLoss)) trainingLoss.set({ ...labels, kind: 'policy' }, p.policyLoss);
  if (p.valueLoss != null && Number.isFinite(p.valueLoss)) trainingLoss.set({ ...labels, kind: 'value' }, p.valueLoss);
  if (p.positionsPerSecond != null && Number.isFinite(p.positionsPerSecond)) trainingPositionsPerSecond.set(labels, p.positionsPerSecond);
}

/** A (re)started or resumed training run: steps before `step` were counted elsewhere or earlier. */
export function recordTrainingStart(configKey: string, step: number): void {
  lastTrainStep.set(configKey, step);
  trainingStep.set({ config_key: configKey }, step);
}
