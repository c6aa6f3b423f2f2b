// The lineage of a model: the NPZ files it was trained on, the game DBs they were exported from
// (recorded from the NPZ metadata `source_db` / `source_db_sha256`), then the same for its parent,
// back to a model trained from scratch. Each file is checked: still there, same sha256?
import fs from 'node:fs';
import { fileSha256Sync } from './gameDb';
import { RegistryError, getModel, type ModelRecord, type Registry } from './registry';

export type FileState = 'ok' | 'missing' | 'changed' | 'unknown';

export interface LineageData {
  npz: { path: string; sha256: string; positions: number | null; state: FileState };
  gameDb: { path: string; sha256: string | null; state: FileState } | null;
}

export interface LineageEntry {
  model: ModelRecord;
  data: LineageData[];
}

function fileState(file: string, sha256: string | null, check: boolean): FileState {
  if (!fs.existsSync(file)) return 'missing';
  if (!check || !sha256) return 'unknown';
  return fileSha256Sync(file) === sha256 ? 'ok' : 'changed';
}

/** The model, then its parent, … each with its training data and source game DBs. `checkFiles` hashes them. */
export function modelLineage(reg: Registry, id: string, opts: { checkFiles?: boolean } = {}): LineageEntry[] {
  const check = opts.checkFiles ?? true;
  const out: LineageEntry[] = [];
  const seen = new Set<string>();
  let next: string | null = id;
  while (next) {
    if (seen.has(next)) throw new RegistryError(`model lineage of ${id} has a cycle at ${next}`, 'bad_input');
    seen.add(next);
    const model = getModel(reg, next);
    if (!model) {
      if (out.length === 0) throw new RegistryError(`no model "${id}" in the registry at ${reg.dir}`, 'not_found');
      throw new RegistryError(`model ${out[out.length - 1]!.model.id} names parent ${next}, which the registry lacks`, 'not_found');
    }
    out.push({
      model,
      data: model.trainingData.map((d) => ({
        npz: { path: d.path, sha256: d.sha256, positions: d.positions, state: fileState(d.path, d.sha256, check) },
        gameDb: d.sourceDb ? { path: d.sourceDb, sha256: d.sourceDbSha256, state: fileState(d.sourceDb, d.sourceDbSha256, check) } : null,
      })),
    });
    next = model.parentId;
  }
  return out;
}
