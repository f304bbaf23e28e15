#!/usr/bin/env node
// Builds the JSON schemas kubeconform validates our manifests against, offline, from Go modules (the Go module
// proxy is reachable where GitHub, and so kubeconform's default schema site, is not):
//   - Kubernetes: api/openapi-spec/swagger.json of the module k8s.io/kubernetes@K8S_VERSION
//   - KEDA: the CRDs config/crd/bases/*.yaml of github.com/kedacore/keda/v2@KEDA_VERSION
// For each kind in KINDS it writes a standalone, strict schema (unknown fields are errors) in kubeconform's
// layout: <out>/v<K8S>-standalone-strict/<kind>-<group>-<version>.json (the swagger's IntOrString and Quantity
// become string-or-number, as kubeconform's own converter does). Only the definitions a kind reaches are kept.
//   node deploy/schemas/build.mjs [--out DIR]     (prints the schema folder; reuses a complete one)
// Default folder: ${XDG_CACHE_HOME:-~/.cache}/unlearn-tools/kube-schemas-<k8s>-keda-<keda>.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

export const K8S_VERSION = '1.33.7';
export const KEDA_VERSION = '2.20.2';
const KINDS = new Set(['Deployment', 'Job', 'PodDisruptionBudget', 'Secret', 'ConfigMap', 'ServiceAccount', 'ScaledObject', 'ScaledJob', 'TriggerAuthentication', 'ClusterTriggerAuthentication']);

export function defaultSchemaDir(env = process.env) {
  const cache = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cache, 'unlearn-tools', `kube-schemas-v${K8S_VERSION}-keda-v${KEDA_VERSION}`);
}

function goModDir(module) {
  const go = ['go', '/usr/local/go/bin/go'].find((g) => { try { execFileSync(g, ['version'], { stdio: 'ignore' }); return true; } catch { return false; } });
  if (!go) throw new Error(`Go is needed to download ${module} from the Go module proxy (install Go >= 1.22)`);
  let out;
  try {
    out = execFileSync(go, ['mod', 'download', '-json', module], { encoding: 'utf8', cwd: os.tmpdir(), env: { ...process.env, GOFLAGS: '-mod=mod' }, maxBuffer: 16 << 20 });
  } catch (e) {
    throw new Error(`go mod download ${module} failed (is the Go module proxy reachable? GOPROXY=${process.env.GOPROXY ?? 'default'}): ${e.stdout || e.message}`);
  }
  const info = JSON.parse(out);
  if (info.Error || !info.Dir) throw new Error(`go mod download ${module}: ${info.Error ?? 'no Dir'}`);
  return info.Dir;
}

const kindSuffix = (group, version) => (group ? `-${group.split('.')[0].toLowerCase()}-${version}` : `-${version}`);

/** Unknown fields are errors: every object schema with properties and no additionalProperties gets `false`. */
function strict(schema) {
  if (Array.isArray(schema)) return schema.map(strict);
  if (!schema || typeof schema !== 'object') return schema;
  const out = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'enum' || k === 'default' || k === 'example' ? v : strict(v);
  if (out['x-kubernetes-int-or-string']) {
    delete out.type;
    out.oneOf = [{ type: 'string' }, { type: 'integer' }];
  }
  if (out.properties && out.additionalProperties === undefined && !out['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  return out;
}

function kubernetesSchemas(swaggerPath) {
  const defs = JSON.parse(readFileSync(swaggerPath, 'utf8')).definitions;
  defs['io.k8s.apimachinery.pkg.util.intstr.IntOrString'] = { oneOf: [{ type: 'string' }, { type: 'integer' }] };
  defs['io.k8s.apimachinery.pkg.api.resource.Quantity'] = { oneOf: [{ type: 'string' }, { type: 'number' }] };
  const out = [];
  for (const [name, def] of Object.entries(defs)) {
    for (const gvk of def['x-kubernetes-group-version-kind'] ?? []) {
      if (!KINDS.has(gvk.kind)) continue;
      // keep the definitions this kind reaches
      const keep = {};
      const visit = (n) => {
        if (keep[n]) return;
        keep[n] = strict(defs[n]);
        JSON.stringify(defs[n]).replace(/"#\/definitions\/([^"]+)"/g, (_, d) => { visit(d); return ''; });
      };
      visit(name);
      const schema = { $ref: `#/definitions/${name}`, definitions: keep };
      // apiVersion and kind must name this kind
      keep[name] = { ...keep[name], properties: { ...keep[name].properties, apiVersion: { type: 'string', enum: [gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version] }, kind: { type: 'string', enum: [gvk.kind] } } };
      out.push({ file: `${gvk.kind.toLowerCase()}${kindSuffix(gvk.group, gvk.version)}.json`, schema });
    }
  }
  return out;
}

function crdSchemas(dir) {
  const out = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(readFileSync(path.join(dir, f), 'utf8'))) {
      const crd = doc.toJS();
      if (crd?.kind !== 'CustomResourceDefinition' || !KINDS.has(crd.spec.names.kind)) continue;
      for (const v of crd.spec.versions) {
        const s = strict(v.schema.openAPIV3Schema);
        s.properties.apiVersion = { type: 'string', enum: [`${crd.spec.group}/${v.name}`] };
        s.properties.kind = { type: 'string', enum: [crd.spec.names.kind] };
        s.properties.metadata = { type: 'object' };
        s.required = [...new Set([...(s.required ?? []), 'apiVersion', 'kind', 'metadata'])];
        out.push({ file: `${crd.spec.names.kind.toLowerCase()}${kindSuffix(crd.spec.group, v.name)}.json`, schema: s });
      }
    }
  }
  return out;
}

export function buildSchemas(outDir = defaultSchemaDir()) {
  const dir = path.join(outDir, `v${K8S_VERSION}-standalone-strict`);
  if (existsSync(path.join(outDir, 'COMPLETE'))) return outDir;
  const k8s = goModDir(`k8s.io/kubernetes@v${K8S_VERSION}`);
  const keda = goModDir(`github.com/kedacore/keda/v2@v${KEDA_VERSION}`);
  const tmp = `${outDir}.tmp.${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const tmpDir = path.join(tmp, path.basename(dir));
  mkdirSync(tmpDir, { recursive: true });
  const all = [...kubernetesSchemas(path.join(k8s, 'api', 'openapi-spec', 'swagger.json')), ...crdSchemas(path.join(keda, 'config', 'crd', 'bases'))];
  for (const { file, schema } of all) writeFileSync(path.join(tmpDir, file), JSON.stringify(schema));
  writeFileSync(path.join(tmp, 'COMPLETE'), `k8s.io/kubernetes@v${K8S_VERSION} github.com/kedacore/keda/v2@v${KEDA_VERSION}: ${all.length} schemas\n`);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(path.dirname(outDir), { recursive: true });
  renameSync(tmp, outDir);
  return outDir;
}

if (process.argv[1] && path.resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  const i = process.argv.indexOf('--out');
  console.log(buildSchemas(i > 0 ? path.resolve(process.argv[i + 1]) : defaultSchemaDir()));
}
