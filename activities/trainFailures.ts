// Failure types of the training activities. No imports: the train workflow reads this too.

/** The trainer's exit codes (trainer/README.md) and the failure types they become. */
export const TRAINER_EXIT_FAILURES: Record<number, string> = { 2: 'Train:bad_input', 3: 'Train:nan_loss', 4: 'Train:disk_full' };

/** Failures no retry can heal: bad NPZ or model, a diverged run, a full disk. */
export const TRAIN_NON_RETRYABLE = [...Object.values(TRAINER_EXIT_FAILURES), 'Train:bad_input_plan', 'Registry:bad_input'];
