/**
 * Client for external replayers: any program that speaks the JSON-lines protocol of
 * store/EXTERNAL_REPLAYER.md (RingRift's Python engine, its TS replay script, …). We send one
 * game per line (initial config + moves); the program answers one line per game with one state
 * hash per move. store/parity.ts compares those hashes with the stored ones (and ours).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { readGame, type GameDb, type StoredGame } from './gameDb';
import { replaySetup, type ExternalHashes } from './parity';

export const EXTERNAL_PROTOCOL_VERSION = 1;

export interface ReplayRequest {
  gameId: string;
  boardType: string;
  numPlayers: number;
  seed: number;
  rulesOptions: Record<string, unknown>;
  /** moves in the reference JSON shape, in order (as stored in game_moves.move_json) */
  moves: Record<string, unknown>[];
}

export interface ReplayResponse {
  gameId: string | null;
  initialHash?: string | null;
  hashes?: string[];
  fingerprints?: string[];
  error?: { move?: number | null; message?: string } | string | null;
}

export class ExternalReplayerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExternalReplayerError';
  }
}

/** The protocol request for a stored game. */
export function requestForGame(game: StoredGame): ReplayRequest {
  const { seed, rulesOptions } = replaySetup(game);
  return {
    gameId: game.gameId,
    boardType: game.boardType,
    numPlayers: game.numPlayers,
    seed,
    rulesOptions: rulesOptions as Record<string, unknown>,
    moves: game.moves,
  };
}

const HASH_RE = /^[0-9a-f]{16}$/;

/** Validate a response line and turn it into ExternalHashes (throws ExternalReplayerError). */
export function parseResponse(line: string, expectGameId: string): ExternalHashes {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    throw new ExternalReplayerError(`response for ${expectGameId} is not JSON: ${line.slice(0, 200)}`);
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw new ExternalReplayerError(`response for ${expectGameId} is not a JSON object`);
  const r = o as ReplayResponse;
  if (r.gameId !== expectGameId) {
    throw new ExternalReplayerError(
      `protocol error: expected the response for ${expectGameId}, got ${JSON.stringify(r.gameId)} (responses must come in request order)`,
    );
  }
  const hashes = r.hashes ?? [];
  if (!Array.isArray(hashes) || hashes.some((h) => typeof h !== 'string' || !HASH_RE.test(h))) {
    throw new ExternalReplayerError(`response for ${expectGameId}: hashes must be an array of 16-hex-digit strings`);
  }
  const ih = r.initialHash ?? null;
  if (ih !== null && (typeof ih !== 'string' || !HASH_RE.test(ih))) {
    throw new ExternalReplayerError(`response for ${expectGameId}: initialHash must be 16 hex digits`);
  }
  let error: ExternalHashes['error'] = null;
  if (r.error !== undefined && r.error !== null) {
    error =
      typeof r.error === 'string'
        ? { move: null, message: r.error }
        : { move: typeof r.error.move === 'number' ? r.error.move : null, message: String(r.error.message ?? 'error') };
  }
  const out: ExternalHashes = { initialHash: ih, hashes, error };
  if (Array.isArray(r.fingerprints)) out.fingerprints = r.fingerprints.map(String);
  return out;
}

export interface ExternalReplayerOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** per-game timeout (default 120 s) */
  timeoutMs?: number;
  /** requests in flight at once (default 8) */
  window?: number;
  /** called with the spawned process (workers register it so that shutdown kills it) */
  onSpawn?: (child: ChildProcessWithoutNullStreams) => void;
}

interface Pending {
  gameId: string;
  resolve: (h: ExternalHashes) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** A running external replayer: spawn once, stream games through it, close. */
export class ExternalReplayer {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending: Pending[] = [];
  private dead: Error | null = null;
  private stderrTail = '';
  private readonly exited: Promise<number | null>;
  private readonly timeoutMs: number;
  readonly window: number;
  readonly label: string;

  constructor(command: string, args: string[] = [], opts: ExternalReplayerOptions = {}) {
    this.label = [command, ...args].join(' ');
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.window = Math.max(1, opts.window ?? 8);
    // Own process group, so a worker shutting down can kill the replayer and anything it started.
    this.child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    opts.onSpawn?.(this.child);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.fail(
          new ExternalReplayerError(
            `external replayer exited (${signal ?? `code ${String(code)}`})${this.stderrTail ? `: ${this.stderrTail.trim().split('\n').slice(-3).join(' | ')}` : ''}`,
          ),
        );
        resolve(code);
      });
      this.child.on('error', (err) => {
        this.fail(new ExternalReplayerError(`cannot run external replayer "${this.label}": ${err.message}`));
        resolve(null);
      });
    });
    this.child.stdin.on('error', () => {
      /* EPIPE: reported through exit */
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (d: string) => {
      this.stderrTail = (this.stderrTail + d).slice(-2000);
    });
    const rl = readline.createInterface({ input: this.child.stdout, crlfDelay: Infinity });
    rl.on('line', (line) => this.onLine(line));
  }

  private fail(err: Error): void {
    if (!this.dead) this.dead = err;
    while (this.pending.length) {
      const p = this.pending.shift()!;
      clearTimeout(p.timer);
      p.reject(this.dead);
    }
  }

  private onLine(line: string): void {
    if (line.trim() === '') return;
    const p = this.pending.shift();
    if (!p) {
      this.fail(new ExternalReplayerError(`protocol error: unexpected output line: ${line.slice(0, 200)}`));
      this.child.kill('SIGKILL');
      return;
    }
    clearTimeout(p.timer);
    try {
      p.resolve(parseResponse(line, p.gameId));
    } catch (err) {
      p.reject(err as Error);
      // an out-of-order answer means every later answer is misattributed: stop here
      if ((err as Error).message.startsWith('protocol error')) {
        this.fail(err as Error);
        this.child.kill('SIGKILL');
      }
    }
  }

  /** Send one game; resolves with its hashes (rejects on timeout, protocol error or exit). */
  replay(req: ReplayRequest): Promise<ExternalHashes> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise<ExternalHashes>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new ExternalReplayerError(`external replayer timed out after ${this.timeoutMs} ms on game ${req.gameId}`));
        this.child.kill('SIGKILL');
      }, this.timeoutMs);
      this.pending.push({ gameId: req.gameId, resolve, reject, timer });
      this.child.stdin.write(JSON.stringify(req) + '\n');
    });
  }

  get inFlight(): number {
    return this.pending.length;
  }

  /** Close stdin and wait for the program to exit (kill after `graceMs`). */
  async close(graceMs = 5000): Promise<void> {
    this.child.stdin.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

/** Split a command line such as `python3 replay.py --flag` into command + args (no shell). */
export function splitCommand(cmd: string): [string, string[]] {
  const parts: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(cmd)) !== null) parts.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]));
  if (parts.length === 0) throw new ExternalReplayerError('external replayer command is empty');
  return [parts[0], parts.slice(1)];
}

