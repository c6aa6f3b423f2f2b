// NPZ-export activities: check the inputs (plan), then export parity-passed games into one .npz.
// The export streams in fixed memory (store/npzExport.ts) and is all or nothing (temp files +
// link); a retry after a crash removes the crashed attempt's temp files and starts over, and a
// retry after the file was written returns the manifest this workflow left beside it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { REPO_ROOT } from '../config/load';
import { closeGameDb, fileSha256, openGameDb, type BoardType } from '../store/gameDb';
import { probeGameDb } from '../store/parity';
import { NpzExportError, defaultNpzName, exportNpz, type NpzExportResult } from '../store/npzExport';
import { ensureWritableDir, UnwritableDirError } from '../store/safeDir';
import type { ArtifactRef } from './parity';
import type { LoadedConfig } from '../config/load';
import { ARTIFACT_DATA_FAILURES, resolveArtifact } from '../store/artifacts';
import { artifactResolver } from '../workers/artifactHost';

/** The DB on another host: its worker-side path is `db`, pulled over SFTP and checked against dbSha256. */
interface RemoteDb {
  dbHost?: string | null;
  dbSha256?: string | null;
}

export interface NpzPlanInput extends RemoteDb {
  db: string;
  outputDir: string;
  /** file name inside outputDir (default <db>.<board>_<n>p.npz) */
  outputName: string | null;
  workflowId: string;
}

export interface NpzPlan {
  boardType: BoardType;
  numPlayers: number;
  games: number;
  passedGames: number;
  output: string;
  dbSha256: string;
}

export interface NpzExportInput {
  /** the host holding db (pulled over SFTP, checked against dbSha256, the planned sha256) */
  dbHost?: string | null;
  workflowId: string;
  db: string;
  dbSha256: string;
  boardType: BoardType;
  numPlayers: number;
  output: string;
  splitRatio: number;
  splitSeed: number;
  maxGames?: number | null;
}

export interface NpzExportActivityResult extends Omit<NpzExportResult, 'output' | 'sha256'> {
  output: ArtifactRef;
  manifest: string;
  positionsPerSecond: number;
  workflowId: string;
  /** the game DB as exported (after parity wrote its columns); absent in manifests of older runs */
  source?: ArtifactRef;
}

/** `git rev-parse HEAD` of the code that runs the export ('unknown' outside a checkout). */
export function gitCommit(): string {
  try {
    return (
      execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() ||
      'unknown'
    );
  } catch {
    return 'unknown';
  }
}

function manifestPath(output: string): string {
  return `${output}.manifest.json`;
}

function nonRetryable(err: unknown): never {
  if (err instanceof NpzExportError) throw ApplicationFailure.nonRetryable(err.message, `NpzExport:${err.code}`);
  if (err instanceof UnwritableDirError)
    throw ApplicationFailure.nonRetryable(`output folder ${err.message}`, 'NpzExport:output_unwritable');
  throw err;
}

/**
 * The local file of the DB: `db` itself, or (dbHost given) the ref resolved: in place on that host or shared
 * storage, from the cache, or pulled over SFTP. A checksum mismatch or a missing file fails for good.
 */
async function localDb(input: RemoteDb & { db: string }, config: LoadedConfig | undefined): Promise<string> {
  if (!input.dbHost) return input.db;
  if (!input.dbSha256) {
    throw ApplicationFailure.nonRetryable(
      `db ${input.db} on ${input.dbHost}: give dbSha256 with dbHost (the pull is checked against it)`,
      'BadGameDb',
    );
  }
  const ctx = Context.current();
  const r = artifactResolver({ config, signal: ctx.cancellationSignal, onProgress: (pull) => ctx.heartbeat({ pull }) });
  try {
    const got = await resolveArtifact({ path: input.db, sha256: input.dbSha256, host: input.dbHost }, r.ctx);
    if (got.via === 'pull')
      log.info('pulled game DB', { db: input.db, host: input.dbHost, bytes: got.bytes, resumedFrom: got.resumedFrom });
    return got.path;
  } catch (err) {
    const e = err as Error;
    if (ARTIFACT_DATA_FAILURES.includes(e.name)) throw ApplicationFailure.nonRetryable(e.message, e.name);
    throw err;
  } finally {
    r.close();
  }
}

