// The model registry: content-addressed files, idempotent registration, the best pointer changed
// in one checked transaction (promotion, rollback), statuses with reasons, events, lineage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import {
  RegistryError,
  bestModel,
  closeRegistry,
  exportModel,
  listModels,
  openRegistry,
  publishedBestPath,
  registerModel,
  resolveModel,
  type RegisterModelInput,
  type Registry,
} from '../../store/registry';
import { listEvents, markModel, publishBest, restoreBest, setBest } from '../../store/registryBest';
import { modelLineage } from '../../store/registryLineage';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function setup(t: { after: (fn: () => void) => void }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-registry-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const reg = openRegistry(path.join(dir, 'models'), { create: true });
  t.after(() => closeRegistry(reg));
  // a source game DB and an NPZ "exported" from it (the registry only records them)
  const gameDb = path.join(dir, 'games.db');
  fs.writeFileSync(gameDb, 'game db bytes');
  const npz = path.join(dir, 'train.npz');
  fs.writeFileSync(npz, 'npz bytes');
  let n = 0;
  const input = (over: Partial<RegisterModelInput> = {}): RegisterModelInput => {
    const onnx = path.join(dir, `m${n}.onnx`);
    fs.writeFileSync(onnx, `onnx model ${n}`);
    const ckpt = path.join(dir, `m${n}.ckpt`);
    fs.writeFileSync(ckpt, `checkpoint ${n}`);
    n++;
    return {
      configKey: 'square8_2p',
      onnxFile: onnx,
      checkpointFile: ckpt,
      architecture: { name: 'resnet', blocks: 4, channels: 32 },
      params: 12345,
      trainingData: [{ path: npz, sha256: sha('npz bytes'), positions: 100, sourceDb: gameDb, sourceDbSha256: sha('game db bytes') }],
      hyperparameters: { steps: 10, batchSize: 8 },
      metrics: { valPolicyAcc: 0.5 },
      gitCommit: 'abc',
      workflowId: `wf-${n}`,
      ...over,
    };
  };
  return { dir, reg, input, npz, gameDb };
}

test('open: a missing registry is one clear error unless created', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-registry-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  assert.throws(
    () => openRegistry(path.join(dir, 'nope')),
    (e: unknown) => e instanceof RegistryError && /no model registry at/.test(e.message),
  );
  assert.equal(fs.existsSync(path.join(dir, 'nope')), false, 'nothing created');
  assert.throws(() => resolveModel(path.join(dir, 'nope'), 'square8_2p', 'best'), /no model registry/);
});

test('register: content-addressed files, one row, idempotent, candidate status', (t) => {
  const { reg, input } = setup(t);
  const inp = input();
  const { model, created } = registerModel(reg, inp);
  assert.equal(created, true);
  const fileSha = sha(fs.readFileSync(inp.onnxFile));
  assert.equal(model.sha256, fileSha);
  assert.equal(model.id, `square8_2p-${fileSha.slice(0, 12)}`);
  assert.equal(model.path, path.join(reg.dir, 'square8_2p', `${fileSha}.onnx`));
  assert.equal(sha(fs.readFileSync(model.path)), fileSha);
  assert.equal(model.checkpointPath, path.join(reg.dir, 'square8_2p', `${fileSha}.ckpt`));
  assert.equal(model.checkpointSha256, sha(fs.readFileSync(inp.checkpointFile!)));
  assert.deepEqual([model.status, model.boardType, model.numPlayers, model.params], ['candidate', 'square8', 2, 12345]);
  assert.deepEqual(model.architecture, { name: 'resnet', blocks: 4, channels: 32 });
  assert.equal(model.trainingData.length, 1);
  // the same file again (an activity retry): same row, nothing new
  const again = registerModel(reg, { ...inp, workflowId: 'other' });
  assert.equal(again.created, false);
  assert.equal(again.model.id, model.id);
  assert.equal(listModels(reg).length, 1);
  assert.equal(listEvents(reg).filter((e) => e.kind === 'registered').length, 1);
  // no temp files left behind
  assert.deepEqual(fs.readdirSync(path.join(reg.dir, 'square8_2p')).sort(), [`${fileSha}.ckpt`, `${fileSha}.onnx`]);
  // a changed file is refused
  assert.throws(() => registerModel(reg, { ...input(), expectedSha256: 'f'.repeat(64) }), /changed after it was checked/);
  assert.throws(() => registerModel(reg, input({ configKey: 'square9_2p' })), /not a config key/);
  assert.throws(() => registerModel(reg, input({ parentId: 'nope' })), /no model "nope"/);
  assert.equal(listModels(reg).length, 1);
});

