// Pure logic of the foundation: object-key validation, configuration parsing (no services).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidKeyError, validateKey, validatePrefix } from '../../storage/object-store.js';
import { DatabaseUrlError, openDb, parseDatabaseUrl, redactDatabaseUrl } from '../../db/client.js';
import { s3Config, temporalConfig } from '../../config/index.js';

void test('valid keys pass unchanged', () => {
  for (const k of ['a', 'runs/sweep-1/model.safetensors', 'x/y.z/..a/b..', 'ünïcode/ключ', 'a b/c+d=e']) {
    assert.equal(validateKey(k), k);
  }
});

void test('bad keys are refused with a reason naming the key', () => {
  const cases: [string, RegExp][] = [
    ['', /empty/],
    ['/abs/path', /must not start with "\/"/],
    ['a/../b', /"\.\." segments/],
    ['..', /"\.\." segments/],
    ['a/./b', /"\." segments/],
    ['a//b', /empty path segment/],
    ['a/b/', /empty path segment/],
    ['a\\b', /backslashes/],
    ['a\nb', /control characters/],
    ['k'.repeat(1025), /longer than 1024 bytes/],
  ];
  for (const [key, reason] of cases) {
    assert.throws(
      () => validateKey(key),
      (err: unknown) => err instanceof InvalidKeyError && reason.test(err.message) && err.key === key,
      `key ${JSON.stringify(key)} should be refused (${reason})`,
    );
  }
});

void test('prefixes may be empty or end with a slash, but not escape', () => {
  assert.equal(validatePrefix(''), '');
  assert.equal(validatePrefix('runs/'), 'runs/');
  assert.equal(validatePrefix('runs/ab'), 'runs/ab');
  assert.throws(() => validatePrefix('../'), InvalidKeyError);
  assert.throws(() => validatePrefix('/runs/'), InvalidKeyError);
  assert.throws(() => validatePrefix('runs//'), InvalidKeyError);
});

void test('DATABASE_URL validation names the variable and never prints the password', () => {
  assert.deepEqual(parseDatabaseUrl('postgres://u:p@db.example:6543/name'), { host: 'db.example', port: 6543, database: 'name', user: 'u' });
  const bad = ['postgres//u:secretpw@host/db', 'mysql://u:secretpw@host/db', 'postgres://u:secretpw@/db', 'postgres://u:secretpw@host', 'not a url'];
  for (const url of bad) {
    assert.throws(
      () => parseDatabaseUrl(url),
      (err: unknown) => err instanceof DatabaseUrlError && /DATABASE_URL/.test(err.message) && !err.message.includes('secretpw'),
      url,
    );
  }
  assert.throws(() => parseDatabaseUrl(undefined), /DATABASE_URL is not set/);
  assert.equal(redactDatabaseUrl('postgres://u:secretpw@h:5432/d'), 'postgres://u:***@h:5432/d');
});

void test('openDb fails fast (synchronously) on a malformed DATABASE_URL', () => {
  const saved = process.env.DATABASE_URL;
  process.env.DATABASE_URL = 'postgres:/broken';
  try {
    assert.throws(() => openDb(), /DATABASE_URL is malformed/);
  } finally {
    if (saved === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = saved;
  }
});

void test('S3 and Temporal configuration from the environment', () => {
  assert.throws(() => s3Config({ S3_ENDPOINT: 'http://h:1', S3_ACCESS_KEY_ID: 'a', S3_SECRET_ACCESS_KEY: 's' }), /S3_BUCKET is not set/);
  assert.throws(() => s3Config({ S3_ENDPOINT: 'nope', S3_ACCESS_KEY_ID: 'a', S3_SECRET_ACCESS_KEY: 's', S3_BUCKET: 'b' }), /S3_ENDPOINT is malformed/);
  assert.equal(s3Config({ S3_ENDPOINT: 'http://h:1', S3_ACCESS_KEY_ID: 'a', S3_SECRET_ACCESS_KEY: 's', S3_BUCKET: 'b' }).region, 'us-east-1');
  assert.throws(() => temporalConfig({ TEMPORAL_ADDRESS: 'http://host:7233' }), /TEMPORAL_ADDRESS is malformed/);
  const cfg = temporalConfig({ TEMPORAL_ADDRESS: 'tc.example:7233', TEMPORAL_API_KEY: 'k', TEMPORAL_NAMESPACE: 'ns' });
  assert.deepEqual([cfg.address, cfg.namespace, cfg.tls, cfg.apiKey], ['tc.example:7233', 'ns', true, 'k']);
});
