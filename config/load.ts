// Loads and validates config/pipeline.yaml and config/hosts.yaml (a user folder's files merged over the
// shipped ones), then applies RINGRIFT_* overrides.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { hostsSchema, pipelineSchema, type HostsConfig, type PipelineConfig } from './schema';

export const REPO_ROOT = path.resolve(__dirname, '..');
export const DEFAULT_CONFIG_DIR = path.join(REPO_ROOT, 'config');

/** One problem per line: `file: key.path: reason`. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

export interface LoadedConfig {
  dir: string;
  pipeline: PipelineConfig;
  hosts: HostsConfig;
}

type Env = Record<string, string | undefined>;

/** Environment variables that override pipeline.yaml keys, and how to read them. */
const ENV_OVERRIDES: { env: string; path: string[]; kind: 'string' | 'int' | 'bool' }[] = [
  { env: 'RINGRIFT_TEMPORAL_ADDRESS', path: ['temporal', 'address'], kind: 'string' },
  { env: 'RINGRIFT_NAMESPACE', path: ['temporal', 'namespace'], kind: 'string' },
  { env: 'RINGRIFT_TLS', path: ['temporal', 'tls', 'enabled'], kind: 'bool' },
  { env: 'RINGRIFT_TLS_CERT', path: ['temporal', 'tls', 'clientCertPath'], kind: 'string' },
  { env: 'RINGRIFT_TLS_KEY', path: ['temporal', 'tls', 'clientKeyPath'], kind: 'string' },
  { env: 'RINGRIFT_TLS_CA', path: ['temporal', 'tls', 'serverCaPath'], kind: 'string' },
  { env: 'RINGRIFT_TLS_SERVER_NAME', path: ['temporal', 'tls', 'serverName'], kind: 'string' },
  { env: 'RINGRIFT_API_KEY', path: ['temporal', 'apiKey'], kind: 'string' },
  { env: 'RINGRIFT_TEMPORAL_UI', path: ['temporal', 'webUi'], kind: 'string' },
  { env: 'RINGRIFT_STATE_DIR', path: ['dev', 'stateDir'], kind: 'string' },
  { env: 'RINGRIFT_DEV_PORT', path: ['dev', 'port'], kind: 'int' },
  { env: 'RINGRIFT_UI_PORT', path: ['dev', 'uiPort'], kind: 'int' },
  { env: 'RINGRIFT_REGISTRY_DIR', path: ['registry', 'dir'], kind: 'string' },
  { env: 'RINGRIFT_METRICS_HOST', path: ['metrics', 'host'], kind: 'string' },
  { env: 'RINGRIFT_METRICS_PORT', path: ['metrics', 'port'], kind: 'int' },
  { env: 'RINGRIFT_METRICS_TOKEN', path: ['metrics', 'token'], kind: 'string' },
];

function readYaml(file: string): { value?: unknown; problems: string[] } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { problems: [`${file}: cannot read file (${code ?? String(err)}); create it or pass --config <dir>`] };
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => {
        const line = e.linePos?.[0];
        const reason = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        return `${file}:${line ? `${line.line}:${line.col}:` : ''} invalid YAML: ${reason}`;
      }),
    };
  }
  const value: unknown = doc.toJS();
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { problems: [`${file}: (root): expected a mapping of keys, got ${value === null ? 'an empty file' : typeof value}`] };
  }
  return { value, problems: [] };
}

function setPath(obj: Record<string, unknown>, keys: string[], value: unknown): void {
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    const next = cur[k];
    if (next === null || typeof next !== 'object') cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]!] = value;
}

/** Applies RINGRIFT_* overrides; returns problems for values that cannot be parsed, and which paths env set. */
function applyEnv(raw: Record<string, unknown>, env: Env): { problems: string[]; fromEnv: Map<string, string> } {
  const problems: string[] = [];
  const fromEnv = new Map<string, string>();
  for (const o of ENV_OVERRIDES) {
    const v = env[o.env];
    if (v === undefined || v === '') continue;
    let parsed: unknown = v;
    if (o.kind === 'int') {
      if (!/^\d+$/.test(v)) {
        problems.push(`${o.env}: expected an integer, got "${v}"`);
        continue;
      }
      parsed = Number(v);
    } else if (o.kind === 'bool') {
      if (!/^(1|0|true|false|yes|no)$/i.test(v)) {
        problems.push(`${o.env}: expected 1/0/true/false, got "${v}"`);
        continue;
      }
      parsed = /^(1|true|yes)$/i.test(v);
    }
    setPath(raw, o.path, parsed);
    fromEnv.set(o.path.join('.'), o.env);
  }
  return { problems, fromEnv };
}

