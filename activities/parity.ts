// Parity-validation activities: plan (select games → id list file), validate one shard (resumable
// from its results file), write the report. Artifacts travel as path + sha256.
import fs from 'node:fs';
import path from 'node:path';
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { closeGameDb, fileSha256, openGameDb, type BoardType } from '../store/gameDb';
import {
  buildParityReport,
  formatParityReport,
  probeGameDb,
  selectParityGames,
  validateGames,
  type GameParity,
  type ParityBatchResult,
} from '../store/parity';
import { externalHashesFor, probeReplayer } from '../store/externalReplayer';
import { ensureWritableDir } from '../store/safeDir';
import { trackChild } from '../workers/childProcesses';

export interface ArtifactRef {
  path: string;
  sha256: string;
}

export interface ParityPlanInput {
  workflowId: string;
  db: string;
  sample: number | null;
  seed: number;
  /** external replayer command line: checked (starts, speaks the protocol) before any game is touched */
  external?: string | null;
  /** folder for the id list, shard results and the report */
  reportDir: string;
}

export interface ParityPlan {
  boardType: BoardType;
  numPlayers: number;
  dbSha256: string;
  totalGames: number;
  selected: number;
  /** the selected game ids, one per line */
  gameList: ArtifactRef;
  workDir: string;
}

export interface ParityShardInput {
  workflowId: string;
  shardIndex: number;
  db: string;
  boardType: BoardType;
  numPlayers: number;
  gameList: ArtifactRef;
  first: number;
  count: number;
  workDir: string;
  /** external replayer command line (no shell), or null */
  external: string | null;
}

export interface ParityShardResult {
  shardIndex: number;
  total: number;
  passed: number;
  failed: number;
  error: number;
  movesReplayed: number;
  resumedFrom: number;
  /** JSON lines, one GameParity per game */
  results: ArtifactRef;
  seconds: number;
}

export interface ParityShardHeartbeat {
  /** games validated (and recorded in the shard's results file) */
  done: number;
  /** the shard (HeartbeatProgress: the CLI reads progress from heartbeats) */
  shard?: number;
  /** games answered by the external replayer so far, while it runs */
  external?: number;
}

export interface ParityReportInput {
  workflowId: string;
  db: string;
  dbSha256: string;
  sample: number | null;
  seed: number;
  failThreshold: number;
  external: string | null;
  shardResults: ArtifactRef[];
  /** instead of shardResults (a bounded payload): shard-0000.jsonl … in workDir, this many */
  shardCount?: number;
  reportDir: string;
  workDir: string;
  startedAtMs: number;
}

export interface ParityReportResult {
  total: number;
  passed: number;
  failed: number;
  error: number;
  failureRate: number;
  failThreshold: number;
  ok: boolean;
  gamesPerSecond: number;
  movesReplayed: number;
  report: ArtifactRef;
  summary: ArtifactRef;
  /** first few problems: game, move, reason */
  firstProblems: string[];
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

async function ref(file: string): Promise<ArtifactRef> {
  return { path: path.resolve(file), sha256: await fileSha256(file) };
}

/** Read the id list and check it is the planned artifact. */
async function readGameList(list: ArtifactRef): Promise<string[]> {
  const sha = await fileSha256(list.path);
  if (sha !== list.sha256) {
    throw ApplicationFailure.nonRetryable(`game list ${list.path} changed (sha256 ${sha}, planned ${list.sha256})`, 'ArtifactChanged');
  }
  return fs
    .readFileSync(list.path, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
}

/** Completed per-game results of a shard file (a torn last line from a crash is ignored). */
function readShardResults(file: string): GameParity[] {
  if (!fs.existsSync(file)) return [];
  const out: GameParity[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as GameParity);
    } catch {
      break;
    }
  }
  return out;
}

export function parityWorkDir(reportDir: string, workflowId: string): string {
  return path.join(path.resolve(reportDir), `.parity-${workflowId}`);
}

function shardResultsFile(workDir: string, shardIndex: number): string {
  return path.join(workDir, `shard-${String(shardIndex).padStart(4, '0')}.jsonl`);
}

