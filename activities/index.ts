// All activities a worker registers, built with the worker's shared dependencies.
import type { Client } from '@temporalio/client';
import { createHealthActivities } from './health';
import { createSelfplayActivities } from './selfplay';

export interface ActivityDeps {
  client: Client;
  namespace: string;
  identity: string;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createHealthActivities(deps),
    ...createSelfplayActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
