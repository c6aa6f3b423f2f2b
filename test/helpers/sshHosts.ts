// Test helpers: N real OpenSSH servers (`sshd -D`) on free loopback ports, each a pretend "host" with its own
// host key, folder and data folder, all logging in as the current user with one temp client key pair.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../cli/devServer';

export const SSHD_BIN = ['/usr/sbin/sshd', '/usr/local/sbin/sshd', '/usr/bin/sshd'].find((f) => fs.existsSync(f)) ?? null;

/** Why the SSH tests cannot run here (pass to node:test's `skip`), or false when they can. */
export function sshSkipReason(): string | false {
  if (!SSHD_BIN) return 'sshd not installed (Debian: apt-get install openssh-server; scripts/setup.sh does it as root)';
  try {
    execFileSync('ssh-keygen', ['-?'], { stdio: 'ignore' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'ssh-keygen not installed (openssh-client)';
  }
  return false;
}

export interface SshTestHost {
  name: string;
  address: string; // always 127.0.0.1
  port: number;
  user: string;
  /** this host's own folder (its "disk"): sshd files and `data/` */
  dir: string;
  dataDir: string;
  /** the host key's public line, "ssh-ed25519 AAAA..." */
  hostPublicKey: string;
  /** OpenSSH's fingerprint of the host key, "SHA256:..." */
  fingerprint: string;
  /** the line a known_hosts file pins this host with: "[127.0.0.1]:port ssh-ed25519 AAAA..." */
  knownHostsLine: string;
  logFile: string;
  /** a new host key (as a reinstalled machine would have) and sshd restarted on the same port */
  rotateHostKey(): Promise<void>;
  stop(): Promise<void>;
}

export interface SshTestCluster {
  dir: string;
  hosts: SshTestHost[];
  /** the client's private key (ed25519, no passphrase), authorized on every host */
  identityFile: string;
  /** a known_hosts file pinning every host's current key */
  knownHostsFile: string;
  /** rewrites knownHostsFile from the hosts' current keys */
  writeKnownHosts(): void;
  /**
   * hosts.yaml entries for these hosts (config/schema.ts hostsSchema), with `repoPath` (default: this
   * repository) and `extra` merged into each.
   */
  hostEntries(opts?: { repoPath?: string; queues?: string[]; extra?: Record<string, unknown> }): Record<string, unknown>[];
  /** kills the workers `cluster up` left on the hosts, stops every sshd, removes the folder */
  stop(): Promise<void>;
}

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const cleanups = new Set<() => void>();
process.once('exit', () => cleanups.forEach((f) => f()));

/**
 * Kills what `ringrift cluster up` left running on these hosts (pid files <dataDir>/cluster/<host>/*.pid):
 * those workers are detached, so neither sshd's exit nor the test's kills them.
 */
function killDetached(hosts: SshTestHost[]): void {
  for (const h of hosts) {
    const root = path.join(h.dataDir, 'cluster');
    let dirs: string[] = [];
    try {
      dirs = fs.readdirSync(root).map((d) => path.join(root, d));
    } catch {
      continue;
    }
    for (const dir of dirs) {
      for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.pid'))) {
        const pid = Number(fs.readFileSync(path.join(dir, f), 'utf8'));
        if (!(pid > 1)) continue;
        for (const target of [-pid, pid]) {
          try {
            process.kill(target, 'SIGKILL'); // its process group first (setsid made it the leader)
          } catch {
            /* gone */
          }
        }
      }
    }
  }
}

function keygen(file: string, comment: string): void {
  fs.rmSync(file, { force: true });
  fs.rmSync(`${file}.pub`, { force: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: 'ignore' });
}

function fingerprintOf(pubFile: string): string {
  // "256 SHA256:abc comment (ED25519)"
  return execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile], { encoding: 'utf8' }).split(' ')[1]!;
}

