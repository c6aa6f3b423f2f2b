// Integration: runs started with the `temporal` CLI binary instead of `ringrift`, with minimal input.
// Each workflow type fills the CLI's defaults from the worker's config, completes, and is found by
// its search attributes; bad inputs fail within seconds, before any activity, naming each field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { REPO_ROOT } from '../../config/load';
import { closeGameDb, countGames, openGameDb } from '../../store/gameDb';
import { listModels, withRegistry } from '../../store/registry';
import { startTestServer, startTestWorker, testClient } from '../helpers/temporal';
import { tmpDir } from '../parity/helpers';

const TEMPORAL = path.join(REPO_ROOT, 'tools', 'bin', 'temporal');
const { EventType } = proto.api.enums.v1;

function temporalCli(address: string, ...args: string[]) {
  const r = spawnSync(TEMPORAL, [...args, '--address', address, '--namespace', 'default'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `temporal ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function start(address: string, type: string, id: string, input: unknown): void {
  temporalCli(address, 'workflow', 'start', '--type', type, '--task-queue', 'cpu', '--workflow-id', id, '--input', JSON.stringify(input));
}

/** Workflow ids that `temporal workflow list --query` returns (visibility is eventually consistent: polled). */
async function listed(address: string, query: string, expect: string): Promise<string[]> {
  for (let i = 0; ; i++) {
    const out = temporalCli(address, 'workflow', 'list', '--query', query, '--output', 'json');
    const ids = (JSON.parse(out || '[]') as { execution: { workflowId: string } }[]).map((w) => w.execution.workflowId);
    if (ids.includes(expect) || i >= 40) return ids;
    await sleep(250);
  }
}

async function eventTypes(client: Client, id: string): Promise<number[]> {
  const h = await client.workflow.getHandle(id).fetchHistory();
  return (h.events ?? []).map((e) => Number(e.eventType));
}

test('every workflow type starts from the temporal CLI with minimal input; bad input fails at once', { timeout: 420_000 }, async (t) => {
  const dir = tmpDir(t, 'rr-tctl-');
  // The worker's config folder holds only the keys it changes (merged over config/pipeline.yaml).
  const cfgDir = path.join(dir, 'config');
  fs.mkdirSync(cfgDir);
  fs.writeFileSync(
    path.join(cfgDir, 'pipeline.yaml'),
    [
      `registry: { dir: ${path.join(dir, 'models')} }`,
      'phases:',
      '  canonical_selfplay: { shardSize: 4 }',
      '  train: { steps: 12, blocks: 1, channels: 8, checkpointEvery: 6, batchSize: 32 }',
      `  gauntlet: { gamesPerBaseline: 2, baselines: [random], floors: { random: 0 }, candidatePlayer: 'policy:{model}', evalDir: ${path.join(dir, 'eval')} }`,
      '  promote: { regressionGames: 2 }',
      '',
    ].join('\n'),
  );
  const server = await startTestServer();
  t.after(() => server.stop());
  const worker = await startTestWorker(server.address, 'cpu', { RINGRIFT_CONFIG_DIR: cfgDir });
  t.after(() => worker.stop('SIGKILL'));
  const client = await testClient(server.address);
  t.after(() => client.connection.close());
  const addr = server.address;
  const db = path.join(dir, 'ui1.db');

  // ── minimal inputs complete like the CLI's runs ──
  start(addr, 'canonicalSelfplay', 'ui-selfplay', { boardType: 'square8', numPlayers: 2, numGames: 10, outputDb: db });
  const sp = (await client.workflow.getHandle('ui-selfplay').result()) as { games: number; shards: unknown[] };
  assert.equal(sp.games, 10);
  assert.equal(sp.shards.length, 3, "shard size 4 from the worker's config");
  const g = openGameDb(db, { boardType: 'square8', numPlayers: 2, readonly: true });
  assert.equal(countGames(g), 10);
  closeGameDb(g);

  start(addr, 'parityValidation', 'ui-parity', { db });
  const par = (await client.workflow.getHandle('ui-parity').result()) as { ok: boolean; passed: number };
  assert.equal(par.passed, 10);

  start(addr, 'npzExport', 'ui-npz', { db, outputDir: path.join(dir, 'npz') });
  const npz = (await client.workflow.getHandle('ui-npz').result()) as { games: number; output: { path: string } };
  assert.equal(npz.games, 10);
  assert.ok(fs.existsSync(npz.output.path));

  start(addr, 'train', 'ui-train', { configKey: 'square8_2p', npz: [path.join(dir, 'npz')] });
  const tr = (await client.workflow.getHandle('ui-train').result()) as { run: { steps: number }; model: { id: string } };
  assert.equal(tr.run.steps, 12, 'steps from the worker config');
  assert.deepEqual(
    withRegistry(path.join(dir, 'models'), (reg) => listModels(reg).map((m) => m.id)),
    [tr.model.id],
    "registered in the worker config's registry",
  );

  start(addr, 'gauntlet', 'ui-gauntlet', { configKey: 'square8_2p', candidate: tr.model.id });
  const ga = (await client.workflow.getHandle('ui-gauntlet').result()) as { games: number; passed: boolean; opponents: { name: string }[] };
  assert.deepEqual(
    ga.opponents.map((o) => o.name),
    ['random'],
    "baselines from the worker's config",
  );
  assert.equal(ga.games, 2);

  start(addr, 'promote', 'ui-promote', { configKey: 'square8_2p', candidate: tr.model.id });
  const pr = (await client.workflow.getHandle('ui-promote').result()) as { outcome: string; modelId: string };
  assert.equal(pr.outcome, 'promoted', JSON.stringify(pr));
  assert.equal(
    withRegistry(path.join(dir, 'models'), (reg) => listModels(reg).find((m) => m.id === tr.model.id)?.status),
    'best',
  );

  start(addr, 'clusterHealth', 'ui-health', {});
  const health = (await client.workflow.getHandle('ui-health').result()) as { queues: { queue: string; status: string }[] };
  assert.deepEqual(
    health.queues.map((q) => `${q.queue}:${q.status}`),
    ['cpu:ok', 'gpu:no worker polling'],
  );

  for (const [id, phase] of [
    ['ui-selfplay', 'canonical_selfplay'],
    ['ui-parity', 'parity_validation'],
    ['ui-npz', 'npz_export'],
    ['ui-train', 'train'],
    ['ui-gauntlet', 'gauntlet'],
    ['ui-promote', 'promote'],
  ] as const) {
    const ids = await listed(addr, `RingRiftConfigKey = 'square8_2p' AND RingRiftPhase = '${phase}'`, id);
    // the promotion's own gauntlet child is a gauntlet run too
    assert.deepEqual(
      ids.sort(),
      (phase === 'gauntlet' ? [id, 'ui-promote-gauntlet'] : [id]).sort(),
      `${phase} is found by its search attributes`,
    );
  }

  // ── bad inputs: failed within seconds, no activity ran, the message names the field ──
  const bad: [string, string, unknown, RegExp][] = [
    [
      'canonicalSelfplay',
      'bad-board',
      { boardType: 'square9', numPlayers: 2, numGames: 3, outputDb: db },
      /boardType: unknown board "square9"/,
    ],
    [
      'canonicalSelfplay',
      'bad-players',
      { boardType: 'square8', numPlayers: 7, numGames: 3, outputDb: db },
      /numPlayers: must be between 2 and 4, got 7/,
    ],
    [
      'canonicalSelfplay',
      'bad-games',
      { boardType: 'square8', numPlayers: 2, numGames: -3, outputDb: db },
      /numGames: must be at least 1, got -3/,
    ],
    ['canonicalSelfplay', 'bad-missing', { boardType: 'square8', numPlayers: 2, numGames: 3 }, /outputDb: is required/],
    [
      'canonicalSelfplay',
      'bad-extra',
      { boardType: 'square8', numPlayers: 2, numGames: 3, outputDb: db, shards: 2 },
      /shards: unknown field/,
    ],
    [
      'canonicalSelfplay',
      'bad-mix',
      { boardType: 'square8', numPlayers: 2, numGames: 3, outputDb: db, playerMix: ['random', 'random', 'random'] },
      /playerMix: 3 specs for 2 players/,
    ],
    ['parityValidation', 'bad-parity', { db, failThreshold: 2 }, /failThreshold: must be in \[0, 1\], got 2/],
    ['npzExport', 'bad-npz', { db }, /outputDir: is required/],
    ['train', 'bad-train', { configKey: 'square9_2p', npz: [] }, /configKey: "square9_2p" is not a config key.*npz: give at least one/],
    [
      'gauntlet',
      'bad-gauntlet',
      { configKey: 'square8_2p', candidate: 'x', gamesPerOpponent: 0 },
      /gamesPerOpponent: must be at least 1, got 0/,
    ],
    ['promote', 'bad-promote', { configKey: 'square8_2p' }, /candidate: is required to promote/],
  ];
  for (const [type, id, input, msg] of bad) {
    const t0 = Date.now();
    start(addr, type, id, input);
    await assert.rejects(client.workflow.getHandle(id).result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError, String(err));
      assert.match(String(err.cause?.message), msg);
      assert.match(String(err.cause?.message), new RegExp(`^invalid ${type} input: `));
      return true;
    });
    assert.ok(Date.now() - t0 < 15_000, `${id} failed within seconds`);
    const events = await eventTypes(client, id);
    assert.ok(!events.includes(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED), `${id}: no activity was scheduled`);
    assert.ok(events.includes(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED), `${id}: the run failed`);
    assert.ok(!events.includes(EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED), `${id}: failed as a run, not a stuck task`);
  }
  assert.equal(fs.readdirSync(dir).filter((f) => f.startsWith('.shards')).length, 0, 'no shard folder was left behind');
});
