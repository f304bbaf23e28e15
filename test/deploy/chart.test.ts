// The cluster deployment (deploy/), checked offline with real tools: `helm lint` and `helm template` (Helm built
// from its Go module), every rendered manifest validated by kubeconform in strict mode against schemas built from
// the Kubernetes and KEDA Go modules (deploy/schemas/build.mjs), and the rendered worker command lines and
// environment checked against what `unlearn worker` and the code really accept. No cluster, no services.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { toolPath } from '../../infra/stack.js';
import { queueNames, temporalConfig } from '../../config/index.js';
import { VAR_NAMES } from '../../config/vars.js';
import { register as registerWorker } from '../../cli/worker.js';
import { SHUTDOWN_GRACE_S } from '../../workers/worker.js';
import { root } from '../orchestration/helpers.js';

const CHART = path.join(root, 'deploy', 'helm', 'unlearn-workers');
const VALUES = path.join(root, 'deploy', 'values');
const KUBE_VERSION = '1.33.7';
const valueSets: [string, string[]][] = [
  ['defaults', []],
  ...readdirSync(VALUES).filter((f) => f.endsWith('.yaml')).sort().map((f): [string, string[]] => [f, ['-f', path.join(VALUES, f)]]),
];

let tools: Promise<{ helm: string; kubeconform: string; schemas: string }> | undefined;
const getTools = () => (tools ??= (async () => {
  const log = (l: string) => console.log(`[deploy] ${l}`);
  const [helm, kubeconform] = await Promise.all([toolPath('helm', { log }), toolPath('kubeconform', { log })]);
  const schemas = execFileSync(process.execPath, [path.join(root, 'deploy', 'schemas', 'build.mjs')], { encoding: 'utf8' }).trim();
  return { helm, kubeconform, schemas };
})());

type Doc = { apiVersion: string; kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec: any };
function render(helm: string, args: string[]): { text: string; docs: Doc[] } {
  const text = execFileSync(helm, ['template', 'r1', CHART, '--kube-version', KUBE_VERSION, ...args], { encoding: 'utf8' });
  return { text, docs: parseAllDocuments(text).map((d) => d.toJS() as Doc).filter(Boolean) };
}
function kubeconform(bin: string, schemas: string, manifests: string): { code: number | null; summary: any; out: string } {
  const r = spawnSync(bin, ['-strict', '-summary', '-output', 'json', '-kubernetes-version', KUBE_VERSION, '-schema-location', schemas, '-'], { input: manifests, encoding: 'utf8' });
  const parsed = JSON.parse(r.stdout || '{}');
  return { code: r.status, summary: parsed.summary, out: r.stdout + r.stderr };
}

/** Environment variable names the code reads (process.env.X, env.X, env['X'] in the source folders). */
/** The variables the code reads: the one declaration in config/vars.ts (test/foundation/config.test.ts keeps it complete). */
function envNamesReadByCode(): Set<string> {
  return new Set(VAR_NAMES);
}

/** Parses worker arguments with the real `unlearn worker` command definition (its action replaced). */
async function parseWorkerArgs(args: string[]): Promise<{ queue: string; concurrency?: number }> {
  const program = new Command().exitOverride();
  registerWorker(program);
  const cmd = program.commands.find((c) => c.name() === 'worker')!;
  let got: { queue: string; concurrency?: number } | undefined;
  cmd.exitOverride().configureOutput({ writeErr: () => undefined }).action((o: { queue: string; concurrency?: number }) => { got = o; });
  await program.parseAsync(args, { from: 'user' });
  assert.ok(got, `unlearn ${args.join(' ')} reached the worker action`);
  return got;
}

