// CLI argument and input errors: one clear line, non-zero exit, nothing started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { RINGRIFT_BIN } from './helpers/temporal';

function ringrift(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(RINGRIFT_BIN, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.trim() };
}

test('--help lists the command groups and exits 0', () => {
  const r = ringrift(['--help']);
  assert.equal(r.code, 0);
  for (const c of ['dev', 'worker', 'cluster', 'engine']) assert.match(r.stdout, new RegExp(`\\n  ${c}\\b`));
});

test('unknown command', () => {
  const r = ringrift(['frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: unknown command 'frobnicate'/);
});

test('worker without --queue', () => {
  const r = ringrift(['worker']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /required option '-q, --queue <name>' not specified/);
});

test('worker on an unknown queue names the configured ones', () => {
  const r = ringrift(['worker', '--queue', 'tpu']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^ringrift: unknown queue "tpu": configured queues are cpu, gpu \(workers\.queues in .*pipeline\.yaml\)$/);
});

test('gpu worker refuses to start without a GPU unless --force', { skip: hasNvidiaSmi() ? 'this machine has a GPU' : false }, () => {
  const r = ringrift(['worker', '--queue', 'gpu']);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    'ringrift: no GPU detected (nvidia-smi found none): the gpu worker will not start; pass --force to start it anyway',
  );
});

test('worker with no server to reach', () => {
  const r = ringrift(['worker', '--queue', 'cpu'], { RINGRIFT_TEMPORAL_ADDRESS: '127.0.0.1:1' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^ringrift: cannot reach Temporal at 127\.0\.0\.1:1 .*ringrift dev up/);
  assert.equal(r.stderr.split('\n').length, 1);
});

test('a bad config file stops every command before anything starts', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-badcfg-'));
  try {
    fs.copyFileSync(path.join(__dirname, '..', 'config', 'hosts.yaml'), path.join(dir, 'hosts.yaml'));
    const text = fs.readFileSync(path.join(__dirname, '..', 'config', 'pipeline.yaml'), 'utf8');
    fs.writeFileSync(path.join(dir, 'pipeline.yaml'), text.replace('port: 7233 ', 'port: -5 ').replace('uiPort: 8233', 'uiPort: x'));
    const r = ringrift(['--config', dir, 'dev', 'up']);
    assert.equal(r.code, 2);
    const lines = r.stderr.split('\n');
    assert.deepEqual(lines, [
      `ringrift: ${dir}/pipeline.yaml: dev.port: Too small: expected number to be >=1`,
      `ringrift: ${dir}/pipeline.yaml: dev.uiPort: Invalid input: expected number, received string`,
    ]);
    assert.equal(fs.existsSync(path.join(dir, 'state')), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('cluster health with the server down says how to start it', () => {
  const r = ringrift(['cluster', 'health'], { RINGRIFT_TEMPORAL_ADDRESS: '127.0.0.1:1' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^ringrift: cannot reach Temporal at 127\.0\.0\.1:1 .*: start it with 'ringrift dev up'/);
});

function hasNvidiaSmi(): boolean {
  return spawnSync('nvidia-smi', ['-L']).status === 0;
}

test('a player list longer than the seats is refused, identical specs included', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-mix-'));
  try {
    const db = path.join(dir, 'games.db');
    const base = ['pipeline', 'run', 'canonical_selfplay', '--board', 'square8', '--players', '2', '--num-games', '1', '--output-db', db];
    for (const mix of ['random,random,random', 'random,heuristic,random']) {
      const r = ringrift([...base, '--player-mix', mix, '--dry-run']);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(
        r.stderr,
        'ringrift: --player-mix: 3 specs for 2 players (--players 2): give one spec for all seats, or exactly one per seat',
      );
    }
    for (const mix of ['random', 'random,random', 'random,heuristic']) {
      const r = ringrift([...base, '--player-mix', mix, '--dry-run']);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal(fs.existsSync(db), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a --config folder with only the changed keys and no hosts.yaml works', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-partialcfg-'));
  try {
    fs.writeFileSync(path.join(dir, 'pipeline.yaml'), 'phases:\n  canonical_selfplay:\n    shardSize: 7\n');
    const db = path.join(dir, 'games.db');
    const r = ringrift([
      '--config',
      dir,
      'pipeline',
      'run',
      'canonical_selfplay',
      '--board',
      'square8',
      '--players',
      '2',
      '--num-games',
      '20',
      '--output-db',
      db,
      '--dry-run',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
