// Pure score → mask selection, on plain typed arrays (no tensors), so it is unit-testable.
//
// Conventions shared by every localization strategy (docs/unlearning.md, "Masks"):
// - A parameter is identified by its name; its entries are in tfjs row-major order.
// - Rows ("channels") of a tensor with ≥ 2 dims are indexed by its LAST axis: conv kernels are
//   [kh, kw, in, out] and dense kernels [in, out], so row r = the entries whose flat index i has i % out === r.
//   1-D tensors (biases, BN γ/β) have no rows: each entry stands alone.
// - Budget: k = ⌊α·P⌋ entries over ALL trainable parameters (P = total trainable entries), one global ranking.
//   α·P is rounded to 12 significant digits before the floor, so 0.29·100 gives 29 and not 28.
// - Ties: entries are ranked by score, descending. Entries with a score equal to the cut-off score are
//   taken in a fixed order: parameter order (the model's trainable order), then row index ascending,
//   then position within the row ascending (1-D: flat index ascending). So among tied channels whole rows
//   are filled first and at most ONE row in the whole model is split at the cut-off.
// - NaN scores are an error (they mean a broken gradient), never silently ranked.

export type Mask = Map<string, Uint8Array>;

export interface ParamScores {
  name: string;
  shape: number[];
  scores: Float32Array;
}

export interface ParamInfo {
  name: string;
  shape: number[];
}

export function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** k = ⌊α·P⌋ with α·P rounded to 12 significant digits first (so 0.29·100 = 29). */
export function budgetCount(alpha: number, total: number): number {
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`budget: alpha must be in [0, 1], got ${alpha}`);
  return Math.floor(Number((alpha * total).toPrecision(12)));
}

/** Number of rows (last axis) of a tensor with ≥ 2 dims; 0 for 1-D (no rows). */
export function rowCount(shape: number[]): number {
  return shape.length >= 2 ? shape[shape.length - 1] : 0;
}

/** h = max(1, ⌊0.1 · rows⌋), capped at the row length (docs/method.md: the code uses the row count). */
export function topH(shape: number[]): number {
  const rows = rowCount(shape);
  const rowLen = sizeOf(shape) / rows;
  return Math.min(rowLen, Math.max(1, Math.floor(0.1 * rows)));
}

/**
 * Channel-level scores: every entry of a row takes the row's score. 'topk' (CNNs, the paper's choice):
 * mean of the top-h entries of the row, h = max(1, ⌊0.1·rows⌋); 'mean' (transformers): mean of the row.
 * 1-D tensors keep their per-entry scores.
 */
export function channelScores(scores: Float32Array, shape: number[], aggregate: 'topk' | 'mean' = 'topk'): Float32Array {
  const n = sizeOf(shape);
  if (scores.length !== n) throw new Error(`channelScores: ${scores.length} scores for shape [${shape.join(',')}]`);
  const rows = rowCount(shape);
  if (rows === 0) return Float32Array.from(scores);
  const rowLen = n / rows;
  const h = aggregate === 'topk' ? topH(shape) : rowLen;
  const out = new Float32Array(n);
  const buf = new Float32Array(rowLen);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < rowLen; j++) buf[j] = scores[j * rows + r];
    let s = 0;
    if (h === rowLen) {
      for (let j = 0; j < rowLen; j++) s += buf[j];
    } else {
      buf.sort();
      for (let j = rowLen - h; j < rowLen; j++) s += buf[j];
    }
    const v = Math.fround(s / h);
    for (let j = 0; j < rowLen; j++) out[j * rows + r] = v;
  }
  return out;
}

/** Visit the flat indices of a parameter in tie-break order: rows ascending, then position in row. */
function forEachInRowOrder(shape: number[], fn: (idx: number) => boolean | void): void {
  const n = sizeOf(shape);
  const rows = rowCount(shape);
  if (rows === 0) {
    for (let i = 0; i < n; i++) if (fn(i) === false) return;
    return;
  }
  const rowLen = n / rows;
  for (let r = 0; r < rows; r++) for (let j = 0; j < rowLen; j++) if (fn(j * rows + r) === false) return;
}

/** Global top-⌊α·P⌋ selection over all parameters (see the file header for tie handling). */
export function selectTopK(params: ParamScores[], alpha: number): Mask {
  let total = 0;
  for (const p of params) {
    if (p.scores.length !== sizeOf(p.shape)) throw new Error(`selectTopK: ${p.name} has ${p.scores.length} scores for shape [${p.shape.join(',')}]`);
    total += p.scores.length;
  }
  const k = budgetCount(alpha, total);
  const mask: Mask = new Map();
  for (const p of params) mask.set(p.name, new Uint8Array(p.scores.length));
  if (k === 0) return mask;
  const all = new Float32Array(total);
  let off = 0;
  for (const p of params) {
    for (let i = 0; i < p.scores.length; i++) {
      const v = p.scores[i];
      if (Number.isNaN(v)) throw new Error(`selectTopK: NaN score in ${p.name}[${i}]`);
      all[off + i] = v;
    }
    off += p.scores.length;
  }
  all.sort();
  const thr = all[total - k];
  let need = k;
  for (const p of params) {
    const m = mask.get(p.name)!;
    for (let i = 0; i < p.scores.length; i++) if (p.scores[i] > thr) { m[i] = 1; need--; }
  }
  for (const p of params) {
    if (need === 0) break;
    const m = mask.get(p.name)!;
    forEachInRowOrder(p.shape, (i) => {
      if (p.scores[i] === thr) { m[i] = 1; need--; }
      return need > 0;
    });
  }
  if (need !== 0) throw new Error(`selectTopK: internal error, ${need} entries left to select`);
  return mask;
}

