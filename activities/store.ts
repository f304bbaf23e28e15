// Artifact store used by the stage activities: S3 objects with sha256 verification, plus the `artifacts`
// table. A stage is complete when its artifact row exists and the object's size and sha256 match it.
import { createHash } from 'node:crypto';
import { S3Client, PutObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';

export interface PutResult { key: string; uri: string; sha256: string; bytes: number }

export class IntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IntegrityError';
  }
}

export interface ObjectStore {
  bucket: string;
  put(key: string, body: Uint8Array, meta?: Record<string, string>): Promise<PutResult>;
  /** Reads and verifies against the sha256 recorded at write time (and `expectSha` if given). */
  get(key: string, expectSha?: string): Promise<Uint8Array>;
  head(key: string): Promise<{ sha256: string | undefined; bytes: number } | null>;
  list(prefix: string): Promise<string[]>;
}

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: the stage activities need S3 (S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_BUCKET); run \`npm run stack -- up\``);
  return v;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function s3StoreFromEnv(): ObjectStore {
  const endpoint = process.env.S3_ENDPOINT;
  const bucket = required('S3_BUCKET');
  const client = new S3Client({
    endpoint: endpoint || undefined,
    region: process.env.S3_REGION || 'us-east-1',
    forcePathStyle: Boolean(endpoint),
    credentials: { accessKeyId: required('S3_ACCESS_KEY_ID'), secretAccessKey: required('S3_SECRET_ACCESS_KEY') },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  let bucketReady: Promise<void> | undefined;
  const ensureBucket = () =>
    (bucketReady ??= (async () => {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch {
        try {
          await client.send(new CreateBucketCommand({ Bucket: bucket }));
        } catch (e) {
          const name = (e as Error).name;
          if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw new Error(`S3 bucket ${bucket} at ${endpoint ?? 'AWS'}: ${(e as Error).message}`);
        }
      }
    })());
  const where = (key: string) => `s3://${bucket}/${key}`;
  return {
    bucket,
    async put(key, body, meta = {}) {
      await ensureBucket();
      const digest = sha256(body);
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.byteLength, Metadata: { ...meta, sha256: digest } }));
      return { key, uri: where(key), sha256: digest, bytes: body.byteLength };
    },
    async get(key, expectSha) {
      await ensureBucket();
      const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = await r.Body!.transformToByteArray();
      const recorded = r.Metadata?.sha256;
      const actual = sha256(bytes);
      if (recorded && recorded !== actual) throw new IntegrityError(`${where(key)}: sha256 ${actual} does not match the recorded ${recorded}`);
      if (expectSha && expectSha !== actual) throw new IntegrityError(`${where(key)}: sha256 ${actual} does not match the expected ${expectSha}`);
      return bytes;
    },
    async head(key) {
      await ensureBucket();
      try {
        const r = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return { sha256: r.Metadata?.sha256, bytes: Number(r.ContentLength ?? 0) };
      } catch (e) {
        const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404) return null;
        throw e;
      }
    },
    async list(prefix) {
      await ensureBucket();
      const out: string[] = [];
      let token: string | undefined;
      do {
        const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        for (const o of r.Contents ?? []) if (o.Key) out.push(o.Key);
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
      return out;
    },
  };
}
