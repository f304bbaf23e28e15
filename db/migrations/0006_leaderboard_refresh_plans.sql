-- 0006 (owner: results): a trial write refreshes the leaderboard in a few milliseconds.
-- Measured after 0004 (`npm run bench -- results-db`, 1M metric rows): a new trial took ~200 ms to record. Two causes:
--   * t975/ci95 were SQL functions with a sub-select, so PostgreSQL could not inline them and planned their body
--     at every call site of every refresh (28 per aggregated row): they are PL/pgSQL now (plans cached per session).
--   * the one aggregation read "argument IS NULL OR column = ANY(argument)", which only a plan made for the
--     arguments can use an index for, so every refresh was planned again (~20 ms for the all-sweeps combination).
--     The aggregation and the combination now take explicit arrays (the rebuild and the live check pass every
--     sweep and every group), so the refresh runs cached plans that look up one group of one sweep by index.
-- Rows are grouped by (scope, group key) alone; the descriptive columns are equal within a group by construction
-- (they are parts of the setting and method keys), and taking one of them never fails a write.

CREATE OR REPLACE FUNCTION t975(df bigint) RETURNS double precision LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  z constant double precision := 1.959963984540054;
BEGIN
  IF df < 1 THEN RETURN NULL; END IF;
  IF df <= 100 THEN
    RETURN (ARRAY[12.706204736175,4.302652729749,3.182446305284,2.776445105198,2.570581835636,2.446911851145,2.364624251593,2.306004135204,2.262157162798,2.228138851986,2.200985160092,2.178812829667,2.160368656463,2.144786687918,2.131449545560,2.119905299221,2.109815577833,2.100922040241,2.093024054408,2.085963447266,2.079613844728,2.073873067904,2.068657610419,2.063898561628,2.059538552753,2.055529438643,2.051830516480,2.048407141795,2.045229642133,2.042272456301,2.039513446396,2.036933343460,2.034515297449,2.032244509318,2.030107928250,2.028094000980,2.026192463029,2.024394163912,2.022690920037,2.021075390306,2.019540970441,2.018081702818,2.016692199228,2.015367574444,2.014103388881,2.012895598919,2.011740513730,2.010634757624,2.009575237129,2.008559112101,2.007583770316,2.006646805062,2.005745995318,2.004879288188,2.004044783289,2.003240718848,2.002465459291,2.001717484145,2.000995378088,2.000297822014,1.999623584995,1.998971517033,1.998340542521,1.997729654318,1.997137908392,1.996564418952,1.996008354025,1.995468931430,1.994945415107,1.994437111771,1.993943367846,1.993463566662,1.992997125890,1.992543495181,1.992102154002,1.991672609645,1.991254395388,1.990847068812,1.990450210230,1.990063421254,1.989686323457,1.989318557137,1.988959780175,1.988609666976,1.988267907477,1.987934206239,1.987608281589,1.987289864831,1.986978699506,1.986674540704,1.986377154419,1.986086316951,1.985801814346,1.985523441867,1.985251003506,1.984984311522,1.984723186014,1.984467454509,1.984216951586,1.983971518524]::double precision[])[df];
  END IF;
  RETURN z + (z^3 + z) / (4 * df) + (5 * z^5 + 16 * z^3 + 3 * z) / (96 * df^2)
           + (3 * z^7 + 19 * z^5 + 17 * z^3 - 15 * z) / (384 * df^3)
           + (79 * z^9 + 776 * z^7 + 1482 * z^5 - 1920 * z^3 - 945 * z) / (92160 * df^4);
END $$;

CREATE OR REPLACE FUNCTION ci95(sd double precision, n bigint) RETURNS double precision
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  IF n > 1 AND sd IS NOT NULL THEN RETURN t975(n - 1) * sd / sqrt(n); END IF;
  RETURN NULL;
END $$;

