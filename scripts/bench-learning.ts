// npm run bench:learning — does the loop learn? (long; never in CI)
// The improvement loop from scratch on square8 2-player with the default settings (config/pipeline.yaml:
// loop, phases.iteration, phases.train, …) on its own Temporal dev server and one cpu worker, until
// --iterations trainings are done or --until (UTC HH:MM) has passed; then the loop is stopped
// gracefully. Prints one JSON line per step: kind, outcome, games, positions, train and validation
// loss, Elo with its 95% interval against each gauntlet opponent (random, heuristic, …) and the points
// per game those imply, wall time; then a summary against the goal: the promoted model with search
// scores ≥ 0.95 against random and ≥ 0.60 against heuristic within 2 hours on 2 cores.
// Options: --iterations K (default 3) --until HH:MM --games N --min-positions N --train-steps N --keep
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { scoreFromElo } from '../store/ratings';
import type { LoopResult, LoopStartInput, LoopStatus, StepRecord } from '../workflows/improvementLoop';
import { startTestServer, startTestWorker, testClient } from '../test/helpers/temporal';

const GOAL: Record<string, number> = { random: 0.95, heuristic: 0.6 };

function deadline(until: string | undefined): number {
  if (!until) return Infinity;
  const m = /^(\d{2}):(\d{2})$/.exec(until);
  if (!m) throw new Error(`--until: use HH:MM (UTC), got "${until}"`);
  const d = new Date();
  d.setUTCHours(Number(m[1]), Number(m[2]), 0, 0);
  if (d.getTime() < Date.now()) d.setUTCDate(d.getUTCDate() + 1);
  return d.getTime();
}

function stepLine(r: StepRecord, elapsed: number): string {
  const elo: Record<string, { elo: number; lo: number; hi: number; score: number }> = {};
  for (const [name, e] of Object.entries(r.eloVsBaselines)) elo[name] = { ...e, score: +scoreFromElo(e.elo).toFixed(3) };
  return JSON.stringify({
    bench: 'learning',
    step: r.iteration,
    kind: r.kind,
    outcome: r.outcome,
    games: r.games,
    positions: r.positions,
    trainLoss: r.trainLoss,
    valLoss: r.valLoss,
    elo,
    candidate: r.candidateId,
    seconds: r.seconds,
    elapsedSeconds: Math.round(elapsed),
    ...(r.error ? { error: r.error } : {}),
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      iterations: { type: 'string', default: '3' },
      until: { type: 'string' },
      games: { type: 'string' },
      'min-positions': { type: 'string' },
      'train-steps': { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const trainings = Number(values.iterations);
  const end = deadline(values.until);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-bench-learning-'));
  const cfgDir = path.join(dir, 'config');
  fs.mkdirSync(cfgDir);
  // only where the files go; every setting that shapes learning is the shipped default
  fs.writeFileSync(
    path.join(cfgDir, 'pipeline.yaml'),
    `health:\n  queues: [cpu]\nphases:\n  gauntlet:\n    evalDir: ${dir}/eval\n  iteration:\n    dataDir: ${dir}/data\n`,
  );
  const env = { RINGRIFT_CONFIG_DIR: cfgDir, RINGRIFT_REGISTRY_DIR: path.join(dir, 'models') };
  const server = await startTestServer();
  const worker = await startTestWorker(server.address, 'cpu', env);
  const client = await testClient(server.address);
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ bench: 'learning', dir, cores: os.cpus().length, load: os.loadavg().map((x) => +x.toFixed(1)), trainings }));
  try {
    const input: LoopStartInput = {
      configKeys: ['square8_2p'],
      seed: 1,
      ...(values.games ? { gamesPerBatch: Number(values.games) } : {}),
      ...(values['min-positions'] ? { minNewPositions: Number(values['min-positions']) } : {}),
      ...(values['train-steps'] ? { trainSteps: Number(values['train-steps']) } : {}),
    };
    const handle = await client.workflow.start('improvementLoop', { taskQueue: 'cpu', workflowId: 'bench-learning', args: [input] });
    let printed = 0;
    let stopping = false;
    const result = handle.result() as Promise<LoopResult>;
    let done = false;
    void result.finally(() => (done = true));
    while (!done) {
      await Promise.race([result.catch(() => undefined), sleep(5000)]);
      const s = await handle.query<LoopStatus>('status').catch(() => null);
      if (!s) continue;
      for (const r of s.recent.filter((x) => x.iteration > printed)) {
        console.log(stepLine(r, elapsed()));
        printed = r.iteration;
      }
      const trainingStarted = s.recent.filter((r) => r.kind === 'train').length + (s.current?.kind === 'train' ? 1 : 0);
      if (!stopping && (trainingStarted >= trainings || Date.now() > end)) {
        await handle.signal('stop');
        stopping = true;
        console.log(
          JSON.stringify({ bench: 'learning', stop: Date.now() > end ? 'deadline' : 'iterations', elapsedSeconds: Math.round(elapsed()) }),
        );
      }
    }
    const r = await result;
    for (const x of r.recent.filter((y) => y.iteration > printed)) console.log(stepLine(x, elapsed()));
    const promoted = r.recent.filter((x) => x.outcome === 'promoted').at(-1);
    const scores = Object.fromEntries(
      Object.entries(promoted?.eloVsBaselines ?? {}).map(([name, e]) => [name, +scoreFromElo(e.elo).toFixed(3)]),
    );
    const met = Object.entries(GOAL).every(([name, goal]) => (scores[name] ?? 0) >= goal);
    console.log(
      JSON.stringify({
        bench: 'learning',
        summary: true,
        best: r.keys[0]?.bestId ?? null,
        trainings: r.recent.filter((x) => x.kind === 'train').length,
        promotions: r.recent.filter((x) => x.outcome === 'promoted').length,
        scoreOfLastPromoted: scores,
        goal: GOAL,
        goalMet: met,
        wallSeconds: Math.round(elapsed()),
      }),
    );
  } finally {
    await client.connection.close();
    await worker.stop();
    await server.stop();
    if (!values.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
