// Integration: `ringrift dev up | status | down` on free ports with a temp state folder, as a user runs them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { freePort } from '../../cli/devServer';
import { RINGRIFT_BIN, testClient } from '../helpers/temporal';

function ringrift(args: string[], env: Record<string, string>) {
  const r = spawnSync(RINGRIFT_BIN, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 180_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

test(
  'dev up starts server, UI, search attributes and workers; down stops exactly those; state survives',
  { timeout: 400_000 },
  async (t) => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-devup-'));
    const port = await freePort();
    let uiPort = await freePort();
    while (uiPort === port) uiPort = await freePort();
    let metricsPort = await freePort();
    while (metricsPort === port || metricsPort === uiPort) metricsPort = await freePort();
    const env = {
      RINGRIFT_STATE_DIR: stateDir,
      RINGRIFT_DEV_PORT: String(port),
      RINGRIFT_UI_PORT: String(uiPort),
      RINGRIFT_TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      RINGRIFT_METRICS_PORT: String(metricsPort),
    };
    t.after(() => {
      ringrift(['dev', 'down'], env);
      fs.rmSync(stateDir, { recursive: true, force: true });
    });

    const up = ringrift(['dev', 'up'], env);
    assert.equal(up.code, 0, up.out);
    assert.match(up.out, /starting worker-cpu .* polling/);
    assert.match(up.out, new RegExp(`Temporal Web UI: http://127.0.0.1:${uiPort}`));
    const metricsUrl = `http://127.0.0.1:${metricsPort}`;
    assert.ok(up.out.includes(`worker-cpu metrics: ${metricsUrl}/metrics  health: ${metricsUrl}/health`), up.out);
    assert.equal((await fetch(`${metricsUrl}/health`)).status, 200);
    assert.ok(fs.existsSync(path.join(stateDir, 'temporal.db')));

    const ui = await fetch(`http://127.0.0.1:${uiPort}/`);
    assert.equal(ui.status, 200);

    const again = ringrift(['dev', 'up'], env);
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /temporal dev server already running/);
    assert.match(again.out, /worker-cpu already running/);

    const client = await testClient(`127.0.0.1:${port}`);
    const attrs = await client.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    for (const name of ['RingRiftBoard', 'RingRiftConfigKey', 'RingRiftPhase']) assert.ok(name in (attrs.customAttributes ?? {}), name);
    await client.connection.close();

    const status = ringrift(['dev', 'status'], env);
    assert.equal(status.code, 0, status.out);
    assert.match(status.out, /server: +running/);
    assert.match(status.out, /queue cpu: ringrift-cpu-\d+@/);
    assert.match(status.out, /worker-cpu health: healthy; polling cpu; /);
    assert.match(status.out, /queue gpu: no worker polling/);

    const health = ringrift(['cluster', 'health'], env);
    assert.equal(health.code, 0, health.out);
    assert.match(health.out, /queue cpu: ok/);

    // A second `up` on a port someone else holds: one clear line, nothing started.
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const busyPort = (blocker.address() as net.AddressInfo).port;
    const otherState = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-devup-busy-'));
    const busy = ringrift(['dev', 'up'], { ...env, RINGRIFT_STATE_DIR: otherState, RINGRIFT_DEV_PORT: String(busyPort) });
    blocker.close();
    assert.equal(busy.code, 2, busy.out);
    assert.match(
      busy.out,
      new RegExp(`^ringrift: port ${busyPort} on 127.0.0.1 \\(Temporal frontend\\) is already in use: find its owner with 'ss -ltnp`),
    );
    assert.equal(fs.existsSync(path.join(otherState, 'temporal.db')), false);
    fs.rmSync(otherState, { recursive: true, force: true });

    const pids = fs
      .readdirSync(path.join(stateDir, 'pids'))
      .map((f) => JSON.parse(fs.readFileSync(path.join(stateDir, 'pids', f), 'utf8')).pid as number);
    const down = ringrift(['dev', 'down'], env);
    assert.equal(down.code, 0, down.out);
    assert.match(down.out, /worker-cpu: stopped/);
    assert.match(down.out, /temporal: stopped/);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), `pid ${pid} should be gone`);
    assert.deepEqual(fs.readdirSync(path.join(stateDir, 'pids')), []);

    // Runs survive a restart: the health run is still listed after down + up.
    const up2 = ringrift(['dev', 'up'], env);
    assert.equal(up2.code, 0, up2.out);
    const client2 = await testClient(`127.0.0.1:${port}`);
    const ids: string[] = [];
    for await (const wf of client2.workflow.list({ query: `WorkflowType = 'clusterHealth'` })) ids.push(wf.workflowId);
    await client2.connection.close();
    assert.equal(ids.length, 1);
    assert.match(ids[0]!, /^cluster-health-\d{8}T\d{6}$/);
  },
);
