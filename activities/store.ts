// The artifact store the stage activities use: a thin view of storage/object-store.ts (foundation: sha256
// recorded as metadata on write and verified on every read) plus an expected-sha check against the
// `artifacts` row, so a stage reads exactly the bytes its input stage recorded.
import { createHash } from 'node:crypto';
import { ObjectStore as S3ObjectStore, ObjectCorruptError, type S3Config } from '../storage/object-store.js';

export interface PutResult { key: string; uri: string; sha256: string; bytes: number }

export interface ObjectStore {
  bucket: string;
  put(key: string, body: Uint8Array, meta?: Record<string, string>): Promise<PutResult>;
  /** Reads and verifies against the sha256 recorded at write time (and `expectSha` if given). */
  get(key: string, expectSha?: string): Promise<Uint8Array>;
  head(key: string): Promise<{ sha256: string | undefined; bytes: number } | null>;
  list(prefix: string): Promise<string[]>;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function s3Store(cfg: S3Config): ObjectStore {
  const s3 = new S3ObjectStore(cfg);
  return {
    bucket: s3.bucket,
    put: (key, body, meta = {}) => s3.putBytes(key, body, { metadata: meta }),
    async get(key, expectSha) {
      const bytes = await s3.getBytes(key);
      if (expectSha) {
        const actual = sha256(bytes);
        if (actual !== expectSha) throw new ObjectCorruptError(key, expectSha, actual);
      }
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    async head(key) {
      const h = await s3.head(key);
      return h ? { sha256: h.sha256, bytes: h.bytes } : null;
    },
    async list(prefix) {
      return (await s3.list(prefix)).map((o) => o.key);
    },
  };
}
