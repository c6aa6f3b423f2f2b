// Neural evaluator: onnxruntime-node sessions (one per model file and thread count, cached for the
// life of the thread that loaded it) and a batching queue that turns many single-position requests
// (from several games in lockstep and from the virtual-loss leaves of each tree) into one run.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { BoardType, GameState, Move } from '../engine';
import { ENCODER_VERSION, NUM_GLOBALS, encodeFeatures, encodeGlobals, encodeLegalMoves, featureShape, policySize } from './encoding';
import { readOnnxMetadata } from './onnxMeta';
import type { InferenceReply, InferenceRequest, InferenceThreadData } from './inferenceThread';

/** A model file as the registry resolves it. */
export interface ModelRef {
  id: string;
  path: string;
  sha256: string;
}

/** Refused model: wrong board, encoder, policy size, player count, sha256, or not readable. */
export class ModelLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelLoadError';
  }
}

/** Runs one encoded batch; resolves with the policy logits (N × P) and values (N × 4). */
export type RunBatch = (features: Float32Array, globals: Float32Array, n: number) => Promise<{ policy: Float32Array; value: Float32Array }>;

export interface LoadedModel {
  ref: ModelRef;
  metadata: Record<string, string>;
  boardType: BoardType;
  policySize: number;
  /** C, H, W of the features input */
  shape: [number, number, number];
  /** onnxruntime intra-op threads of the session */
  threads: number;
  /** the session runs on its own inference thread (else on the calling thread) */
  inferenceThread: boolean;
  run: RunBatch;
  release(): Promise<void>;
}

export interface LoadOptions {
  /** onnxruntime intra-op threads (default 1) */
  threads?: number;
  /** run the session on a worker thread of its own, beside the search (default true) */
  inferenceThread?: boolean;
}

const SESSION_OPTIONS = (threads: number): ort.InferenceSession.SessionOptions => ({
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});

function checkNames(ref: ModelRef, inputNames: readonly string[], outputNames: readonly string[]): void {
  for (const name of ['features', 'globals']) {
    if (!inputNames.includes(name)) throw new ModelLoadError(`model ${ref.id}: no input "${name}" (see ai/MODEL.md)`);
  }
  for (const name of ['policy', 'value']) {
    if (!outputNames.includes(name)) throw new ModelLoadError(`model ${ref.id}: no output "${name}" (see ai/MODEL.md)`);
  }
}

/** The session on this thread. */
async function localRunner(ref: ModelRef, bytes: Uint8Array, shape: [number, number, number], threads: number) {
  const session = await ort.InferenceSession.create(bytes, SESSION_OPTIONS(threads));
  checkNames(ref, session.inputNames, session.outputNames);
  const run: RunBatch = async (features, globals, n) => {
    const out = await session.run({
      features: new ort.Tensor('float32', features, [n, ...shape]),
      globals: new ort.Tensor('float32', globals, [n, NUM_GLOBALS]),
    });
    return { policy: out['policy']!.data as Float32Array, value: out['value']!.data as Float32Array };
  };
  return { run, release: () => session.release() };
}

/** Worker-thread source for `entry`; a .ts entry (running under tsx) gets tsx's require hook first. */
function bootstrap(entry: string): string {
  const hook = entry.endsWith('.ts') ? `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register();` : '';
  return `${hook}require(${JSON.stringify(entry)});`;
}

/** The session on an inference thread of its own; batches go there and back by transfer. */
async function threadRunner(ref: ModelRef, bytes: Uint8Array, shape: [number, number, number], threads: number) {
  const worker = new Worker(bootstrap(require.resolve('./inferenceThread')), {
    eval: true,
    workerData: { model: bytes, threads } satisfies InferenceThreadData,
  });
  const pending = new Map<number, { resolve: (r: { policy: Float32Array; value: Float32Array }) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let dead: Error | null = null;
  const fail = (err: Error) => {
    dead = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (m: InferenceReply) => {
      if (m.kind === 'ready') {
        try {
          checkNames(ref, m.inputNames, m.outputNames);
          resolve();
        } catch (err) {
          void worker.terminate();
          reject(err as Error);
        }
      } else if (m.kind === 'failed') {
        void worker.terminate();
        reject(new ModelLoadError(`model ${ref.id}: onnxruntime cannot load ${ref.path}: ${m.error.split('\n')[0]}`));
      } else {
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (pending.size === 0) worker.unref();
        if (!p) return;
        if (m.kind === 'result') p.resolve({ policy: m.policy, value: m.value });
        else p.reject(new Error(`model ${ref.id}: inference failed: ${m.error}`));
      }
    });
    worker.on('error', (err) => {
      fail(err);
      reject(err);
    });
    worker.on('exit', (code) => {
      const err = new Error(`model ${ref.id}: inference thread exited (${code})`);
      fail(err);
      reject(err);
    });
  });
  worker.unref(); // an idle inference thread must not keep the process alive (after the listeners: they ref it)
  const run: RunBatch = (features, globals, n) =>
    new Promise((resolve, reject) => {
      if (dead) return reject(dead);
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.ref(); // a batch in flight keeps the process alive
      const req: InferenceRequest = { id, features, globals, dims: [n, ...shape], numGlobals: NUM_GLOBALS };
      worker.postMessage(req, [features.buffer as ArrayBuffer, globals.buffer as ArrayBuffer]);
    });
  return {
    run,
    release: async () => {
      await worker.terminate();
    },
  };
}