-- THE aggregation (unchanged but for its filters): completed trials with their oracle gaps → one row per group,
-- per sweep (p_per_sweep) or over the given sweeps together ('*').
CREATE OR REPLACE FUNCTION leaderboard_stats(p_per_sweep boolean, p_sweeps text[], p_keys text[]) RETURNS SETOF leaderboard_agg
  LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN p_per_sweep THEN g.sweep_id ELSE '*' END, g.group_key, min(g.setting_key), min(g.method_key), min(g.role), min(g.label),
         min(g.dataset), min(g.model), min(g.forget_kind), min(g.forget_fraction), min(g.algorithm), min(g.localization), min(g.alpha),
         (array_agg(g.hparams))[1], bool_and(g.is_oracle),
         count(*), count(DISTINCT g.seed), array_agg(DISTINCT g.seed ORDER BY g.seed), count(g.oracle_trial_id),
         avg(g.forget_acc), ci95(stddev_samp(g.forget_acc), count(g.forget_acc)), count(g.forget_acc), coalesce(var_samp(g.forget_acc) * (count(g.forget_acc) - 1), 0),
         avg(g.retain_acc), ci95(stddev_samp(g.retain_acc), count(g.retain_acc)), count(g.retain_acc), coalesce(var_samp(g.retain_acc) * (count(g.retain_acc) - 1), 0),
         avg(g.test_acc), ci95(stddev_samp(g.test_acc), count(g.test_acc)), count(g.test_acc), coalesce(var_samp(g.test_acc) * (count(g.test_acc) - 1), 0),
         avg(g.mia_efficacy), ci95(stddev_samp(g.mia_efficacy), count(g.mia_efficacy)), count(g.mia_efficacy), coalesce(var_samp(g.mia_efficacy) * (count(g.mia_efficacy) - 1), 0),
         avg(g.d_forget), ci95(stddev_samp(g.d_forget), count(g.d_forget)), count(g.d_forget), coalesce(var_samp(g.d_forget) * (count(g.d_forget) - 1), 0),
         avg(g.d_retain), ci95(stddev_samp(g.d_retain), count(g.d_retain)), count(g.d_retain), coalesce(var_samp(g.d_retain) * (count(g.d_retain) - 1), 0),
         avg(g.d_test), ci95(stddev_samp(g.d_test), count(g.d_test)), count(g.d_test), coalesce(var_samp(g.d_test) * (count(g.d_test) - 1), 0),
         avg(g.d_mia), ci95(stddev_samp(g.d_mia), count(g.d_mia)), count(g.d_mia), coalesce(var_samp(g.d_mia) * (count(g.d_mia) - 1), 0),
         avg(g.tow), ci95(stddev_samp(g.tow), count(g.tow)), count(g.tow), coalesce(var_samp(g.tow) * (count(g.tow) - 1), 0),
         avg(g.gap_score), ci95(stddev_samp(g.gap_score), count(g.gap_score)), count(g.gap_score), coalesce(var_samp(g.gap_score) * (count(g.gap_score) - 1), 0),
         avg(g.cost_rel), ci95(stddev_samp(g.cost_rel), count(g.cost_rel)), count(g.cost_rel), coalesce(var_samp(g.cost_rel) * (count(g.cost_rel) - 1), 0),
         avg(g.epochs_rel), ci95(stddev_samp(g.epochs_rel), count(g.epochs_rel)), count(g.epochs_rel), coalesce(var_samp(g.epochs_rel) * (count(g.epochs_rel) - 1), 0),
         avg(g.wall_seconds), ci95(stddev_samp(g.wall_seconds), count(g.wall_seconds)), count(g.wall_seconds), coalesce(var_samp(g.wall_seconds) * (count(g.wall_seconds) - 1), 0),
         avg(g.params_changed_fraction), ci95(stddev_samp(g.params_changed_fraction), count(g.params_changed_fraction)), count(g.params_changed_fraction), coalesce(var_samp(g.params_changed_fraction) * (count(g.params_changed_fraction) - 1), 0)
    FROM trial_gaps g
   WHERE g.sweep_id = ANY(p_sweeps) AND g.group_key = ANY(p_keys)
   GROUP BY 1, g.group_key
$$;

