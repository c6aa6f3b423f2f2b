// Integration: real dev server binary, a real cpu worker process, the cluster-health workflow end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../config/load';
import { runClusterHealth } from '../../cli/commands/cluster';
import { startTestServer, startTestWorker, testClient } from '../helpers/temporal';

test('cluster health reports the cpu worker and no worker on gpu', { timeout: 240_000 }, async (t) => {
  const server = await startTestServer();
  t.after(() => server.stop());
  const worker = await startTestWorker(server.address, 'cpu');
  t.after(() => worker.stop('SIGKILL'));
  const cfg = loadConfig(undefined, { RINGRIFT_TEMPORAL_ADDRESS: server.address });
  cfg.pipeline.health.scheduleToStartSeconds = 3;
  const client = await testClient(server.address);
  t.after(() => client.connection.close());

  const report = await runClusterHealth(cfg, client);
  assert.deepEqual(
    report.queues.map((q) => q.queue),
    ['cpu', 'gpu'],
  );
  const [cpu, gpu] = report.queues;
  assert.equal(cpu!.status, 'ok');
  assert.ok(cpu!.status === 'ok');
  const identity = `ringrift-cpu-${worker.pid}@`;
  assert.ok(cpu.probe.workerIdentity.startsWith(identity), cpu.probe.workerIdentity);
  assert.ok(cpu.pollers.activityPollers.some((p) => p.identity.startsWith(identity)));
  assert.ok(cpu.pollers.workflowPollers.some((p) => p.identity.startsWith(identity)));
  assert.ok(cpu.probe.cores >= 1);
  assert.ok(cpu.probe.memoryGiB > 0);
  assert.equal(gpu!.status, 'no worker polling');
  assert.deepEqual(gpu!.pollers.activityPollers, []);

  // Graceful shutdown: SIGTERM drains and exits 0.
  const exit = await worker.stop('SIGTERM');
  assert.equal(exit.code, 0, worker.output());
  assert.match(worker.output(), /stopped/);
});
