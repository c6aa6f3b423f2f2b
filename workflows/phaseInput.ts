// The first step of every workflow: validate the input against its schema (a bad input fails the run
// at once, non-retryable, naming each bad field), let the worker fill the defaults the CLI would use
// (a local activity, recorded in history), and tag the run with its search attributes so runs started
// from the Web UI or the `temporal` CLI are filtered like the CLI's.
import { ApplicationFailure, patched, proxyLocalActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { PhaseInputActivities } from '../activities/phaseInput';
import { WORKFLOW_INPUTS, parseWorkflowInput, type WorkflowType } from './inputSchemas';

/** Runs started before workflows validated their own input carry complete inputs; replay them as they ran. */
const PATCH = 'validated-phase-input-v1';

export const INVALID_INPUT = 'InvalidInput';

export function invalidInput(type: string, problems: string[]): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`invalid ${type} input: ${problems.join('; ')}`, INVALID_INPUT);
}

const { completeWorkflowInput } = proxyLocalActivities<PhaseInputActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3 },
});

/** The complete input of a `type` run, or a non-retryable failure that names every bad field. */
export async function phaseInput<Complete>(type: WorkflowType, raw: unknown): Promise<Complete> {
  if (!patched(PATCH)) return raw as Complete;
  const parsed = parseWorkflowInput(type, raw);
  if (!parsed.ok) throw invalidInput(type, parsed.problems);
  const done = await completeWorkflowInput({ type, input: parsed.value as never });
  if (done.problems.length > 0) throw invalidInput(type, done.problems);
  return done.input as Complete;
}

/** Sets RingRiftBoard / RingRiftConfigKey / RingRiftPhase (the same values the CLI sets at start). */
export function tagRun(
  type: WorkflowType,
  boardType: string,
  numPlayers: number,
  phase: string | null = WORKFLOW_INPUTS[type].phase,
): void {
  if (!phase || !patched(PATCH)) return;
  upsertSearchAttributes({
    RingRiftBoard: [boardType],
    RingRiftConfigKey: [`${boardType}_${numPlayers}p`],
    RingRiftPhase: [phase],
  });
}