CREATE OR REPLACE FUNCTION leaderboard_combine(p_keys text[]) RETURNS SETOF leaderboard_agg LANGUAGE sql STABLE AS $$
  WITH s AS (SELECT * FROM leaderboard_agg WHERE group_key = ANY(p_keys) AND sweep_id <> '*'),
  c AS (
    SELECT group_key,
           sum(s.forget_acc_n)::bigint AS forget_acc_n, sum(s.forget_acc_n * s.forget_acc_mean) FILTER (WHERE s.forget_acc_n > 0) / nullif(sum(s.forget_acc_n), 0) AS forget_acc_mean,
           sum(s.retain_acc_n)::bigint AS retain_acc_n, sum(s.retain_acc_n * s.retain_acc_mean) FILTER (WHERE s.retain_acc_n > 0) / nullif(sum(s.retain_acc_n), 0) AS retain_acc_mean,
           sum(s.test_acc_n)::bigint AS test_acc_n, sum(s.test_acc_n * s.test_acc_mean) FILTER (WHERE s.test_acc_n > 0) / nullif(sum(s.test_acc_n), 0) AS test_acc_mean,
           sum(s.mia_n)::bigint AS mia_n, sum(s.mia_n * s.mia_mean) FILTER (WHERE s.mia_n > 0) / nullif(sum(s.mia_n), 0) AS mia_mean,
           sum(s.d_forget_n)::bigint AS d_forget_n, sum(s.d_forget_n * s.d_forget_mean) FILTER (WHERE s.d_forget_n > 0) / nullif(sum(s.d_forget_n), 0) AS d_forget_mean,
           sum(s.d_retain_n)::bigint AS d_retain_n, sum(s.d_retain_n * s.d_retain_mean) FILTER (WHERE s.d_retain_n > 0) / nullif(sum(s.d_retain_n), 0) AS d_retain_mean,
           sum(s.d_test_n)::bigint AS d_test_n, sum(s.d_test_n * s.d_test_mean) FILTER (WHERE s.d_test_n > 0) / nullif(sum(s.d_test_n), 0) AS d_test_mean,
           sum(s.d_mia_n)::bigint AS d_mia_n, sum(s.d_mia_n * s.d_mia_mean) FILTER (WHERE s.d_mia_n > 0) / nullif(sum(s.d_mia_n), 0) AS d_mia_mean,
           sum(s.tow_n)::bigint AS tow_n, sum(s.tow_n * s.tow_mean) FILTER (WHERE s.tow_n > 0) / nullif(sum(s.tow_n), 0) AS tow_mean,
           sum(s.gap_n)::bigint AS gap_n, sum(s.gap_n * s.gap_mean) FILTER (WHERE s.gap_n > 0) / nullif(sum(s.gap_n), 0) AS gap_mean,
           sum(s.cost_rel_n)::bigint AS cost_rel_n, sum(s.cost_rel_n * s.cost_rel_mean) FILTER (WHERE s.cost_rel_n > 0) / nullif(sum(s.cost_rel_n), 0) AS cost_rel_mean,
           sum(s.epochs_rel_n)::bigint AS epochs_rel_n, sum(s.epochs_rel_n * s.epochs_rel_mean) FILTER (WHERE s.epochs_rel_n > 0) / nullif(sum(s.epochs_rel_n), 0) AS epochs_rel_mean,
           sum(s.wall_seconds_n)::bigint AS wall_seconds_n, sum(s.wall_seconds_n * s.wall_seconds_mean) FILTER (WHERE s.wall_seconds_n > 0) / nullif(sum(s.wall_seconds_n), 0) AS wall_seconds_mean,
           sum(s.params_changed_n)::bigint AS params_changed_n, sum(s.params_changed_n * s.params_changed_mean) FILTER (WHERE s.params_changed_n > 0) / nullif(sum(s.params_changed_n), 0) AS params_changed_mean
      FROM s GROUP BY group_key),
  sd AS (SELECT s.group_key, array_agg(DISTINCT x ORDER BY x) AS seeds FROM s, unnest(s.seeds) x GROUP BY s.group_key)
  SELECT '*'::text, s.group_key, min(s.setting_key), min(s.method_key), min(s.role), min(s.label),
         min(s.dataset), min(s.model), min(s.forget_kind), min(s.forget_fraction), min(s.algorithm), min(s.localization), min(s.alpha),
         (array_agg(s.hparams))[1], bool_and(s.is_oracle),
         sum(s.n_trials)::bigint, cardinality(min(sd.seeds))::bigint, min(sd.seeds), sum(s.n_paired)::bigint,
         min(c.forget_acc_mean), ci95(sqrt((sum(s.forget_acc_m2) FILTER (WHERE s.forget_acc_n > 0) + coalesce(sum(s.forget_acc_n * (s.forget_acc_mean - c.forget_acc_mean) ^ 2) FILTER (WHERE s.forget_acc_n > 0), 0)) / nullif(min(c.forget_acc_n) - 1, 0)), min(c.forget_acc_n)), min(c.forget_acc_n), coalesce((sum(s.forget_acc_m2) FILTER (WHERE s.forget_acc_n > 0) + coalesce(sum(s.forget_acc_n * (s.forget_acc_mean - c.forget_acc_mean) ^ 2) FILTER (WHERE s.forget_acc_n > 0), 0)), 0),
         min(c.retain_acc_mean), ci95(sqrt((sum(s.retain_acc_m2) FILTER (WHERE s.retain_acc_n > 0) + coalesce(sum(s.retain_acc_n * (s.retain_acc_mean - c.retain_acc_mean) ^ 2) FILTER (WHERE s.retain_acc_n > 0), 0)) / nullif(min(c.retain_acc_n) - 1, 0)), min(c.retain_acc_n)), min(c.retain_acc_n), coalesce((sum(s.retain_acc_m2) FILTER (WHERE s.retain_acc_n > 0) + coalesce(sum(s.retain_acc_n * (s.retain_acc_mean - c.retain_acc_mean) ^ 2) FILTER (WHERE s.retain_acc_n > 0), 0)), 0),
         min(c.test_acc_mean), ci95(sqrt((sum(s.test_acc_m2) FILTER (WHERE s.test_acc_n > 0) + coalesce(sum(s.test_acc_n * (s.test_acc_mean - c.test_acc_mean) ^ 2) FILTER (WHERE s.test_acc_n > 0), 0)) / nullif(min(c.test_acc_n) - 1, 0)), min(c.test_acc_n)), min(c.test_acc_n), coalesce((sum(s.test_acc_m2) FILTER (WHERE s.test_acc_n > 0) + coalesce(sum(s.test_acc_n * (s.test_acc_mean - c.test_acc_mean) ^ 2) FILTER (WHERE s.test_acc_n > 0), 0)), 0),
         min(c.mia_mean), ci95(sqrt((sum(s.mia_m2) FILTER (WHERE s.mia_n > 0) + coalesce(sum(s.mia_n * (s.mia_mean - c.mia_mean) ^ 2) FILTER (WHERE s.mia_n > 0), 0)) / nullif(min(c.mia_n) - 1, 0)), min(c.mia_n)), min(c.mia_n), coalesce((sum(s.mia_m2) FILTER (WHERE s.mia_n > 0) + coalesce(sum(s.mia_n * (s.mia_mean - c.mia_mean) ^ 2) FILTER (WHERE s.mia_n > 0), 0)), 0),
         min(c.d_forget_mean), ci95(sqrt((sum(s.d_forget_m2) FILTER (WHERE s.d_forget_n > 0) + coalesce(sum(s.d_forget_n * (s.d_forget_mean - c.d_forget_mean) ^ 2) FILTER (WHERE s.d_forget_n > 0), 0)) / nullif(min(c.d_forget_n) - 1, 0)), min(c.d_forget_n)), min(c.d_forget_n), coalesce((sum(s.d_forget_m2) FILTER (WHERE s.d_forget_n > 0) + coalesce(sum(s.d_forget_n * (s.d_forget_mean - c.d_forget_mean) ^ 2) FILTER (WHERE s.d_forget_n > 0), 0)), 0),
         min(c.d_retain_mean), ci95(sqrt((sum(s.d_retain_m2) FILTER (WHERE s.d_retain_n > 0) + coalesce(sum(s.d_retain_n * (s.d_retain_mean - c.d_retain_mean) ^ 2) FILTER (WHERE s.d_retain_n > 0), 0)) / nullif(min(c.d_retain_n) - 1, 0)), min(c.d_retain_n)), min(c.d_retain_n), coalesce((sum(s.d_retain_m2) FILTER (WHERE s.d_retain_n > 0) + coalesce(sum(s.d_retain_n * (s.d_retain_mean - c.d_retain_mean) ^ 2) FILTER (WHERE s.d_retain_n > 0), 0)), 0),
         min(c.d_test_mean), ci95(sqrt((sum(s.d_test_m2) FILTER (WHERE s.d_test_n > 0) + coalesce(sum(s.d_test_n * (s.d_test_mean - c.d_test_mean) ^ 2) FILTER (WHERE s.d_test_n > 0), 0)) / nullif(min(c.d_test_n) - 1, 0)), min(c.d_test_n)), min(c.d_test_n), coalesce((sum(s.d_test_m2) FILTER (WHERE s.d_test_n > 0) + coalesce(sum(s.d_test_n * (s.d_test_mean - c.d_test_mean) ^ 2) FILTER (WHERE s.d_test_n > 0), 0)), 0),
         min(c.d_mia_mean), ci95(sqrt((sum(s.d_mia_m2) FILTER (WHERE s.d_mia_n > 0) + coalesce(sum(s.d_mia_n * (s.d_mia_mean - c.d_mia_mean) ^ 2) FILTER (WHERE s.d_mia_n > 0), 0)) / nullif(min(c.d_mia_n) - 1, 0)), min(c.d_mia_n)), min(c.d_mia_n), coalesce((sum(s.d_mia_m2) FILTER (WHERE s.d_mia_n > 0) + coalesce(sum(s.d_mia_n * (s.d_mia_mean - c.d_mia_mean) ^ 2) FILTER (WHERE s.d_mia_n > 0), 0)), 0),
         min(c.tow_mean), ci95(sqrt((sum(s.tow_m2) FILTER (WHERE s.tow_n > 0) + coalesce(sum(s.tow_n * (s.tow_mean - c.tow_mean) ^ 2) FILTER (WHERE s.tow_n > 0), 0)) / nullif(min(c.tow_n) - 1, 0)), min(c.tow_n)), min(c.tow_n), coalesce((sum(s.tow_m2) FILTER (WHERE s.tow_n > 0) + coalesce(sum(s.tow_n * (s.tow_mean - c.tow_mean) ^ 2) FILTER (WHERE s.tow_n > 0), 0)), 0),
         min(c.gap_mean), ci95(sqrt((sum(s.gap_m2) FILTER (WHERE s.gap_n > 0) + coalesce(sum(s.gap_n * (s.gap_mean - c.gap_mean) ^ 2) FILTER (WHERE s.gap_n > 0), 0)) / nullif(min(c.gap_n) - 1, 0)), min(c.gap_n)), min(c.gap_n), coalesce((sum(s.gap_m2) FILTER (WHERE s.gap_n > 0) + coalesce(sum(s.gap_n * (s.gap_mean - c.gap_mean) ^ 2) FILTER (WHERE s.gap_n > 0), 0)), 0),
         min(c.cost_rel_mean), ci95(sqrt((sum(s.cost_rel_m2) FILTER (WHERE s.cost_rel_n > 0) + coalesce(sum(s.cost_rel_n * (s.cost_rel_mean - c.cost_rel_mean) ^ 2) FILTER (WHERE s.cost_rel_n > 0), 0)) / nullif(min(c.cost_rel_n) - 1, 0)), min(c.cost_rel_n)), min(c.cost_rel_n), coalesce((sum(s.cost_rel_m2) FILTER (WHERE s.cost_rel_n > 0) + coalesce(sum(s.cost_rel_n * (s.cost_rel_mean - c.cost_rel_mean) ^ 2) FILTER (WHERE s.cost_rel_n > 0), 0)), 0),
         min(c.epochs_rel_mean), ci95(sqrt((sum(s.epochs_rel_m2) FILTER (WHERE s.epochs_rel_n > 0) + coalesce(sum(s.epochs_rel_n * (s.epochs_rel_mean - c.epochs_rel_mean) ^ 2) FILTER (WHERE s.epochs_rel_n > 0), 0)) / nullif(min(c.epochs_rel_n) - 1, 0)), min(c.epochs_rel_n)), min(c.epochs_rel_n), coalesce((sum(s.epochs_rel_m2) FILTER (WHERE s.epochs_rel_n > 0) + coalesce(sum(s.epochs_rel_n * (s.epochs_rel_mean - c.epochs_rel_mean) ^ 2) FILTER (WHERE s.epochs_rel_n > 0), 0)), 0),
         min(c.wall_seconds_mean), ci95(sqrt((sum(s.wall_seconds_m2) FILTER (WHERE s.wall_seconds_n > 0) + coalesce(sum(s.wall_seconds_n * (s.wall_seconds_mean - c.wall_seconds_mean) ^ 2) FILTER (WHERE s.wall_seconds_n > 0), 0)) / nullif(min(c.wall_seconds_n) - 1, 0)), min(c.wall_seconds_n)), min(c.wall_seconds_n), coalesce((sum(s.wall_seconds_m2) FILTER (WHERE s.wall_seconds_n > 0) + coalesce(sum(s.wall_seconds_n * (s.wall_seconds_mean - c.wall_seconds_mean) ^ 2) FILTER (WHERE s.wall_seconds_n > 0), 0)), 0),
         min(c.params_changed_mean), ci95(sqrt((sum(s.params_changed_m2) FILTER (WHERE s.params_changed_n > 0) + coalesce(sum(s.params_changed_n * (s.params_changed_mean - c.params_changed_mean) ^ 2) FILTER (WHERE s.params_changed_n > 0), 0)) / nullif(min(c.params_changed_n) - 1, 0)), min(c.params_changed_n)), min(c.params_changed_n), coalesce((sum(s.params_changed_m2) FILTER (WHERE s.params_changed_n > 0) + coalesce(sum(s.params_changed_n * (s.params_changed_mean - c.params_changed_mean) ^ 2) FILTER (WHERE s.params_changed_n > 0), 0)), 0)
    FROM s JOIN c ON c.group_key = s.group_key LEFT JOIN sd ON sd.group_key = s.group_key
   GROUP BY s.group_key
