// Object storage on any S3-compatible server, with integrity checks: whole-object PUT, GET and HEAD through
// storage/s3-lean.ts (signed keep-alive HTTP, the hot path of every stage), multipart uploads, streams, listing
// and deletes through @aws-sdk/client-s3 + lib-storage.
// Exports:
//   class ObjectStore(cfg, opts?)  (cfg: S3Config, read from S3_* by config/index.ts s3Config at an entry point)
//     putBytes(key, bytes, {contentType?, metadata?}) → PutResult { key, uri, sha256, bytes }
//     putStream(key, stream, {sha256?, contentType?, metadata?}) → PutResult  (multipart above partSize; without
//         a known sha256 the stream is spooled to a temp file while hashed, so the hash is stored as metadata)
//     getBytes(key) → Buffer   (streamed, sha256 verified against metadata `sha256`: ObjectCorruptError naming the key)
//     getStream(key) → Readable (verifies at the end; the stream errors with ObjectCorruptError on mismatch)
//     head(key) → ObjectInfo | undefined; exists(key) → boolean
//     list(prefix) → ObjectInfo[] (all pages); iterate(prefix) → AsyncGenerator<ObjectInfo> (page by page)
//     delete(key); uri(key) → 's3://bucket/key'; client, bucket (raw access, e.g. for tests); destroy()
//   validateKey(key), validatePrefix(prefix): throw InvalidKeyError (no `..`/`.` segments, no leading `/`, no empty
//       segments, no backslashes or control characters, ≤ 1024 bytes).
//   ObjectCorruptError { key, expected, actual }, ObjectNotFoundError { key }, InvalidKeyError { key }.
// Every object this module writes carries user metadata `sha256` (hex of its bytes); reads verify it.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { LeanS3 } from './s3-lean.js';

// The pinned AWS SDK supports Node 20; its notice about future versions is noise in every command's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// The same shape as config/index.ts's S3Config, declared here because storage/ imports no other layer (the
// lint rule); TypeScript's structural typing lets a config value pass straight in.
export interface S3Config {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
}

export interface PutResult {
  key: string;
  uri: string;
  sha256: string;
  bytes: number;
}

export interface ObjectInfo {
  key: string;
  bytes: number;
  etag?: string;
  lastModified?: Date;
  /** From the object's metadata (head only; list does not return metadata). */
  sha256?: string;
  metadata?: Record<string, string>;
  contentType?: string;
}

export class InvalidKeyError extends Error {
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`invalid object key ${JSON.stringify(key)}: ${reason}`);
    this.name = 'InvalidKeyError';
  }
}

export class ObjectCorruptError extends Error {
  constructor(
    readonly key: string,
    readonly expected: string,
    readonly actual: string,
    detail = '',
  ) {
    super(`object ${key} is corrupt: sha256 ${actual} does not match the recorded ${expected}${detail ? ` (${detail})` : ''}`);
    this.name = 'ObjectCorruptError';
  }
}

export class ObjectNotFoundError extends Error {
  constructor(
    readonly key: string,
    bucket: string,
  ) {
    super(`object ${key} not found in bucket ${bucket}`);
    this.name = 'ObjectNotFoundError';
  }
}

const MAX_KEY_BYTES = 1024;

function checkChars(key: string): void {
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new InvalidKeyError(key, 'control characters are not allowed');
  if (key.includes('\\')) throw new InvalidKeyError(key, 'backslashes are not allowed (use "/")');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new InvalidKeyError(key, `longer than ${MAX_KEY_BYTES} bytes`);
}

/** Validates an object key: relative, '/'-separated, no empty, '.' or '..' segments. */
export function validateKey(key: string): string {
  if (typeof key !== 'string' || key === '') throw new InvalidKeyError(String(key), 'empty');
  checkChars(key);
  if (key.startsWith('/')) throw new InvalidKeyError(key, 'must not start with "/" (keys are relative to the bucket)');
  for (const seg of key.split('/')) {
    if (seg === '') throw new InvalidKeyError(key, 'empty path segment ("//" or a trailing "/")');
    if (seg === '..' || seg === '.') throw new InvalidKeyError(key, `"${seg}" segments are not allowed`);
  }
  return key;
}

