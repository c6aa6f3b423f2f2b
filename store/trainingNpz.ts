// What a training run needs to know about an NPZ file before it starts: its config key, encoder,
// size and provenance, read from the small metadata members only (never the feature tensor).
import fs from 'node:fs';
import path from 'node:path';
import { ENCODER_VERSION } from '../ai/encoding';
import { configKey } from '../ai/selfplay';
import { fileSha256 } from './gameDb';
import { readNpz } from './npz';
import { NPZ_FORMAT_VERSION } from './npzExport';

export interface TrainingNpzInfo {
  path: string;
  sha256: string;
  configKey: string;
  positions: number;
  trainPositions: number;
  valPositions: number;
  createdAt: string;
  sourceDb: string | null;
  sourceDbSha256: string | null;
}

export class TrainingNpzError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingNpzError';
  }
}

const METADATA = ['board_type', 'num_players', 'encoder_version', 'format_version', 'split', 'created_at', 'source_db', 'source_db_sha256'];

/** The .npz files named by `inputs` (files, or folders whose *.npz files are taken), each once, sorted. */
export function expandNpzInputs(inputs: string[]): string[] {
  const files = new Set<string>();
  for (const input of inputs) {
    const p = path.resolve(input);
    if (!fs.existsSync(p)) throw new TrainingNpzError(`NPZ ${p} does not exist: pass a .npz file or a folder of them`);
    if (fs.statSync(p).isDirectory()) {
      const found = fs.readdirSync(p).filter((f) => f.endsWith('.npz'));
      if (found.length === 0)
        throw new TrainingNpzError(`folder ${p} holds no .npz file: export one with 'ringrift pipeline run npz_export'`);
      found.forEach((f) => files.add(path.join(p, f)));
    } else files.add(p);
  }
  return [...files].sort();
}

function scalar(a: { data: unknown }): string {
  const d = a.data as ArrayLike<unknown>;
  return String(typeof d[0] === 'bigint' ? Number(d[0]) : d[0]);
}

/** The NPZ metadata names the game DB by file name; the export's manifest beside it has the full path, else try the NPZ's folder. */
function sourceDbPath(npz: string, name: string, sha: string): string {
  try {
    const m = JSON.parse(fs.readFileSync(`${npz}.manifest.json`, 'utf8')) as { sourceDb?: string; sourceDbSha256?: string };
    if (m.sourceDb && m.sourceDbSha256 === sha) return m.sourceDb;
  } catch {
    /* no manifest */
  }
  const beside = path.join(path.dirname(path.resolve(npz)), name);
  return name && fs.existsSync(beside) ? beside : name;
}

/** Reads and checks one NPZ for training on `expectedKey`; every problem is one line naming the file. */
export async function describeTrainingNpz(file: string, expectedKey: string): Promise<TrainingNpzInfo> {
  let meta;
  try {
    meta = readNpz(file, METADATA);
  } catch (err) {
    throw new TrainingNpzError(
      `NPZ ${file} cannot be read (${(err as Error).message.replace(`${file}: `, '')}): re-export it with 'ringrift pipeline run npz_export'`,
    );
  }
  const format = scalar(meta.format_version!);
  if (format !== NPZ_FORMAT_VERSION)
    throw new TrainingNpzError(`NPZ ${file} has format ${format}, the trainer reads ${NPZ_FORMAT_VERSION}`);
  const encoder = scalar(meta.encoder_version!);
  if (encoder !== ENCODER_VERSION) {
    throw new TrainingNpzError(`NPZ ${file} was encoded with ${encoder}, this pipeline uses ${ENCODER_VERSION}: re-export it`);
  }
  const key = configKey({ boardType: scalar(meta.board_type!) as never, numPlayers: Number(scalar(meta.num_players!)) });
  if (key !== expectedKey)
    throw new TrainingNpzError(`NPZ ${file} holds ${key} positions, not ${expectedKey}: pass NPZ files of one config key`);
  const split = meta.split!.data as Uint8Array;
  const val = split.reduce((n, s) => n + (s === 1 ? 1 : 0), 0);
  const srcSha = scalar(meta.source_db_sha256!);
  const src = sourceDbPath(file, scalar(meta.source_db!), srcSha);
  return {
    path: path.resolve(file),
    sha256: await fileSha256(file),
    configKey: key,
    positions: split.length,
    trainPositions: split.length - val,
    valPositions: val,
    createdAt: scalar(meta.created_at!),
    sourceDb: src || null,
    sourceDbSha256: srcSha || null,
  };
}
