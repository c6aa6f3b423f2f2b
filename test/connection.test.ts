// Connection options for a remote cluster: mTLS files, CA, server name and API key reach client and worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config/load';
import { clientConnectionOptions, workerConnectionOptions } from '../workers/connection';

test('local default: plain connection, no TLS, no API key', () => {
  const t = loadConfig(undefined, {}).pipeline.temporal;
  assert.deepEqual(clientConnectionOptions(t), { address: '127.0.0.1:7233' });
  assert.deepEqual(workerConnectionOptions(t), { address: '127.0.0.1:7233' });
});

test('mTLS: client certificate pair, server CA and server name are read from the configured files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrift-tls-'));
  try {
    fs.writeFileSync(path.join(dir, 'client.pem'), 'CERT');
    fs.writeFileSync(path.join(dir, 'client.key'), 'KEY');
    fs.writeFileSync(path.join(dir, 'ca.pem'), 'CA');
    const t = loadConfig(undefined, {
      RINGRIFT_TEMPORAL_ADDRESS: 'ringrift.tmprl.cloud:7233',
      RINGRIFT_NAMESPACE: 'ringrift.prod',
      RINGRIFT_TLS_CERT: path.join(dir, 'client.pem'),
      RINGRIFT_TLS_KEY: path.join(dir, 'client.key'),
      RINGRIFT_TLS_CA: path.join(dir, 'ca.pem'),
      RINGRIFT_TLS_SERVER_NAME: 'ringrift.internal',
    }).pipeline.temporal;
    for (const opts of [clientConnectionOptions(t), workerConnectionOptions(t)]) {
      assert.equal(opts.address, 'ringrift.tmprl.cloud:7233');
      const tls = opts.tls as { clientCertPair: { crt: Buffer; key: Buffer }; serverRootCACertificate: Buffer; serverNameOverride: string };
      assert.equal(tls.clientCertPair.crt.toString(), 'CERT');
      assert.equal(tls.clientCertPair.key.toString(), 'KEY');
      assert.equal(tls.serverRootCACertificate.toString(), 'CA');
      assert.equal(tls.serverNameOverride, 'ringrift.internal');
      assert.equal('apiKey' in opts, false);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('API key: sent over TLS', () => {
  const t = loadConfig(undefined, { RINGRIFT_TEMPORAL_ADDRESS: 'eu.aws.api.temporal.io:7233', RINGRIFT_API_KEY: 'key-123' }).pipeline
    .temporal;
  assert.deepEqual(clientConnectionOptions(t), { address: 'eu.aws.api.temporal.io:7233', tls: true, apiKey: 'key-123' });
  assert.deepEqual(workerConnectionOptions(t), { address: 'eu.aws.api.temporal.io:7233', tls: true, apiKey: 'key-123' });
});
