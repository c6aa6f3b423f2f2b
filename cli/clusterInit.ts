// `ringrift cluster init`: what a fresh self-hosted server lacks and the dev server makes by itself:
// the namespace, then the pipeline's search attributes (through the operator service).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import type { PipelineConfig } from '../config/schema';
import { ensureSearchAttributes } from './devServer';

const RETENTION_DAYS = 30;
const NOT_FOUND = 5; // gRPC status codes
const ALREADY_EXISTS = 6;

function isNotFound(err: unknown): boolean {
  return (err as { code?: number }).code === NOT_FOUND;
}

/**
 * Registers `namespace` when the server lacks it, then waits until the frontend's namespace cache
 * (refreshed every ~10 s) serves it: describeNamespace reads the database, most other calls the
 * cache. Returns whether it was added.
 */
export async function ensureNamespace(
  connection: Pick<Connection, 'workflowService' | 'operatorService'>,
  namespace: string,
): Promise<boolean> {
  let added = false;
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs(`${RETENTION_DAYS} days`),
      });
      added = true;
    } catch (err2) {
      if ((err2 as { code?: number }).code !== ALREADY_EXISTS) throw err2;
    }
  }
  for (let i = 0; ; i++) {
    try {
      await connection.operatorService.listSearchAttributes({ namespace });
      return added;
    } catch (err) {
      if (!isNotFound(err) || i >= 120) throw err;
      await sleep(250);
    }
  }
}

export interface ClusterInitResult {
  namespaceAdded: boolean;
  searchAttributesAdded: string[];
}

export async function initCluster(
  connection: Pick<Connection, 'workflowService' | 'operatorService'>,
  namespace: string,
  attrs: PipelineConfig['searchAttributes'],
): Promise<ClusterInitResult> {
  const namespaceAdded = await ensureNamespace(connection, namespace);
  const searchAttributesAdded = await ensureSearchAttributes(connection, namespace, attrs);
  return { namespaceAdded, searchAttributesAdded };
}

export function formatClusterInit(namespace: string, r: ClusterInitResult): string {
  return [
    r.namespaceAdded ? `added namespace ${namespace} (retention ${RETENTION_DAYS} days)` : `namespace ${namespace} present`,
    r.searchAttributesAdded.length ? `added search attributes: ${r.searchAttributesAdded.join(', ')}` : 'search attributes already present',
  ].join('\n');
}
