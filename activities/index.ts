// All activities a worker registers, built with the worker's shared dependencies.
import type { Client } from '@temporalio/client';
import { createHealthActivities } from './health';
import { createParityActivities } from './parity';
import { createNpzExportActivities } from './npzExport';
import { createSelfplayActivities } from './selfplay';
import { createTrainActivities } from './train';

export interface ActivityDeps {
  client: Client;
  namespace: string;
  identity: string;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createHealthActivities(deps),
    ...createParityActivities(deps),
    ...createNpzExportActivities(deps),
    ...createSelfplayActivities(deps),
    ...createTrainActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
