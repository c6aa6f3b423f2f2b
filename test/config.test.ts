// Config validation: the shipped files, overrides, and bad files with their exact one-line messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { ConfigError, DEFAULT_CONFIG_DIR, loadConfig } from '../config/load';

const pipelineText = fs.readFileSync(path.join(DEFAULT_CONFIG_DIR, 'pipeline.yaml'), 'utf8');
const hostsText = fs.readFileSync(path.join(DEFAULT_CONFIG_DIR, 'hosts.yaml'), 'utf8');

function configDir(pipeline: string = pipelineText, hosts: string = hostsText): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-config-'));
  fs.writeFileSync(path.join(dir, 'pipeline.yaml'), pipeline);
  fs.writeFileSync(path.join(dir, 'hosts.yaml'), hosts);
  return dir;
}

/** The default pipeline.yaml with one key changed (undefined deletes it). */
function withPipeline(edit: (doc: YAML.Document) => void): string {
  const doc = YAML.parseDocument(pipelineText);
  edit(doc);
  return configDir(doc.toString());
}

function problems(dir: string, env: Record<string, string> = {}): string[] {
  try {
    loadConfig(dir, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => p.replace(dir + path.sep, '').replaceAll(dir, '(dir)'));
  }
  assert.fail('expected a ConfigError');
}

test('shipped config files validate and carry the defaults', () => {
  const cfg = loadConfig(DEFAULT_CONFIG_DIR, {});
  assert.equal(cfg.pipeline.temporal.address, '127.0.0.1:7233');
  assert.equal(cfg.pipeline.dev.uiPort, 8233);
  assert.equal(cfg.pipeline.phases.parity_validation.fail_threshold, 0.01);
  assert.deepEqual(Object.keys(cfg.pipeline.searchAttributes), ['RingRiftBoard', 'RingRiftConfigKey', 'RingRiftPhase']);
  assert.equal(cfg.hosts.hosts[0]!.name, 'local');
});

test('environment variables override the files', () => {
  const cfg = loadConfig(DEFAULT_CONFIG_DIR, {
    RINGRIFT_TEMPORAL_ADDRESS: 'temporal.example:7233',
    RINGRIFT_NAMESPACE: 'ringrift-prod',
    RINGRIFT_API_KEY: 'k-123',
    RINGRIFT_UI_PORT: '9000',
    RINGRIFT_TLS: 'true',
  });
  assert.equal(cfg.pipeline.temporal.address, 'temporal.example:7233');
  assert.equal(cfg.pipeline.temporal.namespace, 'ringrift-prod');
  assert.equal(cfg.pipeline.temporal.apiKey, 'k-123');
  assert.equal(cfg.pipeline.temporal.tls.enabled, true);
  assert.equal(cfg.pipeline.dev.uiPort, 9000);
});

test('TLS files are accepted when present', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-tls-'));
  for (const f of ['client.pem', 'client.key', 'ca.pem']) fs.writeFileSync(path.join(dir, f), 'x');
  const cfg = loadConfig(DEFAULT_CONFIG_DIR, {
    RINGRIFT_TLS_CERT: path.join(dir, 'client.pem'),
    RINGRIFT_TLS_KEY: path.join(dir, 'client.key'),
    RINGRIFT_TLS_CA: path.join(dir, 'ca.pem'),
  });
  assert.equal(cfg.pipeline.temporal.tls.clientCertPath, path.join(dir, 'client.pem'));
});

