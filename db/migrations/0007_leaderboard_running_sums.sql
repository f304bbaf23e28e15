-- 0007 (owner: results): the all-sweeps leaderboard rows are kept by running sums, and a trial is written with its
-- metrics in one statement (one leaderboard refresh).
--
-- Measured after 0006 (`npm run bench -- results-db`, docs/results.md): a new trial took ~100 ms at 1M metric rows
-- (two refreshes: the trial row, then the headline columns its metrics set), and a changed oracle ~0.26 s at 1M and
-- ~2.3 s at 10M, because every refresh re-combined the all-sweeps ('*') row of each touched group from all of its
-- per-sweep rows (~100 per group at 1M, ~1,000 at 10M). Now:
--   * leaderboard_sums holds, per group, the number of per-sweep rows, trials and paired trials, the least label and
--     forget fraction, and for each measure X: X_n = Σ nᵢ, X_s1 = Σ nᵢ·meanᵢ and X_s2 = Σ (M2ᵢ + nᵢ·meanᵢ²) over
--     its per-sweep rows i; leaderboard_seed_counts counts, per group and seed, the per-sweep rows that have it.
--     A refresh replaces the per-sweep rows it touches (as before: a few trials each) and adds (new − old) of
--     exactly those rows to the sums: its cost no longer depends on the number of sweeps. The '*' row is written
--     from the sums: mean = s1/n, M2 = (s2·n − s1²)/n, interval from M2 as before.
--   * Numerics: the sums are `numeric`, which adds, subtracts and multiplies exactly. results_num() converts a
--     double to numeric within half an ulp of the double (the 15-digit cast, corrected by the cast of what it left
--     out), the same way every time, so a per-sweep row's contribution is removed exactly as it was added: the sums
--     never drift, in any order of writes, and equal the sums computed afresh from the current per-sweep rows. The
--     subtraction s2·n − s1², which loses up to mean²/variance of the precision in floating point, is exact here;
--     what remains is the conversion (relative ≤ ~1.1e-16 per value: the precision the per-sweep doubles have
--     anyway, so the float8 re-combination that this replaces had the same sensitivity) and the last divisions
--     (16+ significant digits). (Plain float8 running sums would drift with every update and lose the digits in
--     that subtraction; Welford removals lose them too.) A non-finite value (cannot be recorded through
--     db/record.ts) makes a sum NaN; such a group's sums are recomputed from its per-sweep rows at every refresh
--     until it is gone.
--   * the least label / forget fraction (the only columns that may differ between the rows of one group) are kept
--     as running minima, recomputed from the group's per-sweep rows only when the row holding the minimum changed.
--   * results_refresh_trial_summary writes the headline columns of a trial only when they change, so a trial
--     inserted with its headline values (recordTrialWithMetrics, db/record.ts) and its metrics in one statement
--     refreshes the leaderboard once.

SELECT pg_advisory_xact_lock(734511, 0);

CREATE OR REPLACE FUNCTION results_refresh_trial_summary(trial_ids text[]) RETURNS void LANGUAGE sql AS $$
  UPDATE trials t
     SET forget_acc   = s.forget_acc,
         retain_acc   = s.retain_acc,
         test_acc     = s.test_acc,
         mia_efficacy = s.mia_efficacy
    FROM (SELECT u.id,
                 max(m.value) FILTER (WHERE m.split = 'forget' AND m.name = 'accuracy')     AS forget_acc,
                 max(m.value) FILTER (WHERE m.split = 'retain' AND m.name = 'accuracy')     AS retain_acc,
                 max(m.value) FILTER (WHERE m.split = 'test'   AND m.name = 'accuracy')     AS test_acc,
                 max(m.value) FILTER (WHERE m.split = 'forget' AND m.name = 'mia_efficacy') AS mia_efficacy
            FROM unnest(trial_ids) AS u(id)
            LEFT JOIN metrics m ON m.trial_id = u.id
           GROUP BY u.id) s
   WHERE t.id = s.id
     AND (t.forget_acc, t.retain_acc, t.test_acc, t.mia_efficacy) IS DISTINCT FROM (s.forget_acc, s.retain_acc, s.test_acc, s.mia_efficacy)
$$;

-- A double as numeric within half an ulp, deterministically: the 15-digit cast hi, plus the cast of x − double(hi)
-- (exact in float8: both are within a factor of 2) when hi does not read back as x. Non-finite x gives NaN.
CREATE OR REPLACE FUNCTION results_num(x double precision) RETURNS numeric LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT x::numeric + (x - x::numeric::double precision)::numeric
$$;
CREATE OR REPLACE FUNCTION results_star_mean(s1 numeric, n bigint) RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN n > 0 THEN (s1 / n)::double precision END
$$;
CREATE OR REPLACE FUNCTION results_star_m2(s1 numeric, s2 numeric, n bigint) RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN n > 0 THEN greatest((s2 * n - s1 * s1) / n, 0)::double precision ELSE 0 END
$$;
CREATE OR REPLACE FUNCTION results_star_ci(s1 numeric, s2 numeric, n bigint) RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN n > 1 THEN ci95(sqrt(greatest((s2 * n - s1 * s1) / n, 0)::double precision / (n - 1)), n) END
$$;