/**
 * Deepest / shallowest layers up to the budget: parameters are taken whole in model order (shallowest)
 * or reverse model order (deepest) until the next one would overflow ⌊α·P⌋; that one is filled partially
 * in row order (whole rows first), so exactly ⌊α·P⌋ entries are selected.
 */
export function selectByDepth(params: ParamInfo[], alpha: number, which: 'deepest' | 'shallowest'): Mask {
  const total = params.reduce((a, p) => a + sizeOf(p.shape), 0);
  let need = budgetCount(alpha, total);
  const mask: Mask = new Map();
  for (const p of params) mask.set(p.name, new Uint8Array(sizeOf(p.shape)));
  const order = which === 'shallowest' ? params : [...params].reverse();
  for (const p of order) {
    if (need === 0) break;
    const m = mask.get(p.name)!;
    forEachInRowOrder(p.shape, (i) => { m[i] = 1; need--; return need > 0; });
  }
  return mask;
}

/**
 * Random channels with the same per-parameter count as a reference mask (a control): for each parameter
 * with c selected entries in `reference`, choose ⌊c / rowLen⌋ random whole rows plus (c mod rowLen) entries
 * (in row order) of one further random row; 1-D parameters get c random entries. Totals match exactly.
 */
export function randomChannelsLike(reference: Mask, params: ParamInfo[], rng: { int(n: number): number; permutation(n: number): Int32Array }): Mask {
  const mask: Mask = new Map();
  for (const p of params) {
    const ref = reference.get(p.name);
    if (!ref) throw new Error(`randomChannelsLike: reference mask has no entry for ${p.name}`);
    const n = sizeOf(p.shape);
    const m = new Uint8Array(n);
    let c = 0;
    for (let i = 0; i < n; i++) c += ref[i];
    const rows = rowCount(p.shape);
    if (rows === 0) {
      const perm = rng.permutation(n);
      for (let i = 0; i < c; i++) m[perm[i]] = 1;
    } else {
      const rowLen = n / rows;
      const whole = Math.floor(c / rowLen);
      const rest = c - whole * rowLen;
      const perm = rng.permutation(rows);
      for (let q = 0; q < whole; q++) for (let j = 0; j < rowLen; j++) m[j * rows + perm[q]] = 1;
      if (rest > 0) for (let j = 0; j < rest; j++) m[j * rows + perm[whole]] = 1;
    }
    mask.set(p.name, m);
  }
  return mask;
}

/** Number of selected entries in a mask. */
export function maskCount(mask: Mask): number {
  let c = 0;
  for (const m of mask.values()) for (let i = 0; i < m.length; i++) c += m[i];
  return c;
}

/** Union of masks (same names and sizes). */
export function maskUnion(a: Mask, b: Mask): Mask {
  const out: Mask = new Map();
  for (const [name, m] of a) {
    const o = b.get(name);
    if (!o || o.length !== m.length) throw new Error(`maskUnion: ${name} missing or of a different size`);
    const u = new Uint8Array(m.length);
    for (let i = 0; i < m.length; i++) u[i] = m[i] | o[i];
    out.set(name, u);
  }
  return out;
}

/** Per-parameter counts of selected entries (for reports and the random-channel control). */
export function maskCounts(mask: Mask): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, m] of mask) {
    let c = 0;
    for (let i = 0; i < m.length; i++) c += m[i];
    out[name] = c;
  }
  return out;
}

/**
 * Masks as bytes (for artifacts): 8-byte little-endian header length, a JSON header
 * { format: 'unlearn-mask-bin/1', params: [{ name, length, offset }], meta }, then one byte (0/1) per entry.
 */
export function encodeMask(mask: Mask, meta: Record<string, unknown> = {}): Uint8Array {
  const params: { name: string; length: number; offset: number }[] = [];
  let off = 0;
  for (const [name, m] of mask) { params.push({ name, length: m.length, offset: off }); off += m.length; }
  const header = new TextEncoder().encode(JSON.stringify({ format: 'unlearn-mask-bin/1', params, meta }));
  const out = new Uint8Array(8 + header.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  for (const p of params) out.set(mask.get(p.name)!, 8 + header.length + p.offset);
  return out;
}

export function decodeMask(bytes: Uint8Array): { mask: Mask; meta: Record<string, unknown> } {
  if (bytes.length < 8) throw new Error(`decodeMask: ${bytes.length} bytes is too short for a mask`);
  const hl = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (8 + hl > bytes.length) throw new Error(`decodeMask: header length ${hl} exceeds the ${bytes.length} bytes`);
  const h = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hl))) as { format: string; params: { name: string; length: number; offset: number }[]; meta: Record<string, unknown> };
  if (h.format !== 'unlearn-mask-bin/1') throw new Error(`decodeMask: unknown format '${h.format}'`);
  const mask: Mask = new Map();
  for (const p of h.params) {
    const start = 8 + hl + p.offset;
    if (start + p.length > bytes.length) throw new Error(`decodeMask: ${p.name} runs past the end of the data`);
    mask.set(p.name, Uint8Array.from(bytes.subarray(start, start + p.length)));
  }
  return { mask, meta: h.meta ?? {} };
}
