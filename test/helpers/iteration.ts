// Test helper: a config folder for tiny training iterations (merged over config/pipeline.yaml).
import fs from 'node:fs';
import path from 'node:path';

/** 16 games, 12 steps of a 1×8 net, 4 gauntlet games per opponent (policy players), random as the only baseline. */
export function tinyIterationConfig(dir: string, extra: string[] = []): string {
  const cfgDir = path.join(dir, 'config');
  fs.mkdirSync(cfgDir, { recursive: true });
  fs.writeFileSync(
    path.join(cfgDir, 'pipeline.yaml'),
    [
      `registry: { dir: ${path.join(dir, 'models')} }`,
      'phases:',
      '  canonical_selfplay: { shardSize: 4 }',
      '  train: { blocks: 1, channels: 8, checkpointEvery: 6, batchSize: 32 }',
      `  gauntlet: { baselines: [random], roundsPerShard: 2, evalDir: ${path.join(dir, 'eval')} }`,
      '  iteration:',
      '    games: 16',
      '    trainSteps: 12',
      `    dataDir: ${path.join(dir, 'data')}`,
      "    bestPlayer: 'policy:{model}'",
      '    train: { batchSize: 32, blocks: 1, channels: 8 }',
      "    gauntlet: { gamesPerBaseline: 4, candidatePlayer: 'policy:{model}', floors: { random: 0 }, sprt: { elo0: 0, elo1: 50, alpha: 0.05, beta: 0.05, maxGames: 4 } }",
      ...extra,
      '',
    ].join('\n'),
  );
  return cfgDir;
}
