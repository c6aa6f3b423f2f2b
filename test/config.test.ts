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
    return err.problems.map((p) => p.replace(dir + path.sep, ''));
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
    name: 'missing required key',
    dir: () => withPipeline((d) => d.deleteIn(['temporal', 'namespace'])),
    expect: ['pipeline.yaml: temporal.namespace: Invalid input: expected string, received undefined'],
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
    name: 'missing file',
    dir: () => {
      const d = configDir();
      fs.rmSync(path.join(d, 'hosts.yaml'));
      return d;
    },
    expect: ['hosts.yaml: cannot read file (ENOENT); create it or pass --config <dir>'],
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
