// Integration: `ringrift cluster sync` to two real sshd "hosts" (test/helpers/sshHosts.ts): who needs what,
// sha256 at both ends, a second run copies nothing, a partial copy resumes, a bad partial or copy is replaced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import Database from 'better-sqlite3';
import YAML from 'yaml';
import { RINGRIFT_BIN } from '../helpers/temporal';
import { sshSkipReason, startSshHosts } from '../helpers/sshHosts';
import { DEFAULT_CHUNK, DEFAULT_CONCURRENCY } from '../../store/sftpTransfer';

function ringrift(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(RINGRIFT_BIN, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 180_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

test(
  'cluster sync: models, npz and games to the hosts that need them, sha256-checked, resumable',
  { skip: sshSkipReason(), timeout: 300_000 },
  async (t) => {
    const cluster = await startSshHosts(2);
    t.after(() => cluster.stop());
    const [h1, h2] = cluster.hosts as [(typeof cluster.hosts)[0], (typeof cluster.hosts)[0]];
    // host1 polls cpu (games, npz via the train fallback, models); host2 only gpu (npz and models, no games)
    const entries = cluster.hostEntries();
    entries[1]!.queues = ['gpu'];
    const configDir = path.join(cluster.dir, 'config');
    fs.mkdirSync(configDir);
    fs.writeFileSync(path.join(configDir, 'hosts.yaml'), YAML.stringify({ knownHostsFile: cluster.knownHostsFile, hosts: entries }));

    // this machine's data: a model and checkpoint, the registry DB, an 8 MiB NPZ, a game DB with rows still in its WAL
    const data = path.join(cluster.dir, 'local-data');
    const env = { RINGRIFT_DATA_DIR: data, RINGRIFT_REGISTRY_DIR: path.join(data, 'models') };
    const files: Record<string, Buffer> = {
      'models/square8_2p/aa11.onnx': crypto.randomBytes(300_000),
      'models/square8_2p/aa11.ckpt': crypto.randomBytes(200_000),
      'npz/square8_2p_a.npz': crypto.randomBytes(8 * 2 ** 20),
    };
    for (const [rel, buf] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(data, rel)), { recursive: true });
      fs.writeFileSync(path.join(data, rel), buf);
    }
    const reg = new Database(path.join(data, 'models', 'registry.db'));
    reg.exec('CREATE TABLE models (id TEXT)');
    reg.close();
    fs.mkdirSync(path.join(data, 'games'));
    const games = new Database(path.join(data, 'games', 'canonical_square8_2p.db'));
    games.pragma('journal_mode = WAL');
    games.exec('CREATE TABLE games (id INTEGER)');
    const insert = games.prepare('INSERT INTO games VALUES (?)');
    for (let i = 0; i < 100; i++) insert.run(i);
    t.after(() => games.close()); // left open: its rows sit in the -wal until sync checkpoints

    const config = ['--config', configDir];
    await t.test('--dry-run lists what each host lacks and copies nothing', async () => {
      const r = await ringrift([...config, 'cluster', 'sync', '--dry-run'], env);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /^host1: models: 0 present, 3 to copy$/m);
      assert.match(r.out, /^host1: npz: 0 present, 1 to copy$/m);
      assert.match(r.out, /^host1: games: 0 present, 1 to copy$/m);
      assert.match(r.out, /^host2: npz: 0 present, 1 to copy$/m);
      assert.doesNotMatch(r.out, /^host2: games/m);
      assert.deepEqual(fs.readdirSync(h1.dataDir), []);
    });

    await t.test('sync copies, checks sha256; a second run copies nothing', async () => {
      const r = await ringrift([...config, 'cluster', 'sync'], env);
      assert.equal(r.code, 0, r.out);
      for (const h of [h1, h2]) {
        for (const rel of Object.keys(files)) assert.equal(sha(path.join(h.dataDir, rel)), sha(path.join(data, rel)), `${h.name} ${rel}`);
        assert.equal(sha(path.join(h.dataDir, 'models/registry.db')), sha(path.join(data, 'models/registry.db')));
      }
      assert.match(r.out, /^host1: npz\/square8_2p_a\.npz copied \(8\.0 MiB\), sha256 checked$/m);
      assert.equal(fs.existsSync(path.join(h2.dataDir, 'games')), false, 'a gpu-only host gets no game DBs');
      // the game DB's rows were in its WAL: the copy holds them
      const copy = new Database(path.join(h1.dataDir, 'games', 'canonical_square8_2p.db'), { readonly: true });
      assert.equal((copy.prepare('SELECT count(*) AS n FROM games').get() as { n: number }).n, 100);
      copy.close();
      const again = await ringrift([...config, 'cluster', 'sync'], env);
      assert.equal(again.code, 0, again.out);
      assert.match(again.out, /^host1: models: 3 present, 0 copied$/m);
      assert.match(again.out, /^host2: npz: 1 present, 0 copied$/m);
      assert.doesNotMatch(again.out, / copied \(/);
    });

    await t.test('a partial copy resumes; a bad partial or a damaged copy is replaced', async () => {
      const npz = 'npz/square8_2p_a.npz';
      fs.rmSync(path.join(h1.dataDir, npz));
      fs.writeFileSync(path.join(h1.dataDir, `${npz}.partial`), files[npz]!.subarray(0, 6 * 2 ** 20)); // an interrupted sync
      fs.rmSync(path.join(h2.dataDir, npz));
      fs.writeFileSync(path.join(h2.dataDir, `${npz}.partial`), crypto.randomBytes(6 * 2 ** 20)); // garbage
      fs.writeFileSync(path.join(h2.dataDir, 'models/square8_2p/aa11.onnx'), 'damaged');
      const r = await ringrift([...config, 'cluster', 'sync', '--what', 'npz,models'], env);
      assert.equal(r.code, 0, r.out);
      // resumed behind the push window (the writes that may have been in flight), the rest sent
      const from = 6 * 2 ** 20 - DEFAULT_CONCURRENCY * DEFAULT_CHUNK;
      const mib = (n: number) => (n / 2 ** 20).toFixed(1).replace('.', '\\.');
      assert.match(
        r.out,
        new RegExp(
          `^host1: npz/square8_2p_a\\.npz copied \\(${mib(8 * 2 ** 20 - from)} MiB, resumed at ${mib(from)} MiB\\), sha256 checked$`,
          'm',
        ),
      );
      assert.match(r.out, /^host2: npz\/square8_2p_a\.npz copied \(8\.0 MiB\), sha256 checked$/m); // the bad resume failed its check, then a full copy
      assert.match(r.out, /^host2: models\/square8_2p\/aa11\.onnx copied/m);
      for (const h of [h1, h2]) {
        assert.equal(sha(path.join(h.dataDir, npz)), sha(path.join(data, npz)));
        assert.equal(fs.existsSync(path.join(h.dataDir, `${npz}.partial`)), false);
      }
      assert.equal(sha(path.join(h2.dataDir, 'models/square8_2p/aa11.onnx')), sha(path.join(data, 'models/square8_2p/aa11.onnx')));
    });

    await t.test('bad --what: one line, exit 2', async () => {
      const r = await ringrift([...config, 'cluster', 'sync', '--what', 'weights'], env);
      assert.equal(r.code, 2, r.out);
      assert.equal(r.out.trim(), 'ringrift: --what weights: not a kind of artifact; use models, npz, games');
    });
  },
);
