// Inference thread: owns one onnxruntime-node session and runs the batches a search thread sends it.
// onnxruntime-node's session.run runs on the calling JS thread, so without this thread the search
// (engine, encoding, tree) and the network take turns; with it they run side by side.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

export interface InferenceThreadData {
  model: Uint8Array;
  threads: number;
}

export interface InferenceRequest {
  id: number;
  features: Float32Array;
  globals: Float32Array;
  dims: [number, number, number, number];
  numGlobals: number;
}

export type InferenceReply =
  | { kind: 'ready'; inputNames: readonly string[]; outputNames: readonly string[] }
  | { kind: 'failed'; error: string }
  | { kind: 'result'; id: number; policy: Float32Array; value: Float32Array }
  | { kind: 'error'; id: number; error: string };

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

if (parentPort) {
  const port = parentPort;
  const data = workerData as InferenceThreadData;
  const send = (r: InferenceReply, transfer: ArrayBuffer[] = []) => port.postMessage(r, transfer);
  ort.InferenceSession.create(data.model, {
    intraOpNumThreads: data.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  }).then(
    (session) => {
      send({ kind: 'ready', inputNames: session.inputNames, outputNames: session.outputNames });
      // batches are run one at a time, in the order they arrive
      let chain = Promise.resolve();
      port.on('message', (req: InferenceRequest) => {
        chain = chain.then(async () => {
          try {
            const out = await session.run({
              features: new ort.Tensor('float32', req.features, req.dims),
              globals: new ort.Tensor('float32', req.globals, [req.dims[0], req.numGlobals]),
            });
            // copies of the outputs, whose buffers this thread can hand over
            const policy = (out['policy']!.data as Float32Array).slice();
            const value = (out['value']!.data as Float32Array).slice();
            send({ kind: 'result', id: req.id, policy, value }, [policy.buffer as ArrayBuffer, value.buffer as ArrayBuffer]);
          } catch (err) {
            send({ kind: 'error', id: req.id, error: message(err) });
          }
        });
      });
    },
    (err: unknown) => send({ kind: 'failed', error: message(err) }),
  );
}