export function createParityActivities(_deps: { client: Client }) {
  return {
    /** Select the games (all or a seeded sample) and write their ids to a list file. */
    async planParity(input: ParityPlanInput): Promise<ParityPlan> {
      let info;
      try {
        info = probeGameDb(input.db);
      } catch (err) {
        throw ApplicationFailure.nonRetryable((err as Error).message, 'BadGameDb');
      }
      if (info.games === 0) throw ApplicationFailure.nonRetryable(`${input.db} holds no games`, 'NoGames');
      if (input.external) {
        try {
          await probeReplayer(input.external, { boardType: info.boardType, numPlayers: info.numPlayers }, { onSpawn: trackChild });
        } catch (err) {
          throw ApplicationFailure.nonRetryable(
            `external replayer "${input.external}" cannot be used: ${(err as Error).message}; nothing was checked and no parity status was touched`,
            'ExternalReplayerUnavailable',
          );
        }
      }
      const dbSha256 = await fileSha256(input.db);
      const db = openGameDb(input.db, { boardType: info.boardType as BoardType, numPlayers: info.numPlayers, readonly: true });
      let ids: string[];
      try {
        ids = selectParityGames(db, { sample: input.sample ?? undefined, seed: input.seed });
      } finally {
        closeGameDb(db);
      }
      const workDir = parityWorkDir(input.reportDir, input.workflowId);
      ensureWritableDir(workDir);
      const listFile = path.join(workDir, 'games.txt');
      writeAtomic(listFile, ids.join('\n') + '\n');
      return {
        boardType: info.boardType as BoardType,
        numPlayers: info.numPlayers,
        dbSha256,
        totalGames: info.games,
        selected: ids.length,
        gameList: await ref(listFile),
        workDir,
      };
    },

    /**
     * Validate games [first, first+count) of the list: replay, compare, write parity columns, append
     * one result line per game. After a retry it skips the games already in its results file.
     */
    async validateParityShard(input: ParityShardInput): Promise<ParityShardResult> {
      const ctx = Context.current();
      const t0 = Date.now();
      const all = await readGameList(input.gameList);
      const ids = all.slice(input.first, input.first + input.count);
      const resultsFile = shardResultsFile(input.workDir, input.shardIndex);
      const previous = readShardResults(resultsFile);
      // rewrite the file without a torn tail, then append
      const doneIds = new Set(previous.map((r) => r.gameId));
      writeAtomic(resultsFile, previous.map((r) => JSON.stringify(r) + '\n').join(''));
      const hb = ctx.info.heartbeatDetails as ParityShardHeartbeat | undefined;
      if (previous.length > 0 || ctx.info.attempt > 1) {
        log.info('resuming parity shard', {
          shard: input.shardIndex,
          done: previous.length,
          heartbeat: hb?.done ?? null,
          attempt: ctx.info.attempt,
        });
      }
      const todo = ids.filter((id) => !doneIds.has(id));
      const db = openGameDb(input.db, { boardType: input.boardType, numPlayers: input.numPlayers });
      const sums: ParityBatchResult = { total: 0, passed: 0, failed: 0, error: 0, problems: [], movesReplayed: 0 };
      for (const r of previous) {
        sums.total++;
        sums[r.status]++;
        sums.movesReplayed += r.moves;
      }
      try {
        const checkedAt = new Date().toISOString();
        // external replayer: one process for the whole shard (its answers arrive asynchronously,
        // so heartbeats flow while it works)
        const external = input.external
          ? await externalHashesFor(db, todo, input.external, {
              onGame: (k) => ctx.heartbeat({ done: sums.total, shard: input.shardIndex, external: k }),
              onSpawn: trackChild,
            })
          : undefined;
        // a replayer that died (or broke the protocol) is an environment failure: stop before any
        // game of this shard is written, so earlier parity results stay as they were
        const broken = external ? todo.find((id) => external.get(id) instanceof Error) : undefined;
        if (external && broken !== undefined) {
          throw ApplicationFailure.nonRetryable(
            `external replayer "${input.external}" failed on game ${broken}: ${(external.get(broken) as Error).message}; ` +
              `the run stops, and the parity status of this shard's unchecked games was not touched`,
            'ExternalReplayerFailed',
          );
        }
        // one game at a time, yielding in between, so heartbeats and cancellation get through even
        // on long hexagonal games
        for (const id of todo) {
          if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
          let last: GameParity | undefined;
          const res = validateGames(db, [id], { checkedAt, external, onProgress: (_d, _t, r) => (last = r) });
          if (last) fs.appendFileSync(resultsFile, JSON.stringify(last) + '\n');
          sums.total += res.total;
          sums.passed += res.passed;
          sums.failed += res.failed;
          sums.error += res.error;
          sums.movesReplayed += res.movesReplayed;
          ctx.heartbeat({ done: sums.total, shard: input.shardIndex } satisfies ParityShardHeartbeat);
          await new Promise((r) => setImmediate(r));
        }
      } finally {
        closeGameDb(db);
      }
      return {
        shardIndex: input.shardIndex,
        total: sums.total,
        passed: sums.passed,
        failed: sums.failed,
        error: sums.error,
        movesReplayed: sums.movesReplayed,
        resumedFrom: previous.length,
        results: await ref(resultsFile),
        seconds: (Date.now() - t0) / 1000,
      };
    },

    /** Merge shard results into the JSON report and the readable summary; remove the work folder. */
    async writeParityReport(input: ParityReportInput): Promise<ParityReportResult> {
      const parts: ParityBatchResult[] = [];
      // shard files by reference (checked), or by index in the work folder (any number of shards)
      const files: (ArtifactRef | string)[] =
        input.shardCount !== undefined
          ? Array.from({ length: input.shardCount }, (_, i) => shardResultsFile(input.workDir, i))
          : input.shardResults;
      for (const r of files) {
        if (typeof r === 'string' && !fs.existsSync(r)) {
          throw ApplicationFailure.nonRetryable(`shard results ${r} are missing`, 'ArtifactChanged');
        }
        if (typeof r !== 'string') {
          const sha = await fileSha256(r.path);
          if (sha !== r.sha256)
            throw ApplicationFailure.nonRetryable(`shard results ${r.path} changed since the shard finished`, 'ArtifactChanged');
        }
        const rows = readShardResults(typeof r === 'string' ? r : r.path);
        const part: ParityBatchResult = { total: 0, passed: 0, failed: 0, error: 0, problems: [], movesReplayed: 0 };
        for (const g of rows) {
          part.total++;
          part[g.status]++;
          part.movesReplayed += g.moves;
          if (g.status !== 'passed') part.problems.push(g);
        }
        parts.push(part);
      }
      const elapsedSeconds = Math.max(0.001, (Date.now() - input.startedAtMs) / 1000);
      const rep = buildParityReport(parts, {
        db: path.resolve(input.db),
        dbSha256: input.dbSha256,
        checkedAt: new Date().toISOString(),
        sample: input.sample,
        seed: input.seed,
        failThreshold: input.failThreshold,
        elapsedSeconds,
        external: input.external,
      });
      ensureWritableDir(input.reportDir);
      const base = path.join(path.resolve(input.reportDir), `${input.workflowId}.parity-report`);
      writeAtomic(`${base}.json`, JSON.stringify(rep, null, 2) + '\n');
      writeAtomic(`${base}.txt`, formatParityReport(rep));
      const out: ParityReportResult = {
        total: rep.total,
        passed: rep.passed,
        failed: rep.failed,
        error: rep.error,
        failureRate: rep.failureRate,
        failThreshold: rep.failThreshold,
        ok: rep.ok,
        gamesPerSecond: rep.gamesPerSecond ?? 0,
        movesReplayed: rep.movesReplayed,
        report: await ref(`${base}.json`),
        summary: await ref(`${base}.txt`),
        firstProblems: rep.problems
          .slice(0, 5)
          .map((p) => `${p.gameId}: ${p.status} at move ${p.divergenceMove ?? '-'} (${p.reason ?? ''})`),
      };
      fs.rmSync(input.workDir, { recursive: true, force: true });
      return out;
    },
  };
}

export type ParityActivities = ReturnType<typeof createParityActivities>;
