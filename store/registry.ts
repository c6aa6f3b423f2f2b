/**
 * The model registry: content-addressed model files plus one SQLite table of models.
 *
 * Layout of a registry folder (`registry.dir` in config/pipeline.yaml, default data/models):
 *
 *   registry.db                        SQLite: models, model_data, best, model_events
 *   <configKey>/<sha256>.onnx           the model (named by its own sha256, never rewritten)
 *   <configKey>/<sha256>.ckpt           the training checkpoint of that model (warm starts)
 *   <configKey>/best.onnx              a published copy of the current best (temp + rename)
 *
 * Reading (registry.ts)
 *   resolveModel(registryDir, configKey, ref)  ref = model id or 'best' → ModelRecord (path, sha256, …),
 *                                              file checked; else a RegistryError saying what is missing
 *   getModel(reg, id), listModels(reg, {configKey?, status?}), bestModel(reg, configKey)
 *   exportModel(reg, id, dest)                 copies the file out (never overwrites)
 *   modelLineage(reg, id)  (registryLineage.ts) model → NPZ files → game DBs, then the parent, …
 *
 * Writing: each is one transaction and idempotent, so an activity retry or a saga compensation
 * run twice is safe.
 *   registerModel(reg, input)                  copies the files in, adds a `candidate` row
 * Promotion support (registryBest.ts):
 *   setBest(reg, id, {reason, workflowId})     the promotion: statuses + pointer + best.onnx in one step;
 *                                              returns the previous best (keep it for the compensation)
 *   restoreBest(reg, configKey, previousId, …) the rollback: the previous best (or none) again;
 *                                              the demoted model becomes `rejected` (or `retired`)
 *   markModel(reg, id, status, {reason, …})    rejected | retired | failed | candidate, with a reason
 *   listEvents(reg, {configKey?, modelId?})    the record: registered, promoted, rolled_back, … with
 *                                              reasons and workflow ids
 *   publishBest(reg, configKey)                rewrites best.onnx from the pointer (repair)
 *
 * Invariants: at most one `best` row per config key (a partial unique index); the `best` pointer
 * changes only inside a transaction that has just checked that the file it names exists and has
 * the recorded sha256; model files are written to a temp name and renamed, so a reader never sees
 * half a file.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { BOARD_TYPES, fileSha256Sync, type BoardType } from './gameDb';

export const MODEL_STATUSES = ['candidate', 'best', 'retired', 'rejected', 'failed'] as const;
export type ModelStatus = (typeof MODEL_STATUSES)[number];

export const REGISTRY_DB = 'registry.db';
const SCHEMA_VERSION = '1';

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly code: 'no_registry' | 'not_found' | 'no_best' | 'wrong_config' | 'bad_file' | 'bad_input' | 'bad_status' | 'exists',
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

export interface Registry {
  dir: string;
  db: Database.Database;
}

/** One NPZ file a model was trained on, with the game DB it was exported from (NPZ metadata). */
export interface TrainingDataRef {
  path: string;
  sha256: string;
  positions: number | null;
  sourceDb: string | null;
  sourceDbSha256: string | null;
}

export interface ModelRecord {
  id: string;
  configKey: string;
  boardType: BoardType;
  numPlayers: number;
  /** absolute path of the ONNX file */
  path: string;
  sha256: string;
  checkpointPath: string | null;
  checkpointSha256: string | null;
  /** e.g. { name: 'resnet', blocks, channels, … } */
  architecture: Record<string, unknown>;
  params: number;
  parentId: string | null;
  trainingData: TrainingDataRef[];
  hyperparameters: Record<string, unknown>;
  metrics: Record<string, unknown>;
  gitCommit: string;
  workflowId: string;
  createdAt: string;
  status: ModelStatus;
  statusReason: string | null;
  statusChangedAt: string;
}

export type ModelEventKind = 'registered' | 'promoted' | 'rolled_back' | 'rejected' | 'retired' | 'failed' | 'candidate';

