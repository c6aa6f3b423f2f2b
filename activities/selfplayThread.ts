// Worker-thread entry for self-play shards (see playShard in ./selfplay): one shard per message.
import { parentPort } from 'node:worker_threads';
import { playShard, type ShardInput } from './selfplay';

const port = parentPort!;
port.on('message', (input: ShardInput) => {
  playShard(input, (m) => port.postMessage(m)).then(
    (result) => port.postMessage({ kind: 'done', result }),
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      port.postMessage({ kind: 'error', name: e.name, message: e.message });
    },
  );
});
