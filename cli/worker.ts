// `unlearn worker --queue gpu|io|all --concurrency N`
import { Command, Option } from 'commander';
import type { QueueKind } from '../workers/worker.js';

export function register(program: Command): void {
  program
    .command('worker')
    .description('run a worker: gpu (training stages, 1 per device), io (sweep workflows, data, recording) or all')
    .addOption(new Option('--queue <queue>', 'task queue kind').choices(['gpu', 'io', 'all']).default('all'))
    .option('--concurrency <n>', 'activities at once (gpu default 1, io default 8)', (v) => Number.parseInt(v, 10))
    .action(async (o: { queue: QueueKind; concurrency?: number }) => {
      // the worker (Temporal's native worker, tfjs, the computes) loads only when a worker is started
      const { createWorkers } = await import('../workers/worker.js');
      const w = await createWorkers({ queue: o.queue, concurrency: o.concurrency });
      await w.run();
      console.log(`[worker ${w.info.identity}] stopped`);
    });
}
