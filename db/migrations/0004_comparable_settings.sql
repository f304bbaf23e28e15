-- 0004 (owner: results): comparable settings, explicit trial roles, provenance; one aggregation definition.
--
-- Before: leaderboard rows grouped by (dataset, model, forget kind, fraction, algorithm label, localization, α,
-- hparams), so runs on different subsets, widths, recipes or forget classes shared a row; the role of a trial
-- came from its label; the oracle pairing was shared across sweeps. Now:
--   * trials.role ('original' | 'oracle' | 'method'), algorithm (registry name; NULL for the original) and label
--     (display) are separate columns written by the planner; is_oracle is generated from role.
--   * trials.setting_key / method_key (sweep/keys.ts) with their specs and readable summaries in `settings` and
--     `methods`; group_key = setting_key:method_key is generated. A leaderboard row is one group.
--   * a trial is paired with the latest completed oracle of its own sweep with the same setting and seed:
--     another sweep can never change its Δ-to-oracle.
--   * leaderboard_stats() is the one definition of the aggregation (trials → mean, 95% t-interval, n, M2 per
--     measure); leaderboard_agg keeps its per-sweep rows, and the all-sweeps rows ('*') are combined from them
--     (exact pooled mean and M2), so a write re-aggregates only its own sweep's few trials.
--   * provenance (code version, stage versions, backend and device, worker host) per trial.
-- Existing rows are kept and re-keyed from the stage rows that made them (see the backfill below).

DROP TRIGGER IF EXISTS trials_agg_ins ON trials;
DROP TRIGGER IF EXISTS trials_agg_upd ON trials;
DROP TRIGGER IF EXISTS trials_agg_del ON trials;
DROP TRIGGER IF EXISTS trials_group_key ON trials;
DROP VIEW IF EXISTS leaderboard;
DROP FUNCTION IF EXISTS leaderboard_for(text, text, text);
DROP FUNCTION IF EXISTS leaderboard_live_for(text, text, text);
DROP VIEW IF EXISTS trial_gaps;
DROP VIEW IF EXISTS metrics_wide;
DROP FUNCTION IF EXISTS results_trials_group_key_trg();
DROP FUNCTION IF EXISTS results_group_key(text, text, text, double precision, text, text, double precision, jsonb, boolean);

