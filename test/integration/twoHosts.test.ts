// Integration: two "hosts" (each a real sshd on a loopback port with its own host key and data folder)
// and one worker per host with that host's name and data folder; nothing is shared storage.
// - self-play: shards run on both hosts, in each host's own data folder; the merge (on either host)
//   pulls the other host's shards over SFTP and the merged DB holds every game exactly once;
// - a model on host1 is pulled by a shard worker on host2 (sha256 checked, cached by content); a
//   corrupted copy is refused as a checksum mismatch at once (non-retryable: a fact about the data);
// - training: planned on host1 (its NPZ), trained on host2 (pulls the NPZ), registered on host1 (pulls
//   the ONNX model and checkpoint back); an NPZ export on host2 of a game DB on host1 (pulled);
// - a pull whose connection is killed mid-transfer resumes from the partial file and moves only the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import YAML from 'yaml';
import { loadConfig } from '../../config/load';
import { closeGameDb, countGames, fileSha256, listGameIds, openGameDb } from '../../store/gameDb';
import { modelId } from '../../store/registry';
import { ArtifactTransferError, cachedPath, partialPath, resolveArtifact } from '../../store/artifacts';
import { artifactResolver } from '../../workers/artifactHost';
import { selfplayGameId } from '../../activities/selfplay';
import type { SelfplayResult, SelfplayStartInput } from '../../workflows/canonicalSelfplay';
import { startTestServer, startTestWorker, testClient } from '../helpers/temporal';
import { sshSkipReason, startSshHosts, type SshTestHost } from '../helpers/sshHosts';
import { tinyModel } from '../ai/nnFixture';
import { makeTrainingNpz } from '../helpers/trainingData';
import type { TrainResult } from '../../workflows/train';
import type { NpzExportWorkflowResult } from '../../workflows/npzExport';

const skip = sshSkipReason();

/** The per-connection sshd processes of a host (children of its listener): killing them drops its connections. */
function sessionPids(host: SshTestHost): number[] {
  const listener = execFileSync('pgrep', ['-f', path.join(host.dir, 'sshd_config')], { encoding: 'utf8' })
    .split('\n')
    .map(Number)
    .filter((p) => p > 0);
  const out: number[] = [];
  for (const pid of listener) {
    try {
      out.push(
        ...execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
          .split('\n')
          .map(Number)
          .filter((p) => p > 0),
      );
    } catch {
      // no children
    }
  }
  return out;
}

