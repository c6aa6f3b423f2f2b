// Each worker's HTTP endpoint: /metrics (prom-client + the Temporal SDK runtime's own metrics, merged)
// and /health (JSON; 503 when unhealthy). Binds 127.0.0.1 by default; anywhere else it needs a bearer
// token and refuses to start without one.
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { MetricsSettings } from '../config/schema';
import { UserError } from '../cli/errors';
import type { WorkerHealth } from './health';
import { registry } from './metrics';

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true;
  return net.isIPv4(host) && host.startsWith('127.');
}

/** The port this worker's endpoint binds: metrics.port (RINGRIFT_METRICS_PORT) wins, then metrics.ports[queue], else any free port. */
export function metricsPortFor(settings: MetricsSettings, queue: string): number {
  return settings.port ?? settings.ports[queue] ?? 0;
}

/** Refuses settings that would expose the endpoint without a token. */
export function checkMetricsSettings(settings: MetricsSettings): void {
  if (!isLoopback(settings.host) && !settings.token) {
    throw new UserError(
      `metrics.host is ${settings.host}, beyond loopback: set a bearer token with RINGRIFT_METRICS_TOKEN (or metrics.token), or bind 127.0.0.1`,
    );
  }
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const a = crypto.createHash('sha256').update(m[1]!.trim()).digest();
  const b = crypto.createHash('sha256').update(token).digest();
  return crypto.timingSafeEqual(a, b);
}

export interface MetricsServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  settings: MetricsSettings;
  port: number;
  health: WorkerHealth;
  /** where the SDK runtime's Prometheus exporter listens (loopback), merged into /metrics */
  runtimeMetricsUrl?: string | null;
}

async function runtimeMetrics(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return `# temporal runtime metrics unavailable: HTTP ${res.status}\n`;
    const text = await res.text();
    return text.endsWith('\n') ? text : `${text}\n`;
  } catch (err) {
    return `# temporal runtime metrics unavailable: ${(err as Error).message}\n`;
  }
}

export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const { settings, health } = opts;
  checkMetricsSettings(settings);
  const token = settings.token;
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end();
        return;
      }
      if (token && !tokenMatches(req.headers.authorization, token)) {
        res.writeHead(401, { 'WWW-Authenticate': 'Bearer realm="ringrift-worker"', 'Content-Type': 'text/plain' });
        res.end(req.headers.authorization ? 'wrong bearer token\n' : 'bearer token required\n');
        return;
      }
      if (url.pathname === '/metrics') {
        health.updateGauges();
        let body = await registry.metrics();
        if (opts.runtimeMetricsUrl) body += await runtimeMetrics(opts.runtimeMetricsUrl);
        res.writeHead(200, { 'Content-Type': registry.contentType }).end(body);
      } else if (url.pathname === '/health') {
        const rep = health.report();
        health.updateGauges();
        res.writeHead(rep.healthy ? 200 : 503, { 'Content-Type': 'application/json' }).end(`${JSON.stringify(rep, null, 2)}\n`);
      } else {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: try /metrics or /health\n');
      }
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`${(err as Error).message}\n`);
    });
  });
  const host = settings.host.replace(/^\[(.*)\]$/, '$1');
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') {
        reject(
          new UserError(
            `port ${opts.port} on ${host} (worker metrics) is already in use: find its owner with 'ss -ltnp "sport = :${opts.port}"', stop it, or set RINGRIFT_METRICS_PORT (0: any free port)`,
          ),
        );
      } else reject(new UserError(`cannot bind ${host}:${opts.port} (worker metrics): ${err.message}`));
    });
    server.listen({ host, port: opts.port, exclusive: true }, () => resolve());
  });
  const addr = server.address() as net.AddressInfo;
  const shown = net.isIPv6(host) ? `[${host}]` : host;
  return {
    url: `http://${shown}:${addr.port}`,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // scrapers keep connections alive
      }),
  };
}
