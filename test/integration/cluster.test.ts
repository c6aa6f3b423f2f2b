// Integration: `ringrift cluster list|up|health|down|update` against two real sshd "hosts" on loopback ports
// (test/helpers/sshHosts.ts) and a real Temporal dev server. The workers the hosts start really poll.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import YAML from 'yaml';
import { REPO_ROOT } from '../../config/load';
import { describePollers } from '../../activities/health';
import { RINGRIFT_BIN, startTestServer, testClient } from '../helpers/temporal';
import { sshSkipReason, startSshHosts } from '../helpers/sshHosts';

interface Run {
  code: number | null;
  out: string;
}

function ringrift(configDir: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      RINGRIFT_BIN,
      ['--config', configDir, ...args],
      { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

function writeConfig(dir: string, knownHostsFile: string, hosts: Record<string, unknown>[]): void {
  fs.mkdirSync(dir, { recursive: true });
  const local = { name: 'local', address: '127.0.0.1', queues: ['cpu'] };
  fs.writeFileSync(path.join(dir, 'hosts.yaml'), YAML.stringify({ knownHostsFile, hosts: [local, ...hosts] }));
  // a short drain so `down` is quick; a short probe window for health
  fs.writeFileSync(
    path.join(dir, 'pipeline.yaml'),
    YAML.stringify({
      workers: { shutdownGraceSeconds: 5 },
      health: { scheduleToStartSeconds: 5 },
      dev: { stateDir: path.join(dir, 'state') },
    }),
  );
}

function pidFile(dataDir: string, host: string, name = 'worker-cpu-0'): string {
  return path.join(dataDir, 'cluster', host, `${name}.pid`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('worker');
  } catch {
    return false;
  }
}

const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-C', cwd, ...args], { encoding: 'utf8' }).trim();

test(
  'cluster list, up, health, down over SSH on two hosts; host keys pinned; update',
  { skip: sshSkipReason(), timeout: 600_000 },
  async (t) => {
    const server = await startTestServer();
    t.after(() => server.stop());
    const cluster = await startSshHosts(2);
    t.after(() => cluster.stop()); // also kills workers a failed step left running
    const [h1, h2] = cluster.hosts as [(typeof cluster.hosts)[0], (typeof cluster.hosts)[0]];
    const env = { RINGRIFT_TEMPORAL_ADDRESS: server.address };
    // each host's worker runs this checkout with its own data folder; metrics on any free port (same machine)
    const entries = cluster.hostEntries({ extra: { env: { RINGRIFT_METRICS_PORT: '0' } } });
    const configDir = path.join(cluster.dir, 'config');
    writeConfig(configDir, cluster.knownHostsFile, entries);
    const client = await testClient(server.address);
    t.after(() => client.connection.close());

    await t.test('list: both reachable, facts, no workers yet; health without workers still shows the hosts', async () => {
      const r = await ringrift(configDir, ['cluster', 'list'], env);
      assert.equal(r.code, 0, r.out);
      for (const h of [h1, h2]) {
        assert.match(
          r.out,
          new RegExp(`^${h.name}: ${h.user}@127\\.0\\.0\\.1:${h.port} reachable, Linux .*, \\d+ cores, [\\d.]+ GiB memory, GPU: `, 'm'),
        );
      }
      assert.equal(r.out.match(/workers: none running/g)?.length, 3, r.out); // the local entry's too (its dev state folder is empty)
      assert.equal(r.out.match(/configured: cpu ×1/g)?.length, 2, r.out);
      assert.match(r.out, new RegExp(`checkout: ${REPO_ROOT} at [0-9a-f]{12}`));
      assert.match(r.out, /^local: this machine \('ringrift dev up'\), linux-\w+, \d+ cores, [\d.]+ GiB memory, GPU: /m);
      // health before any worker: no report, but the SSH view says what runs where
      const h = await ringrift(configDir, ['cluster', 'health'], env);
      assert.equal(h.code, 1, h.out);
      assert.match(h.out, /^SSH hosts:\nhost1: .* reachable,[^]*^host2: .* reachable,/m);
      assert.match(h.out, /^ringrift: no worker polling queue "cpu", which runs the health workflow/m);
    });

    const pids: Record<string, number> = {};
    await t.test('up: a worker per host, detached, polling cpu as <queue>-<pid>@<host>', async () => {
      const r = await ringrift(configDir, ['cluster', 'up'], env);
      assert.equal(r.code, 0, r.out);
      for (const h of [h1, h2]) {
        assert.match(r.out, new RegExp(`^${h.name}: worker-cpu-0 started \\(pid \\d+\\)`, 'm'));
        assert.match(r.out, new RegExp(`^${h.name}: polling: worker-cpu-0`, 'm'));
        pids[h.name] = Number(fs.readFileSync(pidFile(h.dataDir, h.name), 'utf8'));
        assert.ok(alive(pids[h.name]!), `${h.name} worker alive`);
        assert.match(fs.readFileSync(path.join(h.dataDir, 'cluster', h.name, 'worker-cpu-0.log'), 'utf8'), /polling queue "cpu"/);
      }
      const [cpu] = await describePollers(client, 'default', ['cpu']);
      const ids = cpu!.activityPollers.map((p) => p.identity);
      for (const h of [h1, h2]) assert.ok(ids.includes(`ringrift-cpu-${pids[h.name]}@${h.name}`), ids.join(', '));
    });

    await t.test('up again: idempotent, the same processes', async () => {
      const r = await ringrift(configDir, ['cluster', 'up'], env);
      assert.equal(r.code, 0, r.out);
      for (const h of [h1, h2]) {
        assert.match(r.out, new RegExp(`^${h.name}: worker-cpu-0 already running \\(pid ${pids[h.name]}\\)`, 'm'));
        assert.equal(Number(fs.readFileSync(pidFile(h.dataDir, h.name), 'utf8')), pids[h.name]);
      }
      assert.doesNotMatch(r.out, /started/);
    });

    await t.test('list and health show both hosts, their workers, and Temporal seeing them', async () => {
      const l = await ringrift(configDir, ['cluster', 'list'], env);
      assert.equal(l.code, 0, l.out);
      for (const h of [h1, h2]) assert.match(l.out, new RegExp(`workers: worker-cpu-0 \\(pid ${pids[h.name]}\\); polling cpu`));
      const r = await ringrift(configDir, ['cluster', 'health'], env);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /^queue cpu: ok/m);
      assert.match(r.out, /^queue gpu: no worker polling/m);
      assert.match(r.out, /^SSH hosts:/m);
      for (const h of [h1, h2]) {
        const id = `ringrift-cpu-${pids[h.name]}@${h.name}`;
        assert.match(r.out, new RegExp(`pollers: .*${id}`));
        assert.match(r.out, new RegExp(`worker-cpu-0 seen by Temporal as ${id}`));
      }
      const j = await ringrift(configDir, ['cluster', 'health', '--json'], env);
      const report = JSON.parse(j.out) as { hosts: { name: string; reachable: boolean; workers: { pid: number }[] }[] };
      assert.deepEqual(
        report.hosts.map((h) => [h.name, h.reachable, h.workers.map((w) => w.pid)]),
        [h1, h2].map((h) => [h.name, true, [pids[h.name]]]),
      );
    });

    await t.test('host keys: unknown refused with its fingerprint unless --accept-new; a changed key refused', async () => {
      const freshKnown = path.join(cluster.dir, 'fresh', 'known_hosts');
      const freshConfig = path.join(cluster.dir, 'config-fresh');
      writeConfig(freshConfig, freshKnown, entries);
      const refused = await ringrift(freshConfig, ['cluster', 'list', '--hosts', h1.name], env);
      assert.equal(refused.code, 1, refused.out);
      assert.ok(refused.out.includes(`unknown host key ssh-ed25519 ${h1.fingerprint} (not in ${freshKnown}); refused`), refused.out);
      assert.match(refused.out, /rerun with --accept-new/);
      assert.equal(fs.existsSync(freshKnown), false, 'nothing pinned');
      const accepted = await ringrift(freshConfig, ['cluster', 'list', '--hosts', h1.name, '--accept-new'], env);
      assert.equal(accepted.code, 0, accepted.out);
      assert.match(accepted.out, new RegExp(`^${h1.name}: .* reachable`, 'm'));
      assert.equal(fs.readFileSync(freshKnown, 'utf8'), `${h1.knownHostsLine}\n`);
      const again = await ringrift(freshConfig, ['cluster', 'list', '--hosts', h1.name], env);
      assert.equal(again.code, 0, again.out);

      const oldFingerprint = h2.fingerprint;
      await h2.rotateHostKey(); // as a reinstalled machine (or a machine in the middle) would present
      for (const extra of [[], ['--accept-new']]) {
        const changed = await ringrift(configDir, ['cluster', 'list', '--hosts', h2.name, ...extra], env);
        assert.equal(changed.code, 1, changed.out);
        assert.ok(changed.out.includes(`host key CHANGED: it offers ssh-ed25519 ${h2.fingerprint}`), changed.out);
        assert.ok(changed.out.includes(`pins ssh-ed25519 ${oldFingerprint}`), changed.out);
        assert.match(changed.out, /ssh-keygen -R/);
      }
      const sshKeygen = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', path.join(h2.dir, 'ssh_host_ed25519_key.pub')], {
        encoding: 'utf8',
      });
      assert.ok(sshKeygen.includes(h2.fingerprint), 'the printed fingerprint is OpenSSH’s');
      cluster.writeKnownHosts(); // the operator re-pins the new key
    });

    await t.test('down: graceful stop on both hosts; again: nothing to stop', async () => {
      const r = await ringrift(configDir, ['cluster', 'down'], env);
      assert.equal(r.code, 0, r.out);
      for (const h of [h1, h2]) {
        assert.match(r.out, new RegExp(`^${h.name}: worker-cpu-0 \\(pid ${pids[h.name]}\\) stopped$`, 'm'));
        assert.equal(alive(pids[h.name]!), false);
        assert.equal(fs.existsSync(pidFile(h.dataDir, h.name)), false);
        // the worker's own graceful-shutdown line (workers/run.ts), not a kill
        assert.match(
          fs.readFileSync(path.join(h.dataDir, 'cluster', h.name, 'worker-cpu-0.log'), 'utf8'),
          /worker ringrift-cpu-\d+@host\d stopped/,
        );
      }
      const again = await ringrift(configDir, ['cluster', 'down'], env);
      assert.equal(again.code, 0, again.out);
      assert.equal(again.out.match(/no workers running/g)?.length, 2, again.out);
    });

    await t.test(
      'update: --dry-run changes nothing; a real update moves the checkout and restarts its worker; a failed set-up rolls back',
      async (st) => {
        // host1's checkout: a clone of a bare "origin" holding this repository's HEAD plus one newer commit
        const origin = path.join(cluster.dir, 'origin.git');
        execFileSync('git', ['clone', '--quiet', '--bare', REPO_ROOT, origin]);
        const old = git(origin, 'rev-parse', 'HEAD');
        const repo = path.join(h1.dir, 'ringrift-pipeline');
        execFileSync('git', ['clone', '--quiet', origin, repo]);
        git(repo, 'checkout', '--quiet', '--detach', old);
        const work = path.join(cluster.dir, 'work');
        execFileSync('git', ['clone', '--quiet', origin, work]);
        git(work, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '--quiet', '--allow-empty', '-m', 'cluster update test');
        git(work, 'push', '--quiet', 'origin', 'HEAD');
        const target = git(work, 'rev-parse', 'HEAD'); // only origin has it: the host must fetch it
        // The set-up there is the real scripts/setup.sh; it finds this checkout's installs (symlinked) up to date.
        // It would reinstall or build into them if they were not, so check first, as setup.sh does.
        const installedFor = (committed: string, marker: string): boolean => {
          try {
            return execFileSync('git', ['-C', REPO_ROOT, 'show', `${old}:${committed}`]).equals(
              fs.readFileSync(path.join(REPO_ROOT, marker)),
            );
          } catch {
            return false;
          }
        };
        const upToDate =
          installedFor('package-lock.json', 'node_modules/.ringrift-lock') &&
          installedFor('requirements.txt', '.venv/.ringrift-requirements') &&
          ['temporal', 'temporal-server', 'temporal-sql-tool'].every((b) => fs.existsSync(path.join(REPO_ROOT, 'tools', 'bin', b)));
        for (const d of ['node_modules', '.venv', 'tools']) fs.symlinkSync(path.join(REPO_ROOT, d), path.join(repo, d));
        const updConfig = path.join(cluster.dir, 'config-update');
        writeConfig(updConfig, cluster.knownHostsFile, [{ ...entries[0]!, repoPath: repo }]);

        const dry = await ringrift(updConfig, ['cluster', 'update', '--commit', target, '--dry-run'], env);
        assert.equal(dry.code, 0, dry.out);
        assert.match(
          dry.out,
          new RegExp(`^host1: would move ${repo} from ${old.slice(0, 12)} to ${target.slice(0, 12)} \\(after git fetch origin\\)`, 'm'),
        );
        assert.match(dry.out, /^host1: would run bash scripts\/setup\.sh there/m);
        assert.equal(git(repo, 'rev-parse', 'HEAD'), old, 'dry run changed nothing');

        if (!upToDate) {
          st.skip('this checkout’s node_modules/.venv/tools are not set up for HEAD: the real update would reinstall or build into them');
          return;
        }
        const up = await ringrift(updConfig, ['cluster', 'up'], env);
        assert.equal(up.code, 0, up.out);
        const before = Number(fs.readFileSync(pidFile(h1.dataDir, 'host1'), 'utf8'));
        const dryRunning = await ringrift(updConfig, ['cluster', 'update', '--commit', target, '--dry-run'], env);
        assert.match(dryRunning.out, new RegExp(`would restart gracefully: worker-cpu-0 \\(pid ${before}\\)`));

        const u = await ringrift(updConfig, ['cluster', 'update', '--commit', target], env);
        assert.equal(u.code, 0, u.out);
        assert.match(u.out, /^host1: fetching from origin/m);
        assert.match(u.out, new RegExp(`^host1: worker-cpu-0 \\(pid ${before}\\) stopped`, 'm'));
        assert.match(u.out, new RegExp(`^host1: at ${target.slice(0, 12)}; set-up done`, 'm'));
        assert.match(u.out, /^host1: workers polling again: worker-cpu-0 \(pid \d+\)/m);
        assert.equal(git(repo, 'rev-parse', 'HEAD'), target);
        assert.match(fs.readFileSync(path.join(h1.dataDir, 'cluster', 'host1', 'update.log'), 'utf8'), /setup done in/);
        const after = Number(fs.readFileSync(pidFile(h1.dataDir, 'host1'), 'utf8'));
        assert.notEqual(after, before);
        assert.equal(alive(before), false);
        assert.ok(fs.readlinkSync(`/proc/${after}/cwd`).startsWith(repo), 'the new worker runs from the updated checkout');
        const [cpu] = await describePollers(client, 'default', ['cpu']);
        assert.ok(cpu!.activityPollers.some((p) => p.identity === `ringrift-cpu-${after}@host1`));

        const same = await ringrift(updConfig, ['cluster', 'update', '--commit', target], env);
        assert.equal(same.code, 0, same.out);
        assert.match(same.out, /^host1: already at .* nothing to do/m);

        // a commit whose set-up fails: the previous commit comes back and its worker polls again
        fs.writeFileSync(path.join(work, 'scripts', 'setup.sh'), '#!/usr/bin/env bash\necho "broken set-up"\nexit 1\n');
        git(work, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '--quiet', '-am', 'broken set-up');
        git(work, 'push', '--quiet', 'origin', 'HEAD');
        const broken = git(work, 'rev-parse', 'HEAD');
        fs.appendFileSync(path.join(repo, 'README.md'), 'local edit\n');
        const dirty = await ringrift(updConfig, ['cluster', 'update', '--commit', broken, '--dry-run'], env);
        assert.equal(dirty.code, 1, dirty.out);
        assert.match(
          dirty.out,
          new RegExp(`ringrift: host1: ${repo} has local changes \\(M README\\.md\\): commit or discard them there first`),
        );
        git(repo, 'checkout', '--quiet', '--', 'README.md');
        const failed = await ringrift(updConfig, ['cluster', 'update', '--commit', broken], env);
        assert.equal(failed.code, 1, failed.out);
        assert.match(failed.out, new RegExp(`^host1: rolling back to ${target.slice(0, 12)}`, 'm'));
        assert.match(
          failed.out,
          new RegExp(
            `^ringrift: host1: set-up failed; rolled back to ${target.slice(0, 12)} \\(log .*update\\.log\\), its last lines:\nringrift: broken set-up$`,
            'm',
          ),
        );
        assert.match(failed.out, /^host1: workers polling again: worker-cpu-0 \(pid \d+\)/m);
        assert.equal(git(repo, 'rev-parse', 'HEAD'), target);
        const restored = Number(fs.readFileSync(pidFile(h1.dataDir, 'host1'), 'utf8'));
        assert.ok(alive(restored) && restored !== after);

        const down = await ringrift(updConfig, ['cluster', 'down'], env);
        assert.match(down.out, new RegExp(`worker-cpu-0 \\(pid ${restored}\\) stopped`));
      },
    );
  },
);
