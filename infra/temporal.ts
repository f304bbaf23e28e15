// Temporal connections for clients, workers and the stack; the settings come from config/index.ts
// temporalConfig(env) (the SDK's standard TEMPORAL_* variables and the CLI's config file).
// Exports:
//   connectionOptions(cfg): options accepted by both `Connection.connect` (@temporalio/client) and
//       `NativeConnection.connect` (@temporalio/worker).
//   checkTemporal(cfg, {timeoutMs, source}): resolves when the server answers and the namespace exists; otherwise
//       throws an Error whose message names `source` (e.g. 'TEMPORAL_ADDRESS') and the address.
import { Connection } from '@temporalio/client';
import type { TemporalConfig } from '../config/index.js';

export type { TemporalConfig } from '../config/index.js';

export interface ConnectionOptions { address: string; tls?: TemporalConfig['tls']; apiKey?: string; metadata?: Record<string, string> }

export function connectionOptions(cfg: TemporalConfig): ConnectionOptions {
  const o: ConnectionOptions = { address: cfg.address };
  if (cfg.tls !== false) o.tls = cfg.tls;
  if (cfg.apiKey) o.apiKey = cfg.apiKey;
  if (cfg.metadata) o.metadata = cfg.metadata;
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