CREATE TABLE IF NOT EXISTS leaderboard_sums (
  group_key text PRIMARY KEY,
  n_rows bigint NOT NULL,   -- per-sweep rows of the group
  n_trials bigint NOT NULL,
  n_paired bigint NOT NULL,
  label text,
  forget_fraction double precision,
  forget_acc_n bigint NOT NULL, forget_acc_s1 numeric NOT NULL, forget_acc_s2 numeric NOT NULL,
  retain_acc_n bigint NOT NULL, retain_acc_s1 numeric NOT NULL, retain_acc_s2 numeric NOT NULL,
  test_acc_n bigint NOT NULL, test_acc_s1 numeric NOT NULL, test_acc_s2 numeric NOT NULL,
  mia_n bigint NOT NULL, mia_s1 numeric NOT NULL, mia_s2 numeric NOT NULL,
  d_forget_n bigint NOT NULL, d_forget_s1 numeric NOT NULL, d_forget_s2 numeric NOT NULL,
  d_retain_n bigint NOT NULL, d_retain_s1 numeric NOT NULL, d_retain_s2 numeric NOT NULL,
  d_test_n bigint NOT NULL, d_test_s1 numeric NOT NULL, d_test_s2 numeric NOT NULL,
  d_mia_n bigint NOT NULL, d_mia_s1 numeric NOT NULL, d_mia_s2 numeric NOT NULL,
  tow_n bigint NOT NULL, tow_s1 numeric NOT NULL, tow_s2 numeric NOT NULL,
  gap_n bigint NOT NULL, gap_s1 numeric NOT NULL, gap_s2 numeric NOT NULL,
  cost_rel_n bigint NOT NULL, cost_rel_s1 numeric NOT NULL, cost_rel_s2 numeric NOT NULL,
  epochs_rel_n bigint NOT NULL, epochs_rel_s1 numeric NOT NULL, epochs_rel_s2 numeric NOT NULL,
  wall_seconds_n bigint NOT NULL, wall_seconds_s1 numeric NOT NULL, wall_seconds_s2 numeric NOT NULL,
  params_changed_n bigint NOT NULL, params_changed_s1 numeric NOT NULL, params_changed_s2 numeric NOT NULL
);
CREATE TABLE IF NOT EXISTS leaderboard_seed_counts (
  group_key text NOT NULL,
  seed integer NOT NULL,
  n_rows bigint NOT NULL,   -- per-sweep rows of the group that have this seed
  PRIMARY KEY (group_key, seed)
);