/** Validates a list prefix: like a key, but may be empty and may end with '/'. */
export function validatePrefix(prefix: string): string {
  if (prefix === '') return prefix;
  validateKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  return prefix;
}


function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** One value of a response header (node gives a list for repeated ones). */
function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** A Transform that hashes and counts what passes through. */
class HashCounter extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

export interface StoreOptions {
  /** Multipart part size in bytes (default 8 MiB; S3's minimum is 5 MiB). */
  partSize?: number;
  /** Parts uploaded concurrently (default 4). */
  queueSize?: number;
}

export class ObjectStore {
  readonly client: S3Client;
  /** PUT (single part), GET and HEAD without the SDK's per-call cost (storage/s3-lean.ts) */
  private readonly lean: LeanS3;
  readonly bucket: string;
  readonly endpoint: string;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(cfg: S3Config, opts: StoreOptions = {}) {
    this.bucket = cfg.bucket;
    this.endpoint = cfg.endpoint;
    this.partSize = opts.partSize ?? 8 * 1024 * 1024;
    this.queueSize = opts.queueSize ?? 4;
    this.lean = new LeanS3(cfg);
    this.client = new S3Client({
      endpoint: cfg.endpoint,
      region: cfg.region,
      credentials: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey },
      forcePathStyle: true,
      // Flexible checksums make some S3-compatible servers store the aws-chunked framing; we check sha256 ourselves.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }


  uri(key: string): string {
    return `s3://${this.bucket}/${validateKey(key)}`;
  }

  destroy(): void {
    this.client.destroy();
    this.lean.destroy();
  }

  async putBytes(
    key: string,
    data: Uint8Array,
    opts: { contentType?: string; metadata?: Record<string, string> } = {},
  ): Promise<PutResult> {
    validateKey(key);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (body.byteLength <= this.partSize) {
      const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'application/octet-stream' };
      for (const [k, v] of Object.entries({ ...opts.metadata, sha256 })) headers[`x-amz-meta-${k.toLowerCase()}`] = v;
      try {
        await this.lean.put(key, body, sha256, headers);
      } catch (err) {
        throw new Error(`upload of ${key} to ${this.endpoint} bucket ${this.bucket} failed: ${(err as Error).message}`, { cause: err });
      }
    } else {
      await this.upload(key, body, sha256, opts);
    }
    return { key, uri: this.uri(key), sha256, bytes: data.byteLength };
  }

  async putStream(
    key: string,
    stream: Readable | AsyncIterable<Uint8Array>,
    opts: { sha256?: string; contentType?: string; metadata?: Record<string, string> } = {},
  ): Promise<PutResult> {
    validateKey(key);
    const source = stream instanceof Readable ? stream : Readable.from(stream);
    if (opts.sha256) {
      // Hash known up front: stream straight through, check the hash we saw, delete on mismatch.
      const counter = new HashCounter();
      const body = source.pipe(counter);
      source.once('error', (err) => body.destroy(err));
      await this.upload(key, body, opts.sha256, opts);
      const actual = counter.hash.digest('hex');
      if (actual !== opts.sha256) {
        await this.delete(key).catch(() => {});
        throw new Error(`putStream ${key}: the stream's sha256 ${actual} differs from the declared ${opts.sha256}; object deleted`);
      }
      return { key, uri: this.uri(key), sha256: actual, bytes: counter.bytes };
    }
    // Hash unknown: spool to a temp file while hashing (the hash must go into the object's metadata).
    const dir = await mkdtemp(join(tmpdir(), 'objstore-'));
    const file = join(dir, 'body');
    try {
      const counter = new HashCounter();
      await pipeline(source, counter, createWriteStream(file));
      const sha256 = counter.hash.digest('hex');
      const { size } = await stat(file);
      await this.upload(key, createReadStream(file), sha256, opts);
      return { key, uri: this.uri(key), sha256, bytes: size };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async upload(
    key: string,
    body: Buffer | Readable,
    sha256: string,
    opts: { contentType?: string; metadata?: Record<string, string> },
  ): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: opts.contentType ?? 'application/octet-stream',
        Metadata: { ...opts.metadata, sha256 },
      },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      throw new Error(`upload of ${key} to ${this.endpoint} bucket ${this.bucket} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Reads the whole object, verifying its sha256 against the metadata. */
  async getBytes(key: string): Promise<Buffer> {
    validateKey(key);
    let res;
    try {
      res = await this.lean.get(key);
    } catch (err) {
      throw new Error(`get of ${key} from ${this.endpoint} bucket ${this.bucket} failed: ${(err as Error).message}`, { cause: err });
    }
    if (!res) throw new ObjectNotFoundError(key, this.bucket);
    const expected = header(res.headers['x-amz-meta-sha256']);
    if (!expected) throw new ObjectCorruptError(key, '(none)', '(not read)', 'the object has no sha256 metadata: not written by ObjectStore');
    const actual = createHash('sha256').update(res.body).digest('hex');
    if (actual !== expected) throw new ObjectCorruptError(key, expected, actual, `${res.body.byteLength} bytes read`);
    const length = header(res.headers['content-length']);
    if (length !== undefined && Number(length) !== res.body.byteLength) {
      throw new ObjectCorruptError(key, expected, actual, `read ${res.body.byteLength} bytes, Content-Length was ${length}`);
    }
    return res.body;
  }

  /** A stream of the object that errors with ObjectCorruptError at its end when the bytes do not match. */
  async getStream(key: string): Promise<Readable> {
    validateKey(key);
    let res;
    try {
      res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (httpStatus(err) === 404) throw new ObjectNotFoundError(key, this.bucket);
      throw new Error(`get of ${key} from ${this.endpoint} bucket ${this.bucket} failed: ${(err as Error).message}`, { cause: err });
    }
    const expected = res.Metadata?.sha256;
    const expectedBytes = res.ContentLength;
    if (!expected) {
      (res.Body as Readable | undefined)?.destroy();
      throw new ObjectCorruptError(key, '(none)', '(not read)', 'the object has no sha256 metadata: not written by ObjectStore');
    }
    const body = res.Body as Readable;
    const hash = createHash('sha256');
    let bytes = 0;
    const out = new PassThrough();
    const verify = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        bytes += chunk.length;
        cb(null, chunk);
      },
      flush(cb) {
        const actual = hash.digest('hex');
        if (actual !== expected) cb(new ObjectCorruptError(key, expected, actual, `${bytes} bytes read`));
        else if (expectedBytes !== undefined && bytes !== expectedBytes)
          cb(new ObjectCorruptError(key, expected, actual, `read ${bytes} bytes, Content-Length was ${expectedBytes}`));
        else cb();
      },
    });
    pipeline(body, verify, out).catch((err: unknown) => out.destroy(err as Error));
    return out;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    validateKey(key);
    let r;
    try {
      r = await this.lean.head(key);
    } catch (err) {
      throw new Error(`head of ${key} at ${this.endpoint} bucket ${this.bucket} failed: ${(err as Error).message}`, { cause: err });
    }
    if (!r) return undefined;
    const metadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(r.headers)) {
      if (name.startsWith('x-amz-meta-') && value !== undefined) metadata[name.slice('x-amz-meta-'.length)] = header(value) as string;
    }
    const modified = header(r.headers['last-modified']);
    return {
      key,
      bytes: Number(header(r.headers['content-length']) ?? 0),
      etag: header(r.headers.etag),
      lastModified: modified ? new Date(modified) : undefined,
      sha256: metadata.sha256,
      metadata,
      contentType: header(r.headers['content-type']),
    };
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== undefined;
  }

  /** Every object under prefix, page by page (ListObjectsV2 continuation tokens). */
  async *iterate(prefix: string, pageSize = 1000): AsyncGenerator<ObjectInfo> {
    validatePrefix(prefix);
    let token: string | undefined;
    do {
      const r = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix || undefined, ContinuationToken: token, MaxKeys: pageSize }),
      );
      for (const o of r.Contents ?? []) {
        if (o.Key === undefined) continue;
        yield { key: o.Key, bytes: o.Size ?? 0, etag: o.ETag, lastModified: o.LastModified };
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  }

  async list(prefix: string, pageSize = 1000): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    for await (const o of this.iterate(prefix, pageSize)) out.push(o);
    return out;
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }
}
