// Minimal MATLAB level-5 MAT-file reader: numeric, real, non-sparse matrices (what SVHN's .mat files hold),
// plain or zlib-compressed (miCOMPRESSED). Little-endian files only.

export interface MatVar {
  dims: number[];
  /** Column-major values, in the element type stored in the file. */
  data: Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;
}

const MI_MATRIX = 14;
const MI_COMPRESSED = 15;

function typedView(type: number, bytes: Uint8Array): MatVar['data'] {
  // copy to an aligned buffer first
  const b = new Uint8Array(bytes); // a copy with its own buffer (Buffer.slice would be a view)
  switch (type) {
    case 1:
      return new Int8Array(b.buffer);
    case 2:
      return b;
    case 3:
      return new Int16Array(b.buffer);
    case 4:
      return new Uint16Array(b.buffer);
    case 5:
      return new Int32Array(b.buffer);
    case 6:
      return new Uint32Array(b.buffer);
    case 7:
      return new Float32Array(b.buffer);
    case 9:
      return new Float64Array(b.buffer);
    default:
      throw new Error(`MAT: unsupported data type ${type}`);
  }
}

interface Element {
  type: number;
  data: Uint8Array;
  next: number;
}

function readElement(buf: Uint8Array, off: number): Element {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const first = dv.getUint32(off, true);
  if (first >>> 16 !== 0) {
    // small data element: type and size packed in 4 bytes, data in the next 4
    const type = first & 0xffff;
    const n = first >>> 16;
    return { type, data: buf.subarray(off + 4, off + 4 + n), next: off + 8 };
  }
  const n = dv.getUint32(off + 4, true);
  const start = off + 8;
  if (start + n > buf.length) throw new Error(`MAT: element at byte ${off} runs past the end (${n} bytes)`);
  const padded = first === MI_COMPRESSED ? n : Math.ceil(n / 8) * 8;
  return { type: first, data: buf.subarray(start, start + n), next: start + padded };
}

function parseMatrix(body: Uint8Array): { name: string; v: MatVar } {
  const flags = readElement(body, 0);
  const cls = new DataView(flags.data.buffer, flags.data.byteOffset).getUint32(0, true) & 0xff;
  const complex = (new DataView(flags.data.buffer, flags.data.byteOffset).getUint32(0, true) >> 11) & 1;
  if (cls < 6 || cls > 15 || complex) throw new Error(`MAT: only real numeric arrays are supported (class ${cls}, complex ${complex})`);
  const dimsEl = readElement(body, flags.next);
  const dims = Array.from(typedView(dimsEl.type, dimsEl.data) as Int32Array);
  const nameEl = readElement(body, dimsEl.next);
  const name = new TextDecoder().decode(nameEl.data);
  const real = readElement(body, nameEl.next);
  const data = typedView(real.type, real.data);
  const n = dims.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new Error(`MAT: variable ${name} has ${data.length} values for dims [${dims}]`);
  return { name, v: { dims, data } };
}

export function readMat(file: Uint8Array, inflate: (b: Uint8Array) => Uint8Array): Map<string, MatVar> {
  if (file.length < 128) throw new Error('MAT: file shorter than the 128-byte header');
  const endian = String.fromCharCode(file[126], file[127]);
  if (endian !== 'IM') throw new Error(`MAT: only little-endian level-5 files are supported (endian mark ${JSON.stringify(endian)})`);
  const out = new Map<string, MatVar>();
  let off = 128;
  while (off + 8 <= file.length) {
    let el = readElement(file, off);
    off = el.next;
    if (el.type === MI_COMPRESSED) {
      const inner = new Uint8Array(inflate(el.data));
      el = readElement(inner, 0);
    }
    if (el.type !== MI_MATRIX) continue;
    const { name, v } = parseMatrix(el.data);
    out.set(name, v);
  }
  return out;
}
