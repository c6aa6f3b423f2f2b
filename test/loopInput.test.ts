// The loop's and the nightly promotion's inputs: one line per bad field, the worker's config fills
// what is left out, and update-config is checked against the same settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { REPO_ROOT, loadConfig } from '../config/load';
import { loopSettingsUpdateSchema, inputProblems, parseWorkflowInput } from '../workflows/inputSchemas';
import { completeLoop, completeNightly } from '../activities/loopInput';
import { PLAYER_KINDS } from '../ai/players';

test('improvementLoop input: problems one line each; defaults from config', () => {
  const bad = parseWorkflowInput('improvementLoop', { configKeys: ['square9_2p'], gamesPerBatch: 0, extra: 1 });
  assert.deepEqual(!bad.ok && bad.problems, [
    'configKeys.0: "square9_2p" is not a config key: use <board>_<n>p, e.g. square8_2p',
    'gamesPerBatch: must be at least 1, got 0',
    'extra: unknown field: remove it',
  ]);
  const cfg = loadConfig();
  const p = parseWorkflowInput('improvementLoop', {
    configKeys: ['square8_2p', 'square8_2p'],
    weights: { hex8_2p: 2 },
    selfplayPlayer: 'nobody',
  });
  assert.ok(p.ok);
  assert.deepEqual(completeLoop(p.value, cfg).problems, [
    'configKeys: square8_2p given twice',
    "weights.hex8_2p: not one of this loop's config keys (square8_2p, square8_2p)",
    `selfplayPlayer: unknown player "nobody": use one of ${PLAYER_KINDS.join(', ')}`,
  ]);
  const ok = parseWorkflowInput('improvementLoop', { configKeys: ['square8_2p'], dataDir: 'data/x' });
  assert.ok(ok.ok);
  const { input, problems } = completeLoop(ok.value, cfg);
  assert.deepEqual(problems, []);
  const d = cfg.pipeline.loop;
  assert.deepEqual(
    [input.seed, input.gamesPerBatch, input.minNewPositions, input.adapt, input.maxIterations, input.trainSteps, input.skipGates],
    [1, d.gamesPerBatch, d.minNewPositions, d.curriculum.adapt, null, null, false],
  );
  assert.equal(input.dataDir, path.join(REPO_ROOT, 'data/x'));
  const u = loopSettingsUpdateSchema.safeParse({ gamesPerBatch: -1, configKeys: ['hex8_2p'] });
  assert.deepEqual(!u.success && inputProblems(u.error), [
    'gamesPerBatch: must be at least 1, got -1',
    'configKeys: unknown field: remove it',
  ]);
});

test('nightlyPromotion input: the registry and candidates per night from config', () => {
  const cfg = loadConfig();
  const p = parseWorkflowInput('nightlyPromotion', { configKey: 'hex8_2p', gauntlet: { gamesPerOpponent: 4 } });
  assert.ok(p.ok);
  assert.deepEqual(completeNightly(p.value, cfg).input, {
    configKey: 'hex8_2p',
    registryDir: path.join(REPO_ROOT, cfg.pipeline.registry.dir),
    maxCandidates: cfg.pipeline.nightly.maxCandidates,
    gauntlet: { gamesPerOpponent: 4 },
  });
  const bad = parseWorkflowInput('nightlyPromotion', { configKey: 'square8_2p', maxCandidates: 0, gauntlet: { games: 3 } });
  assert.deepEqual(!bad.ok && bad.problems, ['maxCandidates: must be at least 1, got 0', 'gauntlet.games: unknown field: remove it']);
});
