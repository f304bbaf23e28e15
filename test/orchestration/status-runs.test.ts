// Pure: the run-length form in which a SweepWorkflow run carries its stage states to the next run.
import test from 'node:test';
import assert from 'node:assert/strict';
import { CARRY, decodeRuns, encodeRuns, type CarryState } from '../../workflows/status-runs.js';

const expand = (text: string, n: number): CarryState[] => {
  const out: CarryState[] = [];
  decodeRuns(text, n, (from, to, c) => {
    assert.equal(from, out.length, 'runs are visited in order and touch');
    for (let i = from; i < to; i++) out.push(c);
  });
  return out;
};

void test('stage states round-trip through run lengths; a finished prefix is one run', () => {
  const states: CarryState[] = [...Array(100_000).fill(CARRY.ok), CARRY.lost, CARRY.lost, CARRY.todo, CARRY.ok, ...Array(5000).fill(CARRY.todo)];
  const text = encodeRuns(states.length, (i) => states[i]);
  assert.equal(text, 'o100000x2.1o1.5000');
  assert.deepEqual(expand(text, states.length), states);
  assert.equal(encodeRuns(0, () => CARRY.ok), '');
  assert.deepEqual(expand('', 0), []);
});

void test('carried states that do not cover the plan are refused', () => {
  assert.throws(() => expand('o10', 11), /cover 10 positions.*plan has 11/);
  assert.throws(() => expand('o10.2', 11), /cover 12 positions/);
  assert.throws(() => expand('o10?1', 11), /cover 10 positions/);
});
