// Shared by the benchmarks: the machine description and the results file bench/results/<name>-<timestamp>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mlConfig } from '../config/index.js';

const r2 = (x: number): number => Math.round(x * 100) / 100;

export function machineInfo(): { cpu: string | undefined; cores: number; memGiB: number; loadavgAtStart: number[]; node: string } {
  return { cpu: cpus()[0]?.model, cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), loadavgAtStart: loadavg().map(r2), node: process.version };
}

/** Writes the result as pretty JSON to bench/results/<name>-<ISO time>.json; returns the path. */
export function writeBenchResult(name: string, result: unknown): string {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  return file;
}

/** The head of an ML kernel benchmark's result: what ran it, and which of our wasm kernels were on. */
export function kernelBenchHeader(bench: string, backend: unknown): { bench: string; machine: ReturnType<typeof machineInfo>; backend: unknown; kernelsOff: string; fma: boolean } {
  return { bench, machine: machineInfo(), backend, kernelsOff: mlConfig(process.env).wasmKernels.off.join(','), fma: mlConfig(process.env).wasmKernels.fma };
}
