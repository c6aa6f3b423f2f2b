// `ringrift engine verify <trace files...>`: replay reference traces with the engine and compare.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { Command } from 'commander';
import { UserError } from '../errors';
import { verifyGame, type GameVerifyReport, type TraceGame } from '../../engine/verify';

/** Read a .jsonl or .jsonl.gz trace file into game records. Throws UserError on bad input. */
export function readTraceFile(file: string): TraceGame[] {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? `no such trace file: ${file}` : `cannot read ${file}: ${(e as Error).message}`);
  }
  if (file.endsWith('.gz') || (buf.length > 2 && buf[0] === 0x1f && buf[1] === 0x8b)) {
    try {
      buf = zlib.gunzipSync(buf);
    } catch (e) {
      throw new UserError(`${file}: not valid gzip data (${(e as Error).message})`);
    }
  }
  const games: TraceGame[] = [];
  const lines = buf.toString('utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new UserError(`${file}:${i + 1}: bad JSON (${(e as Error).message})`);
    }
    const g = obj as TraceGame;
    if (!g || typeof g !== 'object' || !g.initial || !Array.isArray(g.steps) || typeof g.boardType !== 'string')
      throw new UserError(`${file}:${i + 1}: not a trace game record (needs boardType, numPlayers, seed, initial, steps)`);
    games.push(g);
  }
  return games;
}

export interface VerifySummary {
  games: number;
  positions: number;
  mismatches: number;
  /** games whose trace carries `error` (the reference failed); reported apart, never silently passed */
  referenceErrors: number;
  reports: { file: string; report: GameVerifyReport }[];
}

/** The closing summary line of `ringrift engine verify`. */
export function summaryLine(sum: VerifySummary): string {
  return `verify: ${sum.games} games, ${sum.positions} positions, ${sum.mismatches} mismatches, ${sum.referenceErrors} reference-error games`;
}

/** Verify files; `log` receives human-readable lines (first mismatch per game, per-file totals). */
export function verifyTraceFiles(files: string[], log: (line: string) => void = () => {}): VerifySummary {
  const sum: VerifySummary = { games: 0, positions: 0, mismatches: 0, referenceErrors: 0, reports: [] };
  for (const file of files) {
    const games = readTraceFile(file);
    let fileMismatches = 0;
    let filePositions = 0;
    let fileRefErrors = 0;
    for (const g of games) {
      const r = verifyGame(g);
      sum.games++;
      sum.positions += r.positions;
      sum.mismatches += r.mismatches;
      filePositions += r.positions;
      fileMismatches += r.mismatches;
      sum.reports.push({ file, report: r });
      if (r.first) {
        const f = r.first;
        log(`MISMATCH ${path.basename(file)} ${r.id} step ${f.k}: ${f.fields.join(', ')}${f.detail ? ` — ${f.detail}` : ''}`);
        log(`  expected fingerprint: ${f.expectedFingerprint}`);
        log(`  actual fingerprint:   ${f.actualFingerprint}`);
      }
      const re = r.referenceError;
      if (re) {
        sum.referenceErrors++;
        fileRefErrors++;
        log(`REFERENCE-ERROR ${path.basename(file)} ${r.id} after step ${g.steps.length}: ${re.error}`);
        log(`  engine (${re.ok ? 'as documented' : 'NOT as documented'}): ${re.outcome}`);
      }
    }
    log(
      `${file}: ${games.length} games, ${filePositions} positions, ${fileMismatches} mismatches` +
        (fileRefErrors ? `, ${fileRefErrors} reference-error games` : ''),
    );
  }
  return sum;
}

export function registerEngineCommands(program: Command): void {
  const engine = program.command('engine').description('rules engine tools (verify traces)');
  engine
    .command('verify')
    .description(
      'replay reference trace files (.jsonl / .jsonl.gz) and compare every state; games where the reference itself failed are counted apart',
    )
    .argument('<files...>', 'trace files')
    .action((files: string[]) => {
      const out = (l: string): void => {
        process.stdout.write(l + '\n');
      };
      const sum = verifyTraceFiles(files, out);
      out(summaryLine(sum));
      if (sum.mismatches > 0) process.exitCode = 1;
    });
}
