// workers/ssh.ts without a server: known_hosts matching (plain, [host]:port, hashed, patterns, @revoked) and
// fingerprints as OpenSSH prints them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fingerprint, knownHostName, pinHostKey, readKnownHosts, shPath, shQuote } from '../workers/ssh';

/** A public key blob of type `type` (the bytes after it do not matter to matching). */
function blob(type: string, seed: string): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  return Buffer.concat([len, t, crypto.createHash('sha256').update(seed).digest()]);
}

function hashed(name: string): string {
  const salt = crypto.randomBytes(20);
  return `|1|${salt.toString('base64')}|${crypto.createHmac('sha1', salt).update(name).digest('base64')}`;
}

test('known_hosts: the lines that pin a host, by name, port, hash and pattern', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-kh-'));
  const file = path.join(dir, 'known_hosts');
  const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((s) => blob('ssh-ed25519', s)) as [Buffer, Buffer, Buffer, Buffer, Buffer];
  const line = (names: string, k: Buffer) => `${names} ssh-ed25519 ${k.toString('base64')}`;
  fs.writeFileSync(
    file,
    [
      '# comment',
      line('gpu1,10.0.0.5', a), // 2
      line('[10.0.0.5]:2222', b), // 3
      line(hashed('[gpu2]:2200'), c), // 4
      line('*.lab,!bad.lab', d), // 5
      `@revoked ${line('gpu1', e)}`, // 6
      `@cert-authority ${line('*', e)}`,
      '',
    ].join('\n'),
  );
  const pins = (name: string) => readKnownHosts(file, name).map((k) => [k.line, k.revoked]);
  assert.deepEqual(pins(knownHostName('gpu1', 22)), [
    [2, false],
    [6, true],
  ]);
  assert.deepEqual(pins(knownHostName('10.0.0.5', 22)), [[2, false]]);
  assert.deepEqual(pins(knownHostName('10.0.0.5', 2222)), [[3, false]]);
  assert.deepEqual(pins(knownHostName('gpu2', 2200)), [[4, false]]);
  assert.deepEqual(pins(knownHostName('gpu2', 22)), []);
  assert.deepEqual(pins('x.lab'), [[5, false]]);
  assert.deepEqual(pins('bad.lab'), []);
  assert.deepEqual(readKnownHosts(path.join(dir, 'missing'), 'gpu1'), []);

  const fresh = path.join(dir, 'sub', 'known_hosts');
  pinHostKey(fresh, knownHostName('127.0.0.1', 4022), a);
  assert.equal(fs.readFileSync(fresh, 'utf8'), `[127.0.0.1]:4022 ssh-ed25519 ${a.toString('base64')}\n`);
  assert.equal(fs.statSync(fresh).mode & 0o777, 0o600);
  assert.deepEqual(readKnownHosts(fresh, '[127.0.0.1]:4022')[0]!.blob, a);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('fingerprint: SHA256 of the key blob, unpadded base64, as ssh-keygen -l prints it', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-fp-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'k')], { stdio: 'ignore' });
  } catch {
    t.skip('ssh-keygen not installed');
    return;
  }
  const pub = fs.readFileSync(path.join(dir, 'k.pub'), 'utf8').split(' ')[1]!;
  const expected = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', path.join(dir, 'k.pub')], { encoding: 'utf8' }).split(' ')[1];
  assert.equal(fingerprint(Buffer.from(pub, 'base64')), expected);
});

test('shell words: quotes survive, "~/" expands on the host', () => {
  assert.equal(shQuote("it's"), `'it'\\''s'`);
  assert.equal(shPath('~/ringrift pipeline'), `"$HOME"/'ringrift pipeline'`);
  assert.equal(shPath('/data/x'), `'/data/x'`);
  const out = execFileSync('sh', ['-c', `printf %s ${shPath('~/a b')}`], { encoding: 'utf8', env: { ...process.env, HOME: '/h' } });
  assert.equal(out, '/h/a b');
});