test('two hosts without shared storage: shards, models and resumed pulls over SFTP', { skip, timeout: 300_000 }, async (t) => {
  const cluster = await startSshHosts(2);
  t.after(() => cluster.stop());
  const [host1, host2] = cluster.hosts as [SshTestHost, SshTestHost];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-two-hosts-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));

  // the workers' config: both hosts (SSH, pinned host keys, data folders); one activity at a time per
  // worker, so both hosts play shards; queue "remote" is polled only on host2
  const configDir = path.join(work, 'config');
  fs.mkdirSync(configDir);
  fs.writeFileSync(
    path.join(configDir, 'hosts.yaml'),
    YAML.stringify({ knownHostsFile: cluster.knownHostsFile, hosts: cluster.hostEntries({ queues: ['cpu'] }) }),
  );
  fs.writeFileSync(
    path.join(configDir, 'pipeline.yaml'),
    YAML.stringify({
      workers: {
        queues: {
          cpu: { maxConcurrentActivities: 1, maxConcurrentWorkflowTasks: 20 },
          remote: { maxConcurrentActivities: 1, maxConcurrentWorkflowTasks: 10 },
        },
      },
    }),
  );
  const envOf = (h: SshTestHost) => ({ RINGRIFT_CONFIG_DIR: configDir, RINGRIFT_HOST: h.name, RINGRIFT_DATA_DIR: h.dataDir });

  const server = await startTestServer();
  t.after(() => server.stop());
  const [w1, w2, w2remote] = await Promise.all([
    startTestWorker(server.address, 'cpu', envOf(host1)),
    startTestWorker(server.address, 'cpu', envOf(host2)),
    startTestWorker(server.address, 'remote', envOf(host2)),
  ]);
  for (const w of [w1, w2, w2remote]) t.after(() => w.stop('SIGKILL'));
  const workerOf: Record<string, typeof w1> = { host1: w1, host2: w2 };
  const client = await testClient(server.address);
  t.after(() => client.connection.close());
  const model = tinyModel('square8'); // trains once per source version (cached), while self-play runs

  // --- self-play across both hosts, merged from both data folders ---
  const outDir = path.join(work, 'out');
  const input: SelfplayStartInput = {
    boardType: 'square8',
    numPlayers: 2,
    numGames: 60,
    shardSize: 5,
    seed: 5,
    outputDb: path.join(outDir, 'two-hosts.db'),
    playerMix: ['heuristic', 'random'],
    maxMoves: 400,
  };
  const workflowId = 'two-hosts-selfplay';
  const result = (await client.workflow.execute('canonicalSelfplay', { taskQueue: 'cpu', workflowId, args: [input] })) as SelfplayResult;

  const byHost = new Map<string, number[]>();
  for (const s of result.shards) byHost.set(s.host ?? '?', [...(byHost.get(s.host ?? '?') ?? []), s.index]);
  const merger = result.outputDb.host!;
  const other = merger === 'host1' ? host2 : host1;
  console.log(
    `two hosts: shards on ${[...byHost].map(([h, s]) => `${h}: [${s.join(',')}]`).join('; ')}; merged on ${merger}, pulled from ${other.name}`,
  );
  assert.deepEqual([...byHost.keys()].sort(), ['host1', 'host2'], 'shards ran on both hosts');
  assert.deepEqual(result.shardHosts?.map((h) => h.host).sort(), ['host1', 'host2']);
  for (const h of result.shardHosts!) {
    const dataDir = h.host === 'host1' ? host1.dataDir : host2.dataDir;
    assert.ok(h.dir.startsWith(dataDir + path.sep), `${h.host}'s shards lived in its own data folder (${h.dir})`);
    const left = fs.existsSync(h.dir) ? fs.readdirSync(h.dir) : [];
    assert.deepEqual(left, [], `merged shards left ${h.host}`);
  }
  assert.ok(['host1', 'host2'].includes(merger));
  // the merging worker pulled the other host's shards over SFTP (its sshd served an sftp session)
  assert.match(workerOf[merger]!.output(), /pulled shard/);
  assert.match(fs.readFileSync(other.logFile, 'utf8'), /subsystem '?sftp/);

  const db = openGameDb(result.outputDb.path, { boardType: 'square8', numPlayers: 2, readonly: true });
  try {
    const ids = listGameIds(db);
    assert.equal(countGames(db), 60);
    assert.equal(new Set(ids).size, 60, 'every game once');
    assert.deepEqual([...ids].sort(), Array.from({ length: 60 }, (_, i) => selfplayGameId(workflowId, i)).sort());
  } finally {
    closeGameDb(db);
  }
  assert.equal(result.outputDb.sha256, await fileSha256(result.outputDb.path));

  // --- a model on host1, played by a shard worker on host2: pulled, checked, cached ---
  const onnx = await model;
  const modelsDir = path.join(host1.dataDir, 'models');
  fs.mkdirSync(modelsDir, { recursive: true });
  const good = path.join(modelsDir, 'tiny.onnx');
  fs.copyFileSync(onnx, good);
  const sha = await fileSha256(good);
  const id = modelId('square8_2p', sha);
  const neural = await client.workflow.execute('canonicalSelfplay', {
    taskQueue: 'cpu',
    workflowId: 'two-hosts-model',
    args: [
      {
        ...input,
        numGames: 2,
        shardSize: 1,
        outputDb: path.join(outDir, 'neural.db'),
        playerMix: [`policy:${id}`, 'random'],
        maxMoves: 60,
        activityQueue: 'remote',
        models: { [id]: { id, path: good, sha256: sha, host: 'host1' } },
      } satisfies SelfplayStartInput,
    ],
  });
  assert.equal((neural as SelfplayResult).games, 2);
  const cached = cachedPath(path.join(host2.dataDir, 'cache'), { sha256: sha, path: good });
  assert.equal(await fileSha256(cached), sha, "the model sits in host2's cache under its sha256");
  assert.match(w2remote.output(), /pulled model/);

  // a corrupted copy: refused as a checksum mismatch on the first attempt (not retried), nothing cached
  const bad = path.join(modelsDir, 'bad.onnx');
  fs.writeFileSync(bad, Buffer.concat([fs.readFileSync(onnx), Buffer.from('padding to make another file')]));
  const badSha = await fileSha256(bad);
  const fd = fs.openSync(bad, 'r+');
  fs.writeSync(fd, Buffer.from([0x5a]), 0, 1, 100);
  fs.closeSync(fd);
  const badId = modelId('square8_2p', badSha);
  const failed = await client.workflow
    .execute('canonicalSelfplay', {
      taskQueue: 'cpu',
      workflowId: 'two-hosts-bad-model',
      args: [
        {
          ...input,
          numGames: 1,
          shardSize: 1,
          outputDb: path.join(outDir, 'bad.db'),
          playerMix: [`policy:${badId}`, 'random'],
          activityQueue: 'remote',
          models: { [badId]: { id: badId, path: bad, sha256: badSha, host: 'host1' } },
        } satisfies SelfplayStartInput,
      ],
    })
    .catch((e: unknown) => e);
  assert.ok(failed instanceof WorkflowFailedError, String(failed));
  const cause = (failed.cause as { cause?: { type?: string; message?: string; nonRetryable?: boolean } }).cause;
  assert.equal(cause?.type, 'ArtifactChecksumError', JSON.stringify(cause));
  assert.match(cause?.message ?? '', /sha256 mismatch/);
  const hist = await client.workflow.getHandle('two-hosts-bad-model').fetchHistory();
  const attempts = hist
    .events!.filter((e) => e.activityTaskStartedEventAttributes)
    .map((e) => e.activityTaskStartedEventAttributes!.attempt);
  assert.ok(
    attempts.every((a) => a === 1),
    `a checksum mismatch is not retried (attempts ${attempts.join(',')})`,
  );
  assert.ok(!fs.existsSync(cachedPath(path.join(host2.dataDir, 'cache'), { sha256: badSha, path: bad })));

  // --- training across hosts: planned and registered on host1 (its NPZ, its registry), trained on host2 ---
  // host2's cpu worker leaves, so the plan and the registration run on host1
  await w2.stop('SIGTERM');
  const npz = await makeTrainingNpz({
    board: 'square8',
    players: 2,
    games: 4,
    seed: 9,
    dir: path.join(host1.dataDir, 'npz'),
    maxMoves: 120,
  });
  const registryDir = path.join(host1.dataDir, 'models-registry');
  const trained = (await client.workflow.execute('train', {
    taskQueue: 'cpu',
    workflowId: 'two-hosts-train',
    args: [
      {
        configKey: 'square8_2p',
        npz: [npz.npzPath],
        registryDir,
        queue: 'remote',
        fallbackQueue: 'remote',
        hyperparameters: { steps: 12, batchSize: 32, blocks: 1, channels: 8, threads: 1, checkpointEvery: 6 },
      },
    ],
  })) as TrainResult;
  console.log(`train: planned and registered on host1, trained on ${trained.queue} (host2): model ${trained.model.id}`);
  assert.equal(trained.queue, 'remote');
  assert.match(w2remote.output(), /pulled training input/, 'host2 pulled the NPZ from host1');
  const npzSha = await fileSha256(npz.npzPath);
  assert.equal(await fileSha256(cachedPath(path.join(host2.dataDir, 'cache'), { sha256: npzSha, path: npz.npzPath })), npzSha);
  assert.equal(trained.run.onnx.host, 'host2', "the trained model's ref names the host that made it");
  assert.ok(trained.model.path.startsWith(registryDir), 'host1 registered it after pulling it');
  assert.equal(await fileSha256(trained.model.path), trained.model.sha256);
  assert.equal(trained.model.sha256, trained.run.onnx.sha256);
  const pulledBack = cachedPath(path.join(host1.dataDir, 'cache'), trained.run.onnx);
  assert.equal(await fileSha256(pulledBack), trained.run.onnx.sha256, 'host1 pulled the model from host2 (its cache holds it)');

  // --- NPZ export on host2 of a (parity-validated) game DB on host1: pulled, checked, exported ---
  const exported = (await client.workflow.execute('npzExport', {
    taskQueue: 'cpu',
    workflowId: 'two-hosts-export',
    args: [
      {
        db: npz.dbPath,
        dbHost: 'host1',
        dbSha256: await fileSha256(npz.dbPath),
        outputDir: path.join(host2.dataDir, 'npz-out'),
        activityQueue: 'remote',
      },
    ],
  })) as NpzExportWorkflowResult;
  assert.match(w2remote.output(), /pulled game DB/, 'host2 pulled the DB from host1');
  assert.ok(exported.output.path.startsWith(host2.dataDir), `exported on host2 (${exported.output.path})`);
  assert.equal(exported.positions, npz.positions);
  assert.equal(await fileSha256(exported.output.path), exported.output.sha256);

  // --- a pull interrupted by a killed connection resumes from the partial file ---
  const big = path.join(host1.dataDir, 'big.npz');
  const size = 64 * 1024 * 1024 + 5;
  fs.writeFileSync(big, Buffer.alloc(size, 0)); // sparse-friendly, then a few marks so it is not all zeros
  const marks = fs.openSync(big, 'r+');
  for (let off = 0; off + 32 < size; off += 4 * 1024 * 1024) {
    const mark = Buffer.from(`mark ${off}`);
    fs.writeSync(marks, mark, 0, mark.length, off);
  }
  fs.closeSync(marks);
  const ref = { path: big, sha256: await fileSha256(big), host: 'host1', size };
  const config = loadConfig(configDir);
  const asHost2 = { name: 'host2', dataDir: host2.dataDir, cacheDir: path.join(host2.dataDir, 'cache') };
  let killed = 0;
  const first = artifactResolver({
    config,
    host: asHost2,
    onProgress: (p) => {
      if (killed === 0 && p.bytesDone >= 16 * 1024 * 1024) {
        killed = p.bytesDone;
        for (const pid of sessionPids(host1)) process.kill(pid, 'SIGKILL'); // host1's side of the connection dies
      }
    },
  });
  const err = await resolveArtifact(ref, first.ctx).catch((e: Error) => e);
  first.close();
  assert.ok(err instanceof ArtifactTransferError, `a killed connection is a transfer failure (retried), got ${String(err)}`);
  const partial = fs.statSync(partialPath(asHost2.cacheDir, ref)).size;
  assert.ok(partial > 0 && partial < size, `partial file of ${partial} bytes`);

  const second = artifactResolver({ config, host: asHost2 });
  const resumed = await resolveArtifact(ref, second.ctx);
  second.close();
  console.log(`interrupted pull: killed at ${killed} bytes, partial ${partial}, resumed moved ${resumed.bytes} of ${size}`);
  assert.equal(resumed.via, 'pull');
  assert.equal(resumed.resumedFrom, partial);
  assert.equal(resumed.bytes, size - partial);
  assert.ok(resumed.bytes < size);
  assert.equal(await fileSha256(resumed.path), ref.sha256);
});
