// SSH to the hosts of hosts.yaml (ssh2): host keys pinned in a known_hosts file, keys or an agent, never passwords.
// An unknown or changed host key is refused with its SHA256 fingerprint, as OpenSSH prints it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, type ConnectConfig } from 'ssh2';
import type { LoadedConfig } from '../config/load';
import type { HostEntry } from '../config/schema';

/** A host key that is not pinned (`unknown`), differs from the pinned one (`changed`) or is marked @revoked. */
export class HostKeyError extends Error {
  override name = 'HostKeyError';
  constructor(
    message: string,
    readonly kind: 'unknown' | 'changed' | 'revoked',
    readonly fingerprint: string,
  ) {
    super(message);
  }
}

/** The host could not be reached or refused our key. */
export class SshConnectError extends Error {
  override name = 'SshConnectError';
}

export interface SshOptions {
  knownHostsFile: string;
  timeoutMs?: number;
  /** pin the key of a host never seen before (never replaces a pinned key) */
  acceptNew?: boolean;
}

export function expandHome(p: string): string {
  return p === '~' ? os.homedir() : p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p;
}

/** hosts.yaml's knownHostsFile: "~/" is the home folder, a relative path is under the config folder. */
export function knownHostsPath(cfg: LoadedConfig): string {
  return path.resolve(cfg.dir, expandHome(cfg.hosts.knownHostsFile));
}

/** OpenSSH's fingerprint of a public key blob: "SHA256:" + unpadded base64 of its sha256. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${crypto.createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named inside a public key blob ("ssh-ed25519", "ssh-rsa", ...). */
function keyType(blob: Buffer): string {
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** The name a known_hosts line uses for a host: "addr" on port 22, else "[addr]:port". */
export function knownHostName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

interface KnownKey {
  line: number;
  type: string;
  blob: Buffer;
  revoked: boolean;
}

function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    return crypto.createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|\\]/g, '\\$&')
      .replace(/\[/g, '\\[')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(name);
}

/** The keys known_hosts pins for `name` (cert-authority lines are not used). */
export function readKnownHosts(file: string, name: string): KnownKey[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const keys: KnownKey[] = [];
  text.split('\n').forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith('#')) return;
    const marker = fields[0].startsWith('@') ? fields.shift() : undefined;
    if (marker === '@cert-authority') return;
    const [patterns, type, b64] = fields;
    if (!patterns || !type || !b64) return;
    const list = patterns.split(',');
    if (list.some((p) => p.startsWith('!') && patternMatches(p.slice(1), name))) return;
    if (!list.some((p) => !p.startsWith('!') && patternMatches(p, name))) return;
    keys.push({ line: i + 1, type, blob: Buffer.from(b64, 'base64'), revoked: marker === '@revoked' });
  });
  return keys;
}

/** Appends a pin for `name` (the folder made private, the file 0600). */
export function pinHostKey(file: string, name: string, blob: Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.appendFileSync(file, `${name} ${keyType(blob)} ${blob.toString('base64')}\n`, { mode: 0o600 });
}

/** Host-key algorithms ssh2 may negotiate for a pinned key type (so a host offering several keys shows the pinned one). */
const ALGORITHMS_FOR: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
};

export function describeHost(host: HostEntry): string {
  return host.ssh ? `${host.name} (${host.ssh.user}@${host.address}:${host.ssh.port})` : host.name;
}