/**
 * Split a replayer command line and check that its program exists and may be executed (a path is
 * checked as given, relative to `cwd`; a bare name is looked up on PATH). Throws
 * ExternalReplayerError with one line saying what is wrong.
 */
export function resolveReplayerCommand(
  command: string,
  cwd: string = process.cwd(),
  env: NodeJS.ProcessEnv = process.env,
): [string, string[]] {
  const [cmd, args] = splitCommand(command);
  const executable = (file: string): boolean => {
    try {
      if (!fs.statSync(file).isFile()) return false;
      fs.accessSync(file, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (cmd.includes('/')) {
    const file = path.resolve(cwd, cmd);
    if (!fs.existsSync(file)) throw new ExternalReplayerError(`${cmd}: no such file`);
    if (!executable(file)) throw new ExternalReplayerError(`${cmd}: not an executable file`);
    return [cmd, args];
  }
  const dirs = (env['PATH'] ?? '').split(path.delimiter).filter(Boolean);
  if (!dirs.some((d) => executable(path.join(d, cmd)))) throw new ExternalReplayerError(`${cmd}: command not found on PATH`);
  return [cmd, args];
}

/** The game id of the protocol check that runs before a parity run uses a replayer. */
export const PROBE_GAME_ID = '__ringrift_protocol_probe__';

/**
 * Check, before a run, that the replayer starts and speaks the protocol: it must answer a game
 * with no moves (the standard initial state of this board and player count) with its gameId, a
 * 16-hex-digit initialHash, no hashes and no error, then exit when stdin closes. Throws
 * ExternalReplayerError with one line saying what went wrong.
 */
export async function probeReplayer(
  command: string,
  game: { boardType: string; numPlayers: number },
  opts: Pick<ExternalReplayerOptions, 'cwd' | 'env' | 'onSpawn'> & { timeoutMs?: number } = {},
): Promise<void> {
  const [cmd, args] = resolveReplayerCommand(command, opts.cwd, opts.env);
  const rep = new ExternalReplayer(cmd, args, { ...opts, timeoutMs: opts.timeoutMs ?? 60_000, window: 1 });
  try {
    const h = await rep.replay({
      gameId: PROBE_GAME_ID,
      boardType: game.boardType,
      numPlayers: game.numPlayers,
      seed: 1,
      rulesOptions: game.numPlayers === 2 ? { swapRuleEnabled: true } : {},
      moves: [],
    });
    if (h.error) throw new ExternalReplayerError(`answered the protocol check with an error: ${h.error.message}`);
    if (h.initialHash === null) throw new ExternalReplayerError('answered the protocol check without an initialHash');
    if (h.hashes.length !== 0) throw new ExternalReplayerError(`answered a game of 0 moves with ${h.hashes.length} hashes`);
  } catch (err) {
    const msg = (err as Error).message;
    throw new ExternalReplayerError(`${msg} (protocol: store/EXTERNAL_REPLAYER.md)`);
  } finally {
    await rep.close(2000);
  }
}

/**
 * Run the given games of a DB through an external replayer. Returns game id → hashes, or the
 * Error for games it could not answer (a crash fails the games still in flight and later ones).
 */
export async function externalHashesFor(
  db: GameDb,
  gameIds: string[],
  command: string | [string, string[]],
  opts: ExternalReplayerOptions & { onGame?: (done: number) => void } = {},
): Promise<Map<string, ExternalHashes | Error>> {
  const [cmd, args] = typeof command === 'string' ? splitCommand(command) : command;
  const rep = new ExternalReplayer(cmd, args, opts);
  const out = new Map<string, ExternalHashes | Error>();
  const inflight: Promise<void>[] = [];
  let done = 0;
  try {
    for (const id of gameIds) {
      const g = readGame(db, id);
      if (!g) {
        out.set(id, new ExternalReplayerError('game not found'));
        continue;
      }
      const p = rep
        .replay(requestForGame(g))
        .then(
          (h) => void out.set(id, h),
          (e: Error) => void out.set(id, e),
        )
        .then(() => opts.onGame?.(++done));
      inflight.push(p);
      if (inflight.length >= rep.window) await inflight.shift();
    }
    await Promise.all(inflight);
  } finally {
    await rep.close();
  }
  return out;
}