function publicLine(pubFile: string): string {
  return fs.readFileSync(pubFile, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
}

async function waitListening(port: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sshd exited (${child.exitCode}):\n${readTail(logFile)}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd never listened on ${port}:\n${readTail(logFile)}`);
    await sleep(100);
  }
}

function readTail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}

function sshdConfig(h: { port: number; dir: string; user: string; logFile: string }, root: boolean): string {
  return [
    `Port ${h.port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${path.join(h.dir, 'ssh_host_ed25519_key')}`,
    `PidFile ${path.join(h.dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${path.join(h.dir, 'authorized_keys')}`,
    'StrictModes no', // temp folders under /tmp
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    root ? 'PermitRootLogin prohibit-password' : '',
    // PAM needs root; without it a locked password never blocks key logins here
    `UsePAM ${root ? 'yes' : 'no'}`,
    `AllowUsers ${h.user}`,
    'PrintMotd no',
    'MaxStartups 100:30:200', // parallel tests open many connections at once
    'MaxSessions 50',
    'Subsystem sftp internal-sftp',
    'LogLevel VERBOSE',
    '',
  ]
    .filter((l, i, all) => l !== '' || i === all.length - 1)
    .join('\n');
}

async function startHost(clusterDir: string, name: string, authorizedKey: string): Promise<SshTestHost> {
  const dir = path.join(clusterDir, name);
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const user = os.userInfo().username;
  const root = process.getuid?.() === 0;
  if (root) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege-separation folder
  const keyFile = path.join(dir, 'ssh_host_ed25519_key');
  fs.writeFileSync(path.join(dir, 'authorized_keys'), `${authorizedKey}\n`, { mode: 0o600 });
  const logFile = path.join(dir, 'sshd.log');
  const configFile = path.join(dir, 'sshd_config');
  let port = 0;
  let child: ChildProcess | null = null;

  const host: SshTestHost = {
    name,
    address: '127.0.0.1',
    port: 0,
    user,
    dir,
    dataDir,
    hostPublicKey: '',
    fingerprint: '',
    knownHostsLine: '',
    logFile,
    rotateHostKey: async () => {
      await stopSshd();
      await launch(true);
    },
    stop: async () => {
      await stopSshd();
    },
  };

  async function stopSshd(): Promise<void> {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000); // this child only: `child` changes on restart
    await exited;
    clearTimeout(timer);
  }

  async function launch(newKey: boolean): Promise<void> {
    if (newKey || !fs.existsSync(keyFile)) keygen(keyFile, `${name}-host`);
    host.hostPublicKey = publicLine(`${keyFile}.pub`);
    host.fingerprint = fingerprintOf(`${keyFile}.pub`);
    for (let attempt = 0; ; attempt++) {
      if (port === 0) port = await freePort();
      fs.writeFileSync(configFile, sshdConfig({ port, dir, user, logFile }, root));
      // -D: stay in the foreground as our child; -e: log to stderr (appended to the log file)
      const log = fs.openSync(logFile, 'a');
      const c = spawn(SSHD_BIN!, ['-D', '-e', '-f', configFile], { stdio: ['ignore', log, log] });
      fs.closeSync(log);
      const k = () => {
        try {
          c.kill('SIGKILL');
        } catch {
          /* gone */
        }
      };
      cleanups.add(k);
      c.once('exit', () => cleanups.delete(k));
      child = c;
      try {
        await waitListening(port, c, logFile);
        break;
      } catch (err) {
        k();
        // a port taken between freePort() and bind: try another (only before the first start; a restart keeps its port)
        if (attempt >= 3 || host.port !== 0) throw err;
        port = 0;
      }
    }
    host.port = port;
    host.knownHostsLine = `[127.0.0.1]:${port} ${host.hostPublicKey}`;
  }

  await launch(false);
  return host;
}

/** Starts `n` sshd "hosts" named host1..hostN. Stop them with `stop()` (they also die with the test process). */
export async function startSshHosts(n: number): Promise<SshTestCluster> {
  const reason = sshSkipReason();
  if (reason) throw new Error(reason);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-ssh-'));
  const identityFile = path.join(dir, 'client_ed25519');
  keygen(identityFile, 'ringrift-test-client');
  const authorizedKey = publicLine(`${identityFile}.pub`);
  const hosts: SshTestHost[] = [];
  try {
    for (let i = 1; i <= n; i++) hosts.push(await startHost(dir, `host${i}`, authorizedKey));
  } catch (err) {
    await Promise.all(hosts.map((h) => h.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const killWorkers = () => killDetached(hosts);
  cleanups.add(killWorkers);
  const knownHostsFile = path.join(dir, 'known_hosts');
  const writeKnownHosts = () => fs.writeFileSync(knownHostsFile, hosts.map((h) => `${h.knownHostsLine}\n`).join(''));
  writeKnownHosts();
  return {
    dir,
    hosts,
    identityFile,
    knownHostsFile,
    writeKnownHosts,
    hostEntries: (opts = {}) =>
      hosts.map((h) => ({
        name: h.name,
        address: h.address,
        queues: opts.queues ?? ['cpu'],
        repoPath: opts.repoPath ?? REPO_ROOT,
        dataDir: h.dataDir,
        ssh: { user: h.user, port: h.port, identityFile },
        ...opts.extra,
      })),
    stop: async () => {
      killWorkers();
      cleanups.delete(killWorkers);
      await Promise.all(hosts.map((h) => h.stop()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