void test('helm lint passes for the chart with every values file', async () => {
  const { helm } = await getTools();
  for (const [name, args] of valueSets) {
    const r = spawnSync(helm, ['lint', CHART, '--strict', '--kube-version', KUBE_VERSION, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${name}: ${r.stdout}${r.stderr}`);
  }
});

void test('every rendered manifest validates (kubeconform, strict, Kubernetes + KEDA schemas); a broken one does not', async () => {
  const { helm, kubeconform: kc, schemas } = await getTools();
  for (const [name, args] of valueSets) {
    const { text, docs } = render(helm, args);
    const r = kubeconform(kc, schemas, text);
    assert.equal(r.code, 0, `${name}: ${r.out}`);
    assert.equal(r.summary.valid, docs.length, `${name}: every document valid: ${JSON.stringify(r.summary)}`);
    assert.equal(r.summary.skipped, 0);
  }
  const { text } = render(helm, []);
  // Control: an unknown container field and a ScaledObject trigger field KEDA does not have are rejected.
  const broken = text.replace('imagePullPolicy: IfNotPresent', 'imagePullPolicy: IfNotPresent\n          gpus: 1').replace('    - type: temporal', '    - type: temporal\n      backlog: 3');
  const r = kubeconform(kc, schemas, broken);
  assert.notEqual(r.code, 0);
  assert.match(r.out, /additional properties 'gpus' not allowed/);
  assert.match(r.out, /additional properties 'backlog' not allowed/);
  assert.equal(r.summary.invalid, 2, r.out);
});

void test('rendered worker command lines and environment are what `unlearn worker` and the code accept', async () => {
  const { helm } = await getTools();
  const known = envNamesReadByCode();
  for (const n of ['TEMPORAL_ADDRESS', 'DATABASE_URL', 'S3_ENDPOINT', 'S3_SECRET_ACCESS_KEY', 'UNLEARN_WORKER_HOST', 'UNLEARN_BACKEND', 'UNLEARN_QUEUE_PREFIX']) assert.ok(known.has(n), `the code reads ${n}`);
  // control: the parser is the real one (an unknown queue or option is refused)
  await assert.rejects(parseWorkerArgs(['worker', '--queue', 'cuda']), /argument 'cuda' is invalid/);
  await assert.rejects(parseWorkerArgs(['worker', '--queue', 'gpu', '--gpus', '1']), /unknown option '--gpus'/);
  const dockerfiles = ['worker.Dockerfile', 'gpu.Dockerfile'].map((f) => readFileSync(path.join(root, 'deploy', 'docker', f), 'utf8'));
  for (const [name, args] of valueSets) {
    const { docs } = render(helm, args);
    const deployments = docs.filter((d) => d.kind === 'Deployment');
    assert.ok(deployments.length >= 2, name);
    const prefix = (docs.find((d) => d.kind === 'Deployment')!.spec.template.spec.containers[0].env as { name: string; value?: string }[])
      .find((e) => e.name === 'UNLEARN_QUEUE_PREFIX')?.value ?? '';
    for (const d of deployments) {
      const c = d.spec.template.spec.containers[0];
      const where = `${name}: ${d.metadata.name}`;
      // the images' entry point, then arguments the real CLI accepts
      assert.deepEqual(c.command, ['node', '--import', 'tsx', 'cli/main.ts'], where);
      for (const df of dockerfiles) assert.ok(df.includes(`ENTRYPOINT ${JSON.stringify(c.command).replace(/,/g, ', ')}`), `${where}: Dockerfiles run the same entry point`);
      const opts = await parseWorkerArgs(c.args);
      assert.ok(['gpu', 'io'].includes(opts.queue), where);
      assert.ok(Number.isInteger(opts.concurrency) && opts.concurrency! >= 1, where);
      // environment: only names the code reads (NODE_NAME/POD_NAME feed UNLEARN_WORKER_HOST), secrets only from Secrets
      const env = c.env as { name: string; value?: string; valueFrom?: { secretKeyRef?: unknown; fieldRef?: unknown } }[];
      const literal = Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
      for (const e of env) {
        const feeds = env.some((o) => o.value?.includes(`$(${e.name})`));
        assert.ok(known.has(e.name) || (feeds && e.valueFrom?.fieldRef), `${where}: env ${e.name} is read by the code`);
      }
      for (const secret of ['DATABASE_URL', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'TEMPORAL_API_KEY']) {
        const e = env.find((x) => x.name === secret);
        if (secret === 'TEMPORAL_API_KEY' && !e) continue;
        assert.ok(e?.valueFrom?.secretKeyRef && e.value === undefined, `${where}: ${secret} comes from a Secret`);
      }
      for (const required of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'S3_ENDPOINT', 'S3_BUCKET', 'S3_REGION']) assert.ok(literal[required], `${where}: ${required}`);
      if (!literal.TEMPORAL_TLS_CERT) assert.doesNotThrow(() => temporalConfig(literal), where);
      assert.ok(!literal.UNLEARN_WORKER_HOST.includes(':'), 'the host must not contain the identity separator');
      // graceful shutdown: Kubernetes waits longer than the worker's own grace period
      assert.ok(d.spec.template.spec.terminationGracePeriodSeconds >= SHUTDOWN_GRACE_S + 15, `${where}: grace period`);
      if (opts.queue === 'gpu' && literal.UNLEARN_BACKEND !== 'wasm') {
        assert.equal(c.resources.limits['nvidia.com/gpu'], 1, `${where}: one GPU per worker`);
        assert.equal(opts.concurrency, 1, `${where}: one stage at a time per GPU`);
      }
    }
    // KEDA scales the gpu Deployment on the backlog of the queue those workers poll.
    const so = docs.find((d) => d.kind === 'ScaledObject');
    const gpuDeployment = deployments.find((d) => d.metadata.name.endsWith('-gpu'));
    if (gpuDeployment) {
      assert.ok(so, `${name}: gpu workers autoscale`);
      assert.equal(so.spec.scaleTargetRef.name, gpuDeployment.metadata.name);
      const trigger = so.spec.triggers[0];
      assert.equal(trigger.type, 'temporal');
      assert.equal(trigger.metadata.taskQueue, queueNames({ UNLEARN_QUEUE_PREFIX: prefix }).gpu);
      assert.equal(gpuDeployment.spec.replicas, undefined, 'KEDA owns the replica count');
      const workerEnv = Object.fromEntries((gpuDeployment.spec.template.spec.containers[0].env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
      assert.equal(trigger.metadata.endpoint, workerEnv.TEMPORAL_ADDRESS);
      assert.equal(trigger.metadata.namespace, workerEnv.TEMPORAL_NAMESPACE);
      if (workerEnv.TEMPORAL_API_KEY === undefined && gpuDeployment.spec.template.spec.containers[0].env.some((e: { name: string }) => e.name === 'TEMPORAL_API_KEY')) {
        assert.ok(so.spec.triggers[0].authenticationRef, `${name}: the scaler authenticates like the workers`);
      }
    }
    // migrations run before workers of an install or upgrade
    const job = docs.find((d) => d.kind === 'Job');
    assert.match(job?.metadata.annotations?.['helm.sh/hook'] ?? '', /pre-install/);
  }
});