export function createNpzExportActivities(deps: { client: Client; config?: LoadedConfig }) {
  return {
    /** Check the DB (exists, has games, some passed parity) and the output (absent); resolve paths. */
    async planNpzExport(input: NpzPlanInput): Promise<NpzPlan> {
      const db = await localDb(input, deps.config);
      let info;
      try {
        info = probeGameDb(db);
      } catch (err) {
        throw ApplicationFailure.nonRetryable((err as Error).message, 'BadGameDb');
      }
      if (info.games === 0) throw ApplicationFailure.nonRetryable(`${input.db} holds no games`, 'NpzExport:no_games');
      const passed = info.parity['passed'] ?? 0;
      if (passed === 0) {
        throw ApplicationFailure.nonRetryable(
          `none of the ${info.games} games in ${input.db} passed parity (run parity_validation first)`,
          'NpzExport:nothing_passed',
        );
      }
      try {
        ensureWritableDir(input.outputDir);
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`output folder ${(err as Error).message}`, 'NpzExport:output_unwritable');
      }
      const output = path.resolve(input.outputDir, input.outputName ?? defaultNpzName(input.db, info.boardType, info.numPlayers));
      if (fs.existsSync(output)) {
        const mine = readManifest(output);
        if (!mine || mine.workflowId !== input.workflowId) {
          throw ApplicationFailure.nonRetryable(`output ${output} already exists; refusing to overwrite it`, 'NpzExport:output_exists');
        }
      }
      return {
        boardType: info.boardType as BoardType,
        numPlayers: info.numPlayers,
        games: info.games,
        passedGames: passed,
        output,
        dbSha256: await fileSha256(db),
      };
    },

    /** Export the parity-passed games into one compressed .npz (temp file + link), with a manifest beside it. */
    async exportNpzFile(input: NpzExportInput): Promise<NpzExportActivityResult> {
      const ctx = Context.current();
      // a previous attempt of this workflow that finished writing: hand its result back
      const prior = readManifest(input.output);
      if (
        prior &&
        prior.workflowId === input.workflowId &&
        fs.existsSync(input.output) &&
        (await fileSha256(input.output)) === prior.output.sha256
      ) {
        log.info('npz export already written by this workflow', { output: input.output });
        return prior;
      }
      // stale temp files of crashed attempts
      const dir = path.dirname(input.output);
      if (fs.existsSync(dir)) {
        for (const f of fs.readdirSync(dir))
          if (f.startsWith(`.${path.basename(input.output)}.tmp-`)) fs.rmSync(path.join(dir, f), { force: true });
      }
      const dbFile = await localDb({ db: input.db, dbHost: input.dbHost ?? null, dbSha256: input.dbSha256 }, deps.config);
      const sha = await fileSha256(dbFile);
      if (sha !== input.dbSha256) {
        // parity columns may have been written since planning: that is fine, but say so
        log.info('source DB changed since planning', { planned: input.dbSha256, now: sha });
      }
      const db = openGameDb(dbFile, { boardType: input.boardType, numPlayers: input.numPlayers, readonly: true });
      const t0 = Date.now();
      let gamesDone = 0;
      let positions = 0;
      // keep heartbeating while the spilled arrays are appended (no per-game callbacks then)
      const beat = setInterval(() => ctx.heartbeat({ gamesDone, positions }), 5000);
      let res: NpzExportResult;
      try {
        res = await exportNpz(db, {
          output: input.output,
          splitRatio: input.splitRatio,
          splitSeed: input.splitSeed,
          ...(input.maxGames ? { maxGames: input.maxGames } : {}),
          sourceSha256: sha,
          sourceName: path.basename(input.db),
          gitCommit: gitCommit(),
          createdAt: new Date().toISOString(),
          onProgress: (done, _total, pos) => {
            gamesDone = done;
            positions = pos;
            ctx.heartbeat({ gamesDone: done, positions: pos });
          },
        });
      } catch (err) {
        nonRetryable(err);
      } finally {
        clearInterval(beat);
        closeGameDb(db);
      }
      const seconds = Math.max(0.001, (Date.now() - t0) / 1000);
      const { output, sha256, ...rest } = res;
      const out: NpzExportActivityResult = {
        ...rest,
        output: { path: output, sha256 },
        manifest: manifestPath(output),
        positionsPerSecond: res.positions / seconds,
        workflowId: input.workflowId,
        source: { path: path.resolve(input.db), sha256: sha },
      };
      const tmp = `${out.manifest}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, JSON.stringify({ ...out, sourceDb: path.resolve(input.db), sourceDbSha256: sha }, null, 2) + '\n');
      fs.renameSync(tmp, out.manifest);
      return out;
    },
  };
}

function readManifest(output: string): NpzExportActivityResult | null {
  try {
    return JSON.parse(fs.readFileSync(manifestPath(output), 'utf8')) as NpzExportActivityResult;
  } catch {
    return null;
  }
}

export type NpzExportActivities = ReturnType<typeof createNpzExportActivities>;