const badCases: { name: string; dir: () => string; env?: Record<string, string>; expect: string[] }[] = [
  {
    name: 'port out of range',
    dir: () => withPipeline((d) => d.setIn(['dev', 'port'], 70000)),
    expect: ['pipeline.yaml: dev.port: Too big: expected number to be <=65535'],
  },
  {
    name: 'port as a string',
    dir: () => withPipeline((d) => d.setIn(['dev', 'uiPort'], 'eighty')),
    expect: ['pipeline.yaml: dev.uiPort: Invalid input: expected number, received string'],
  },
  {
    name: 'unknown key (typo)',
    dir: () => withPipeline((d) => d.setIn(['temporal', 'adress'], 'x:1')),
    expect: ['pipeline.yaml: temporal: Unrecognized key: "adress"'],
  },
  {
    name: 'required key present but null',
    dir: () => withPipeline((d) => d.setIn(['temporal', 'namespace'], null)),
    expect: ['pipeline.yaml: temporal.namespace: Invalid input: expected string, received null'],
  },
  {
    name: 'partial file: a present key of the wrong type',
    dir: () => configDir('dev:\n  port: "x"\nphases:\n  npz_export:\n    split_ratio: 2\n'),
    expect: [
      'pipeline.yaml: dev.port: Invalid input: expected number, received string',
      'pipeline.yaml: phases.npz_export.split_ratio: Too big: expected number to be <1',
    ],
  },
  {
    name: 'address without port',
    dir: () => withPipeline((d) => d.setIn(['temporal', 'address'], 'localhost')),
    expect: ['pipeline.yaml: temporal.address: must be host:port, e.g. 127.0.0.1:7233'],
  },
  {
    name: 'fail_threshold above 1',
    dir: () => withPipeline((d) => d.setIn(['phases', 'parity_validation', 'fail_threshold'], 1.5)),
    expect: ['pipeline.yaml: phases.parity_validation.fail_threshold: Too big: expected number to be <=1'],
  },
  {
    name: 'split_ratio of 1',
    dir: () => withPipeline((d) => d.setIn(['phases', 'npz_export', 'split_ratio'], 1)),
    expect: ['pipeline.yaml: phases.npz_export.split_ratio: Too big: expected number to be <1'],
  },
  {
    name: 'bad search attribute type',
    dir: () => withPipeline((d) => d.setIn(['searchAttributes', 'RingRiftBoard'], 'String')),
    expect: [
      'pipeline.yaml: searchAttributes.RingRiftBoard: Invalid option: expected one of "Text"|"Keyword"|"Int"|"Double"|"Bool"|"Datetime"|"KeywordList"',
    ],
  },
  {
    name: 'ui port equal to frontend port',
    dir: () => withPipeline((d) => d.setIn(['dev', 'uiPort'], 7233)),
    expect: ['pipeline.yaml: dev.uiPort: must differ from dev.port'],
  },
  {
    name: 'TLS cert without key',
    dir: () => withPipeline((d) => d.setIn(['temporal', 'tls', 'clientCertPath'], '/tmp/only-cert.pem')),
    expect: ['pipeline.yaml: temporal.tls.clientKeyPath: clientCertPath and clientKeyPath must be given together'],
  },
  {
    name: 'TLS file missing',
    dir: () =>
      withPipeline((d) => {
        d.setIn(['temporal', 'tls', 'serverCaPath'], '/nonexistent/ca.pem');
      }),
    expect: ['pipeline.yaml: temporal.tls.serverCaPath: file not found: /nonexistent/ca.pem'],
  },
  {
    name: 'dev worker queue without settings',
    dir: () => withPipeline((d) => d.setIn(['dev', 'workers'], ['cpu', 'tpu'])),
    expect: ['pipeline.yaml: dev.workers.1: queue "tpu" has no entry under workers.queues'],
  },
  {
    name: 'invalid YAML',
    dir: () => configDir('temporal:\n  address: [unclosed\n'),
    expect: ['pipeline.yaml:3:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]'],
  },
  {
    name: 'empty file',
    dir: () => configDir(''),
    expect: ['pipeline.yaml: (root): expected a mapping of keys, got an empty file'],
  },
  {
    name: 'duplicate host names',
    dir: () => configDir(pipelineText, 'hosts:\n  - {name: a, address: h1, queues: [cpu]}\n  - {name: a, address: h2, queues: [gpu]}\n'),
    expect: ['hosts.yaml: hosts.1.name: duplicate host name "a"'],
  },
  {
    name: 'host queue with a bad name',
    dir: () => configDir(pipelineText, 'hosts:\n  - {name: a, address: h1, queues: ["GPU queue"]}\n'),
    expect: ['hosts.yaml: hosts.0.queues.0: must be a task-queue name like "cpu" or "gpu"'],
  },
  {
    name: 'a password in hosts.yaml (keys or an agent only)',
    dir: () =>
      configDir(pipelineText, 'hosts:\n  - {name: a, address: h1, queues: [cpu], repoPath: /r, ssh: {user: u, password: hunter2}}\n'),
    expect: [
      'hosts.yaml: hosts.0.ssh.password: passwords are not accepted in hosts.yaml: use ssh.identityFile (a key file) or an SSH agent (SSH_AUTH_SOCK)',
    ],
  },
  {
    name: 'an SSH host without its checkout path',
    dir: () => configDir(pipelineText, 'hosts:\n  - {name: a, address: h1, queues: [cpu], ssh: {user: u}}\n'),
    expect: ['hosts.yaml: hosts.0.repoPath: required for a host reached over SSH: the checkout there, e.g. ~/ringrift-pipeline'],
  },
  {
    name: 'two problems, one line each',
    dir: () =>
      withPipeline((d) => {
        d.setIn(['workers', 'shutdownGraceSeconds'], -1);
        d.setIn(['health', 'queues'], []);
      }),
    expect: [
      'pipeline.yaml: workers.shutdownGraceSeconds: Too small: expected number to be >0',
      'pipeline.yaml: health.queues: Too small: expected array to have >=1 items',
    ],
  },
  {
    name: 'bad environment override',
    dir: () => configDir(),
    env: { RINGRIFT_DEV_PORT: 'abc', RINGRIFT_TEMPORAL_ADDRESS: 'nohost' },
    expect: [
      'RINGRIFT_DEV_PORT: expected an integer, got "abc"',
      'pipeline.yaml: temporal.address: must be host:port, e.g. 127.0.0.1:7233 (set by RINGRIFT_TEMPORAL_ADDRESS)',
    ],
  },
  {
    name: 'folder with neither file',
    dir: () => {
      const d = configDir();
      fs.rmSync(path.join(d, 'hosts.yaml'));
      fs.rmSync(path.join(d, 'pipeline.yaml'));
      return d;
    },
    expect: ['(dir): holds neither pipeline.yaml nor hosts.yaml; put the keys you change in pipeline.yaml'],
  },
];