-- What a setting and a method are, by key (written when a sweep is prepared, or by recordTrial).
CREATE TABLE IF NOT EXISTS settings (
  key        text PRIMARY KEY,
  spec       jsonb NOT NULL,
  summary    text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS methods (
  key        text PRIMARY KEY,
  spec       jsonb NOT NULL,
  summary    text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE trials ADD COLUMN IF NOT EXISTS role text;
ALTER TABLE trials ADD COLUMN IF NOT EXISTS label text;
ALTER TABLE trials ADD COLUMN IF NOT EXISTS setting_key text;
ALTER TABLE trials ADD COLUMN IF NOT EXISTS method_key text;
ALTER TABLE trials ADD COLUMN IF NOT EXISTS provenance jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE trials ADD COLUMN IF NOT EXISTS code_version text;
ALTER TABLE trials ADD COLUMN IF NOT EXISTS backend text;
ALTER TABLE trials ADD COLUMN IF NOT EXISTS worker_host text;
ALTER TABLE trials ALTER COLUMN algorithm DROP NOT NULL;

-- Backfill of rows written before this migration. The old planner wrote the label into `algorithm`, the
-- original as 'original' and the oracle with is_oracle: that is read here once, never again. The setting is
-- rebuilt from the stage rows that made the trial (train.original: data set + subset + params, model + params,
-- recipe; forgetset.select: the forget-set spec; evaluate: the evaluation settings); a trial whose stage rows
-- are gone is keyed by its recipe key (data set + subset + params, model + params, recipe), forget kind and
-- fraction, and says so in its summary. Legacy keys start with 'legacy-': no stage versions were recorded
-- then, so legacy rows never merge with rows written by the current code.
CREATE TEMP TABLE legacy_keys ON COMMIT DROP AS
SELECT t.id,
       CASE WHEN t.is_oracle THEN 'oracle' WHEN t.algorithm = 'original' THEN 'original' ELSE 'method' END AS role,
       CASE WHEN t.is_oracle THEN 'retrain' WHEN t.algorithm = 'original' THEN NULL
            ELSE coalesce(u.params ->> 'algorithm', t.algorithm) END AS algorithm,
       t.algorithm AS label,
       CASE WHEN o.params IS NOT NULL AND f.params IS NOT NULL THEN jsonb_build_object(
              'legacy', true,
              'dataset', o.params -> 'dataset', 'model', o.params -> 'model', 'recipe', (o.params -> 'recipe') - 'name',
              'forgetSet', jsonb_build_object('kind', f.params -> 'kind', 'fraction', f.params -> 'fraction', 'count', f.params -> 'count',
                                              'classes', f.params -> 'classes', 'params', f.params -> 'params'),
              'evaluation', coalesce((e.params -> 'evaluation') - 'perExample', 'null'::jsonb),
              'compute', coalesce(o.params -> 'compute', '"ml"'::jsonb))
            ELSE jsonb_build_object('legacy', true, 'unverified', true, 'dataset', t.dataset, 'model', t.model,
              'recipeKey', t.recipe_key, 'forgetKind', t.forget_kind, 'forgetFraction', t.forget_fraction) END AS setting,
       (o.params -> 'recipe') ->> 'name' AS recipe_name
  FROM trials t
  LEFT JOIN stages o ON o.key = t.stage_keys ->> 'train.original'
  LEFT JOIN stages f ON f.key = t.stage_keys ->> 'forgetset.select'
  LEFT JOIN stages e ON e.key = t.stage_keys ->> 'evaluate'
  LEFT JOIN stages u ON u.key = t.stage_keys ->> 'unlearn'
 WHERE t.role IS NULL;

ALTER TABLE legacy_keys ADD COLUMN method jsonb;
UPDATE legacy_keys l SET method = jsonb_build_object('legacy', true, 'role', l.role, 'algorithm', l.algorithm,
         'localization', CASE WHEN t.localization IS NULL THEN NULL ELSE jsonb_build_object('strategy', t.localization, 'alpha', t.alpha) END,
         'hparams', t.hparams)
  FROM trials t WHERE t.id = l.id;

INSERT INTO settings (key, spec, summary)
SELECT DISTINCT ON (k) k, setting,
       CASE WHEN setting ? 'unverified'
            THEN format('legacy (stage rows missing): %s | %s | recipe %s | forget %s %s', setting ->> 'dataset', setting ->> 'model',
                        left(setting ->> 'recipeKey', 8), setting ->> 'forgetKind', setting ->> 'forgetFraction')
            ELSE format('legacy: %s %s | %s %s | %s%s | forget %s', setting -> 'dataset' ->> 'id',
                        coalesce(setting -> 'dataset' ->> 'subset', 'full'), setting -> 'model' ->> 'id', setting -> 'model' ->> 'params',
                        coalesce(recipe_name || ': ', ''), setting ->> 'recipe', setting ->> 'forgetSet') END
  FROM (SELECT 'legacy-' || md5(setting::text) AS k, setting, recipe_name FROM legacy_keys) s
ON CONFLICT (key) DO NOTHING;
INSERT INTO methods (key, spec, summary)
SELECT DISTINCT ON (k) k, method,
       CASE method ->> 'role' WHEN 'oracle' THEN 'retrain on the retain set (oracle)' WHEN 'original' THEN 'original model'
            ELSE concat_ws(' ', method ->> 'algorithm', (method -> 'localization' ->> 'strategy') || ' α=' || (method -> 'localization' ->> 'alpha'),
                           nullif(method ->> 'hparams', '{}')) END
  FROM (SELECT 'legacy-' || md5(method::text) AS k, method FROM legacy_keys) s
ON CONFLICT (key) DO NOTHING;

UPDATE trials t
   SET role = l.role, algorithm = l.algorithm, label = coalesce(l.label, l.role),
       setting_key = 'legacy-' || md5(l.setting::text), method_key = 'legacy-' || md5(l.method::text),
       provenance = jsonb_build_object('legacy', true, 'note', 'recorded before provenance was kept')
  FROM legacy_keys l WHERE l.id = t.id;

ALTER TABLE trials DROP COLUMN IF EXISTS is_oracle;
ALTER TABLE trials DROP COLUMN IF EXISTS group_key;
ALTER TABLE trials ALTER COLUMN role SET NOT NULL;
ALTER TABLE trials ALTER COLUMN label SET NOT NULL;
ALTER TABLE trials ALTER COLUMN setting_key SET NOT NULL;
ALTER TABLE trials ALTER COLUMN method_key SET NOT NULL;
ALTER TABLE trials ADD CONSTRAINT trials_role_check CHECK (role IN ('original', 'oracle', 'method'));
ALTER TABLE trials ADD CONSTRAINT trials_algorithm_check CHECK (role = 'original' OR algorithm IS NOT NULL);
ALTER TABLE trials ADD COLUMN is_oracle boolean GENERATED ALWAYS AS (role = 'oracle') STORED;
ALTER TABLE trials ADD COLUMN group_key text GENERATED ALWAYS AS (setting_key || ':' || method_key) STORED;
DROP INDEX IF EXISTS trials_pairing_idx;
CREATE INDEX IF NOT EXISTS trials_group_key_idx ON trials (group_key, sweep_id);
CREATE INDEX IF NOT EXISTS trials_setting_idx ON trials (sweep_id, setting_key);
CREATE INDEX IF NOT EXISTS trials_oracle_pair_idx ON trials (sweep_id, setting_key, seed, updated_at DESC, id)
  WHERE role = 'oracle' AND status = 'completed';

-- Each completed trial with the latest completed oracle of its own sweep, setting and seed.
-- Gaps are oracle minus trial (Δ_X = X_oracle − X_u).
CREATE VIEW trial_gaps AS
SELECT u.id AS trial_id, u.sweep_id, u.role, u.label, u.setting_key, u.method_key, u.group_key,
       u.dataset, u.model, u.recipe_key, u.forget_set_key, u.forget_kind, u.forget_fraction, u.algorithm, u.localization,
       u.alpha, u.hparams, u.seed, u.is_oracle,
       u.forget_acc, u.retain_acc, u.test_acc, u.mia_efficacy, u.wall_seconds, u.epochs, u.params_changed_fraction,
       o.id AS oracle_trial_id,
       o.forget_acc - u.forget_acc     AS d_forget,
       o.retain_acc - u.retain_acc     AS d_retain,
       o.test_acc - u.test_acc         AS d_test,
       o.mia_efficacy - u.mia_efficacy AS d_mia,
       (1 - abs(u.forget_acc - o.forget_acc)) * (1 - abs(u.retain_acc - o.retain_acc))
         * (1 - abs(u.test_acc - o.test_acc)) AS tow,
       (abs(o.forget_acc - u.forget_acc) + abs(o.test_acc - u.test_acc) + abs(o.mia_efficacy - u.mia_efficacy)) / 3
         AS gap_score,
       u.wall_seconds / nullif(o.wall_seconds, 0) AS cost_rel,
       u.epochs / nullif(o.epochs, 0)             AS epochs_rel
  FROM trials u
  LEFT JOIN LATERAL (
    SELECT x.id, x.forget_acc, x.retain_acc, x.test_acc, x.mia_efficacy, x.wall_seconds, x.epochs
      FROM trials x
     WHERE x.role = 'oracle' AND x.status = 'completed'
       AND x.sweep_id = u.sweep_id AND x.setting_key = u.setting_key AND x.seed = u.seed
     ORDER BY x.updated_at DESC, x.id
     LIMIT 1) o ON true
 WHERE u.status = 'completed';

CREATE VIEW metrics_wide AS
SELECT t.id AS trial_id, t.sweep_id, t.role, t.label, t.setting_key, t.method_key, t.dataset, t.model, t.forget_kind,
       t.forget_fraction, t.algorithm, t.localization, t.alpha, t.hparams, t.seed, t.is_oracle, t.status,
       t.forget_acc, t.retain_acc, t.test_acc, t.mia_efficacy,
       max(m.value) FILTER (WHERE m.split = 'forget' AND m.name = 'loss') AS forget_loss,
       max(m.value) FILTER (WHERE m.split = 'retain' AND m.name = 'loss') AS retain_loss,
       max(m.value) FILTER (WHERE m.split = 'test'   AND m.name = 'loss') AS test_loss,
       coalesce(jsonb_object_agg(m.split || '.' || m.name, m.value) FILTER (WHERE m.trial_id IS NOT NULL), '{}'::jsonb) AS "values"
  FROM trials t LEFT JOIN metrics m ON m.trial_id = t.id
 GROUP BY t.id;

-- The maintained leaderboard: one row per (sweep, group) and per group over all sweeps ('*'). For each measure
-- X: X_mean, X_ci (half-width of the 95% t-interval), and X_n, X_m2 (count and sum of squared deviations) from
-- which the all-sweeps rows are combined.
DROP TABLE IF EXISTS leaderboard_agg;
CREATE TABLE leaderboard_agg (
  sweep_id text NOT NULL,  -- '*': all sweeps together (combined from the per-sweep rows)
  group_key text NOT NULL,
  setting_key text NOT NULL,
  method_key text NOT NULL,
  role text NOT NULL,
  label text,
  dataset text,
  model text,
  forget_kind text,
  forget_fraction double precision,
  algorithm text,
  localization text,
  alpha double precision,
  hparams jsonb,
  is_oracle boolean,
  n_trials bigint,
  n_seeds bigint,
  seeds integer[],
  n_paired bigint,
  forget_acc_mean double precision, forget_acc_ci double precision, forget_acc_n bigint, forget_acc_m2 double precision,
  retain_acc_mean double precision, retain_acc_ci double precision, retain_acc_n bigint, retain_acc_m2 double precision,
  test_acc_mean double precision, test_acc_ci double precision, test_acc_n bigint, test_acc_m2 double precision,
  mia_mean double precision, mia_ci double precision, mia_n bigint, mia_m2 double precision,
  d_forget_mean double precision, d_forget_ci double precision, d_forget_n bigint, d_forget_m2 double precision,
  d_retain_mean double precision, d_retain_ci double precision, d_retain_n bigint, d_retain_m2 double precision,
  d_test_mean double precision, d_test_ci double precision, d_test_n bigint, d_test_m2 double precision,
  d_mia_mean double precision, d_mia_ci double precision, d_mia_n bigint, d_mia_m2 double precision,
  tow_mean double precision, tow_ci double precision, tow_n bigint, tow_m2 double precision,
  gap_mean double precision, gap_ci double precision, gap_n bigint, gap_m2 double precision,
  cost_rel_mean double precision, cost_rel_ci double precision, cost_rel_n bigint, cost_rel_m2 double precision,
  epochs_rel_mean double precision, epochs_rel_ci double precision, epochs_rel_n bigint, epochs_rel_m2 double precision,
  wall_seconds_mean double precision, wall_seconds_ci double precision, wall_seconds_n bigint, wall_seconds_m2 double precision,
  params_changed_mean double precision, params_changed_ci double precision, params_changed_n bigint, params_changed_m2 double precision,
  PRIMARY KEY (sweep_id, group_key)
);
CREATE INDEX leaderboard_agg_filter_idx ON leaderboard_agg (sweep_id, dataset, forget_kind);
CREATE INDEX leaderboard_agg_group_idx ON leaderboard_agg (group_key, sweep_id);

-- THE aggregation (the one definition): completed trials with their oracle gaps → one row per group, per sweep
-- (p_per_sweep) or over the given sweeps together ('*'). NULL arrays mean "all".
CREATE FUNCTION leaderboard_stats(p_per_sweep boolean, p_sweeps text[], p_keys text[]) RETURNS SETOF leaderboard_agg
  LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN p_per_sweep THEN g.sweep_id ELSE '*' END, g.group_key, g.setting_key, g.method_key, g.role, min(g.label),
         g.dataset, g.model, g.forget_kind, g.forget_fraction, g.algorithm, g.localization, g.alpha, g.hparams, g.is_oracle,
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
   WHERE (p_sweeps IS NULL OR g.sweep_id = ANY(p_sweeps))
     AND (p_keys IS NULL OR g.group_key = ANY(p_keys))
   GROUP BY 1, g.group_key, g.setting_key, g.method_key, g.role, g.dataset, g.model, g.forget_kind, g.forget_fraction,
            g.algorithm, g.localization, g.alpha, g.hparams, g.is_oracle
$$;

-- The all-sweeps rows of the given groups, combined from their per-sweep rows: n = Σ nᵢ, mean = Σ nᵢ·meanᵢ / n,
-- M2 = Σ M2ᵢ + Σ nᵢ·(meanᵢ − mean)² (exact; equal to aggregating the trials directly, up to rounding).
CREATE FUNCTION leaderboard_combine(p_keys text[]) RETURNS SETOF leaderboard_agg LANGUAGE sql STABLE AS $$
  WITH s AS (SELECT * FROM leaderboard_agg WHERE sweep_id <> '*' AND (p_keys IS NULL OR group_key = ANY(p_keys))),
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
  SELECT '*'::text, s.group_key, s.setting_key, s.method_key, s.role, min(s.label),
         s.dataset, s.model, s.forget_kind, s.forget_fraction, s.algorithm, s.localization, s.alpha, s.hparams, s.is_oracle,
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
   GROUP BY s.group_key, s.setting_key, s.method_key, s.role, s.dataset, s.model, s.forget_kind, s.forget_fraction,
            s.algorithm, s.localization, s.alpha, s.hparams, s.is_oracle
$$;

-- Recompute the rows of the given groups in the given sweeps, then their all-sweeps rows. Writers of one group
-- are serialised by a transaction advisory lock per group key (taken in sorted order); very large refreshes take
-- one exclusive lock instead.
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

-- Which groups a change of completed trials can affect: their own, and for an oracle every group of its sweep
-- and setting (the trials paired with it). Rows that are not completed change no leaderboard row.
DROP TYPE IF EXISTS results_changed CASCADE;
CREATE TYPE results_changed AS (sweep_id text, setting_key text, group_key text, role text);
CREATE FUNCTION results_refresh_changed(p results_changed[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p IS NULL OR cardinality(p) = 0 THEN RETURN; END IF;
  PERFORM results_refresh_groups(
    ARRAY(SELECT DISTINCT c.sweep_id FROM unnest(p) c),
    ARRAY(SELECT c.group_key FROM unnest(p) c
          UNION SELECT t.group_key FROM unnest(p) c JOIN trials t
                  ON c.role = 'oracle' AND t.sweep_id = c.sweep_id AND t.setting_key = c.setting_key));
END $$;
CREATE OR REPLACE FUNCTION results_trials_new_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM results_refresh_changed(ARRAY(SELECT ROW(sweep_id, setting_key, group_key, role)::results_changed
                                          FROM new_rows WHERE status = 'completed'));
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION results_trials_upd_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM results_refresh_changed(ARRAY(SELECT ROW(sweep_id, setting_key, group_key, role)::results_changed
                                          FROM (SELECT sweep_id, setting_key, group_key, role, status FROM new_rows
                                                UNION SELECT sweep_id, setting_key, group_key, role, status FROM old_rows) r
                                         WHERE status = 'completed'));
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION results_trials_del_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM results_refresh_changed(ARRAY(SELECT ROW(sweep_id, setting_key, group_key, role)::results_changed
                                          FROM old_rows WHERE status = 'completed'));
  RETURN NULL;
END $$;
CREATE TRIGGER trials_agg_ins AFTER INSERT ON trials REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION results_trials_new_trg();
CREATE TRIGGER trials_agg_upd AFTER UPDATE ON trials REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION results_trials_upd_trg();
CREATE TRIGGER trials_agg_del AFTER DELETE ON trials REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION results_trials_del_trg();

-- Rebuild everything (after a bulk load with triggers disabled, or to check): SELECT results_rebuild_leaderboard();
CREATE OR REPLACE FUNCTION results_rebuild_leaderboard() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(734511, 0);
  DELETE FROM leaderboard_agg;
  INSERT INTO leaderboard_agg SELECT * FROM leaderboard_stats(true, NULL, NULL);
  INSERT INTO leaderboard_agg SELECT * FROM leaderboard_combine(NULL);
END $$;
SELECT results_rebuild_leaderboard();

-- Leaderboard rows for readers: the maintained rows (leaderboard_for) or the direct aggregation
-- (leaderboard_live_for: slow at scale, used by the tests to check the maintained rows), with the setting's and
-- the method's readable summaries. NULL filter arguments mean "all"; no sweep = across sweeps.
CREATE FUNCTION leaderboard_for(p_sweep text, p_dataset text, p_forget_kind text)
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
    FROM leaderboard_agg a
    LEFT JOIN settings st ON st.key = a.setting_key
    LEFT JOIN methods mt ON mt.key = a.method_key
   WHERE a.sweep_id = coalesce(p_sweep, '*')
     AND (p_dataset IS NULL OR a.dataset = p_dataset)
     AND (p_forget_kind IS NULL OR a.forget_kind = p_forget_kind)
$$;
CREATE FUNCTION leaderboard_live_for(p_sweep text, p_dataset text, p_forget_kind text)
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
    FROM leaderboard_stats(p_sweep IS NOT NULL, CASE WHEN p_sweep IS NULL THEN NULL ELSE ARRAY[p_sweep] END, NULL) a
    LEFT JOIN settings st ON st.key = a.setting_key
    LEFT JOIN methods mt ON mt.key = a.method_key
   WHERE (p_dataset IS NULL OR a.dataset = p_dataset)
     AND (p_forget_kind IS NULL OR a.forget_kind = p_forget_kind)
$$;
CREATE VIEW leaderboard AS SELECT * FROM leaderboard_for(NULL, NULL, NULL);