test('resolveModel: by id and best; clear errors for missing, wrong config, tampered file', (t) => {
  const { reg, input } = setup(t);
  const a = registerModel(reg, input()).model;
  assert.throws(
    () => resolveModel(reg.dir, 'square8_2p', 'best'),
    (e: unknown) => e instanceof RegistryError && e.code === 'no_best',
  );
  const r = resolveModel(reg.dir, 'square8_2p', a.id);
  assert.deepEqual([r.id, r.configKey, r.boardType, r.numPlayers, r.path, r.sha256], [a.id, 'square8_2p', 'square8', 2, a.path, a.sha256]);
  assert.throws(() => resolveModel(reg.dir, 'square8_3p', a.id), /is a square8_2p model, not square8_3p/);
  assert.throws(() => resolveModel(reg.dir, 'square8_2p', 'square8_2p-000000000000'), /no model "square8_2p-000000000000"/);
  setBest(reg, a.id, { reason: 'first' });
  assert.equal(resolveModel(reg.dir, 'square8_2p', 'best').id, a.id);
  fs.chmodSync(a.path, 0o644);
  fs.appendFileSync(a.path, 'x');
  assert.throws(
    () => resolveModel(reg.dir, 'square8_2p', 'best'),
    (e: unknown) => e instanceof RegistryError && e.code === 'bad_file',
  );
  fs.rmSync(a.path);
  assert.throws(() => resolveModel(reg.dir, 'square8_2p', a.id), /is missing/);
});

test('setBest / restoreBest: one transaction, statuses, published best.onnx, events, idempotent', (t) => {
  const { reg, input } = setup(t);
  const a = registerModel(reg, input()).model;
  const b = registerModel(reg, input()).model;
  const published = publishedBestPath(reg, 'square8_2p');

  assert.deepEqual(setBest(reg, a.id, { reason: 'first model', workflowId: 'promo-1' }), { previousBestId: null, changed: true });
  assert.equal(sha(fs.readFileSync(published)), a.sha256);
  assert.deepEqual(setBest(reg, b.id, { reason: '+40 elo', workflowId: 'promo-2' }), { previousBestId: a.id, changed: true });
  assert.equal(bestModel(reg, 'square8_2p')!.id, b.id);
  assert.equal(sha(fs.readFileSync(published)), b.sha256);
  const statuses = () => Object.fromEntries(listModels(reg).map((m) => [m.id, m.status]));
  assert.deepEqual(statuses(), { [a.id]: 'retired', [b.id]: 'best' });
  // a retried promotion: no change, the same previous best; a copy a crash left stale (between the
  // commit and the rename) is republished from the pointer
  fs.writeFileSync(published, 'stale copy');
  assert.deepEqual(setBest(reg, b.id, { reason: '+40 elo', workflowId: 'promo-2' }), { previousBestId: a.id, changed: false });
  assert.equal(sha(fs.readFileSync(published)), b.sha256);

  // a model whose file was tampered with cannot become best, and nothing changes
  const c = registerModel(reg, input()).model;
  fs.appendFileSync(c.path, 'tamper');
  assert.throws(() => setBest(reg, c.id, { reason: 'x' }), /sha256/);
  assert.equal(bestModel(reg, 'square8_2p')!.id, b.id);
  assert.equal(sha(fs.readFileSync(published)), b.sha256);
  assert.equal(statuses()[c.id], 'candidate');
  assert.deepEqual(
    fs.readdirSync(path.join(reg.dir, 'square8_2p')).filter((f) => f.includes('.tmp-')),
    [],
    'no staged copy left',
  );

  // the database refuses two best rows for one config key
  assert.throws(() => reg.db.prepare("UPDATE models SET status = 'best' WHERE id = ?").run(a.id), /UNIQUE/);

  // rollback: b rejected, a best again, best.onnx is a's
  assert.deepEqual(restoreBest(reg, 'square8_2p', a.id, { reason: 'gauntlet regression', workflowId: 'promo-2' }), {
    demotedId: b.id,
    changed: true,
  });
  assert.deepEqual(statuses(), { [a.id]: 'best', [b.id]: 'rejected', [c.id]: 'candidate' });
  assert.equal(sha(fs.readFileSync(published)), a.sha256);
  assert.equal(listModels(reg, { status: 'rejected' })[0]!.statusReason, 'gauntlet regression');
  assert.deepEqual(restoreBest(reg, 'square8_2p', a.id, { reason: 'again' }), { demotedId: null, changed: false });
  // rejected models cannot be promoted; the best cannot be marked away
  assert.throws(() => setBest(reg, b.id, { reason: 'x' }), /is rejected \(gauntlet regression\)/);
  assert.throws(() => markModel(reg, a.id, 'retired', { reason: 'x' }), /is the best square8_2p model/);
  // rollback of the first promotion: no best at all
  restoreBest(reg, 'square8_2p', null, { reason: 'bad first model', demoteTo: 'retired' });
  assert.equal(bestModel(reg, 'square8_2p'), null);
  assert.equal(fs.existsSync(published), false);
  assert.equal(publishBest(reg, 'square8_2p'), null);

  markModel(reg, c.id, 'failed', { reason: 'file corrupt', workflowId: 'check-1' });
  const events = listEvents(reg, { configKey: 'square8_2p' })
    .filter((e) => e.kind !== 'registered')
    .map((e) => [e.kind, e.modelId, e.previousBestId, e.reason, e.workflowId]);
  assert.deepEqual(events, [
    ['promoted', a.id, null, 'first model', 'promo-1'],
    ['promoted', b.id, a.id, '+40 elo', 'promo-2'],
    ['rolled_back', b.id, a.id, 'gauntlet regression', 'promo-2'],
    ['rolled_back', a.id, null, 'bad first model', null],
    ['failed', c.id, null, 'file corrupt', 'check-1'],
  ]);
});

