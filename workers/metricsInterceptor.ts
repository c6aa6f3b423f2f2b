// A worker-level activity interceptor: durations and failures per activity type, and the domain
// counters derived from each activity's result, so the activities themselves need no metrics code.
import Database from 'better-sqlite3';
import type { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptorsFactory, Next } from '@temporalio/worker';
import type { ShardInput, ShardResult } from '../activities/selfplay';
import type { ParityShardInput, ParityShardResult } from '../activities/parity';
import type { NpzExportActivityResult, NpzExportInput } from '../activities/npzExport';
import type { TrainRunInput, TrainRunResult } from '../activities/train';
import type { GauntletShardInput, GauntletShardResult } from '../activities/gauntlet';
import type { WorkerHealth } from './health';
import * as m from './metrics';

/** The config key an activity works on (e.g. square8_2p), from its input; 'none' when it has none. */
export function configKeyOf(input: unknown): string {
  if (input && typeof input === 'object') {
    const o = input as Record<string, unknown>;
    if (typeof o.configKey === 'string') return o.configKey;
    if (typeof o.boardType === 'string' && typeof o.numPlayers === 'number') return `${o.boardType}_${o.numPlayers}p`;
  }
  return 'none';
}

/** Moves of the shard's games, in game order (ids are zero-padded game indexes). */
function shardGameLengths(shardDb: string): number[] {
  const db = new Database(shardDb, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT total_moves FROM games ORDER BY game_id').all() as { total_moves: number }[]).map((r) =>
      Number(r.total_moves),
    );
  } finally {
    db.close();
  }
}

type Deriver = (input: unknown, result: unknown, seconds: number) => void;

/** Domain metrics per activity type, from the activity's input and result. */
export const RESULT_METRICS: Record<string, Deriver> = {
  playSelfplayShard(input, result, seconds) {
    const res = result as ShardResult;
    const labels = { config_key: configKeyOf(input as ShardInput) };
    m.selfplayGames.inc(labels, res.games);
    let lengths: number[] = [];
    try {
      lengths = shardGameLengths(res.shardDb);
    } catch {
      return; // the shard DB is gone: games are counted, lengths unknown
    }
    for (const n of lengths) m.selfplayGameLength.observe(labels, n);
    m.selfplayMoves.inc(
      labels,
      lengths.reduce((a, b) => a + b, 0),
    );
    // moves per second of what this attempt played (a resumed shard replays nothing)
    const played = lengths.slice(res.resumedFrom).reduce((a, b) => a + b, 0);
    if (seconds > 0 && played > 0) m.selfplayMovesPerSecond.set(labels, played / seconds);
  },
  validateParityShard(input, result) {
    const res = result as ParityShardResult;
    const key = configKeyOf(input as ParityShardInput);
    m.parityChecked.inc({ config_key: key }, res.total);
    m.parityGames.inc({ config_key: key, result: 'passed' }, res.passed);
    m.parityGames.inc({ config_key: key, result: 'failed' }, res.failed);
    m.parityGames.inc({ config_key: key, result: 'error' }, res.error);
    m.parityMoves.inc({ config_key: key }, res.movesReplayed);
  },
  exportNpzFile(input, result) {
    const res = result as NpzExportActivityResult;
    const labels = { config_key: configKeyOf(input as NpzExportInput) };
    m.exportPositions.inc(labels, res.positions);
    m.exportGames.inc(labels, res.games);
    m.exportFiles.inc(labels);
  },
  playGauntletShard(input, result) {
    const res = result as GauntletShardResult;
    const labels = { config_key: configKeyOf((input as GauntletShardInput).shard), baseline: res.opponent };
    m.gauntletGames.inc({ ...labels, result: 'win' }, res.wins);
    m.gauntletGames.inc({ ...labels, result: 'draw' }, res.draws);
    m.gauntletGames.inc({ ...labels, result: 'loss' }, res.losses);
  },
  promoteBest(input) {
    m.promotions.inc({ config_key: configKeyOf(input) });
  },
  restorePreviousBest(input, result) {
    // the promotion saga's compensation and the manual rollback; a retry that finds it done changes nothing
    if ((result as { changed?: boolean }).changed) m.rollbacks.inc({ config_key: configKeyOf(input) });
  },
  trainModel(input, result) {
    const res = result as TrainRunResult;
    const key = configKeyOf(input as TrainRunInput);
    m.trainingRuns.inc({ config_key: key, device: res.device });
    m.recordTrainingProgress(key, { step: res.steps });
  },
};

function failureType(err: unknown): string {
  if (err instanceof ApplicationFailure) return err.type ?? 'ApplicationFailure';
  if (err instanceof Error) return err.name;
  return typeof err;
}

class MetricsInbound implements ActivityInboundCallsInterceptor {
  constructor(
    private readonly ctx: Context,
    private readonly health: WorkerHealth | undefined,
  ) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const { activityType, workflowExecution } = this.ctx.info;
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    m.activitiesInFlight.inc({ activity_type: activityType });
    this.health?.activityStarted();
    const finish = (outcome: 'completed' | 'failed' | 'cancelled', s: number, failure?: string) => {
      m.activitiesInFlight.dec({ activity_type: activityType });
      m.activityDuration.observe({ activity_type: activityType, outcome }, s);
      this.health?.activityFinished({
        activityType,
        workflowId: workflowExecution?.workflowId ?? '',
        outcome,
        finishedAt: new Date().toISOString(),
        seconds: Math.round(s * 1000) / 1000,
        ...(failure ? { failure } : {}),
      });
    };
    let result: unknown;
    try {
      result = await next(input);
    } catch (err) {
      const s = seconds();
      const cancelled = err instanceof CancelledFailure || this.ctx.cancellationSignal.aborted;
      if (cancelled) finish('cancelled', s);
      else {
        const type = failureType(err);
        m.activityFailures.inc({ activity_type: activityType, failure_type: type });
        finish('failed', s, `${type}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      }
      throw err;
    }
    const s = seconds();
    try {
      RESULT_METRICS[activityType]?.(input.args[0], result, s);
    } catch {
      /* metrics never fail an activity */
    }
    finish('completed', s);
    return result;
  }
}

/** The `interceptors.activity` entry for Worker.create. */
export function metricsInterceptor(health?: WorkerHealth): ActivityInterceptorsFactory {
  return (ctx) => ({ inbound: new MetricsInbound(ctx, health) });
}
