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
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflow code must be deterministic: no Node builtins.' })),
          patterns: [
            { group: ['@aws-sdk/*', 'pg', 'drizzle-orm', 'drizzle-orm/*', '@tensorflow/*', '@temporalio/activity', '@temporalio/worker', '@temporalio/client', 'fastify'], message: 'Workflow code may not import I/O libraries.' },
            { group: ['../activities/*.js', '../ml/*', '../db/*', '../storage/*', '../infra/*'], message: 'Workflows import only types from activities (use `import type`).', allowTypeImports: true },
          ],
        },
      ],
    },
  },
);
