// Cartesian products of grid axes; shared by validation (each hyperparameter combination is checked) and
// the planner (each combination is a trial). Pure: no imports.

export type Scalar = number | string | boolean;
/** Cartesian product of grid axes: {a:[1,2], b:3} → [{a:1,b:3},{a:2,b:3}], in key order. */
export function expandGrid(grid: Record<string, Scalar | Scalar[] | undefined>): Record<string, Scalar>[] {
  let out: Record<string, Scalar>[] = [{}];
  for (const k of Object.keys(grid).sort()) {
    const v = grid[k];
    if (v === undefined) continue;
    const values = Array.isArray(v) ? v : [v];
    const next: Record<string, Scalar>[] = [];
    for (const o of out) for (const x of values) next.push({ ...o, [k]: x });
    out = next;
  }
  return out;
}
