// `ringrift cluster list|up|down|update|sync` refusals before any connection: one line, exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { RINGRIFT_BIN } from './helpers/temporal';

function ringrift(configDir: string, args: string[]) {
  const r = spawnSync(RINGRIFT_BIN, ['--config', configDir, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stderr: r.stderr.trim(), stdout: r.stdout };
}

test('cluster commands refuse bad host names and options with one line', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-clustercli-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const hosts = path.join(dir, 'hosts.yaml');
  fs.writeFileSync(
    hosts,
    'hosts:\n  - {name: local, address: 127.0.0.1, queues: [cpu]}\n  - {name: gpu1, address: 10.0.0.5, queues: [gpu], repoPath: /r, ssh: {user: u}}\n',
  );
  const cases: [string[], string | RegExp][] = [
    [['cluster', 'up', '--hosts', 'nope'], `ringrift: --hosts: no host "nope" in ${hosts} (known: local, gpu1)`],
    [
      ['cluster', 'down', '--hosts', 'local'],
      `ringrift: --hosts: host "local" has no ssh settings: it is this machine (use 'ringrift dev up')`,
    ],
    [['cluster', 'update', '--parallel', '0'], 'ringrift: --parallel 0: must be a whole number ≥ 1'],
    [['cluster', 'update', '--wait-seconds', 'soon'], 'ringrift: --wait-seconds soon: must be a positive number of seconds'],
    [['cluster', 'update', '--commit', 'no-such-rev'], /^ringrift: --commit no-such-rev: not a commit of .*; give a full 40-character SHA/],
    [['cluster', 'sync', '--what', 'games,weights'], 'ringrift: --what weights: not a kind of artifact; use models, npz, games'],
  ];
  for (const [args, expected] of cases) {
    const r = ringrift(dir, args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    if (typeof expected === 'string') assert.equal(r.stderr, expected);
    else assert.match(r.stderr, expected);
    assert.equal(r.stdout, '');
  }
  fs.writeFileSync(hosts, 'hosts:\n  - {name: local, address: 127.0.0.1, queues: [cpu]}\n');
  const none = ringrift(dir, ['cluster', 'up']);
  assert.equal(none.code, 2);
  assert.equal(
    none.stderr,
    `ringrift: no SSH hosts in ${dir}/hosts.yaml: add hosts with an ssh: {user, identityFile} entry (README "Many machines")`,
  );
});