$$;

CREATE OR REPLACE FUNCTION results_refresh_groups(p_sweeps text[], p_keys text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_keys IS NULL OR cardinality(p_keys) = 0 OR p_sweeps IS NULL OR cardinality(p_sweeps) = 0 THEN RETURN; END IF;
  IF cardinality(p_keys) > 500 THEN
    PERFORM pg_advisory_xact_lock(734511, 0);
  ELSE
    PERFORM pg_advisory_xact_lock_shared(734511, 0);
    PERFORM pg_advisory_xact_lock(734511, hashtext(k)) FROM (SELECT DISTINCT unnest(p_keys) AS k ORDER BY 1) s;
  END IF;
  DELETE FROM leaderboard_agg WHERE group_key = ANY(p_keys) AND sweep_id = ANY(p_sweeps);
  INSERT INTO leaderboard_agg SELECT * FROM leaderboard_stats(true, p_sweeps, p_keys);
  DELETE FROM leaderboard_agg WHERE group_key = ANY(p_keys) AND sweep_id = '*';
  INSERT INTO leaderboard_agg SELECT * FROM leaderboard_combine(p_keys);
END $$;

-- The oracle's paired groups are looked up only when an oracle changed.
CREATE OR REPLACE FUNCTION results_refresh_changed(p results_changed[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  keys text[];
BEGIN
  IF p IS NULL OR cardinality(p) = 0 THEN RETURN; END IF;
  keys := ARRAY(SELECT DISTINCT c.group_key FROM unnest(p) c);
  IF EXISTS (SELECT 1 FROM unnest(p) c WHERE c.role = 'oracle') THEN
    keys := ARRAY(SELECT k FROM unnest(keys) k
                  UNION SELECT t.group_key FROM (SELECT DISTINCT c.sweep_id, c.setting_key FROM unnest(p) c WHERE c.role = 'oracle') o
                                           JOIN trials t ON t.sweep_id = o.sweep_id AND t.setting_key = o.setting_key);
  END IF;
  PERFORM results_refresh_groups(ARRAY(SELECT DISTINCT c.sweep_id FROM unnest(p) c), keys);
END $$;

CREATE OR REPLACE FUNCTION results_rebuild_leaderboard() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  all_keys text[] := ARRAY(SELECT DISTINCT group_key FROM trials);
BEGIN
  PERFORM pg_advisory_xact_lock(734511, 0);
  DELETE FROM leaderboard_agg;
  INSERT INTO leaderboard_agg SELECT * FROM leaderboard_stats(true, ARRAY(SELECT DISTINCT sweep_id FROM trials), all_keys);
  INSERT INTO leaderboard_agg SELECT * FROM leaderboard_combine(all_keys);
END $$;

CREATE OR REPLACE FUNCTION leaderboard_live_for(p_sweep text, p_dataset text, p_forget_kind text)
RETURNS TABLE (
  setting_key text, method_key text, role text, label text, setting_summary text, method_summary text,
  dataset text, model text, forget_kind text, forget_fraction double precision, algorithm text,
  localization text, alpha double precision, hparams jsonb, is_oracle boolean,
  n_trials bigint, n_seeds bigint, n_paired bigint,
  forget_acc_mean double precision, forget_acc_ci double precision,
  retain_acc_mean double precision, retain_acc_ci double precision,
  test_acc_mean double precision, test_acc_ci double precision,
  mia_mean double precision, mia_ci double precision,
  d_forget_mean double precision, d_forget_ci double precision,
  d_retain_mean double precision, d_retain_ci double precision,
  d_test_mean double precision, d_test_ci double precision,
  d_mia_mean double precision, d_mia_ci double precision,
  tow_mean double precision, tow_ci double precision,
  gap_mean double precision, gap_ci double precision,
  cost_rel_mean double precision, cost_rel_ci double precision,
  epochs_rel_mean double precision, epochs_rel_ci double precision,
  wall_seconds_mean double precision, wall_seconds_ci double precision,
  params_changed_mean double precision, params_changed_ci double precision
) LANGUAGE sql STABLE AS $$
  SELECT a.setting_key, a.method_key, a.role, a.label, st.summary, mt.summary,
         a.dataset, a.model, a.forget_kind, a.forget_fraction, a.algorithm, a.localization, a.alpha, a.hparams, a.is_oracle, a.n_trials, a.n_seeds, a.n_paired,
         a.forget_acc_mean, a.forget_acc_ci, a.retain_acc_mean, a.retain_acc_ci, a.test_acc_mean, a.test_acc_ci, a.mia_mean, a.mia_ci, a.d_forget_mean, a.d_forget_ci, a.d_retain_mean, a.d_retain_ci, a.d_test_mean, a.d_test_ci, a.d_mia_mean, a.d_mia_ci, a.tow_mean, a.tow_ci, a.gap_mean, a.gap_ci, a.cost_rel_mean, a.cost_rel_ci, a.epochs_rel_mean, a.epochs_rel_ci, a.wall_seconds_mean, a.wall_seconds_ci, a.params_changed_mean, a.params_changed_ci
    FROM leaderboard_stats(p_sweep IS NOT NULL,
                           CASE WHEN p_sweep IS NULL THEN ARRAY(SELECT DISTINCT sweep_id FROM trials) ELSE ARRAY[p_sweep] END,
                           ARRAY(SELECT DISTINCT group_key FROM trials)) a
    LEFT JOIN settings st ON st.key = a.setting_key
    LEFT JOIN methods mt ON mt.key = a.method_key
   WHERE (p_dataset IS NULL OR a.dataset = p_dataset)
     AND (p_forget_kind IS NULL OR a.forget_kind = p_forget_kind)
$$;
