// Connection options for clients and workers, from config (local dev server, or a remote cluster with TLS / API key).
import fs from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { TemporalSettings } from '../config/schema';
import { resolveFromRoot } from '../config/load';

type TlsOption = NonNullable<ConnectionOptions['tls']>;

function tlsOption(t: TemporalSettings): TlsOption | undefined {
  const { tls } = t;
  const read = (p: string | null) => (p ? fs.readFileSync(resolveFromRoot(p)) : undefined);
  const usesTls = tls.enabled || tls.clientCertPath !== null || tls.serverCaPath !== null;
  if (!usesTls) return t.apiKey ? true : undefined; // API keys are only sent over TLS
  const crt = read(tls.clientCertPath);
  const key = read(tls.clientKeyPath);
  return {
    ...(crt && key ? { clientCertPair: { crt, key } } : {}),
    ...(tls.serverCaPath ? { serverRootCACertificate: read(tls.serverCaPath) } : {}),
    ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
  };
}

export function clientConnectionOptions(t: TemporalSettings): ConnectionOptions {
  const tls = tlsOption(t);
  return { address: t.address, ...(tls !== undefined ? { tls } : {}), ...(t.apiKey ? { apiKey: t.apiKey } : {}) };
}

export function workerConnectionOptions(t: TemporalSettings): NativeConnectionOptions {
  const tls = tlsOption(t);
  return { address: t.address, ...(tls !== undefined ? { tls } : {}), ...(t.apiKey ? { apiKey: t.apiKey } : {}) };
}

export async function connectClient(t: TemporalSettings, connectTimeout: Duration = '5s'): Promise<Client> {
  const connection = await Connection.connect({ ...clientConnectionOptions(t), connectTimeout });
  return new Client({ connection, namespace: t.namespace });
}

export async function connectWorker(t: TemporalSettings): Promise<NativeConnection> {
  return NativeConnection.connect(workerConnectionOptions(t));
}
