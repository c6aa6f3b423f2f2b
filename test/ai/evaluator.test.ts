// The neural evaluator against a direct onnxruntime-node run of a real trained model: same numbers,
// exact legal mask, value rotation to absolute seats, registry loading and refusals.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import * as ort from 'onnxruntime-node';
import {
  applyMoveTrusted,
  createInitialState,
  legalMoveKeys,
  legalMoves,
  moveKey,
  mulberry32,
  type BoardType,
  type GameState,
} from '../../engine';
import { encodeMove, policySize } from '../../ai/encoding';
import { BatchEvaluator, ModelLoadError, encodeBatch, loadModel, metadataProblems } from '../../ai/evaluator';
import { readOnnxMetadata } from '../../ai/onnxMeta';
import { resolveModel } from '../../store/registry';
import { fileSha256, registerTiny, tinyModel } from './nnFixture';

/** States along a seeded random game (every phase the game reaches), active ones only. */
function statesOf(board: BoardType, seed: number, every: number, max: number): GameState[] {
  const s = createInitialState({ boardType: board, numPlayers: 2, seed });
  const rng = mulberry32(seed);
  const out: GameState[] = [];
  for (let i = 0; s.status === 'active' && out.length < max && i < 2000; i++) {
    if (i % every === 0) out.push(s.clone());
    const legal = legalMoves(s);
    applyMoveTrusted(s, legal[Math.floor(rng() * legal.length)]!);
  }
  return out;
}

for (const [board, inferenceThread] of [
  ['square8', true],
  ['hex8', true],
  ['square8', false],
] as const) {
  test(`${board}${inferenceThread ? '' : ', session on the calling thread'}: evaluator output equals a direct onnxruntime-node run; the mask is exactly the legal moves`, async () => {
    const onnx = await tinyModel(board);
    const ref = { id: 'tiny', path: onnx, sha256: fileSha256(onnx) };
    const model = await loadModel(ref, { boardType: board, numPlayers: 2 }, { inferenceThread });
    assert.equal(model.inferenceThread, inferenceThread);
    const ev = new BatchEvaluator(model, { batchSize: 8 });
    const states = statesOf(board, 11, 3, 24);
    assert.ok(states.length >= 20);
    const phases = new Set(states.map((s) => s.phase));
    assert.ok(phases.size >= 3, `several phases: ${[...phases].join(',')}`);
    // all at once: the evaluator batches them (8 per run)
    const evals = await Promise.all(states.map((s) => ev.evaluate(s)));
    assert.equal(ev.stats.positions, states.length);
    assert.equal(ev.stats.batches, Math.ceil(states.length / 8));

    // the reference: our own session on the same encoded input, one state per run
    const direct = await ort.InferenceSession.create(onnx);
    const P = policySize(board);
    for (let i = 0; i < states.length; i++) {
      const s = states[i]!;
      const e = evals[i]!;
      const { features, globals, shape } = encodeBatch([s]);
      const out = await direct.run({
        features: new ort.Tensor('float32', features, [1, ...shape]),
        globals: new ort.Tensor('float32', globals, [1, globals.length]),
      });
      const logits = out['policy']!.data as Float32Array;
      const value = out['value']!.data as Float32Array;
      assert.equal(logits.length, P);
      // exact mask: the legal moves in engine order, their indices, nothing else
      assert.deepEqual(
        e.moves.map((m) => moveKey(m)),
        legalMoveKeys(s),
      );
      assert.deepEqual(
        Array.from(e.indices),
        legalMoves(s).map((m) => encodeMove(board, m)),
      );
      assert.equal(e.priors.length, e.moves.length);
      const l = Array.from(e.indices, (k) => logits[k]!);
      const mx = Math.max(...l);
      const z = l.reduce((a, x) => a + Math.exp(x - mx), 0);
      let sum = 0;
      for (let k = 0; k < l.length; k++) {
        assert.ok(Math.abs(e.logits[k]! - l[k]!) < 1e-5, `logit ${k}: ${e.logits[k]} vs ${l[k]}`);
        assert.ok(Math.abs(e.priors[k]! - Math.exp(l[k]! - mx) / z) < 1e-6);
        assert.ok(e.priors[k]! > 0);
        sum += e.priors[k]!;
      }
      assert.ok(Math.abs(sum - 1) < 1e-5, `priors sum to 1 (${sum})`);
      // value: relative seat 0 is the player to move; absolute seat p is value[(p - cur + n) mod n]
      const cur = s.currentPlayer;
      for (let p = 1; p <= 2; p++) assert.ok(Math.abs(e.values[p - 1]! - value[(p - cur + 2) % 2]!) < 1e-5);
      assert.ok(e.values.every((v) => v >= -1 && v <= 1));
    }
    // the values do depend on the mover: some states have player 2 to move
    assert.ok(states.some((s) => s.currentPlayer === 2));
    await direct.release();
  });
}

test('models load from the registry by id or best (sha256 checked); mismatches are refused with one line', async (t) => {
  const onnx = await tinyModel('square8');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-eval-reg-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const m = registerTiny(path.join(dir, 'models'), 'square8', onnx);
  const best = resolveModel(path.join(dir, 'models'), 'square8_2p', 'best');
  assert.equal(best.id, m.id);
  const meta = readOnnxMetadata(best.path);
  assert.deepEqual(
    [meta['board_type'], meta['encoder_version'], meta['policy_size'], meta['model_contract']],
    ['square8', 'rr-enc-v1', '11081', 'rr-model-v1'],
  );
  assert.deepEqual(metadataProblems(meta, 'square8', 2), []);
  const loaded = await loadModel({ id: best.id, path: best.path, sha256: best.sha256 }, { boardType: 'square8', numPlayers: 2 });
  assert.equal(loaded.policySize, 11081);
  // the same model again: the cached session
  assert.equal(await loadModel({ id: best.id, path: best.path, sha256: best.sha256 }, { boardType: 'square8', numPlayers: 2 }), loaded);
  // a square8 model for a hex8 game
  await assert.rejects(
    loadModel({ id: best.id, path: best.path, sha256: best.sha256 }, { boardType: 'hex8', numPlayers: 2 }),
    (e: unknown) =>
      e instanceof ModelLoadError &&
      !e.message.includes('\n') &&
      e.message === `model ${best.id} does not fit hex8 2p: board_type is square8, the game is hex8; policy_size is 11081, hex8 needs 9525`,
  );
  // a 2-player model for a 3-player game
  await assert.rejects(
    loadModel({ id: best.id, path: best.path, sha256: best.sha256 }, { boardType: 'square8', numPlayers: 3 }),
    /num_players is 2, the game has 3/,
  );
  // a file that is not the registry's
  const other = path.join(dir, 'other.onnx');
  fs.copyFileSync(best.path, other);
  fs.appendFileSync(other, Buffer.from([0]));
  await assert.rejects(
    loadModel({ id: best.id, path: other, sha256: best.sha256 }, { boardType: 'square8', numPlayers: 2 }),
    (e: unknown) => e instanceof ModelLoadError && /has sha256 .* the registry recorded/.test(e.message),
  );
  // a finished game is never sent to the network
  const ev = new BatchEvaluator(loaded);
  const done = createInitialState({ boardType: 'square8', numPlayers: 2 });
  done.status = 'completed' as typeof done.status;
  await assert.rejects(ev.evaluate(done), /game is over/);
});