export interface ModelEvent {
  seq: number;
  at: string;
  configKey: string;
  modelId: string | null;
  kind: ModelEventKind;
  /** promoted: the best before; rolled_back: the best restored (null = none) */
  previousBestId: string | null;
  reason: string | null;
  workflowId: string | null;
}

const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS registry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
  id TEXT PRIMARY KEY,
  config_key TEXT NOT NULL,
  board_type TEXT NOT NULL,
  num_players INTEGER NOT NULL,
  onnx_file TEXT NOT NULL,
  sha256 TEXT NOT NULL UNIQUE,
  checkpoint_file TEXT,
  checkpoint_sha256 TEXT,
  architecture_json TEXT NOT NULL,
  params INTEGER NOT NULL,
  parent_id TEXT REFERENCES models(id),
  hyperparameters_json TEXT NOT NULL,
  metrics_json TEXT NOT NULL,
  git_commit TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('candidate', 'best', 'retired', 'rejected', 'failed')),
  status_reason TEXT,
  status_changed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_models_config ON models(config_key, created_at);
CREATE UNIQUE INDEX IF NOT EXISTS one_best_per_config ON models(config_key) WHERE status = 'best';
CREATE TABLE IF NOT EXISTS model_data (
  model_id TEXT NOT NULL REFERENCES models(id),
  ord INTEGER NOT NULL,
  npz_path TEXT NOT NULL,
  npz_sha256 TEXT NOT NULL,
  positions INTEGER,
  source_db TEXT,
  source_db_sha256 TEXT,
  PRIMARY KEY (model_id, ord)
);
CREATE TABLE IF NOT EXISTS best (
  config_key TEXT PRIMARY KEY,
  model_id TEXT NOT NULL REFERENCES models(id),
  sha256 TEXT NOT NULL,
  changed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS model_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  config_key TEXT NOT NULL,
  model_id TEXT,
  kind TEXT NOT NULL,
  previous_best_id TEXT,
  reason TEXT,
  workflow_id TEXT
);
CREATE INDEX IF NOT EXISTS idx_events_config ON model_events(config_key, seq);
`;

const CONFIG_KEY = new RegExp(`^(${BOARD_TYPES.join('|')})_([2-4])p$`);

/** `square8_2p` → { boardType: 'square8', numPlayers: 2 }, or throws. */
export function parseConfigKey(key: string): { boardType: BoardType; numPlayers: number } {
  const m = CONFIG_KEY.exec(key);
  if (!m)
    throw new RegistryError(`"${key}" is not a config key: use <board>_<n>p with board ${BOARD_TYPES.join('|')} and n 2-4`, 'bad_input');
  return { boardType: m[1] as BoardType, numPlayers: Number(m[2]) };
}

/** Opens the registry in `dir`. `create` makes the folder and the database when they are missing. */
export function openRegistry(dir: string, opts: { create?: boolean } = {}): Registry {
  const abs = path.resolve(dir);
  const file = path.join(abs, REGISTRY_DB);
  const exists = fs.existsSync(file);
  if (!exists && !opts.create) {
    throw new RegistryError(`no model registry at ${abs} (no ${REGISTRY_DB}): train a model first, or check registry.dir`, 'no_registry');
  }
  if (!exists) fs.mkdirSync(abs, { recursive: true });
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: exists });
  } catch (err) {
    throw new RegistryError(`cannot open model registry ${file}: ${(err as Error).message}`, 'no_registry');
  }
  try {
    db.pragma('busy_timeout = 30000');
    db.pragma('foreign_keys = ON');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.transaction(() => {
      db.exec(SCHEMA_SQL);
      const v = db.prepare('SELECT value FROM registry_meta WHERE key = ?').pluck().get('schema_version') as string | undefined;
      if (v === undefined) db.prepare('INSERT INTO registry_meta (key, value) VALUES (?, ?)').run('schema_version', SCHEMA_VERSION);
      else if (v !== SCHEMA_VERSION) {
        throw new RegistryError(`model registry ${file} has schema version ${v}; this code reads version ${SCHEMA_VERSION}`, 'no_registry');
      }
    }).immediate();
  } catch (err) {
    db.close();
    if (err instanceof RegistryError) throw err;
    throw new RegistryError(`${file} is not a usable model registry: ${(err as Error).message}`, 'no_registry');
  }
  return { dir: abs, db };
}

export function closeRegistry(reg: Registry): void {
  reg.db.close();
}

/** Opens, runs `fn`, closes. */
export function withRegistry<T>(dir: string, fn: (reg: Registry) => T, opts: { create?: boolean } = {}): T {
  const reg = openRegistry(dir, opts);
  try {
    return fn(reg);
  } finally {
    closeRegistry(reg);
  }
}

// ───────────────────────────── rows ─────────────────────────────

interface ModelRow {
  id: string;
  config_key: string;
  board_type: string;
  num_players: number;
  onnx_file: string;
  sha256: string;
  checkpoint_file: string | null;
  checkpoint_sha256: string | null;
  architecture_json: string;
  params: number;
  parent_id: string | null;
  hyperparameters_json: string;
  metrics_json: string;
  git_commit: string;
  workflow_id: string;
  created_at: string;
  status: ModelStatus;
  status_reason: string | null;
  status_changed_at: string;
}

function dataOf(reg: Registry, id: string): TrainingDataRef[] {
  const rows = reg.db
    .prepare('SELECT npz_path, npz_sha256, positions, source_db, source_db_sha256 FROM model_data WHERE model_id = ? ORDER BY ord')
    .all(id) as {
    npz_path: string;
    npz_sha256: string;
    positions: number | null;
    source_db: string | null;
    source_db_sha256: string | null;
  }[];
  return rows.map((r) => ({
    path: r.npz_path,
    sha256: r.npz_sha256,
    positions: r.positions,
    sourceDb: r.source_db,
    sourceDbSha256: r.source_db_sha256,
  }));
}

function toRecord(reg: Registry, r: ModelRow): ModelRecord {
  return {
    id: r.id,
    configKey: r.config_key,
    boardType: r.board_type as BoardType,
    numPlayers: r.num_players,
    path: path.join(reg.dir, r.onnx_file),
    sha256: r.sha256,
    checkpointPath: r.checkpoint_file ? path.join(reg.dir, r.checkpoint_file) : null,
    checkpointSha256: r.checkpoint_sha256,
    architecture: JSON.parse(r.architecture_json) as Record<string, unknown>,
    params: r.params,
    parentId: r.parent_id,
    trainingData: dataOf(reg, r.id),
    hyperparameters: JSON.parse(r.hyperparameters_json) as Record<string, unknown>,
    metrics: JSON.parse(r.metrics_json) as Record<string, unknown>,
    gitCommit: r.git_commit,
    workflowId: r.workflow_id,
    createdAt: r.created_at,
    status: r.status,
    statusReason: r.status_reason,
    statusChangedAt: r.status_changed_at,
  };
}

export function getModel(reg: Registry, id: string): ModelRecord | null {
  const row = reg.db.prepare('SELECT * FROM models WHERE id = ?').get(id) as ModelRow | undefined;
  return row ? toRecord(reg, row) : null;
}

export function requireModel(reg: Registry, id: string): ModelRecord {
  const m = getModel(reg, id);
  if (!m) throw new RegistryError(`no model "${id}" in the registry at ${reg.dir} (list them with: ringrift models list)`, 'not_found');
  return m;
}

export function listModels(reg: Registry, filter: { configKey?: string; status?: ModelStatus } = {}): ModelRecord[] {
  const where: string[] = [];
  const args: string[] = [];
  if (filter.configKey) {
    where.push('config_key = ?');
    args.push(filter.configKey);
  }
  if (filter.status) {
    where.push('status = ?');
    args.push(filter.status);
  }
  const sql = `SELECT * FROM models ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`;
  return (reg.db.prepare(sql).all(...args) as ModelRow[]).map((r) => toRecord(reg, r));
}

export function bestModel(reg: Registry, configKey: string): ModelRecord | null {
  const id = reg.db.prepare('SELECT model_id FROM best WHERE config_key = ?').pluck().get(configKey) as string | undefined;
  return id ? getModel(reg, id) : null;
}

/** The path `best.onnx` is published at for a config key. */
export function publishedBestPath(reg: Registry, configKey: string): string {
  return path.join(reg.dir, configKey, 'best.onnx');
}

/** The file exists and has the recorded sha256 (else a RegistryError naming the file). */
export function verifyModelFile(m: Pick<ModelRecord, 'id' | 'path' | 'sha256'>): void {
  if (!fs.existsSync(m.path)) throw new RegistryError(`model ${m.id}: file ${m.path} is missing`, 'bad_file');
  const sha = fileSha256Sync(m.path);
  if (sha !== m.sha256) {
    throw new RegistryError(
      `model ${m.id}: file ${m.path} has sha256 ${sha.slice(0, 12)}…, the registry recorded ${m.sha256.slice(0, 12)}…`,
      'bad_file',
    );
  }
}

/**
 * The model `ref` (a model id, or `best`) of `configKey`, with its file checked (exists, sha256).
 * The entry point of the neural players.
 */
export function resolveModel(registryDir: string, configKey: string, ref: string): ModelRecord {
  parseConfigKey(configKey);
  return withRegistry(registryDir, (reg) => {
    let m: ModelRecord | null;
    if (ref === 'best') {
      m = bestModel(reg, configKey);
      if (!m) throw new RegistryError(`no best model for ${configKey} in ${reg.dir}: promote one first (ringrift models list)`, 'no_best');
    } else {
      m = requireModel(reg, ref);
      if (m.configKey !== configKey) throw new RegistryError(`model ${ref} is a ${m.configKey} model, not ${configKey}`, 'wrong_config');
    }
    verifyModelFile(m);
    return m;
  });
}

// ───────────────────────────── writing ─────────────────────────────

/** Copies `src` to `dest` through a temp file in dest's folder (fsynced, then renamed). */
export function copyAtomic(src: string, dest: string): void {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp-${process.pid}-${Date.now()}`;
  try {
    fs.copyFileSync(src, tmp);
    const fd = fs.openSync(tmp, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, dest);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** Copies `src` into the registry as `<configKey>/<name>` unless a file with that sha256 is already there. */
function storeFile(reg: Registry, src: string, configKey: string, name: string, sha: string): string {
  const rel = path.join(configKey, name);
  const dest = path.join(reg.dir, rel);
  if (!(fs.existsSync(dest) && fileSha256Sync(dest) === sha)) copyAtomic(src, dest);
  return rel;
}

export interface RegisterModelInput {
  configKey: string;
  /** the checked ONNX file; copied into the registry */
  onnxFile: string;
  /** refuse the file if it no longer has this sha256 (the one the export check saw) */
  expectedSha256?: string;
  checkpointFile?: string | null;
  architecture: Record<string, unknown>;
  params: number;
  parentId?: string | null;
  trainingData: TrainingDataRef[];
  hyperparameters: Record<string, unknown>;
  metrics: Record<string, unknown>;
  gitCommit: string;
  workflowId: string;
  createdAt?: string;
}

/** The id of the model whose ONNX file has this sha256. */
export function modelId(configKey: string, sha256: string): string {
  return `${configKey}-${sha256.slice(0, 12)}`;
}

/**
 * Adds a `candidate` model. The id is derived from the file's sha256, so registering the same file
 * again (an activity retry) returns the existing row and adds nothing.
 */
export function registerModel(reg: Registry, input: RegisterModelInput): { model: ModelRecord; created: boolean } {
  const { boardType, numPlayers } = parseConfigKey(input.configKey);
  if (!fs.existsSync(input.onnxFile)) throw new RegistryError(`model file ${input.onnxFile} does not exist`, 'bad_input');
  const sha = fileSha256Sync(input.onnxFile);
  if (input.expectedSha256 && sha !== input.expectedSha256) {
    throw new RegistryError(`model file ${input.onnxFile} changed after it was checked (sha256 ${sha.slice(0, 12)}…)`, 'bad_file');
  }
  const id = modelId(input.configKey, sha);
  const existing = getModel(reg, id);
  if (existing) return { model: existing, created: false };
  if (input.parentId) {
    const parent = requireModel(reg, input.parentId);
    if (parent.boardType !== boardType) {
      throw new RegistryError(`parent model ${parent.id} is a ${parent.boardType} model, not ${boardType}`, 'wrong_config');
    }
  }
  const onnxRel = storeFile(reg, input.onnxFile, input.configKey, `${sha}.onnx`, sha);
  let ckptRel: string | null = null;
  let ckptSha: string | null = null;
  if (input.checkpointFile) {
    ckptSha = fileSha256Sync(input.checkpointFile);
    ckptRel = storeFile(reg, input.checkpointFile, input.configKey, `${sha}.ckpt`, ckptSha);
  }
  const now = input.createdAt ?? new Date().toISOString();
  const created = reg.db
    .transaction(() => {
      if (getModel(reg, id)) return false; // a concurrent registration of the same file won
      reg.db
        .prepare(
          `INSERT INTO models (id, config_key, board_type, num_players, onnx_file, sha256, checkpoint_file, checkpoint_sha256,
             architecture_json, params, parent_id, hyperparameters_json, metrics_json, git_commit, workflow_id, created_at,
             status, status_reason, status_changed_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'candidate', NULL, ?)`,
        )
        .run(
          id,
          input.configKey,
          boardType,
          numPlayers,
          onnxRel,
          sha,
          ckptRel,
          ckptSha,
          JSON.stringify(input.architecture),
          input.params,
          input.parentId ?? null,
          JSON.stringify(input.hyperparameters),
          JSON.stringify(input.metrics),
          input.gitCommit,
          input.workflowId,
          now,
          now,
        );
      const addData = reg.db.prepare(
        'INSERT INTO model_data (model_id, ord, npz_path, npz_sha256, positions, source_db, source_db_sha256) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      input.trainingData.forEach((d, i) => addData.run(id, i, d.path, d.sha256, d.positions, d.sourceDb, d.sourceDbSha256));
      addEvent(reg, { configKey: input.configKey, modelId: id, kind: 'registered', workflowId: input.workflowId });
      return true;
    })
    .immediate();
  return { model: requireModel(reg, id), created };
}

/** Appends to the record of registrations, promotions, rollbacks and status changes (inside the caller's transaction). */
export function addEvent(
  reg: Registry,
  e: {
    configKey: string;
    modelId: string | null;
    kind: ModelEventKind;
    previousBestId?: string | null;
    reason?: string | null;
    workflowId?: string | null;
  },
): void {
  reg.db
    .prepare(
      'INSERT INTO model_events (at, config_key, model_id, kind, previous_best_id, reason, workflow_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
    )
    .run(new Date().toISOString(), e.configKey, e.modelId, e.kind, e.previousBestId ?? null, e.reason ?? null, e.workflowId ?? null);
}

/** Copies a model's ONNX file to `dest` (temp + rename); an existing `dest` is never overwritten. */
export function exportModel(reg: Registry, id: string, dest: string): ModelRecord {
  const m = requireModel(reg, id);
  verifyModelFile(m);
  const abs = path.resolve(dest);
  if (fs.existsSync(abs)) throw new RegistryError(`${abs} already exists; refusing to overwrite it`, 'exists');
  const tmp = `${abs}.tmp-${process.pid}`;
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  try {
    fs.copyFileSync(m.path, tmp);
    fs.linkSync(tmp, abs); // fails if dest appeared meanwhile
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return m;
}