/** Checks the model's metadata against the game; returns one line per problem (empty when it fits). */
export function metadataProblems(meta: Record<string, string>, boardType: BoardType, numPlayers: number): string[] {
  const problems: string[] = [];
  if (meta['board_type'] !== boardType) problems.push(`board_type is ${meta['board_type'] ?? '(missing)'}, the game is ${boardType}`);
  if (meta['encoder_version'] !== ENCODER_VERSION)
    problems.push(`encoder_version is ${meta['encoder_version'] ?? '(missing)'}, the evaluator encodes ${ENCODER_VERSION}`);
  const ps = policySize(boardType);
  if (meta['policy_size'] !== String(ps)) problems.push(`policy_size is ${meta['policy_size'] ?? '(missing)'}, ${boardType} needs ${ps}`);
  const np = meta['num_players'];
  if (np !== undefined && np !== 'any' && np !== String(numPlayers)) problems.push(`num_players is ${np}, the game has ${numPlayers}`);
  return problems;
}

const sessions = new Map<string, Promise<LoadedModel>>();

/**
 * Loads (once per model file and thread count, per thread) an onnxruntime-node session. The file's
 * sha256 must be the registry's, and its metadata must fit the game; otherwise a ModelLoadError
 * with one line.
 */
export function loadModel(ref: ModelRef, game: { boardType: BoardType; numPlayers: number }, opts: LoadOptions = {}): Promise<LoadedModel> {
  const threads = opts.threads ?? 1;
  const inferenceThread = opts.inferenceThread ?? true;
  const key = `${ref.sha256}|${ref.path}|${threads}|${inferenceThread}`;
  let p = sessions.get(key);
  if (!p) {
    p = (async () => {
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(ref.path);
      } catch (err) {
        throw new ModelLoadError(`model ${ref.id}: cannot read ${ref.path}: ${(err as Error).message}`);
      }
      const sha = crypto.createHash('sha256').update(bytes).digest('hex');
      if (sha !== ref.sha256)
        throw new ModelLoadError(
          `model ${ref.id}: ${ref.path} has sha256 ${sha.slice(0, 12)}…, the registry recorded ${ref.sha256.slice(0, 12)}…`,
        );
      let metadata: Record<string, string>;
      try {
        metadata = readOnnxMetadata(bytes);
      } catch (err) {
        throw new ModelLoadError(`model ${ref.id}: ${ref.path} is not a readable ONNX file (${(err as Error).message})`);
      }
      const boardType = metadata['board_type'] as BoardType;
      let shape: [number, number, number];
      try {
        shape = featureShape(boardType);
      } catch {
        throw new ModelLoadError(`model ${ref.id}: unknown board_type "${metadata['board_type'] ?? ''}" in its metadata`);
      }
      const runner = inferenceThread ? await threadRunner(ref, bytes, shape, threads) : await localRunner(ref, bytes, shape, threads);
      return { ref, metadata, boardType, policySize: Number(metadata['policy_size']), shape, threads, inferenceThread, ...runner };
    })();
    sessions.set(key, p);
    p.catch(() => sessions.delete(key));
  }
  return p.then((m) => {
    const problems = metadataProblems(m.metadata, game.boardType, game.numPlayers);
    if (problems.length)
      throw new ModelLoadError(`model ${ref.id} does not fit ${game.boardType} ${game.numPlayers}p: ${problems.join('; ')}`);
    return m;
  });
}

/** Releases every cached session of this thread. */
export async function releaseModels(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  for (const p of all) {
    try {
      await (await p).release();
    } catch {
      // a failed load has nothing to release
    }
  }
}

/** The network's answer for one state, masked to its legal moves. */
export interface Evaluation {
  /** legalMoves(state), in order */
  moves: Move[];
  /** policy index of each legal move */
  indices: Int32Array;
  /** raw logits of the legal moves */
  logits: Float32Array;
  /** softmax of `logits` (sums to 1 over the legal moves) */
  priors: Float32Array;
  /** value per absolute seat: values[p - 1] for player p, in [-1, 1] */
  values: Float64Array;
}

