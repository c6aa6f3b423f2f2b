// Promotion support for the model registry (see store/registry.ts for the layout and the rules):
// the best pointer, rollbacks, statuses with reasons, and the record of these changes. Every
// function is one transaction and idempotent, so a retried saga step or compensation is safe.
import fs from 'node:fs';
import { fileSha256Sync } from './gameDb';
import {
  RegistryError,
  addEvent,
  bestModel,
  copyAtomic,
  parseConfigKey,
  publishedBestPath,
  requireModel,
  verifyModelFile,
  MODEL_STATUSES,
  type ModelEventKind,
  type ModelEvent,
  type ModelRecord,
  type ModelStatus,
  type Registry,
} from './registry';

function setStatus(reg: Registry, id: string, status: ModelStatus, reason: string | null): void {
  reg.db
    .prepare('UPDATE models SET status = ?, status_reason = ?, status_changed_at = ? WHERE id = ?')
    .run(status, reason, new Date().toISOString(), id);
}

export interface ChangeOptions {
  reason: string;
  workflowId?: string | null;
}

/**
 * Makes `id` the best model of its config key: the previous best becomes `retired` and the pointer
 * moves in one transaction that first checks the file exists with its recorded sha256 (and stages
 * its copy); `<configKey>/best.onnx` is replaced (rename) once that transaction committed. Returns the previous best, which the
 * promotion saga keeps for its compensation (restoreBest). Calling it again for the current best
 * changes nothing and returns the same previous best.
 */
