// What a worker's /health answers: who it is, its queues, whether it polls, the last activity that
// finished, recent failures, and whether Temporal answers (checked on a timer).
import type { MetricsSettings } from '../config/schema';
import { temporalConnected, workerHealthy, workerPolling } from './metrics';

export interface FinishedActivity {
  activityType: string;
  workflowId: string;
  outcome: 'completed' | 'failed' | 'cancelled';
  finishedAt: string;
  seconds: number;
  failure?: string;
}

export interface HealthReport {
  healthy: boolean;
  /** why it is unhealthy (empty when healthy) */
  problems: string[];
  identity: string;
  pid: number;
  queues: string[];
  startedAt: string;
  workerState: string;
  polling: boolean;
  /** the SDK's poller states (POLLING, SHUTDOWN, FAILED); null before the worker exists */
  pollers: { workflow: string; activity: string } | null;
  temporal: { address: string; namespace: string; connected: boolean; lastOkAt: string | null; lastError: string | null };
  activitiesInFlight: number;
  lastActivity: FinishedActivity | null;
  errors: { windowMinutes: number; count: number; max: number; recent: FinishedActivity[] };
}

export type HealthSettings = MetricsSettings['health'];

/** What health reads from the SDK worker (Worker.getState(), Worker.getStatus()). */
export interface WatchedWorker {
  getState(): string;
  getStatus(): { workflowPollerState: string; activityPollerState: string };
}

/** Tracks one worker's health; the interceptor reports activities, a timer checks the connection. */
export class WorkerHealth {
  private readonly startedAt = new Date();
  private workerState = 'STARTING';
  private stateSource: WatchedWorker | undefined;
  private lastOk: number | null = null;
  private lastCheckError: string | null = null;
  private lastActivity: FinishedActivity | null = null;
  private failures: { at: number; activity: FinishedActivity }[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly identity: string,
    readonly queues: string[],
    readonly temporal: { address: string; namespace: string },
    readonly settings: HealthSettings,
    private readonly now: () => number = Date.now,
  ) {}

  setWorkerState(state: string): void {
    this.workerState = state;
    this.updateGauges();
  }

  /** Reads the state and the pollers' states from the worker itself from now on. */
  watchWorker(worker: WatchedWorker): void {
    this.stateSource = worker;
  }

  activityStarted(): void {
    this.inFlight++;
  }

  activityFinished(a: FinishedActivity): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    this.lastActivity = a;
    if (a.outcome === 'failed') this.failures.push({ at: this.now(), activity: a });
    this.prune();
    this.updateGauges();
  }

  connectionOk(): void {
    this.lastOk = this.now();
    this.lastCheckError = null;
    this.updateGauges();
  }

  connectionFailed(err: unknown): void {
    this.lastCheckError = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    this.updateGauges();
  }

  /** Checks the connection now and every `checkSeconds`; `check` rejects when Temporal does not answer. */
  startChecking(check: () => Promise<unknown>): void {
    const run = async () => {
      try {
        await check();
        this.connectionOk();
      } catch (err) {
        this.connectionFailed(err);
      }
    };
    void run();
    this.timer = setInterval(() => void run(), this.settings.checkSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private prune(): void {
    const since = this.now() - this.settings.errorWindowMinutes * 60_000;
    this.failures = this.failures.filter((f) => f.at >= since);
  }

  connected(): boolean {
    return this.lastOk !== null && this.now() - this.lastOk <= this.settings.disconnectedAfterSeconds * 1000;
  }

  report(): HealthReport {
    this.prune();
    const connected = this.connected();
    let pollers: HealthReport['pollers'] = null;
    if (this.stateSource) {
      this.workerState = this.stateSource.getState();
      const st = this.stateSource.getStatus();
      pollers = { workflow: st.workflowPollerState, activity: st.activityPollerState };
    }
    const running = this.workerState === 'RUNNING';
    const pollerFailed = pollers !== null && (pollers.activity === 'FAILED' || pollers.workflow === 'FAILED');
    const polling = running && connected && (pollers === null || pollers.activity === 'POLLING');
    const problems: string[] = [];
    if (!running) problems.push(`worker state is ${this.workerState}`);
    if (pollerFailed) problems.push(`a poller failed (workflow ${pollers!.workflow}, activity ${pollers!.activity})`);
    if (!connected) {
      const since = this.lastOk === null ? 'since start-up' : `for ${Math.round((this.now() - this.lastOk) / 1000)}s`;
      problems.push(
        `Temporal at ${this.temporal.address} has not answered ${since}${this.lastCheckError ? ` (${this.lastCheckError})` : ''}`,
      );
    }
    if (this.failures.length >= this.settings.maxErrors) {
      problems.push(`${this.failures.length} activity failures in the last ${this.settings.errorWindowMinutes} minutes`);
    }
    return {
      healthy: problems.length === 0,
      problems,
      identity: this.identity,
      pid: process.pid,
      queues: this.queues,
      startedAt: this.startedAt.toISOString(),
      workerState: this.workerState,
      polling,
      pollers,
      temporal: {
        ...this.temporal,
        connected,
        lastOkAt: this.lastOk === null ? null : new Date(this.lastOk).toISOString(),
        lastError: this.lastCheckError,
      },
      activitiesInFlight: this.inFlight,
      lastActivity: this.lastActivity,
      errors: {
        windowMinutes: this.settings.errorWindowMinutes,
        count: this.failures.length,
        max: this.settings.maxErrors,
        recent: this.failures.slice(-5).map((f) => f.activity),
      },
    };
  }

  /** Keeps the gauges in step with report(); also refreshed before each scrape. */
  updateGauges(): void {
    const rep = this.report();
    temporalConnected.set(rep.temporal.connected ? 1 : 0);
    workerPolling.set(rep.polling ? 1 : 0);
    workerHealthy.set(rep.healthy ? 1 : 0);
  }
}