/** Encodes `states` into the two input tensors' buffers. */
export function encodeBatch(states: GameState[]): { features: Float32Array; globals: Float32Array; shape: [number, number, number] } {
  const shape = featureShape(states[0]!.boardType);
  const per = shape[0] * shape[1] * shape[2];
  const features = new Float32Array(states.length * per);
  const globals = new Float32Array(states.length * NUM_GLOBALS);
  states.forEach((s, i) => {
    encodeFeatures(s, features, i * per);
    encodeGlobals(s, globals, i * NUM_GLOBALS);
  });
  return { features, globals, shape };
}

/** Masks one row of policy logits to the state's legal moves and rotates the value to absolute seats. */
export function maskAndRotate(
  state: GameState,
  legal: { moves: Move[]; indices: Int32Array },
  policy: Float32Array,
  policyOffset: number,
  value: Float32Array,
  valueOffset: number,
): Evaluation {
  const k = legal.indices.length;
  const logits = new Float32Array(k);
  let max = -Infinity;
  for (let i = 0; i < k; i++) {
    const l = policy[policyOffset + legal.indices[i]!]!;
    logits[i] = l;
    if (l > max) max = l;
  }
  const priors = new Float32Array(k);
  let sum = 0;
  for (let i = 0; i < k; i++) {
    const e = Math.exp(logits[i]! - max);
    priors[i] = e;
    sum += e;
  }
  for (let i = 0; i < k; i++) priors[i] = priors[i]! / sum;
  const n = state.numPlayers;
  const cur = state.currentPlayer;
  const values = new Float64Array(n);
  for (let p = 1; p <= n; p++) values[p - 1] = value[valueOffset + ((p - cur + n) % n)]!;
  return { moves: legal.moves, indices: legal.indices, logits, priors, values };
}

export interface BatchOptions {
  /** most positions per run (default 32) */
  batchSize?: number;
  /**
   * batches handed to the session at once (default 2 with an inference thread, which runs them one
   * after the other: the next batch is ready when the last one ends; 1 without)
   */
  maxInflight?: number;
}

export interface EvaluatorStats {
  positions: number;
  batches: number;
  /** wall milliseconds with at least one run in flight */
  busyMs: number;
}

interface Request {
  state: GameState;
  resolve: (e: Evaluation) => void;
  reject: (err: unknown) => void;
}

/**
 * Batching evaluator over one loaded model. `evaluate` queues the state; the queue is run when it
 * holds `batchSize` states, or when the event loop has nothing else to do (setImmediate), which is
 * when every game in lockstep has queued its leaves. The session runs on an inference thread of its
 * own (see ./inferenceThread), so the search of some games goes on while the batch of others runs;
 * the legal moves of a batch are generated while it runs.
 */
export class BatchEvaluator {
  readonly model: LoadedModel;
  readonly batchSize: number;
  readonly maxInflight: number;
  readonly stats: EvaluatorStats = { positions: 0, batches: 0, busyMs: 0 };
  private queue: Request[] = [];
  private inflight = 0;
  private scheduled = false;
  private busySince = 0;

  constructor(model: LoadedModel, opts: BatchOptions = {}) {
    this.model = model;
    this.batchSize = Math.max(1, opts.batchSize ?? 32);
    this.maxInflight = Math.max(1, opts.maxInflight ?? (model.inferenceThread ? 2 : 1));
  }

  evaluate(state: GameState): Promise<Evaluation> {
    if (state.status !== 'active') return Promise.reject(new Error('evaluate: the game is over (use the engine result)'));
    if (state.boardType !== this.model.boardType)
      return Promise.reject(new Error(`evaluate: a ${state.boardType} state given to a ${this.model.boardType} model`));
    return new Promise<Evaluation>((resolve, reject) => {
      this.queue.push({ state, resolve, reject });
      if (this.queue.length >= this.batchSize && this.inflight < this.maxInflight) this.flush();
      else this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.queue.length > 0 && this.inflight < this.maxInflight) this.flush();
    });
  }

  private flush(): void {
    const batch = this.queue.splice(0, this.batchSize);
    if (batch.length === 0) return;
    if (this.inflight++ === 0) this.busySince = performance.now();
    void this.run(batch).finally(() => {
      if (--this.inflight === 0) this.stats.busyMs += performance.now() - this.busySince;
      if (this.queue.length >= this.batchSize && this.inflight < this.maxInflight) this.flush();
      else if (this.queue.length > 0) this.schedule();
    });
  }

  private async run(batch: Request[]): Promise<void> {
    try {
      const states = batch.map((r) => r.state);
      const { features, globals } = encodeBatch(states);
      const n = batch.length;
      const pending = this.model.run(features, globals, n);
      // generated while the inference thread runs the batch
      const legal = states.map((s) => encodeLegalMoves(s));
      const { policy, value } = await pending;
      const P = this.model.policySize;
      const V = value.length / n;
      this.stats.positions += n;
      this.stats.batches += 1;
      batch.forEach((r, i) => r.resolve(maskAndRotate(r.state, legal[i]!, policy, i * P, value, i * V)));
    } catch (err) {
      for (const r of batch) r.reject(err);
    }
  }
}