-- Sums and seed counts of the given groups (NULL: all) computed afresh from their per-sweep rows.
CREATE OR REPLACE FUNCTION results_sums_rebuild(p_keys text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM leaderboard_sums WHERE p_keys IS NULL OR group_key = ANY(p_keys);
  DELETE FROM leaderboard_seed_counts WHERE p_keys IS NULL OR group_key = ANY(p_keys);
  INSERT INTO leaderboard_sums
  SELECT a.group_key, count(*), sum(a.n_trials)::bigint, sum(a.n_paired)::bigint, min(a.label), min(a.forget_fraction),
         sum(coalesce(a.forget_acc_n, 0))::bigint, sum(CASE WHEN a.forget_acc_n > 0 THEN a.forget_acc_n * results_num(a.forget_acc_mean) ELSE 0 END), sum(CASE WHEN a.forget_acc_n > 0 THEN results_num(a.forget_acc_m2) + a.forget_acc_n * results_num(a.forget_acc_mean) * results_num(a.forget_acc_mean) ELSE 0 END),
         sum(coalesce(a.retain_acc_n, 0))::bigint, sum(CASE WHEN a.retain_acc_n > 0 THEN a.retain_acc_n * results_num(a.retain_acc_mean) ELSE 0 END), sum(CASE WHEN a.retain_acc_n > 0 THEN results_num(a.retain_acc_m2) + a.retain_acc_n * results_num(a.retain_acc_mean) * results_num(a.retain_acc_mean) ELSE 0 END),
         sum(coalesce(a.test_acc_n, 0))::bigint, sum(CASE WHEN a.test_acc_n > 0 THEN a.test_acc_n * results_num(a.test_acc_mean) ELSE 0 END), sum(CASE WHEN a.test_acc_n > 0 THEN results_num(a.test_acc_m2) + a.test_acc_n * results_num(a.test_acc_mean) * results_num(a.test_acc_mean) ELSE 0 END),
         sum(coalesce(a.mia_n, 0))::bigint, sum(CASE WHEN a.mia_n > 0 THEN a.mia_n * results_num(a.mia_mean) ELSE 0 END), sum(CASE WHEN a.mia_n > 0 THEN results_num(a.mia_m2) + a.mia_n * results_num(a.mia_mean) * results_num(a.mia_mean) ELSE 0 END),
         sum(coalesce(a.d_forget_n, 0))::bigint, sum(CASE WHEN a.d_forget_n > 0 THEN a.d_forget_n * results_num(a.d_forget_mean) ELSE 0 END), sum(CASE WHEN a.d_forget_n > 0 THEN results_num(a.d_forget_m2) + a.d_forget_n * results_num(a.d_forget_mean) * results_num(a.d_forget_mean) ELSE 0 END),
         sum(coalesce(a.d_retain_n, 0))::bigint, sum(CASE WHEN a.d_retain_n > 0 THEN a.d_retain_n * results_num(a.d_retain_mean) ELSE 0 END), sum(CASE WHEN a.d_retain_n > 0 THEN results_num(a.d_retain_m2) + a.d_retain_n * results_num(a.d_retain_mean) * results_num(a.d_retain_mean) ELSE 0 END),
         sum(coalesce(a.d_test_n, 0))::bigint, sum(CASE WHEN a.d_test_n > 0 THEN a.d_test_n * results_num(a.d_test_mean) ELSE 0 END), sum(CASE WHEN a.d_test_n > 0 THEN results_num(a.d_test_m2) + a.d_test_n * results_num(a.d_test_mean) * results_num(a.d_test_mean) ELSE 0 END),
         sum(coalesce(a.d_mia_n, 0))::bigint, sum(CASE WHEN a.d_mia_n > 0 THEN a.d_mia_n * results_num(a.d_mia_mean) ELSE 0 END), sum(CASE WHEN a.d_mia_n > 0 THEN results_num(a.d_mia_m2) + a.d_mia_n * results_num(a.d_mia_mean) * results_num(a.d_mia_mean) ELSE 0 END),
         sum(coalesce(a.tow_n, 0))::bigint, sum(CASE WHEN a.tow_n > 0 THEN a.tow_n * results_num(a.tow_mean) ELSE 0 END), sum(CASE WHEN a.tow_n > 0 THEN results_num(a.tow_m2) + a.tow_n * results_num(a.tow_mean) * results_num(a.tow_mean) ELSE 0 END),
         sum(coalesce(a.gap_n, 0))::bigint, sum(CASE WHEN a.gap_n > 0 THEN a.gap_n * results_num(a.gap_mean) ELSE 0 END), sum(CASE WHEN a.gap_n > 0 THEN results_num(a.gap_m2) + a.gap_n * results_num(a.gap_mean) * results_num(a.gap_mean) ELSE 0 END),
         sum(coalesce(a.cost_rel_n, 0))::bigint, sum(CASE WHEN a.cost_rel_n > 0 THEN a.cost_rel_n * results_num(a.cost_rel_mean) ELSE 0 END), sum(CASE WHEN a.cost_rel_n > 0 THEN results_num(a.cost_rel_m2) + a.cost_rel_n * results_num(a.cost_rel_mean) * results_num(a.cost_rel_mean) ELSE 0 END),
         sum(coalesce(a.epochs_rel_n, 0))::bigint, sum(CASE WHEN a.epochs_rel_n > 0 THEN a.epochs_rel_n * results_num(a.epochs_rel_mean) ELSE 0 END), sum(CASE WHEN a.epochs_rel_n > 0 THEN results_num(a.epochs_rel_m2) + a.epochs_rel_n * results_num(a.epochs_rel_mean) * results_num(a.epochs_rel_mean) ELSE 0 END),
         sum(coalesce(a.wall_seconds_n, 0))::bigint, sum(CASE WHEN a.wall_seconds_n > 0 THEN a.wall_seconds_n * results_num(a.wall_seconds_mean) ELSE 0 END), sum(CASE WHEN a.wall_seconds_n > 0 THEN results_num(a.wall_seconds_m2) + a.wall_seconds_n * results_num(a.wall_seconds_mean) * results_num(a.wall_seconds_mean) ELSE 0 END),
         sum(coalesce(a.params_changed_n, 0))::bigint, sum(CASE WHEN a.params_changed_n > 0 THEN a.params_changed_n * results_num(a.params_changed_mean) ELSE 0 END), sum(CASE WHEN a.params_changed_n > 0 THEN results_num(a.params_changed_m2) + a.params_changed_n * results_num(a.params_changed_mean) * results_num(a.params_changed_mean) ELSE 0 END)
    FROM leaderboard_agg a
   WHERE a.sweep_id <> '*' AND (p_keys IS NULL OR a.group_key = ANY(p_keys))
   GROUP BY a.group_key;
  INSERT INTO leaderboard_seed_counts
  SELECT a.group_key, x, count(*)
    FROM leaderboard_agg a, unnest(a.seeds) x
   WHERE a.sweep_id <> '*' AND (p_keys IS NULL OR a.group_key = ANY(p_keys))
   GROUP BY a.group_key, x;
END $$;

-- Write the all-sweeps rows of the given groups from their sums; a group without sums has no all-sweeps row.
-- The descriptive columns are equal in every row of a group (parts of its keys) and are taken from one of them.
CREATE OR REPLACE FUNCTION results_star_write(p_keys text[]) RETURNS void LANGUAGE plpgsql
  SET plan_cache_mode = force_generic_plan SET jit = off AS $$
BEGIN
  DELETE FROM leaderboard_agg a
   WHERE a.sweep_id = '*' AND a.group_key = ANY(p_keys)
     AND NOT EXISTS (SELECT 1 FROM leaderboard_sums s WHERE s.group_key = a.group_key);
  INSERT INTO leaderboard_agg AS a
  SELECT '*', s.group_key, r.setting_key, r.method_key, r.role, s.label, r.dataset, r.model, r.forget_kind, s.forget_fraction,
         r.algorithm, r.localization, r.alpha, r.hparams, r.is_oracle,
         s.n_trials, cardinality(sd.seeds)::bigint, sd.seeds, s.n_paired,
         results_star_mean(s.forget_acc_s1, s.forget_acc_n), results_star_ci(s.forget_acc_s1, s.forget_acc_s2, s.forget_acc_n), s.forget_acc_n, results_star_m2(s.forget_acc_s1, s.forget_acc_s2, s.forget_acc_n),
         results_star_mean(s.retain_acc_s1, s.retain_acc_n), results_star_ci(s.retain_acc_s1, s.retain_acc_s2, s.retain_acc_n), s.retain_acc_n, results_star_m2(s.retain_acc_s1, s.retain_acc_s2, s.retain_acc_n),
         results_star_mean(s.test_acc_s1, s.test_acc_n), results_star_ci(s.test_acc_s1, s.test_acc_s2, s.test_acc_n), s.test_acc_n, results_star_m2(s.test_acc_s1, s.test_acc_s2, s.test_acc_n),
         results_star_mean(s.mia_s1, s.mia_n), results_star_ci(s.mia_s1, s.mia_s2, s.mia_n), s.mia_n, results_star_m2(s.mia_s1, s.mia_s2, s.mia_n),
         results_star_mean(s.d_forget_s1, s.d_forget_n), results_star_ci(s.d_forget_s1, s.d_forget_s2, s.d_forget_n), s.d_forget_n, results_star_m2(s.d_forget_s1, s.d_forget_s2, s.d_forget_n),
         results_star_mean(s.d_retain_s1, s.d_retain_n), results_star_ci(s.d_retain_s1, s.d_retain_s2, s.d_retain_n), s.d_retain_n, results_star_m2(s.d_retain_s1, s.d_retain_s2, s.d_retain_n),
         results_star_mean(s.d_test_s1, s.d_test_n), results_star_ci(s.d_test_s1, s.d_test_s2, s.d_test_n), s.d_test_n, results_star_m2(s.d_test_s1, s.d_test_s2, s.d_test_n),
         results_star_mean(s.d_mia_s1, s.d_mia_n), results_star_ci(s.d_mia_s1, s.d_mia_s2, s.d_mia_n), s.d_mia_n, results_star_m2(s.d_mia_s1, s.d_mia_s2, s.d_mia_n),
         results_star_mean(s.tow_s1, s.tow_n), results_star_ci(s.tow_s1, s.tow_s2, s.tow_n), s.tow_n, results_star_m2(s.tow_s1, s.tow_s2, s.tow_n),
         results_star_mean(s.gap_s1, s.gap_n), results_star_ci(s.gap_s1, s.gap_s2, s.gap_n), s.gap_n, results_star_m2(s.gap_s1, s.gap_s2, s.gap_n),
         results_star_mean(s.cost_rel_s1, s.cost_rel_n), results_star_ci(s.cost_rel_s1, s.cost_rel_s2, s.cost_rel_n), s.cost_rel_n, results_star_m2(s.cost_rel_s1, s.cost_rel_s2, s.cost_rel_n),
         results_star_mean(s.epochs_rel_s1, s.epochs_rel_n), results_star_ci(s.epochs_rel_s1, s.epochs_rel_s2, s.epochs_rel_n), s.epochs_rel_n, results_star_m2(s.epochs_rel_s1, s.epochs_rel_s2, s.epochs_rel_n),
         results_star_mean(s.wall_seconds_s1, s.wall_seconds_n), results_star_ci(s.wall_seconds_s1, s.wall_seconds_s2, s.wall_seconds_n), s.wall_seconds_n, results_star_m2(s.wall_seconds_s1, s.wall_seconds_s2, s.wall_seconds_n),
         results_star_mean(s.params_changed_s1, s.params_changed_n), results_star_ci(s.params_changed_s1, s.params_changed_s2, s.params_changed_n), s.params_changed_n, results_star_m2(s.params_changed_s1, s.params_changed_s2, s.params_changed_n)
    FROM leaderboard_sums s
    CROSS JOIN LATERAL (SELECT x.* FROM leaderboard_agg x WHERE x.group_key = s.group_key AND x.sweep_id <> '*' LIMIT 1) r
    CROSS JOIN LATERAL (SELECT ARRAY(SELECT c.seed FROM leaderboard_seed_counts c WHERE c.group_key = s.group_key ORDER BY c.seed) AS seeds) sd
   WHERE s.group_key = ANY(p_keys)
  ON CONFLICT (sweep_id, group_key) DO UPDATE SET
        setting_key = excluded.setting_key,
        method_key = excluded.method_key,
        role = excluded.role,
        label = excluded.label,
        dataset = excluded.dataset,
        model = excluded.model,
        forget_kind = excluded.forget_kind,
        forget_fraction = excluded.forget_fraction,
        algorithm = excluded.algorithm,
        localization = excluded.localization,
        alpha = excluded.alpha,
        hparams = excluded.hparams,
        is_oracle = excluded.is_oracle,
        n_trials = excluded.n_trials,
        n_seeds = excluded.n_seeds,
        seeds = excluded.seeds,
        n_paired = excluded.n_paired,
        forget_acc_mean = excluded.forget_acc_mean,
        forget_acc_ci = excluded.forget_acc_ci,
        forget_acc_n = excluded.forget_acc_n,
        forget_acc_m2 = excluded.forget_acc_m2,
        retain_acc_mean = excluded.retain_acc_mean,
        retain_acc_ci = excluded.retain_acc_ci,
        retain_acc_n = excluded.retain_acc_n,
        retain_acc_m2 = excluded.retain_acc_m2,
        test_acc_mean = excluded.test_acc_mean,
        test_acc_ci = excluded.test_acc_ci,
        test_acc_n = excluded.test_acc_n,
        test_acc_m2 = excluded.test_acc_m2,
        mia_mean = excluded.mia_mean,
        mia_ci = excluded.mia_ci,
        mia_n = excluded.mia_n,
        mia_m2 = excluded.mia_m2,
        d_forget_mean = excluded.d_forget_mean,
        d_forget_ci = excluded.d_forget_ci,
        d_forget_n = excluded.d_forget_n,
        d_forget_m2 = excluded.d_forget_m2,
        d_retain_mean = excluded.d_retain_mean,
        d_retain_ci = excluded.d_retain_ci,
        d_retain_n = excluded.d_retain_n,
        d_retain_m2 = excluded.d_retain_m2,
        d_test_mean = excluded.d_test_mean,
        d_test_ci = excluded.d_test_ci,
        d_test_n = excluded.d_test_n,
        d_test_m2 = excluded.d_test_m2,
        d_mia_mean = excluded.d_mia_mean,
        d_mia_ci = excluded.d_mia_ci,
        d_mia_n = excluded.d_mia_n,
        d_mia_m2 = excluded.d_mia_m2,
        tow_mean = excluded.tow_mean,
        tow_ci = excluded.tow_ci,
        tow_n = excluded.tow_n,
        tow_m2 = excluded.tow_m2,
        gap_mean = excluded.gap_mean,
        gap_ci = excluded.gap_ci,
        gap_n = excluded.gap_n,
        gap_m2 = excluded.gap_m2,
        cost_rel_mean = excluded.cost_rel_mean,
        cost_rel_ci = excluded.cost_rel_ci,
        cost_rel_n = excluded.cost_rel_n,
        cost_rel_m2 = excluded.cost_rel_m2,
        epochs_rel_mean = excluded.epochs_rel_mean,
        epochs_rel_ci = excluded.epochs_rel_ci,
        epochs_rel_n = excluded.epochs_rel_n,
        epochs_rel_m2 = excluded.epochs_rel_m2,
        wall_seconds_mean = excluded.wall_seconds_mean,
        wall_seconds_ci = excluded.wall_seconds_ci,
        wall_seconds_n = excluded.wall_seconds_n,
        wall_seconds_m2 = excluded.wall_seconds_m2,
        params_changed_mean = excluded.params_changed_mean,
        params_changed_ci = excluded.params_changed_ci,
        params_changed_n = excluded.params_changed_n,
        params_changed_m2 = excluded.params_changed_m2;
END $$;

-- Apply the replacement of per-sweep rows (p_old → p_new) to the sums and seed counts of their groups, then write
-- those groups' all-sweeps rows. The caller holds the groups' advisory locks.
CREATE OR REPLACE FUNCTION results_star_apply(p_old leaderboard_agg[], p_new leaderboard_agg[]) RETURNS void LANGUAGE plpgsql
  SET plan_cache_mode = force_generic_plan SET jit = off AS $$
DECLARE
  keys text[];
  bad text[];
BEGIN
  keys := ARRAY(SELECT o.group_key FROM unnest(p_old) o UNION SELECT n.group_key FROM unnest(p_new) n);
  IF cardinality(keys) = 0 THEN RETURN; END IF;
  -- each per-sweep mean and M2 converted once (MATERIALIZED: not re-evaluated in every sum that uses it)
  WITH c AS MATERIALIZED (
         SELECT r.w, r.group_key, r.n_trials, r.n_paired, r.label, r.forget_fraction,
                coalesce(r.forget_acc_n, 0) AS forget_acc_n, CASE WHEN r.forget_acc_n > 0 THEN results_num(r.forget_acc_mean) ELSE 0 END AS forget_acc_mn, CASE WHEN r.forget_acc_n > 0 THEN results_num(r.forget_acc_m2) ELSE 0 END AS forget_acc_m2n,
                coalesce(r.retain_acc_n, 0) AS retain_acc_n, CASE WHEN r.retain_acc_n > 0 THEN results_num(r.retain_acc_mean) ELSE 0 END AS retain_acc_mn, CASE WHEN r.retain_acc_n > 0 THEN results_num(r.retain_acc_m2) ELSE 0 END AS retain_acc_m2n,
                coalesce(r.test_acc_n, 0) AS test_acc_n, CASE WHEN r.test_acc_n > 0 THEN results_num(r.test_acc_mean) ELSE 0 END AS test_acc_mn, CASE WHEN r.test_acc_n > 0 THEN results_num(r.test_acc_m2) ELSE 0 END AS test_acc_m2n,
                coalesce(r.mia_n, 0) AS mia_n, CASE WHEN r.mia_n > 0 THEN results_num(r.mia_mean) ELSE 0 END AS mia_mn, CASE WHEN r.mia_n > 0 THEN results_num(r.mia_m2) ELSE 0 END AS mia_m2n,
                coalesce(r.d_forget_n, 0) AS d_forget_n, CASE WHEN r.d_forget_n > 0 THEN results_num(r.d_forget_mean) ELSE 0 END AS d_forget_mn, CASE WHEN r.d_forget_n > 0 THEN results_num(r.d_forget_m2) ELSE 0 END AS d_forget_m2n,
                coalesce(r.d_retain_n, 0) AS d_retain_n, CASE WHEN r.d_retain_n > 0 THEN results_num(r.d_retain_mean) ELSE 0 END AS d_retain_mn, CASE WHEN r.d_retain_n > 0 THEN results_num(r.d_retain_m2) ELSE 0 END AS d_retain_m2n,
                coalesce(r.d_test_n, 0) AS d_test_n, CASE WHEN r.d_test_n > 0 THEN results_num(r.d_test_mean) ELSE 0 END AS d_test_mn, CASE WHEN r.d_test_n > 0 THEN results_num(r.d_test_m2) ELSE 0 END AS d_test_m2n,
                coalesce(r.d_mia_n, 0) AS d_mia_n, CASE WHEN r.d_mia_n > 0 THEN results_num(r.d_mia_mean) ELSE 0 END AS d_mia_mn, CASE WHEN r.d_mia_n > 0 THEN results_num(r.d_mia_m2) ELSE 0 END AS d_mia_m2n,
                coalesce(r.tow_n, 0) AS tow_n, CASE WHEN r.tow_n > 0 THEN results_num(r.tow_mean) ELSE 0 END AS tow_mn, CASE WHEN r.tow_n > 0 THEN results_num(r.tow_m2) ELSE 0 END AS tow_m2n,
                coalesce(r.gap_n, 0) AS gap_n, CASE WHEN r.gap_n > 0 THEN results_num(r.gap_mean) ELSE 0 END AS gap_mn, CASE WHEN r.gap_n > 0 THEN results_num(r.gap_m2) ELSE 0 END AS gap_m2n,
                coalesce(r.cost_rel_n, 0) AS cost_rel_n, CASE WHEN r.cost_rel_n > 0 THEN results_num(r.cost_rel_mean) ELSE 0 END AS cost_rel_mn, CASE WHEN r.cost_rel_n > 0 THEN results_num(r.cost_rel_m2) ELSE 0 END AS cost_rel_m2n,
                coalesce(r.epochs_rel_n, 0) AS epochs_rel_n, CASE WHEN r.epochs_rel_n > 0 THEN results_num(r.epochs_rel_mean) ELSE 0 END AS epochs_rel_mn, CASE WHEN r.epochs_rel_n > 0 THEN results_num(r.epochs_rel_m2) ELSE 0 END AS epochs_rel_m2n,
                coalesce(r.wall_seconds_n, 0) AS wall_seconds_n, CASE WHEN r.wall_seconds_n > 0 THEN results_num(r.wall_seconds_mean) ELSE 0 END AS wall_seconds_mn, CASE WHEN r.wall_seconds_n > 0 THEN results_num(r.wall_seconds_m2) ELSE 0 END AS wall_seconds_m2n,
                coalesce(r.params_changed_n, 0) AS params_changed_n, CASE WHEN r.params_changed_n > 0 THEN results_num(r.params_changed_mean) ELSE 0 END AS params_changed_mn, CASE WHEN r.params_changed_n > 0 THEN results_num(r.params_changed_m2) ELSE 0 END AS params_changed_m2n
           FROM (SELECT -1 AS w, o.* FROM unnest(p_old) o UNION ALL SELECT 1, n.* FROM unnest(p_new) n) r),
  d AS (SELECT c.group_key, sum(c.w)::bigint AS n_rows, sum(c.w * c.n_trials)::bigint AS n_trials, sum(c.w * c.n_paired)::bigint AS n_paired,
                  min(c.label) FILTER (WHERE c.w < 0) AS old_label, min(c.label) FILTER (WHERE c.w > 0) AS new_label,
                  min(c.forget_fraction) FILTER (WHERE c.w < 0) AS old_ff, min(c.forget_fraction) FILTER (WHERE c.w > 0) AS new_ff,
                  sum(c.w * c.forget_acc_n)::bigint AS forget_acc_n, sum(c.w * c.forget_acc_n * c.forget_acc_mn) AS forget_acc_s1, sum(c.w * (c.forget_acc_m2n + c.forget_acc_n * c.forget_acc_mn * c.forget_acc_mn)) AS forget_acc_s2,
                  sum(c.w * c.retain_acc_n)::bigint AS retain_acc_n, sum(c.w * c.retain_acc_n * c.retain_acc_mn) AS retain_acc_s1, sum(c.w * (c.retain_acc_m2n + c.retain_acc_n * c.retain_acc_mn * c.retain_acc_mn)) AS retain_acc_s2,
                  sum(c.w * c.test_acc_n)::bigint AS test_acc_n, sum(c.w * c.test_acc_n * c.test_acc_mn) AS test_acc_s1, sum(c.w * (c.test_acc_m2n + c.test_acc_n * c.test_acc_mn * c.test_acc_mn)) AS test_acc_s2,
                  sum(c.w * c.mia_n)::bigint AS mia_n, sum(c.w * c.mia_n * c.mia_mn) AS mia_s1, sum(c.w * (c.mia_m2n + c.mia_n * c.mia_mn * c.mia_mn)) AS mia_s2,
                  sum(c.w * c.d_forget_n)::bigint AS d_forget_n, sum(c.w * c.d_forget_n * c.d_forget_mn) AS d_forget_s1, sum(c.w * (c.d_forget_m2n + c.d_forget_n * c.d_forget_mn * c.d_forget_mn)) AS d_forget_s2,
                  sum(c.w * c.d_retain_n)::bigint AS d_retain_n, sum(c.w * c.d_retain_n * c.d_retain_mn) AS d_retain_s1, sum(c.w * (c.d_retain_m2n + c.d_retain_n * c.d_retain_mn * c.d_retain_mn)) AS d_retain_s2,
                  sum(c.w * c.d_test_n)::bigint AS d_test_n, sum(c.w * c.d_test_n * c.d_test_mn) AS d_test_s1, sum(c.w * (c.d_test_m2n + c.d_test_n * c.d_test_mn * c.d_test_mn)) AS d_test_s2,
                  sum(c.w * c.d_mia_n)::bigint AS d_mia_n, sum(c.w * c.d_mia_n * c.d_mia_mn) AS d_mia_s1, sum(c.w * (c.d_mia_m2n + c.d_mia_n * c.d_mia_mn * c.d_mia_mn)) AS d_mia_s2,
                  sum(c.w * c.tow_n)::bigint AS tow_n, sum(c.w * c.tow_n * c.tow_mn) AS tow_s1, sum(c.w * (c.tow_m2n + c.tow_n * c.tow_mn * c.tow_mn)) AS tow_s2,
                  sum(c.w * c.gap_n)::bigint AS gap_n, sum(c.w * c.gap_n * c.gap_mn) AS gap_s1, sum(c.w * (c.gap_m2n + c.gap_n * c.gap_mn * c.gap_mn)) AS gap_s2,
                  sum(c.w * c.cost_rel_n)::bigint AS cost_rel_n, sum(c.w * c.cost_rel_n * c.cost_rel_mn) AS cost_rel_s1, sum(c.w * (c.cost_rel_m2n + c.cost_rel_n * c.cost_rel_mn * c.cost_rel_mn)) AS cost_rel_s2,
                  sum(c.w * c.epochs_rel_n)::bigint AS epochs_rel_n, sum(c.w * c.epochs_rel_n * c.epochs_rel_mn) AS epochs_rel_s1, sum(c.w * (c.epochs_rel_m2n + c.epochs_rel_n * c.epochs_rel_mn * c.epochs_rel_mn)) AS epochs_rel_s2,
                  sum(c.w * c.wall_seconds_n)::bigint AS wall_seconds_n, sum(c.w * c.wall_seconds_n * c.wall_seconds_mn) AS wall_seconds_s1, sum(c.w * (c.wall_seconds_m2n + c.wall_seconds_n * c.wall_seconds_mn * c.wall_seconds_mn)) AS wall_seconds_s2,
                  sum(c.w * c.params_changed_n)::bigint AS params_changed_n, sum(c.w * c.params_changed_n * c.params_changed_mn) AS params_changed_s1, sum(c.w * (c.params_changed_m2n + c.params_changed_n * c.params_changed_mn * c.params_changed_mn)) AS params_changed_s2
             FROM c GROUP BY c.group_key),
  u AS (UPDATE leaderboard_sums s
           SET n_rows = s.n_rows + d.n_rows, n_trials = s.n_trials + d.n_trials, n_paired = s.n_paired + d.n_paired,
               -- a running minimum: recomputed from the group's rows only when the row that held it changed
               label = CASE WHEN d.old_label IS NULL OR d.old_label > s.label OR d.new_label <= s.label THEN least(s.label, d.new_label)
                            ELSE (SELECT min(a.label) FROM leaderboard_agg a WHERE a.group_key = s.group_key AND a.sweep_id <> '*') END,
               forget_fraction = CASE WHEN d.old_ff IS NULL OR d.old_ff > s.forget_fraction OR d.new_ff <= s.forget_fraction THEN least(s.forget_fraction, d.new_ff)
                            ELSE (SELECT min(a.forget_fraction) FROM leaderboard_agg a WHERE a.group_key = s.group_key AND a.sweep_id <> '*') END,
                 forget_acc_n = s.forget_acc_n + d.forget_acc_n, forget_acc_s1 = s.forget_acc_s1 + d.forget_acc_s1, forget_acc_s2 = s.forget_acc_s2 + d.forget_acc_s2,
                 retain_acc_n = s.retain_acc_n + d.retain_acc_n, retain_acc_s1 = s.retain_acc_s1 + d.retain_acc_s1, retain_acc_s2 = s.retain_acc_s2 + d.retain_acc_s2,
                 test_acc_n = s.test_acc_n + d.test_acc_n, test_acc_s1 = s.test_acc_s1 + d.test_acc_s1, test_acc_s2 = s.test_acc_s2 + d.test_acc_s2,
                 mia_n = s.mia_n + d.mia_n, mia_s1 = s.mia_s1 + d.mia_s1, mia_s2 = s.mia_s2 + d.mia_s2,
                 d_forget_n = s.d_forget_n + d.d_forget_n, d_forget_s1 = s.d_forget_s1 + d.d_forget_s1, d_forget_s2 = s.d_forget_s2 + d.d_forget_s2,
                 d_retain_n = s.d_retain_n + d.d_retain_n, d_retain_s1 = s.d_retain_s1 + d.d_retain_s1, d_retain_s2 = s.d_retain_s2 + d.d_retain_s2,
                 d_test_n = s.d_test_n + d.d_test_n, d_test_s1 = s.d_test_s1 + d.d_test_s1, d_test_s2 = s.d_test_s2 + d.d_test_s2,
                 d_mia_n = s.d_mia_n + d.d_mia_n, d_mia_s1 = s.d_mia_s1 + d.d_mia_s1, d_mia_s2 = s.d_mia_s2 + d.d_mia_s2,
                 tow_n = s.tow_n + d.tow_n, tow_s1 = s.tow_s1 + d.tow_s1, tow_s2 = s.tow_s2 + d.tow_s2,
                 gap_n = s.gap_n + d.gap_n, gap_s1 = s.gap_s1 + d.gap_s1, gap_s2 = s.gap_s2 + d.gap_s2,
                 cost_rel_n = s.cost_rel_n + d.cost_rel_n, cost_rel_s1 = s.cost_rel_s1 + d.cost_rel_s1, cost_rel_s2 = s.cost_rel_s2 + d.cost_rel_s2,
                 epochs_rel_n = s.epochs_rel_n + d.epochs_rel_n, epochs_rel_s1 = s.epochs_rel_s1 + d.epochs_rel_s1, epochs_rel_s2 = s.epochs_rel_s2 + d.epochs_rel_s2,
                 wall_seconds_n = s.wall_seconds_n + d.wall_seconds_n, wall_seconds_s1 = s.wall_seconds_s1 + d.wall_seconds_s1, wall_seconds_s2 = s.wall_seconds_s2 + d.wall_seconds_s2,
                 params_changed_n = s.params_changed_n + d.params_changed_n, params_changed_s1 = s.params_changed_s1 + d.params_changed_s1, params_changed_s2 = s.params_changed_s2 + d.params_changed_s2
          FROM d WHERE s.group_key = d.group_key
        RETURNING s.group_key)
  INSERT INTO leaderboard_sums
  SELECT d.group_key, d.n_rows, d.n_trials, d.n_paired, d.new_label, d.new_ff, d.forget_acc_n, d.forget_acc_s1, d.forget_acc_s2, d.retain_acc_n, d.retain_acc_s1, d.retain_acc_s2, d.test_acc_n, d.test_acc_s1, d.test_acc_s2, d.mia_n, d.mia_s1, d.mia_s2, d.d_forget_n, d.d_forget_s1, d.d_forget_s2, d.d_retain_n, d.d_retain_s1, d.d_retain_s2, d.d_test_n, d.d_test_s1, d.d_test_s2, d.d_mia_n, d.d_mia_s1, d.d_mia_s2, d.tow_n, d.tow_s1, d.tow_s2, d.gap_n, d.gap_s1, d.gap_s2, d.cost_rel_n, d.cost_rel_s1, d.cost_rel_s2, d.epochs_rel_n, d.epochs_rel_s1, d.epochs_rel_s2, d.wall_seconds_n, d.wall_seconds_s1, d.wall_seconds_s2, d.params_changed_n, d.params_changed_s1, d.params_changed_s2
    FROM d WHERE d.group_key NOT IN (SELECT u.group_key FROM u);

  WITH sd AS (SELECT c.group_key, x AS seed, sum(c.w)::bigint AS dw
                FROM (SELECT -1 AS w, o.group_key, o.seeds FROM unnest(p_old) o UNION ALL SELECT 1, n.group_key, n.seeds FROM unnest(p_new) n) c,
                     unnest(c.seeds) x
               GROUP BY c.group_key, x HAVING sum(c.w) <> 0)
  INSERT INTO leaderboard_seed_counts AS k (group_key, seed, n_rows) SELECT sd.group_key, sd.seed, sd.dw FROM sd
  ON CONFLICT (group_key, seed) DO UPDATE SET n_rows = k.n_rows + excluded.n_rows;
  DELETE FROM leaderboard_seed_counts WHERE group_key = ANY(keys) AND n_rows = 0;
  DELETE FROM leaderboard_sums WHERE group_key = ANY(keys) AND n_rows = 0;

  -- a non-finite value poisons a sum (NaN): recompute those groups from their rows
  bad := ARRAY(SELECT s.group_key FROM leaderboard_sums s
                WHERE s.group_key = ANY(keys) AND (forget_acc_s1 + forget_acc_s2 + retain_acc_s1 + retain_acc_s2 + test_acc_s1 + test_acc_s2 + mia_s1 + mia_s2 + d_forget_s1 + d_forget_s2 + d_retain_s1 + d_retain_s2 + d_test_s1 + d_test_s2 + d_mia_s1 + d_mia_s2 + tow_s1 + tow_s2 + gap_s1 + gap_s2 + cost_rel_s1 + cost_rel_s2 + epochs_rel_s1 + epochs_rel_s2 + wall_seconds_s1 + wall_seconds_s2 + params_changed_s1 + params_changed_s2) IN ('NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric));
  IF cardinality(bad) > 0 THEN PERFORM results_sums_rebuild(bad); END IF;
  PERFORM results_star_write(keys);
END $$;

-- Recompute the rows of the given groups in the given sweeps (a few trials each), then apply the change to the
-- all-sweeps rows. Locks as in 0004. The refresh functions run generic plans: their statements take arrays whose
-- contents the planner cannot use, and re-planning them at every call (the plan cache's custom plans) cost 4-5x
-- the execution (11 ms instead of 2.6 ms for a one-group refresh, measured at 10k metric rows). And without JIT:
-- at 10M metric rows the estimated cost of the sums update (its never-run fallback sub-selects over ~1,000 rows
-- per group) passes jit_above_cost, and compiling its expressions took ~400 ms of a 540 ms refresh (5.8 ms without).
CREATE OR REPLACE FUNCTION results_refresh_groups(p_sweeps text[], p_keys text[]) RETURNS void LANGUAGE plpgsql
  SET plan_cache_mode = force_generic_plan SET jit = off AS $$
DECLARE
  old_rows leaderboard_agg[];
  new_rows leaderboard_agg[];
BEGIN
  IF p_keys IS NULL OR cardinality(p_keys) = 0 OR p_sweeps IS NULL OR cardinality(p_sweeps) = 0 THEN RETURN; END IF;
  IF cardinality(p_keys) > 500 THEN
    PERFORM pg_advisory_xact_lock(734511, 0);
  ELSE
    PERFORM pg_advisory_xact_lock_shared(734511, 0);
    PERFORM pg_advisory_xact_lock(734511, hashtext(k)) FROM (SELECT DISTINCT unnest(p_keys) AS k ORDER BY 1) s;
  END IF;
  WITH d AS (DELETE FROM leaderboard_agg WHERE group_key = ANY(p_keys) AND sweep_id = ANY(p_sweeps) AND sweep_id <> '*' RETURNING *)
  SELECT coalesce(array_agg(ROW(d.*)::leaderboard_agg), '{}') INTO old_rows FROM d;
  WITH i AS (INSERT INTO leaderboard_agg SELECT * FROM leaderboard_stats(true, p_sweeps, p_keys) RETURNING *)
  SELECT coalesce(array_agg(ROW(i.*)::leaderboard_agg), '{}') INTO new_rows FROM i;
  PERFORM results_star_apply(old_rows, new_rows);
END $$;

CREATE OR REPLACE FUNCTION results_rebuild_leaderboard() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  all_keys text[] := ARRAY(SELECT DISTINCT group_key FROM trials);
BEGIN
  PERFORM pg_advisory_xact_lock(734511, 0);
  DELETE FROM leaderboard_agg;
  INSERT INTO leaderboard_agg SELECT * FROM leaderboard_stats(true, ARRAY(SELECT DISTINCT sweep_id FROM trials), all_keys);
  PERFORM results_sums_rebuild(NULL);
  PERFORM results_star_write(all_keys);
END $$;

-- Existing databases: the per-sweep rows are kept (0006 kept them current); the sums are built from them and the
-- all-sweeps rows rewritten from the sums.
SELECT results_sums_rebuild(NULL);
SELECT results_star_write(ARRAY(SELECT group_key FROM leaderboard_agg UNION SELECT group_key FROM leaderboard_sums));

-- the oracle's paired groups are looked up by results_refresh_changed (0006): no JIT there either
ALTER FUNCTION results_refresh_changed(results_changed[]) SET jit = off;