/** Connects and authenticates; rejects with HostKeyError or SshConnectError (one-line messages). */
export async function connectSsh(host: HostEntry, opts: SshOptions): Promise<Client> {
  const ssh = host.ssh;
  const who = describeHost(host);
  if (!ssh) throw new SshConnectError(`${host.name}: no ssh settings in hosts.yaml; add ssh: {user: ..., identityFile: ...}`);
  let privateKey: Buffer | undefined;
  if (ssh.identityFile) {
    const keyFile = expandHome(ssh.identityFile);
    try {
      privateKey = fs.readFileSync(keyFile);
    } catch (err) {
      throw new SshConnectError(
        `${who}: cannot read identity file ${keyFile} (${(err as NodeJS.ErrnoException).code}): fix ssh.identityFile in hosts.yaml`,
      );
    }
  }
  const agent = process.env.SSH_AUTH_SOCK;
  if (!privateKey && !agent) {
    throw new SshConnectError(`${who}: no ssh.identityFile in hosts.yaml and no SSH agent (SSH_AUTH_SOCK): give one of them`);
  }

  const name = knownHostName(host.address, ssh.port);
  const known = readKnownHosts(opts.knownHostsFile, name);
  const pinned = known.filter((k) => !k.revoked);
  let refusal: HostKeyError | null = null;
  const verify = (blob: Buffer): boolean => {
    const fp = fingerprint(blob);
    const type = keyType(blob);
    if (known.some((k) => k.revoked && k.blob.equals(blob))) {
      refusal = new HostKeyError(`${who}: host key ${type} ${fp} is marked @revoked in ${opts.knownHostsFile}: refused`, 'revoked', fp);
      return false;
    }
    if (pinned.some((k) => k.blob.equals(blob))) return true;
    if (pinned.length > 0) {
      const lines = pinned.map((k) => `line ${k.line} pins ${k.type} ${fingerprint(k.blob)}`).join(', ');
      refusal = new HostKeyError(
        `${who}: host key CHANGED: it offers ${type} ${fp}, ${opts.knownHostsFile} ${lines}; refused. ` +
          `If the host was reinstalled, check the new key there (ssh-keygen -lf /etc/ssh/ssh_host_${type.replace(/^ssh-/, '').replace(/-.*/, '')}_key.pub), ` +
          `remove the old pin (ssh-keygen -R '${name}' -f ${opts.knownHostsFile}) and rerun with --accept-new`,
        'changed',
        fp,
      );
      return false;
    }
    if (!opts.acceptNew) {
      refusal = new HostKeyError(
        `${who}: unknown host key ${type} ${fp} (not in ${opts.knownHostsFile}); refused. ` +
          `Check it on the host (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) and rerun with --accept-new to pin it`,
        'unknown',
        fp,
      );
      return false;
    }
    pinHostKey(opts.knownHostsFile, name, blob);
    return true;
  };

  const config: ConnectConfig = {
    host: host.address,
    port: ssh.port,
    username: ssh.user,
    ...(privateKey ? { privateKey } : {}),
    ...(agent ? { agent } : {}),
    readyTimeout: opts.timeoutMs ?? 20_000,
    keepaliveInterval: 15_000,
    hostVerifier: verify,
    ...(pinned.length > 0
      ? { algorithms: { serverHostKey: [...new Set(pinned.flatMap((k) => ALGORITHMS_FOR[k.type] ?? [k.type]))] as never } }
      : {}),
  };
  const client = new Client();
  return new Promise<Client>((resolve, reject) => {
    client.once('ready', () => resolve(client));
    client.once('error', (err: Error & { level?: string }) => {
      client.end();
      if (refusal) return reject(refusal);
      const reason = err.message.split('\n')[0];
      if (err.level === 'client-authentication') {
        const how = privateKey ? `key ${ssh.identityFile}` : 'the SSH agent';
        return reject(new SshConnectError(`${who}: authentication with ${how} failed: add its public key to ~/.ssh/authorized_keys there`));
      }
      if (/encrypted/i.test(reason ?? '')) {
        return reject(
          new SshConnectError(`${who}: ${ssh.identityFile} is encrypted: load it into an SSH agent (ssh-add) and leave identityFile out`),
        );
      }
      reject(new SshConnectError(`${who}: cannot connect (${reason})`));
    });
    try {
      client.connect(config);
    } catch (err) {
      reject(new SshConnectError(`${who}: cannot connect (${(err as Error).message.split('\n')[0]})`));
    }
  });
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs one command line through the host's shell and collects its output. */
export function execSsh(client: Client, command: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, stream) => {
      if (err) return reject(new SshConnectError(`exec failed: ${err.message}`));
      let stdout = '';
      let stderr = '';
      stream.on('data', (d: Buffer) => (stdout += d.toString()));
      stream.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      stream.once('close', (code: number | null, signal: string | null) =>
        resolve({ code: code ?? null, signal: signal ?? null, stdout, stderr }),
      );
    });
  });
}

/** Connects, runs `fn`, always disconnects. */
export async function withSsh<T>(host: HostEntry, opts: SshOptions, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectSsh(host, opts);
  try {
    return await fn(client);
  } finally {
    client.end();
  }
}

/** A single-quoted shell word. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A remote path as a shell word: "~/x" becomes "$HOME"/'x' so the remote shell expands the home folder. */
export function shPath(p: string): string {
  if (p === '~') return '"$HOME"';
  return p.startsWith('~/') ? `"$HOME"/${shQuote(p.slice(2))}` : shQuote(p);
}
