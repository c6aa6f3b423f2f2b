// Integration: whole training iterations on the real server with a real worker, real PyTorch and
// onnxruntime (a tiny network, few games). The first starts from the `temporal` CLI with minimal input
// and ends with a promoted model whose lineage reaches the games DB; the second starts from
// `ringrift pipeline run iteration --wait`, self-plays with best, warm-starts from it and is rejected
// by the SPRT; a cancelled iteration cancels its training child but lets a promotion finish; bad inputs
// fail before any phase starts, naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { REPO_ROOT } from '../../config/load';
import { closeGameDb, countGames, openGameDb, fileSha256Sync } from '../../store/gameDb';
import { bestModel, listModels, withRegistry } from '../../store/registry';
import { modelLineage } from '../../store/registryLineage';
import { childId, type IterationProgress, type TrainingIterationResult } from '../../workflows/trainingIteration';
import { RINGRIFT_BIN, startTestServer, startTestWorker, testClient } from '../helpers/temporal';
import { tinyIterationConfig } from '../helpers/iteration';
import { tmpDir } from '../parity/helpers';

const TEMPORAL = path.join(REPO_ROOT, 'tools', 'bin', 'temporal');
const { EventType } = proto.api.enums.v1;

function temporalCli(address: string, ...args: string[]): string {
  const r = spawnSync(TEMPORAL, [...args, '--address', address, '--namespace', 'default'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `temporal ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Ids `temporal workflow list --query` returns (visibility is eventually consistent: polled). */
async function listed(address: string, query: string, expect: string): Promise<string[]> {
  for (let i = 0; ; i++) {
    const out = temporalCli(address, 'workflow', 'list', '--query', query, '--output', 'json');
    const ids = (JSON.parse(out || '[]') as { execution: { workflowId: string } }[]).map((w) => w.execution.workflowId);
    if (ids.includes(expect) || i >= 40) return ids;
    await sleep(250);
  }
}

test(
  'training iteration: from scratch to a promoted model, then warm-started from best and rejected; cancellation; bad input fails at once',
  { timeout: 600_000 },
  async (t) => {
    const dir = tmpDir(t, 'rr-iter-');
    const cfgDir = tinyIterationConfig(dir);
    const server = await startTestServer();
    t.after(() => server.stop());
    const worker = await startTestWorker(server.address, 'cpu', { RINGRIFT_CONFIG_DIR: cfgDir });
    t.after(() => worker.stop('SIGKILL'));
    const client = await testClient(server.address);
    t.after(() => client.connection.close());
    const addr = server.address;
    const registry = path.join(dir, 'models');

    // ── 1: from scratch, started by the temporal CLI with minimal input ──
    const first = 'iter-first';
    temporalCli(
      addr,
      'workflow',
      'start',
      '--type',
      'trainingIteration',
      '--task-queue',
      'cpu',
      '--workflow-id',
      first,
      '--input',
      JSON.stringify({ configKey: 'square8_2p', seed: 5 }),
    );
    const r1 = (await client.workflow.getHandle(first).result()) as TrainingIterationResult;
    assert.equal(r1.outcome, 'promoted', JSON.stringify(r1));
    assert.equal(r1.games, 16, "games from the worker's config");
    assert.ok(r1.positions > 0);
    assert.equal(r1.bestId, r1.candidateId);
    assert.deepEqual(r1.reasons, []);
    assert.deepEqual(Object.keys(r1.eloVsBaselines), ['random'], 'the gauntlet rated the candidate against the baseline');
    assert.ok(
      r1.eloVsBaselines.random!.lo <= r1.eloVsBaselines.random!.elo && r1.eloVsBaselines.random!.elo <= r1.eloVsBaselines.random!.hi,
    );
    assert.equal(typeof r1.valLoss, 'number');
    assert.equal(typeof r1.trainLoss, 'number');
    assert.deepEqual(
      r1.phases.map((p) => [p.phase, p.workflowId]),
      ['selfplay', 'parity', 'export', 'train', 'promote'].map((p) => [p, `${first}-${p}`]),
      'one child per phase, ids derived from the iteration id',
    );
    for (const p of r1.phases) assert.equal((await client.workflow.getHandle(p.workflowId).describe()).status.name, 'COMPLETED');

    // artifacts by reference: the files are there with the recorded sha256
    assert.equal(fileSha256Sync(r1.artifacts.gamesDb.path), r1.artifacts.gamesDb.sha256);
    assert.equal(fileSha256Sync(r1.artifacts.npz.path), r1.artifacts.npz.sha256);
    const g = openGameDb(r1.artifacts.gamesDb.path, { boardType: 'square8', numPlayers: 2, readonly: true });
    assert.equal(countGames(g), 16);
    closeGameDb(g);
    // the model's lineage reaches this games DB (as exported, parity columns included)
    const lineage = withRegistry(registry, (reg) => modelLineage(reg, r1.candidateId!));
    assert.equal(lineage.length, 1, 'trained from scratch');
    assert.deepEqual(
      lineage[0]!.data.map((d) => [d.npz.path, d.npz.sha256, d.gameDb?.path, d.gameDb?.sha256, d.gameDb?.state]),
      [[r1.artifacts.npz.path, r1.artifacts.npz.sha256, r1.artifacts.gamesDb.path, r1.artifacts.gamesDb.sha256, 'ok']],
    );
    assert.equal(
      withRegistry(registry, (reg) => bestModel(reg, 'square8_2p')?.id),
      r1.candidateId,
    );

    // found by its search attributes, with the phase it carries
    assert.ok((await listed(addr, "RingRiftConfigKey = 'square8_2p'", first)).includes(first));
    assert.deepEqual(await listed(addr, "RingRiftConfigKey = 'square8_2p' AND RingRiftPhase = 'iteration'", first), [first]);

    const status = spawnSync(RINGRIFT_BIN, ['pipeline', 'status', first], {
      encoding: 'utf8',
      env: { ...process.env, RINGRIFT_TEMPORAL_ADDRESS: addr, RINGRIFT_CONFIG_DIR: cfgDir },
    });
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /^config: {3}square8_2p, phase iteration$/m);
    assert.match(status.stdout, new RegExp(`^progress: done, 5/5 phases, .*promoted: ${r1.candidateId}`, 'm'));

    // ── 2: from the CLI, waiting: self-play with best, warm start from it; the SPRT (4 games) cannot accept ──
    const second = 'iter-second';
    const cli = spawnSync(
      RINGRIFT_BIN,
      ['pipeline', 'run', 'iteration', '--config-key', 'square8_2p', '--seed', '6', '--iteration', '1', '--workflow-id', second, '--wait'],
      {
        encoding: 'utf8',
        env: { ...process.env, RINGRIFT_TEMPORAL_ADDRESS: addr, RINGRIFT_CONFIG_DIR: cfgDir },
        timeout: 400_000,
      },
    );
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`^rejected: square8_2p-\\w+ \\(iteration 1 of square8_2p\\); best is now ${r1.candidateId}$`, 'm'));
    assert.match(cli.stdout, /^ {2}why: {6}vs best: SPRT did not decide/m);
    assert.match(cli.stdout, /^ {2}Elo vs random +[+-]\d+ {2}95% \[[+-]\d+, [+-]\d+\]$/m);
    assert.match(cli.stdout, /^ {2}seconds: {2}selfplay \d+ · parity \d+ · export \d+ · train \d+ · promote \d+ \(total \d+\)$/m);
    const r2 = (await client.workflow.getHandle(second).result()) as TrainingIterationResult;
    assert.equal(r2.outcome, 'rejected');
    assert.equal(r2.bestId, r1.candidateId, 'best unchanged');
    assert.deepEqual(Object.keys(r2.eloVsBaselines).sort(), ['best', 'random']);
    const models = withRegistry(registry, (reg) => listModels(reg, { configKey: 'square8_2p' }));
    const m2 = models.find((m) => m.id === r2.candidateId)!;
    assert.equal(m2.parentId, r1.candidateId, 'warm start from best');
    assert.equal(m2.status, 'rejected');
    assert.equal(models.length, 2, 'one model per iteration');
    const sp = (await client.workflow.getHandle(childId(second, 'selfplay')).describe()).raw;
    assert.ok(sp, 'the self-play child ran');
    const spInput = (await client.workflow.getHandle(childId(second, 'selfplay')).fetchHistory()).events![0]!
      .workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    assert.deepEqual(
      JSON.parse(Buffer.from(spInput.data!).toString()).playerMix,
      [`policy:${r1.candidateId}`],
      'self-play with best, pinned to its id',
    );

    // ── cancelled (the loop's halt) in training: the trainer's child is cancelled and awaited, no model ──
    const cancelledIn = async (id: string, phase: 'train' | 'promote') => {
      const h = await client.workflow.start('trainingIteration', {
        taskQueue: 'cpu',
        workflowId: id,
        args: [{ configKey: 'square8_2p', seed: 7, iteration: 2 }],
      });
      for (let i = 0; i < 3000; i++) {
        const p = await h.query<IterationProgress>('progress').catch(() => null);
        if (p?.phase === phase) break;
        await sleep(100);
      }
      await h.cancel();
      await assert.rejects(h.result(), (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure, String(err));
        return true;
      });
      return (await client.workflow.getHandle(childId(id, phase)).describe()).status.name;
    };
    const before = withRegistry(registry, (reg) => listModels(reg).length);
    assert.equal(await cancelledIn('iter-cancel-train', 'train'), 'CANCELLED', 'the train child was cancelled, not abandoned');
    assert.equal(
      withRegistry(registry, (reg) => listModels(reg).length),
      before,
      'no model from a cancelled training',
    );
    // ── cancelled in the promotion: the saga finishes first (no candidate left half-promoted) ──
    assert.equal(await cancelledIn('iter-cancel-promote', 'promote'), 'COMPLETED', 'the promotion ran to its end');
    const statuses = withRegistry(registry, (reg) => listModels(reg).map((m) => m.status));
    assert.equal(statuses.length, before + 1);
    assert.ok(!statuses.includes('candidate'), `every candidate was judged: ${statuses.join(', ')}`);
    assert.equal(statuses.filter((x) => x === 'best').length, 1);

    // ── bad input: fails before any child starts, naming the field ──
    const bad: [string, unknown, RegExp][] = [
      ['bad-games', { configKey: 'square8_2p', games: 0 }, /games: must be at least 1, got 0/],
      ['bad-key', { configKey: 'square9_2p' }, /configKey: "square9_2p" is not a config key/],
      ['bad-player', { configKey: 'square8_2p', selfplayPlayer: 'mcts:nosuchmodel' }, /selfplayPlayer: /],
      ['bad-extra', { configKey: 'square8_2p', gamez: 3 }, /gamez: unknown field/],
    ];
    for (const [id, input, msg] of bad) {
      temporalCli(
        addr,
        'workflow',
        'start',
        '--type',
        'trainingIteration',
        '--task-queue',
        'cpu',
        '--workflow-id',
        id,
        '--input',
        JSON.stringify(input),
      );
      await assert.rejects(client.workflow.getHandle(id).result(), (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError, String(err));
        assert.match(String(err.cause?.message), /^invalid trainingIteration input: /);
        assert.match(String(err.cause?.message), msg);
        return true;
      });
      const events = ((await client.workflow.getHandle(id).fetchHistory()).events ?? []).map((e) => Number(e.eventType));
      assert.ok(!events.includes(EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED), `${id}: no phase started`);
      assert.ok(events.includes(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED), `${id}: the run failed`);
    }
    // the CLI refuses the same before starting anything
    const refused = spawnSync(RINGRIFT_BIN, ['pipeline', 'run', 'iteration', '--config-key', 'square8_2p', '--games', '0'], {
      encoding: 'utf8',
      env: { ...process.env, RINGRIFT_TEMPORAL_ADDRESS: addr, RINGRIFT_CONFIG_DIR: cfgDir },
    });
    assert.notEqual(refused.status, 0);
    assert.equal(refused.stderr.trim(), 'ringrift: --games: must be at least 1, got 0');
  },
);
