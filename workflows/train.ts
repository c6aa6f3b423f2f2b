// train: check the NPZ files and the warm-start model, pick the queue (gpu when a worker polls it),
// train to the target step (resumable), register the checked ONNX model as a candidate.
import { ActivityCancellationType, condition, proxyActivities, setHandler, workflowInfo, type RetryPolicy } from '@temporalio/workflow';
import type { HealthActivities } from '../activities/health';
import type { RegisteredModel, TrainActivities, TrainHyperparameters, TrainRunResult } from '../activities/train';
import { TRAIN_NON_RETRYABLE } from '../activities/trainFailures';
import { clearly } from './failures';
import type { z } from 'zod';
import type { trainInputSchema } from './inputSchemas';
import { phaseInput, tagRun } from './phaseInput';
import { progressQuery, shardProgressSignal, trackShards } from './progress';

export interface TrainInput {
  configKey: string;
  /** NPZ files or folders of them, all of this config key */
  npz: string[];
  /** `scratch`, `best` or a model id */
  initFrom: string;
  registryDir: string;
  hyperparameters: TrainHyperparameters;
  /** preferred queue (gpu) and the one used when nobody polls it */
  queue: string;
  fallbackQueue: string;
  heartbeatTimeoutSeconds: number;
}

/** What a run may be started with (Web UI, `temporal` CLI): optional fields come from config. */
export type TrainStartInput = z.input<typeof trainInputSchema>;

export interface TrainResult {
  model: RegisteredModel;
  parentId: string | null;
  queue: string;
  run: TrainRunResult;
  trainPositions: number;
  valPositions: number;
}

export async function train(raw: TrainStartInput): Promise<TrainResult> {
  const { workflowId } = workflowInfo();
  let tracked = trackShards('plan', 'steps', []);
  setHandler(progressQuery, () => tracked.progress);
  setHandler(shardProgressSignal, ({ shard, done, detail }) => tracked.update(shard, done, false, detail));
  const input = await phaseInput<TrainInput>('train', raw);
  const [, board, players] = /^(.+)_(\d)p$/.exec(input.configKey)!; // the schema checked the key
  tagRun('train', board!, Number(players));

  const retry: RetryPolicy = { maximumAttempts: 5, initialInterval: '2s', nonRetryableErrorTypes: TRAIN_NON_RETRYABLE };
  // Short steps without heartbeats: a worker killed inside one is noticed after startToClose, so keep it short.
  const local = proxyActivities<TrainActivities & HealthActivities>({ startToCloseTimeout: '2m', retry });
  const plan = await clearly(
    local.planTraining({ configKey: input.configKey, npz: input.npz, initFrom: input.initFrom, registryDir: input.registryDir }),
  );

  const [polled] = await local.describeTaskQueues([input.queue]);
  const queue = polled && polled.activityPollers.length > 0 ? input.queue : input.fallbackQueue;
  tracked = trackShards(`train@${queue}`, 'steps', [input.hyperparameters.steps]);

  const remote = proxyActivities<TrainActivities>({
    taskQueue: queue,
    startToCloseTimeout: '7d',
    heartbeatTimeout: `${input.heartbeatTimeoutSeconds}s`,
    retry,
    // a cancelled run ends only once the trainer is stopped
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  const run = await clearly(
    remote.trainModel({
      workflowId,
      configKey: input.configKey,
      registryDir: input.registryDir,
      // refs name the planning worker's host: a trainer on another host pulls them over SFTP
      data: plan.data.map((d) => ({ path: d.path, sha256: d.sha256, ...(plan.host ? { host: plan.host } : {}) })),
      parent: plan.parent && plan.host ? { ...plan.parent, checkpoint: { ...plan.parent.checkpoint, host: plan.host } } : plan.parent,
      hyperparameters: input.hyperparameters,
    }),
  );
  tracked.update(0, run.steps, true);

  tracked.progress.phase = 'register';
  const model = await clearly(
    local.registerTrainedModel({
      workflowId,
      configKey: input.configKey,
      registryDir: input.registryDir,
      run,
      parentId: plan.parent?.id ?? null,
      data: plan.data,
      hyperparameters: input.hyperparameters,
    }),
  );
  tracked.progress.phase = 'done';
  await condition(() => true);
  return { model, parentId: plan.parent?.id ?? null, queue, run, trainPositions: plan.trainPositions, valPositions: plan.valPositions };
}