for (const c of badCases) {
  test(`bad config: ${c.name}`, () => {
    const dir = c.dir();
    try {
      assert.deepEqual(problems(dir, c.env), c.expect);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a partial config folder: user keys merged over the shipped defaults, no hosts.yaml = local host only', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-partial-'));
  try {
    fs.writeFileSync(
      path.join(dir, 'pipeline.yaml'),
      'dev:\n  uiPort: 9333\nphases:\n  npz_export:\n    split_ratio: 0.8\nhealth:\n  queues: [gpu]\n',
    );
    const cfg = loadConfig(dir, {});
    const shipped = loadConfig(DEFAULT_CONFIG_DIR, {});
    assert.equal(cfg.pipeline.dev.uiPort, 9333);
    assert.equal(cfg.pipeline.dev.port, shipped.pipeline.dev.port);
    assert.equal(cfg.pipeline.phases.npz_export.split_ratio, 0.8);
    assert.deepEqual(cfg.pipeline.phases.parity_validation, shipped.pipeline.phases.parity_validation);
    assert.deepEqual(cfg.pipeline.health.queues, ['gpu']); // arrays replace, they do not merge
    assert.deepEqual(cfg.pipeline.temporal, shipped.pipeline.temporal);
    assert.deepEqual(cfg.hosts, shipped.hosts);
    assert.deepEqual(
      cfg.hosts.hosts.map((h) => h.name),
      ['local'],
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a hosts.yaml alone replaces the host list; pipeline defaults stay', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-hosts-'));
  try {
    fs.writeFileSync(path.join(dir, 'hosts.yaml'), 'hosts:\n  - {name: gpu1, address: 10.0.0.2, queues: [gpu]}\n');
    const cfg = loadConfig(dir, {});
    assert.deepEqual(
      cfg.hosts.hosts.map((h) => h.name),
      ['gpu1'],
    );
    assert.equal(cfg.pipeline.dev.uiPort, loadConfig(DEFAULT_CONFIG_DIR, {}).pipeline.dev.uiPort);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a config folder that does not exist', () => {
  assert.deepEqual(problems('/nonexistent/ringrift-config'), [
    '(dir): no such config folder; pass --config <dir> with a pipeline.yaml and/or hosts.yaml in it',
  ]);
});
