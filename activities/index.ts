// All activities a worker registers, built with the worker's shared dependencies.
import type { Client } from '@temporalio/client';
import { createHealthActivities } from './health';
import { createParityActivities } from './parity';
import { createNpzExportActivities } from './npzExport';
import { createSelfplayActivities } from './selfplay';
import { createTrainActivities } from './train';
import { createPhaseInputActivities } from './phaseInput';
import { createGauntletActivities } from './gauntlet';
import { createPromotionActivities } from './promotion';
import { createAlertActivities } from './alerts';
import { createNightlyActivities } from './nightly';
import type { LoadedConfig } from '../config/load';

export interface ActivityDeps {
  client: Client;
  namespace: string;
  identity: string;
  /** the worker's config: defaults for workflow inputs (else loaded from RINGRIFT_CONFIG_DIR or config/) */
  config?: LoadedConfig;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createHealthActivities(deps),
    ...createParityActivities(deps),
    ...createNpzExportActivities(deps),
    ...createSelfplayActivities(deps),
    ...createTrainActivities(deps),
    ...createPhaseInputActivities(deps),
    ...createGauntletActivities(),
    ...createPromotionActivities(),
    ...createAlertActivities(deps),
    ...createNightlyActivities(),
  };
}

export type Activities = ReturnType<typeof createActivities>;
