// What a SweepWorkflow run carries to the next run (continue-as-new) about its stages: one of three states per
// stage position — still to do, finished (ran or cached) or lost (failed, skipped) — as run lengths. The
// finished prefix of a sweep is one run however long, so the carried text grows with the number of failures
// and the unfinished frontier, not with the plan. Pure: used inside the workflow sandbox and in unit tests.

export const CARRY = { todo: '.', ok: 'o', lost: 'x' } as const;
export type CarryState = (typeof CARRY)[keyof typeof CARRY];

/** `state(i)` for i in [0, n) as `<char><count>` runs, e.g. "o41999.1x2.7998". */
export function encodeRuns(n: number, state: (i: number) => CarryState): string {
  let out = '';
  let i = 0;
  while (i < n) {
    const c = state(i);
    let j = i + 1;
    while (j < n && state(j) === c) j++;
    out += `${c}${j - i}`;
    i = j;
  }
  return out;
}

/** Calls `visit(from, to, state)` for every run of an encoded text, checking that the runs cover exactly n positions. */
export function decodeRuns(text: string, n: number, visit: (from: number, to: number, state: CarryState) => void): void {
  const re = /([.ox])(\d+)/gy;
  let at = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const len = Number(m[2]);
    visit(at, at + len, m[1] as CarryState);
    at += len;
    if (re.lastIndex === text.length) break;
  }
  if (at !== n || (text.length > 0 && re.lastIndex !== text.length)) {
    throw new Error(`carried stage states cover ${at} positions (text ${text.length} chars), the plan has ${n}`);
  }
}
