// The object store against the real S3-compatible server: 64 MiB multipart round trip, corruption detection,
// streaming, head/exists/list (paged)/delete, the lean PUT/GET/HEAD path (signature, odd keys, metadata).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { CreateMultipartUploadCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ObjectCorruptError, ObjectNotFoundError, ObjectStore } from '../../storage/object-store.js';
import { encodeKeyPath, LeanS3 } from '../../storage/s3-lean.js';
import { requireEnv, uniq } from './env.js';
import { s3Config } from '../../config/index.js';

let store: ObjectStore;
const prefix = `foundation-test/${uniq()}`;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

before(() => {
  requireEnv('S3_ENDPOINT', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'S3_BUCKET');
  store = new ObjectStore(s3Config(process.env));
});
after(async () => {
  for (const o of await store.list(prefix + '/')) await store.delete(o.key);
  store.destroy();
});

void test('a 64 MiB object round-trips byte-exact through multipart upload', async () => {
  const size = 64 * 1024 * 1024 + 12345; // not a multiple of the part size
  const data = randomBytes(size);
  const key = `${prefix}/big.bin`;
  // Count the multipart requests the store sends, to prove the upload really was multipart.
  let multipartStarts = 0;
  store.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === CreateMultipartUploadCommand.name) multipartStarts++;
      return next(args);
    },
    { step: 'initialize', name: 'countMultipart' },
  );
  try {
    const put = await store.putBytes(key, data);
    assert.equal(put.bytes, size);
    assert.equal(put.sha256, sha(data));
    assert.equal(put.uri, `s3://${store.bucket}/${key}`);
  } finally {
    store.client.middlewareStack.remove('countMultipart');
  }
  assert.equal(multipartStarts, 1, 'a 64 MiB body must go up as one multipart upload');
  const head = await store.head(key);
  assert.equal(head?.bytes, size);
  assert.equal(head?.sha256, sha(data));
  const back = await store.getBytes(key);
  assert.equal(back.length, size);
  assert.ok(back.equals(data), 'bytes read back differ from the bytes written');
});

void test('an object overwritten behind the store’s back is detected as corrupt on read', async () => {
  const key = `${prefix}/victim.bin`;
  const original = randomBytes(3 * 1024 * 1024);
  const put = await store.putBytes(key, original);
  const tampered = Buffer.from(original);
  tampered[12345] ^= 0xff; // one flipped byte
  // Raw PutObject keeping the OLD sha256 metadata, as silent corruption or a rogue writer would.
  await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: tampered, Metadata: { sha256: put.sha256 } }));
  await assert.rejects(
    () => store.getBytes(key),
    (err: unknown) => err instanceof ObjectCorruptError && err.key === key && err.expected === put.sha256 && err.actual === sha(tampered),
  );
  // An object with no sha256 metadata is refused too (it was not written by the store).
  await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: `${prefix}/nometa.bin`, Body: original }));
  await assert.rejects(() => store.getBytes(`${prefix}/nometa.bin`), ObjectCorruptError);
});

void test('putStream hashes a stream of unknown hash, multipart when large; getStream verifies', async () => {
  const chunks = Array.from({ length: 20 }, () => randomBytes(1024 * 1024 - 7));
  const all = Buffer.concat(chunks);
  const put = await store.putStream(`${prefix}/stream.bin`, Readable.from(chunks));
  assert.equal(put.sha256, sha(all));
  assert.equal(put.bytes, all.length);
  const got: Buffer[] = [];
  for await (const c of await store.getStream(`${prefix}/stream.bin`)) got.push(c as Buffer);
  assert.ok(Buffer.concat(got).equals(all));
  // A declared sha256 that the stream does not match is refused and leaves no object.
  await assert.rejects(() => store.putStream(`${prefix}/liar.bin`, Readable.from([Buffer.from('abc')]), { sha256: sha(Buffer.from('abd')) }), /differs from the declared/);
  assert.equal(await store.exists(`${prefix}/liar.bin`), false);
});

void test('head, exists, paged list by prefix, delete, and not-found', async () => {
  const keys = Array.from({ length: 7 }, (_, i) => `${prefix}/list/item-${i}.txt`);
  for (const k of keys) await store.putBytes(k, Buffer.from(k));
  await store.putBytes(`${prefix}/list-other.txt`, Buffer.from('not under list/'));
  const listed = await store.list(`${prefix}/list/`, 3); // 3 per page: forces continuation tokens
  assert.deepEqual(listed.map((o) => o.key).sort(), keys.slice().sort());
  assert.ok(listed.every((o) => o.bytes === Buffer.byteLength(o.key)));
  assert.equal(await store.exists(keys[0]), true);
  await store.delete(keys[0]);
  assert.equal(await store.exists(keys[0]), false);
  assert.equal(await store.head(keys[0]), undefined);
  await assert.rejects(() => store.getBytes(keys[0]), (e: unknown) => e instanceof ObjectNotFoundError && e.key === keys[0]);
  await assert.rejects(() => store.putBytes('../escape', Buffer.from('x')), /invalid object key/);
});

void test('the lean S3 path (PUT, GET, HEAD): AWS’s published SigV4 example, odd keys, metadata, bad credentials', async () => {
  // AWS's documented "GET Object" example (Signature Version 4, S3): the same inputs must give the same signature.
  const example = new LeanS3({ endpoint: 'https://examplebucket.s3.amazonaws.com', region: 'us-east-1', accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', bucket: 'examplebucket' });
  const h = example.signedHeaders('GET', '/test.txt', sha(Buffer.alloc(0)), { Range: 'bytes=0-9' }, new Date('2013-05-24T00:00:00Z'));
  example.destroy();
  assert.equal(h.authorization, 'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
  assert.equal(encodeKeyPath("a b/c+d=e!'()*~é"), 'a%20b/c%2Bd%3De%21%27%28%29%2A~%C3%A9');

  // Keys the encoder must get right for the server to accept the signature; listed (SDK) under the same name.
  const odd = [`${prefix}/odd/a b+c=d.txt`, `${prefix}/odd/paren(1)!'*~.bin`, `${prefix}/odd/ünïcode-é.json`, `${prefix}/odd/q?x&y#z%20.txt`];
  for (const k of odd) {
    const body = Buffer.from(`body of ${k}`);
    const put = await store.putBytes(k, body, { metadata: { stage: 'abc123', epoch: '3' } });
    assert.equal(put.sha256, sha(body));
    assert.deepEqual(await store.getBytes(k), body);
    const info = await store.head(k);
    assert.equal(info?.bytes, body.byteLength);
    assert.equal(info?.sha256, sha(body));
    assert.equal(info?.metadata?.stage, 'abc123');
    assert.equal(info?.metadata?.epoch, '3');
  }
  assert.deepEqual((await store.list(`${prefix}/odd/`)).map((o) => o.key).sort(), odd.slice().sort());

  // A wrong secret: the server refuses the signature and the error names the key and the status.
  const bad = new ObjectStore({ ...s3Config(process.env), secretAccessKey: 'not-the-secret' });
  try {
    await assert.rejects(() => bad.getBytes(odd[0]), (e: Error) => e.message.includes(odd[0]) && /HTTP 403/.test(e.message));
    await assert.rejects(() => bad.putBytes(`${prefix}/odd/never`, Buffer.from('x')), (e: Error) => /upload of .*never.* failed: .*HTTP 403/.test(e.message));
  } finally {
    bad.destroy();
  }
  assert.equal(await store.head(`${prefix}/odd/never`), undefined);
});
