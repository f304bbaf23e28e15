// Temporal connection settings from the environment (shared by clients, workers and the stack).
// Exports:
//   temporalConfigFromEnv(env?): TemporalConfig — { address, namespace, tls, apiKey } from TEMPORAL_ADDRESS
//       (default 127.0.0.1:7233), TEMPORAL_NAMESPACE (default 'default'), TEMPORAL_API_KEY (implies TLS),
//       TEMPORAL_TLS=true, TEMPORAL_TLS_CERT + TEMPORAL_TLS_KEY (paths of a client certificate pair, implies TLS).
//   connectionOptions(cfg): options accepted by both `Connection.connect` (@temporalio/client) and
//       `NativeConnection.connect` (@temporalio/worker).
//   checkTemporal(cfg, {timeoutMs, source}): resolves when the server answers and the namespace exists; otherwise
//       throws an Error whose message names `source` (e.g. 'TEMPORAL_ADDRESS') and the address.
import { readFileSync } from 'node:fs';
import { Connection } from '@temporalio/client';

export interface TemporalConfig {
  address: string;
  namespace: string;
  tls: boolean | { clientCertPair: { crt: Buffer; key: Buffer } };
  apiKey?: string;
}

export function temporalConfigFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  const address = env.TEMPORAL_ADDRESS?.trim() || '127.0.0.1:7233';
  if (!/^[^\s/]+:\d+$/.test(address)) {
    throw new Error(`TEMPORAL_ADDRESS is malformed: expected HOST:PORT (e.g. 127.0.0.1:7233), got "${address}".`);
  }
  const namespace = env.TEMPORAL_NAMESPACE?.trim() || 'default';
  let tls: TemporalConfig['tls'] = env.TEMPORAL_TLS === 'true' || env.TEMPORAL_TLS === '1';
  if (env.TEMPORAL_TLS_CERT || env.TEMPORAL_TLS_KEY) {
    if (!env.TEMPORAL_TLS_CERT || !env.TEMPORAL_TLS_KEY) {
      throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together (paths of the client certificate and key).');
    }
    tls = { clientCertPair: { crt: readFileSync(env.TEMPORAL_TLS_CERT), key: readFileSync(env.TEMPORAL_TLS_KEY) } };
  }
  const apiKey = env.TEMPORAL_API_KEY?.trim() || undefined;
  if (apiKey && tls === false) tls = true;
  return { address, namespace, tls, apiKey };
}

export function connectionOptions(cfg: TemporalConfig): { address: string; tls?: TemporalConfig['tls']; apiKey?: string } {
  const o: { address: string; tls?: TemporalConfig['tls']; apiKey?: string } = { address: cfg.address };
  if (cfg.tls !== false) o.tls = cfg.tls;
  if (cfg.apiKey) o.apiKey = cfg.apiKey;
  return o;
}

export async function checkTemporal(
  cfg: TemporalConfig,
  opts: { timeoutMs?: number; source?: string } = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const source = opts.source ?? 'TEMPORAL_ADDRESS';
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ ...connectionOptions(cfg), connectTimeout: timeoutMs });
    await connection.withDeadline(Date.now() + timeoutMs, () => connection!.workflowService.getSystemInfo({}));
  } catch (err) {
    throw new Error(
      `Temporal at ${source}=${cfg.address} is unreachable (${(err as Error).message}). ` +
        `Check that a Temporal server listens there, or unset ${source} to let \`npm run stack -- up\` start a local dev server.`,
      { cause: err },
    );
  }
  try {
    await connection.withDeadline(Date.now() + timeoutMs, () =>
      connection!.workflowService.describeNamespace({ namespace: cfg.namespace }),
    );
  } catch (err) {
    throw new Error(
      `Temporal at ${cfg.address} has no namespace TEMPORAL_NAMESPACE="${cfg.namespace}" (${(err as Error).message}). ` +
        'Create it (`temporal operator namespace create`) or set TEMPORAL_NAMESPACE to an existing one.',
      { cause: err },
    );
  } finally {
    await connection.close();
  }
}
