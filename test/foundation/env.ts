// Test helper (foundation): the services a test needs, read from the environment. A missing variable FAILS the
// test (never skips): run through `npm test`, or `eval "$(npm run -s stack -- env --profile test)"` first.
export function requireEnv(...names: string[]): Record<string, string> {
  const missing = names.filter((n) => !process.env[n]);
  if (missing.length) {
    throw new Error(
      `missing ${missing.join(', ')}: run the tests with \`npm test\`, or export the stack's variables first ` +
        '(eval "$(npm run -s stack -- env --profile test)")',
    );
  }
  return Object.fromEntries(names.map((n) => [n, process.env[n] as string]));
}

export const SERVICE_VARS = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'DATABASE_URL',
  'S3_ENDPOINT',
  'S3_REGION',
  'S3_ACCESS_KEY_ID',
  'S3_SECRET_ACCESS_KEY',
  'S3_BUCKET',
] as const;

/** A unique suffix for keys and ids, so reruns and parallel runs never collide. */
export function uniq(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