test('publishBest repairs a lost best.onnx; exportModel never overwrites', (t) => {
  const { reg, input, dir } = setup(t);
  const a = registerModel(reg, input()).model;
  setBest(reg, a.id, { reason: 'first' });
  const published = publishedBestPath(reg, 'square8_2p');
  fs.rmSync(published);
  assert.equal(publishBest(reg, 'square8_2p'), published);
  assert.equal(sha(fs.readFileSync(published)), a.sha256);
  const dest = path.join(dir, 'out', 'model.onnx');
  exportModel(reg, a.id, dest);
  assert.equal(sha(fs.readFileSync(dest)), a.sha256);
  fs.writeFileSync(dest, 'mine');
  assert.throws(() => exportModel(reg, a.id, dest), /already exists/);
  assert.equal(fs.readFileSync(dest, 'utf8'), 'mine');
});

test('lineage: model → NPZ → game DB, then the parent, with file checks', (t) => {
  const { reg, input, npz, gameDb } = setup(t);
  const parent = registerModel(reg, input()).model;
  const child = registerModel(reg, input({ parentId: parent.id })).model;
  const reg2: Registry = openRegistry(reg.dir); // a second connection sees the same rows
  t.after(() => closeRegistry(reg2));
  const lin = modelLineage(reg2, child.id);
  assert.deepEqual(
    lin.map((e) => e.model.id),
    [child.id, parent.id],
  );
  assert.deepEqual(lin[0]!.data[0], {
    npz: { path: npz, sha256: sha('npz bytes'), positions: 100, state: 'ok' },
    gameDb: { path: gameDb, sha256: sha('game db bytes'), state: 'ok' },
  });
  fs.appendFileSync(gameDb, 'more games');
  fs.rmSync(npz);
  const after = modelLineage(reg2, child.id)[1]!.data[0]!;
  assert.equal(after.npz.state, 'missing');
  assert.equal(after.gameDb!.state, 'changed');
  assert.throws(() => modelLineage(reg2, 'nope'), /no model "nope"/);
});
