// The three S3 calls on a stage's hot path (PUT of a whole object, GET, HEAD) over keep-alive HTTP with a
// Signature V4 signer of our own. Why not the AWS SDK for these: its middleware stack costs 1.4–2 ms of CPU a
// call on this machine kind (measured with `bench/orchestration.bench.ts`'s CPU breakdown and a 300-call probe),
// which is most of a no-op stage's client cost; this path costs a fraction of that. Multipart uploads, listing
// and deletes stay on the SDK (storage/object-store.ts). Path-style addressing, as the SDK is configured.
// Exports: class LeanS3 { put(key, body, sha256, headers), get(key), head(key) }, S3HttpError, encodeKeyPath.
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';

export interface LeanS3Config {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
}

/** A non-2xx answer (or none): the status (0 when the connection failed), S3's error code when it sent one. */
export class S3HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'S3HttpError';
  }
}

export interface LeanResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');
/** Attempts per call for a lost connection or a 5xx answer (the SDK's default is 3 too). */
const ATTEMPTS = 3;
const IDLE_TIMEOUT_MS = 120_000;

/** RFC 3986 encoding of each path segment, '/' kept: the form S3 signs (no double encoding). */
export function encodeKeyPath(path: string): string {
  return path
    .split('/')
    .map((seg) => encodeURIComponent(seg).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data).digest();

export class LeanS3 {
  private readonly url: URL;
  private readonly basePath: string;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  private signingKey: { date: string; key: Buffer } | undefined;

  constructor(private readonly cfg: LeanS3Config) {
    this.url = new URL(cfg.endpoint);
    this.basePath = this.url.pathname.replace(/\/+$/, '');
    const secure = this.url.protocol === 'https:';
    this.agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 64 }) : new http.Agent({ keepAlive: true, maxSockets: 64 });
    this.request = secure ? https.request : http.request;
  }

  destroy(): void {
    this.agent.destroy();
  }

  /** PUT of a whole object whose sha256 (hex) is known; `headers` are sent and signed (content type, metadata). */
  async put(key: string, body: Buffer, sha256: string, headers: Record<string, string>): Promise<void> {
    const r = await this.send('PUT', key, sha256, { ...headers, 'content-length': String(body.byteLength) }, body);
    if (r.status < 200 || r.status >= 300) throw this.error('PUT', key, r);
  }

  /** GET of the whole object; null when it does not exist. */
  async get(key: string): Promise<LeanResponse | null> {
    const r = await this.send('GET', key, EMPTY_SHA256, {});
    if (r.status === 404) return null;
    if (r.status < 200 || r.status >= 300) throw this.error('GET', key, r);
    return r;
  }

  /** HEAD; null when the object does not exist. */
  async head(key: string): Promise<LeanResponse | null> {
    const r = await this.send('HEAD', key, EMPTY_SHA256, {});
    if (r.status === 404) return null;
    if (r.status < 200 || r.status >= 300) throw this.error('HEAD', key, r);
    return r;
  }

  private error(method: string, key: string, r: LeanResponse): S3HttpError {
    const text = r.body.toString('utf8');
    const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
    const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
    return new S3HttpError(r.status, code, `${method} ${key}: HTTP ${r.status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`);
  }

  /** The SigV4 signing key of a day (HMAC chain), cached: it changes once a day. */
  private keyFor(date: string): Buffer {
    if (this.signingKey?.date !== date) {
      const k = hmac(hmac(hmac(hmac(`AWS4${this.cfg.secretAccessKey}`, date), this.cfg.region), 's3'), 'aws4_request');
      this.signingKey = { date, key: k };
    }
    return this.signingKey.key;
  }

  /** Signed request headers (Signature V4, every header sent is signed). */
  signedHeaders(method: string, path: string, payloadSha256: string, extra: Record<string, string>, now = new Date()): Record<string, string> {
    const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const date = amzDate.slice(0, 8);
    const headers: Record<string, string> = { ...lower(extra), host: this.url.host, 'x-amz-content-sha256': payloadSha256, 'x-amz-date': amzDate };
    const names = Object.keys(headers).sort();
    const canonicalHeaders = names.map((n) => `${n}:${headers[n].trim().replace(/\s+/g, ' ')}\n`).join('');
    const signed = names.join(';');
    const canonicalRequest = `${method}\n${path}\n\n${canonicalHeaders}\n${signed}\n${payloadSha256}`;
    const scope = `${date}/${this.cfg.region}/s3/aws4_request`;
    const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
    const signature = createHmac('sha256', this.keyFor(date)).update(toSign).digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${this.cfg.accessKeyId}/${scope}, SignedHeaders=${signed}, Signature=${signature}`;
    return headers;
  }

  private async send(method: string, key: string, payloadSha256: string, extra: Record<string, string>, body?: Buffer): Promise<LeanResponse> {
    const path = `${this.basePath}/${encodeKeyPath(this.cfg.bucket)}/${encodeKeyPath(key)}`;
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await this.once(method, path, this.signedHeaders(method, path, payloadSha256, extra), body);
        if (r.status >= 500 && attempt < ATTEMPTS) {
          await sleep(100 * 4 ** (attempt - 1));
          continue;
        }
        return r;
      } catch (e) {
        if (attempt >= ATTEMPTS) throw new S3HttpError(0, (e as NodeJS.ErrnoException).code, `${method} ${key}: ${(e as Error).message}`);
        await sleep(100 * 4 ** (attempt - 1));
      }
    }
  }

  private once(method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<LeanResponse> {
    return new Promise((resolve, reject) => {
      const req = this.request(
        { protocol: this.url.protocol, hostname: this.url.hostname, port: this.url.port, method, path, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      // an idle connection for this long is a hung server: fail the call (it is retried) rather than the stage's hours
      req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error(`no data from ${this.url.host} for ${IDLE_TIMEOUT_MS / 1000} s`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}

function lower(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
