// Failure helpers shared by pipeline workflows (deterministic: no I/O).
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

/** Surface an activity's own failure message (not "Activity task failed") as the workflow's failure. */
export async function clearly<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
      throw ApplicationFailure.nonRetryable(err.cause.message, err.cause.type ?? 'ActivityFailed');
    }
    throw err;
  }
}

/** The innermost failure message (an activity's or a child workflow's own words). */
export function causeOf(err: unknown): string {
  let e = err as Error & { cause?: unknown };
  while (e.cause instanceof Error) e = e.cause as Error & { cause?: unknown };
  return e.message;
}
