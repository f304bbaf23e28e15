// Flat ESLint config. Type-aware rules catch floating promises; workflow files may not
// import Node builtins or I/O libraries because workflow code must stay deterministic.
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/**', 'ml/kernels/assembly/**', '.scratch/**', '.cache/**', '.stack/**', 'dist/**', 'bench/results/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  // Layers import downward only (docs/architecture.md, "Layers and who may import whom"). One rule per layer.
  ...layerRules(),
);

/** Folder names of the layers, for import patterns like `../db/*`. */
function up(...folders) {
  return folders.flatMap((f) => [`../${f}/*`, `../../${f}/*`, `../../../${f}/*`]);
}

function layerRules() {
  const temporal = ['@temporalio/*'];
  const io = ['@aws-sdk/*', 'pg', 'drizzle-orm', 'drizzle-orm/*', 'fastify'];
  const rule = (files, patterns, paths = []) => ({
    files,
    rules: { 'no-restricted-imports': ['error', { paths, patterns }] },
  });
  const no = (group, message, extra = {}) => ({ group, message, ...extra });
  return [
    // ml/: the tfjs library. No orchestration, storage or SQL; no other layer of this project.
    rule(['ml/**/*.ts'], [
      no([...temporal, ...io], 'ml/ is the pure ML library: no Temporal, S3 or SQL.'),
      no(up('sweep', 'workflows', 'activities', 'workers', 'cli', 'db', 'storage', 'infra', 'dashboard', 'config'), 'ml/ imports nothing above it, and takes options instead of reading configuration.'),
    ]),
    // sweep/: the sweep core (schema, plan, keys). Pure: no I/O, no Node builtins; it may read the ml/ registries.
    rule(['sweep/**/*.ts'], [
      no([...temporal, ...io], 'The sweep core is pure: no Temporal, S3 or SQL.'),
      no(up('workflows', 'activities', 'workers', 'cli', 'db', 'storage', 'infra', 'dashboard', 'config'), 'sweep/ imports only ml/ registries.'),
    ], nodeBuiltins.map((name) => ({ name, message: 'The sweep core is pure: no Node builtins (the workflow sandbox loads it).' }))),
    // storage/ and db/: the two I/O adapters, independent of each other and of everything above.
    rule(['storage/**/*.ts'], [
      no([...temporal, 'pg', 'drizzle-orm', 'drizzle-orm/*', '@tensorflow/*'], 'storage/ is the S3 adapter only.'),
      no(up('ml', 'sweep', 'workflows', 'activities', 'workers', 'cli', 'db', 'infra', 'dashboard', 'config'), 'storage/ imports no other layer (its settings are passed in).'),
    ]),
    rule(['db/**/*.ts'], [
      no([...temporal, '@aws-sdk/*', '@tensorflow/*'], 'db/ is the SQL adapter only.'),
      no(up('ml', 'workflows', 'activities', 'workers', 'cli', 'storage', 'infra', 'dashboard', 'config'), 'db/ imports no layer above it (types from sweep/ only).'),
      no(up('sweep'), 'db/ may take only types from sweep/.', { allowTypeImports: true }),
    ]),
    // workflows/: deterministic. The plan and hashing from sweep/, types from activities/, nothing with I/O.
    rule(['workflows/**/*.ts'], [
      no([...io, '@tensorflow/*', '@temporalio/activity', '@temporalio/worker', '@temporalio/client'], 'Workflow code may not import I/O libraries.'),
      no(up('ml', 'db', 'storage', 'infra', 'workers', 'cli', 'dashboard', 'config'), 'Workflows import only sweep/ and types from activities/.'),
      no(['../sweep/registries.js', '../sweep/registries'], 'The registries pull in tfjs: workflows never load them.'),
      no(up('activities'), 'Workflows import only types from activities (use `import type`).', { allowTypeImports: true }),
    ], nodeBuiltins.map((name) => ({ name, message: 'Workflow code must be deterministic: no Node builtins.' }))),
    // activities/: thin adapters over ml/, storage/, db/ and sweep/; never workflows (but for types), workers or cli.
    rule(['activities/**/*.ts'], [
      no(['@temporalio/workflow', '@temporalio/worker', '@temporalio/client'], 'Activities use @temporalio/activity only.'),
      no(up('workers', 'cli', 'infra', 'dashboard'), 'activities/ imports nothing above it.'),
      no(up('workflows'), 'activities/ take only types from workflows/.', { allowTypeImports: true }),
    ]),
    // infra/: the local stack. It may apply migrations (db/) and reach Temporal; never the ML or the sweep layers.
    rule(['infra/**/*.ts'], [
      no(['@tensorflow/*'], 'infra/ never loads tfjs.'),
      no(up('ml', 'sweep', 'workflows', 'activities', 'workers', 'cli', 'dashboard', 'storage'), 'infra/ imports only db/ (migrations) and config/.'),
    ]),
    // config/: reads and validates the environment for the entry points; it depends on no layer of the project.
    rule(['config/**/*.ts'], [
      no(['@tensorflow/*', ...io], 'config/ only parses settings.'),
      no(up('ml', 'sweep', 'workflows', 'activities', 'workers', 'cli', 'db', 'storage', 'infra', 'dashboard'), 'config/ imports no layer: every layer may take its values.'),
    ]),
    // workers/: may import everything but the CLI.
    rule(['workers/**/*.ts'], [no(up('cli', 'dashboard'), 'workers/ never import the CLI.')]),
  ];
}