function describeIssues(file: string, error: z.ZodError, fromEnv = new Map<string, string>()): string[] {
  return error.issues.map((issue) => {
    const key = issue.path.map(String).join('.') || '(root)';
    const envNote = fromEnv.get(key) ? ` (set by ${fromEnv.get(key)})` : '';
    return `${file}: ${key}: ${issue.message}${envNote}`;
  });
}

function checkFilesExist(file: string, cfg: PipelineConfig, baseDir: string): string[] {
  const problems: string[] = [];
  const tls = cfg.temporal.tls;
  for (const key of ['clientCertPath', 'clientKeyPath', 'serverCaPath'] as const) {
    const p = tls[key];
    if (p && !fs.existsSync(path.resolve(baseDir, p))) {
      problems.push(`${file}: temporal.tls.${key}: file not found: ${p}`);
    }
  }
  return problems;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * `over` merged onto `base`: plain objects merge key by key, anything else in `over` (arrays,
 * scalars, null) replaces the base value. Neither input is modified.
 */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? structuredClone(base) : structuredClone(over);
  const out: Record<string, unknown> = structuredClone(base);
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? deepMerge(out[k], v) : structuredClone(v);
  return out;
}

/**
 * One config file of a user folder, merged over the shipped default of the same name. A file the
 * folder lacks means "no changes" (the shipped defaults; for hosts.yaml: the local host only,
 * no remote hosts).
 */
function readMerged(dir: string, name: string): { value?: unknown; problems: string[]; present: boolean } {
  const file = path.join(dir, name);
  const defaults = path.join(DEFAULT_CONFIG_DIR, name);
  const isDefault = path.resolve(dir) === path.resolve(DEFAULT_CONFIG_DIR);
  if (isDefault) return { ...readYaml(file), present: true };
  if (!fs.existsSync(file)) {
    const d = readYaml(defaults);
    return { ...d, present: false };
  }
  const user = readYaml(file);
  if (!user.value) return { ...user, present: true };
  const d = readYaml(defaults);
  if (!d.value) return { ...d, present: true };
  return { value: deepMerge(d.value, user.value), problems: [], present: true };
}

/**
 * Loads both files from `dir`, each merged over the shipped default (config/pipeline.yaml,
 * config/hosts.yaml): a user folder holds only the keys it changes. Throws ConfigError listing
 * every problem found.
 */
export function loadConfig(dir: string = DEFAULT_CONFIG_DIR, env: Env = process.env): LoadedConfig {
  const pipelineFile = path.join(dir, 'pipeline.yaml');
  const hostsFile = path.join(dir, 'hosts.yaml');
  const problems: string[] = [];

  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new ConfigError([`${dir}: no such config folder; pass --config <dir> with a pipeline.yaml and/or hosts.yaml in it`]);
  }
  const p = readMerged(dir, 'pipeline.yaml');
  const h = readMerged(dir, 'hosts.yaml');
  if (!p.present && !h.present) {
    throw new ConfigError([`${dir}: holds neither pipeline.yaml nor hosts.yaml; put the keys you change in ${pipelineFile}`]);
  }
  problems.push(...p.problems, ...h.problems);

  let pipeline: PipelineConfig | undefined;
  if (p.value) {
    const { problems: envProblems, fromEnv } = applyEnv(p.value as Record<string, unknown>, env);
    problems.push(...envProblems);
    const parsed = pipelineSchema.safeParse(p.value);
    if (parsed.success) {
      pipeline = parsed.data;
      problems.push(...checkFilesExist(pipelineFile, pipeline, REPO_ROOT));
    } else {
      problems.push(...describeIssues(pipelineFile, parsed.error, fromEnv));
    }
  }
  let hosts: HostsConfig | undefined;
  if (h.value) {
    const parsed = hostsSchema.safeParse(h.value);
    if (parsed.success) hosts = parsed.data;
    else problems.push(...describeIssues(hostsFile, parsed.error));
  }
  if (pipeline && hosts) {
    const known = new Set(Object.keys(pipeline.workers.queues));
    pipeline.dev.workers.forEach((q, i) => {
      if (!known.has(q)) problems.push(`${pipelineFile}: dev.workers.${i}: queue "${q}" has no entry under workers.queues`);
    });
  }
  if (problems.length > 0 || !pipeline || !hosts) throw new ConfigError(problems);
  return { dir, pipeline, hosts };
}

/** Resolves a path from config relative to the repository root (absolute paths stay as they are). */
export function resolveFromRoot(p: string): string {
  return path.resolve(REPO_ROOT, p);
}