export function setBest(reg: Registry, id: string, opts: ChangeOptions): { previousBestId: string | null; changed: boolean } {
  const m = requireModel(reg, id);
  if (m.status === 'rejected' || m.status === 'failed') {
    throw new RegistryError(
      `model ${id} is ${m.status}${m.statusReason ? ` (${m.statusReason})` : ''}: it cannot become best`,
      'bad_status',
    );
  }
  const published = publishedBestPath(reg, m.configKey);
  const tmp = `${published}.tmp-${process.pid}-${Date.now()}`;
  try {
    const r = reg.db
      .transaction(() => {
        const current = bestModel(reg, m.configKey);
        if (current?.id === id) {
          const last = reg.db
            .prepare("SELECT previous_best_id FROM model_events WHERE model_id = ? AND kind = 'promoted' ORDER BY seq DESC LIMIT 1")
            .pluck()
            .get(id) as string | null | undefined;
          return { previousBestId: last ?? null, changed: false };
        }
        verifyModelFile(m);
        copyAtomic(m.path, tmp); // staged before the commit, so a failed copy changes nothing
        if (current) setStatus(reg, current.id, 'retired', `superseded by ${id}`);
        setStatus(reg, id, 'best', opts.reason);
        pointBest(reg, m);
        addEvent(reg, {
          configKey: m.configKey,
          modelId: id,
          kind: 'promoted',
          previousBestId: current?.id ?? null,
          reason: opts.reason,
          workflowId: opts.workflowId ?? null,
        });
        return { previousBestId: current?.id ?? null, changed: true };
      })
      .immediate();
    // The pointer is the truth and best.onnx its published copy: replaced only once the pointer is
    // committed. A retry (already best) republishes a copy a crash left behind.
    if (r.changed) fs.renameSync(tmp, published);
    else publishBest(reg, m.configKey);
    return r;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function pointBest(reg: Registry, m: ModelRecord): void {
  reg.db
    .prepare(
      `INSERT INTO best (config_key, model_id, sha256, changed_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(config_key) DO UPDATE SET model_id = excluded.model_id, sha256 = excluded.sha256, changed_at = excluded.changed_at`,
    )
    .run(m.configKey, m.id, m.sha256, new Date().toISOString());
}

/**
 * The rollback (the promotion's compensation): makes `previousBestId` the best of `configKey`
 * again, or leaves the key without a best when it is null. The model that was best becomes
 * `demoteTo` (default `rejected`) with the reason. Calling it again changes nothing.
 */
export function restoreBest(
  reg: Registry,
  configKey: string,
  previousBestId: string | null,
  opts: ChangeOptions & { demoteTo?: 'rejected' | 'retired' },
): { demotedId: string | null; changed: boolean } {
  parseConfigKey(configKey);
  const prev = previousBestId ? requireModel(reg, previousBestId) : null;
  if (prev && prev.configKey !== configKey)
    throw new RegistryError(`model ${prev.id} is a ${prev.configKey} model, not ${configKey}`, 'wrong_config');
  const published = publishedBestPath(reg, configKey);
  const tmp = `${published}.tmp-${process.pid}-${Date.now()}`;
  try {
    const r = reg.db
      .transaction(() => {
        const current = bestModel(reg, configKey);
        if ((current?.id ?? null) === (prev?.id ?? null)) return { demotedId: null, changed: false };
        if (prev) {
          verifyModelFile(prev);
          copyAtomic(prev.path, tmp);
        }
        if (current) setStatus(reg, current.id, opts.demoteTo ?? 'rejected', opts.reason);
        if (prev) {
          setStatus(reg, prev.id, 'best', `restored: ${opts.reason}`);
          pointBest(reg, prev);
        } else {
          reg.db.prepare('DELETE FROM best WHERE config_key = ?').run(configKey);
        }
        addEvent(reg, {
          configKey,
          modelId: current?.id ?? null,
          kind: 'rolled_back',
          previousBestId: prev?.id ?? null,
          reason: opts.reason,
          workflowId: opts.workflowId ?? null,
        });
        return { demotedId: current?.id ?? null, changed: true };
      })
      .immediate();
    // As in setBest: the published copy follows the committed pointer.
    if (r.changed && prev) fs.renameSync(tmp, published);
    else publishBest(reg, configKey);
    return r;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Sets a model's status (not `best`: use setBest) with a reason. The current best cannot be demoted here: use restoreBest. */
export function markModel(reg: Registry, id: string, status: Exclude<ModelStatus, 'best'>, opts: ChangeOptions): { changed: boolean } {
  if (!(MODEL_STATUSES as readonly string[]).includes(status) || (status as string) === 'best') {
    throw new RegistryError(
      `cannot mark a model "${status}": use one of rejected, retired, failed, candidate (setBest makes a best)`,
      'bad_status',
    );
  }
  return reg.db
    .transaction(() => {
      const m = requireModel(reg, id);
      if (m.status === 'best') {
        throw new RegistryError(
          `model ${id} is the best ${m.configKey} model: restore the previous best (or promote another) first`,
          'bad_status',
        );
      }
      if (m.status === status && m.statusReason === opts.reason) return { changed: false };
      setStatus(reg, id, status, opts.reason);
      addEvent(reg, { configKey: m.configKey, modelId: id, kind: status, reason: opts.reason, workflowId: opts.workflowId ?? null });
      return { changed: true };
    })
    .immediate();
}

export function listEvents(reg: Registry, filter: { configKey?: string; modelId?: string; limit?: number } = {}): ModelEvent[] {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (filter.configKey) {
    where.push('config_key = ?');
    args.push(filter.configKey);
  }
  if (filter.modelId) {
    where.push('(model_id = ? OR previous_best_id = ?)');
    args.push(filter.modelId, filter.modelId);
  }
  const sql = `SELECT * FROM model_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq ${filter.limit ? `LIMIT ${Math.floor(filter.limit)}` : ''}`;
  const rows = reg.db.prepare(sql).all(...args) as {
    seq: number;
    at: string;
    config_key: string;
    model_id: string | null;
    kind: ModelEventKind;
    previous_best_id: string | null;
    reason: string | null;
    workflow_id: string | null;
  }[];
  return rows.map((r) => ({
    seq: r.seq,
    at: r.at,
    configKey: r.config_key,
    modelId: r.model_id,
    kind: r.kind,
    previousBestId: r.previous_best_id,
    reason: r.reason,
    workflowId: r.workflow_id,
  }));
}

/** Republishes `<configKey>/best.onnx` from the pointer (repairs a copy lost or changed outside the registry). */
export function publishBest(reg: Registry, configKey: string): string | null {
  const m = bestModel(reg, configKey);
  const published = publishedBestPath(reg, configKey);
  if (!m) {
    fs.rmSync(published, { force: true });
    return null;
  }
  verifyModelFile(m);
  if (!(fs.existsSync(published) && fileSha256Sync(published) === m.sha256)) copyAtomic(m.path, published);
  return published;
}
