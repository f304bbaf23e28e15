-- 0003: a maintained leaderboard aggregate (owner: results). Aggregating trial_gaps at query time costs
-- ~0.2 s at 100k metric rows and grows linearly, so the leaderboard is kept precomputed in leaderboard_agg:
-- one row per (sweep, configuration) and one per configuration over all sweeps (sweep_id '*'). Triggers on
-- `trials` recompute exactly the rows a write can change (the trial's configuration, and when the trial is an
-- oracle every configuration paired with it), so the table is always fresh inside the writing transaction.
-- leaderboard_for() now reads it; leaderboard_live_for() keeps the direct aggregation (tests compare both).

-- Grouping key of a configuration (exact: floats by their bytes, hparams by canonical jsonb text).
CREATE OR REPLACE FUNCTION results_group_key(dataset text, model text, forget_kind text, forget_fraction double precision,
    algorithm text, localization text, alpha double precision, hparams jsonb, is_oracle boolean)
  RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT md5(dataset || chr(31) || model || chr(31) || forget_kind || chr(31) || encode(float8send(forget_fraction), 'hex')
             || chr(31) || algorithm || chr(31) || coalesce('L' || localization, 'N') || chr(31)
             || coalesce(encode(float8send(alpha), 'hex'), 'N') || chr(31) || hparams::text || chr(31) || is_oracle::text)
$$;

ALTER TABLE trials ADD COLUMN IF NOT EXISTS group_key text;
CREATE OR REPLACE FUNCTION results_trials_group_key_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.group_key := results_group_key(NEW.dataset, NEW.model, NEW.forget_kind, NEW.forget_fraction, NEW.algorithm,
                                     NEW.localization, NEW.alpha, NEW.hparams, NEW.is_oracle);
  RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS trials_group_key ON trials;
CREATE TRIGGER trials_group_key BEFORE INSERT OR UPDATE ON trials FOR EACH ROW EXECUTE FUNCTION results_trials_group_key_trg();
UPDATE trials SET group_key = group_key; -- fills the column for rows written before this migration
ALTER TABLE trials ALTER COLUMN group_key SET NOT NULL;
CREATE INDEX IF NOT EXISTS trials_group_key_idx ON trials (group_key, sweep_id);
CREATE INDEX IF NOT EXISTS trials_pairing_idx ON trials (forget_set_key, seed, recipe_key);

-- trial_gaps gains the group key (appended: CREATE OR REPLACE VIEW may only add columns at the end).
CREATE OR REPLACE VIEW trial_gaps AS
WITH oracle AS (
  SELECT DISTINCT ON (forget_set_key, seed, recipe_key)
         id, forget_set_key, seed, recipe_key, forget_acc, retain_acc, test_acc, mia_efficacy, wall_seconds, epochs
    FROM trials
   WHERE is_oracle AND status = 'completed'
   ORDER BY forget_set_key, seed, recipe_key, updated_at DESC, id
)
SELECT u.id AS trial_id, u.sweep_id, u.dataset, u.model, u.recipe_key, u.forget_set_key, u.forget_kind,
       u.forget_fraction, u.algorithm, u.localization, u.alpha, u.hparams, u.seed, u.is_oracle,
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
       u.epochs / nullif(o.epochs, 0)             AS epochs_rel,
       u.group_key
  FROM trials u
  LEFT JOIN oracle o ON o.forget_set_key = u.forget_set_key AND o.seed = u.seed AND o.recipe_key = u.recipe_key
 WHERE u.status = 'completed';

-- The direct aggregation (what 0002's leaderboard_for did), kept for checks and ad-hoc use.
CREATE OR REPLACE FUNCTION leaderboard_live_for(p_sweep text, p_dataset text, p_forget_kind text)
RETURNS TABLE (
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
  SELECT g.dataset, g.model, g.forget_kind, g.forget_fraction, g.algorithm, g.localization, g.alpha, g.hparams,
         g.is_oracle,
         count(*), count(DISTINCT g.seed), count(g.oracle_trial_id),
         avg(g.forget_acc), ci95(stddev_samp(g.forget_acc), count(g.forget_acc)),
         avg(g.retain_acc), ci95(stddev_samp(g.retain_acc), count(g.retain_acc)),
         avg(g.test_acc), ci95(stddev_samp(g.test_acc), count(g.test_acc)),
         avg(g.mia_efficacy), ci95(stddev_samp(g.mia_efficacy), count(g.mia_efficacy)),
         avg(g.d_forget), ci95(stddev_samp(g.d_forget), count(g.d_forget)),
         avg(g.d_retain), ci95(stddev_samp(g.d_retain), count(g.d_retain)),
         avg(g.d_test), ci95(stddev_samp(g.d_test), count(g.d_test)),
         avg(g.d_mia), ci95(stddev_samp(g.d_mia), count(g.d_mia)),
         avg(g.tow), ci95(stddev_samp(g.tow), count(g.tow)),
         avg(g.gap_score), ci95(stddev_samp(g.gap_score), count(g.gap_score)),
         avg(g.cost_rel), ci95(stddev_samp(g.cost_rel), count(g.cost_rel)),
         avg(g.epochs_rel), ci95(stddev_samp(g.epochs_rel), count(g.epochs_rel)),
         avg(g.wall_seconds), ci95(stddev_samp(g.wall_seconds), count(g.wall_seconds)),
         avg(g.params_changed_fraction), ci95(stddev_samp(g.params_changed_fraction), count(g.params_changed_fraction))
    FROM trial_gaps g
   WHERE (p_sweep IS NULL OR g.sweep_id = p_sweep)
     AND (p_dataset IS NULL OR g.dataset = p_dataset)
     AND (p_forget_kind IS NULL OR g.forget_kind = p_forget_kind)
   GROUP BY g.dataset, g.model, g.forget_kind, g.forget_fraction, g.algorithm, g.localization, g.alpha, g.hparams,
            g.is_oracle
$$;

CREATE TABLE IF NOT EXISTS leaderboard_agg (
  sweep_id  text NOT NULL,  -- '*': all sweeps together
  group_key text NOT NULL,
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
  n_paired bigint,
  forget_acc_mean double precision,
  forget_acc_ci double precision,
  retain_acc_mean double precision,
  retain_acc_ci double precision,
  test_acc_mean double precision,
  test_acc_ci double precision,
  mia_mean double precision,
  mia_ci double precision,
  d_forget_mean double precision,
  d_forget_ci double precision,
  d_retain_mean double precision,
  d_retain_ci double precision,
  d_test_mean double precision,
  d_test_ci double precision,
  d_mia_mean double precision,
  d_mia_ci double precision,
  tow_mean double precision,
  tow_ci double precision,
  gap_mean double precision,
  gap_ci double precision,
  cost_rel_mean double precision,
  cost_rel_ci double precision,
  epochs_rel_mean double precision,
  epochs_rel_ci double precision,
  wall_seconds_mean double precision,
  wall_seconds_ci double precision,
  params_changed_mean double precision,
  params_changed_ci double precision,
  PRIMARY KEY (sweep_id, group_key)
);
CREATE INDEX IF NOT EXISTS leaderboard_agg_filter_idx ON leaderboard_agg (sweep_id, dataset, forget_kind);

-- Recompute the aggregate rows of the given configurations: per sweep for the given sweeps, and over all sweeps.
-- Writers of the same configuration are serialised by a transaction advisory lock per group key (taken in
-- sorted order); each statement then reads a fresh snapshot (READ COMMITTED), so concurrent writers never leave
-- a stale row. Very large refreshes take one exclusive lock instead of one per key.
CREATE OR REPLACE FUNCTION results_refresh_groups(p_sweeps text[], p_keys text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_keys IS NULL OR cardinality(p_keys) = 0 THEN RETURN; END IF;
  IF cardinality(p_keys) > 500 THEN
    PERFORM pg_advisory_xact_lock(734511, 0);
  ELSE
    PERFORM pg_advisory_xact_lock_shared(734511, 0);
    PERFORM pg_advisory_xact_lock(734511, hashtext(k)) FROM (SELECT DISTINCT unnest(p_keys) AS k ORDER BY 1) s;
  END IF;
  DELETE FROM leaderboard_agg WHERE group_key = ANY(p_keys) AND (sweep_id = '*' OR sweep_id = ANY(p_sweeps));
  INSERT INTO leaderboard_agg (sweep_id, group_key, dataset, model, forget_kind, forget_fraction, algorithm, localization, alpha, hparams, is_oracle, n_trials, n_seeds, n_paired, forget_acc_mean, forget_acc_ci, retain_acc_mean, retain_acc_ci, test_acc_mean, test_acc_ci, mia_mean, mia_ci, d_forget_mean, d_forget_ci, d_retain_mean, d_retain_ci, d_test_mean, d_test_ci, d_mia_mean, d_mia_ci, tow_mean, tow_ci, gap_mean, gap_ci, cost_rel_mean, cost_rel_ci, epochs_rel_mean, epochs_rel_ci, wall_seconds_mean, wall_seconds_ci, params_changed_mean, params_changed_ci)
  SELECT x.agg_sweep, x.group_key, x.dataset, x.model, x.forget_kind, x.forget_fraction, x.algorithm, x.localization, x.alpha, x.hparams,
         x.is_oracle,
         count(*), count(DISTINCT x.seed), count(x.oracle_trial_id),
         avg(x.forget_acc), ci95(stddev_samp(x.forget_acc), count(x.forget_acc)),
         avg(x.retain_acc), ci95(stddev_samp(x.retain_acc), count(x.retain_acc)),
         avg(x.test_acc), ci95(stddev_samp(x.test_acc), count(x.test_acc)),
         avg(x.mia_efficacy), ci95(stddev_samp(x.mia_efficacy), count(x.mia_efficacy)),
         avg(x.d_forget), ci95(stddev_samp(x.d_forget), count(x.d_forget)),
         avg(x.d_retain), ci95(stddev_samp(x.d_retain), count(x.d_retain)),
         avg(x.d_test), ci95(stddev_samp(x.d_test), count(x.d_test)),
         avg(x.d_mia), ci95(stddev_samp(x.d_mia), count(x.d_mia)),
         avg(x.tow), ci95(stddev_samp(x.tow), count(x.tow)),
         avg(x.gap_score), ci95(stddev_samp(x.gap_score), count(x.gap_score)),
         avg(x.cost_rel), ci95(stddev_samp(x.cost_rel), count(x.cost_rel)),
         avg(x.epochs_rel), ci95(stddev_samp(x.epochs_rel), count(x.epochs_rel)),
         avg(x.wall_seconds), ci95(stddev_samp(x.wall_seconds), count(x.wall_seconds)),
         avg(x.params_changed_fraction), ci95(stddev_samp(x.params_changed_fraction), count(x.params_changed_fraction))
    FROM (SELECT '*'::text AS agg_sweep, g.* FROM trial_gaps g WHERE g.group_key = ANY(p_keys)
          UNION ALL
          SELECT g.sweep_id, g.* FROM trial_gaps g WHERE g.group_key = ANY(p_keys) AND g.sweep_id = ANY(p_sweeps)) x
   GROUP BY x.agg_sweep, x.group_key, x.dataset, x.model, x.forget_kind, x.forget_fraction, x.algorithm, x.localization,
            x.alpha, x.hparams, x.is_oracle;
END $$;

-- Which configurations a change of trials rows can affect: their own, and if a row is an oracle, those of every
-- trial paired with it (same forget set, seed, recipe).
CREATE OR REPLACE FUNCTION results_trials_new_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM results_refresh_groups(
    ARRAY(SELECT sweep_id FROM new_rows UNION SELECT t.sweep_id FROM new_rows r JOIN trials t
            ON r.is_oracle AND t.forget_set_key = r.forget_set_key AND t.seed = r.seed AND t.recipe_key = r.recipe_key),
    ARRAY(SELECT group_key FROM new_rows UNION SELECT t.group_key FROM new_rows r JOIN trials t
            ON r.is_oracle AND t.forget_set_key = r.forget_set_key AND t.seed = r.seed AND t.recipe_key = r.recipe_key));
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION results_trials_upd_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM results_refresh_groups(
    ARRAY(SELECT sweep_id FROM (SELECT * FROM new_rows UNION ALL SELECT * FROM old_rows) c
          UNION SELECT t.sweep_id FROM (SELECT * FROM new_rows UNION ALL SELECT * FROM old_rows) r JOIN trials t
            ON r.is_oracle AND t.forget_set_key = r.forget_set_key AND t.seed = r.seed AND t.recipe_key = r.recipe_key),
    ARRAY(SELECT group_key FROM (SELECT * FROM new_rows UNION ALL SELECT * FROM old_rows) c
          UNION SELECT t.group_key FROM (SELECT * FROM new_rows UNION ALL SELECT * FROM old_rows) r JOIN trials t
            ON r.is_oracle AND t.forget_set_key = r.forget_set_key AND t.seed = r.seed AND t.recipe_key = r.recipe_key));
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION results_trials_del_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM results_refresh_groups(
    ARRAY(SELECT sweep_id FROM old_rows UNION SELECT t.sweep_id FROM old_rows r JOIN trials t
            ON r.is_oracle AND t.forget_set_key = r.forget_set_key AND t.seed = r.seed AND t.recipe_key = r.recipe_key),
    ARRAY(SELECT group_key FROM old_rows UNION SELECT t.group_key FROM old_rows r JOIN trials t
            ON r.is_oracle AND t.forget_set_key = r.forget_set_key AND t.seed = r.seed AND t.recipe_key = r.recipe_key));
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS trials_agg_ins ON trials;
DROP TRIGGER IF EXISTS trials_agg_upd ON trials;
DROP TRIGGER IF EXISTS trials_agg_del ON trials;
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
  PERFORM results_refresh_groups(ARRAY(SELECT DISTINCT sweep_id FROM trials), ARRAY(SELECT DISTINCT group_key FROM trials));
END $$;
SELECT results_rebuild_leaderboard();

-- The leaderboard now reads the maintained aggregate (same columns as before).
CREATE OR REPLACE FUNCTION leaderboard_for(p_sweep text, p_dataset text, p_forget_kind text)
RETURNS TABLE (
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
  SELECT a.dataset, a.model, a.forget_kind, a.forget_fraction, a.algorithm, a.localization, a.alpha, a.hparams, a.is_oracle, a.n_trials, a.n_seeds, a.n_paired, a.forget_acc_mean, a.forget_acc_ci, a.retain_acc_mean, a.retain_acc_ci, a.test_acc_mean, a.test_acc_ci, a.mia_mean, a.mia_ci, a.d_forget_mean, a.d_forget_ci, a.d_retain_mean, a.d_retain_ci, a.d_test_mean, a.d_test_ci, a.d_mia_mean, a.d_mia_ci, a.tow_mean, a.tow_ci, a.gap_mean, a.gap_ci, a.cost_rel_mean, a.cost_rel_ci, a.epochs_rel_mean, a.epochs_rel_ci, a.wall_seconds_mean, a.wall_seconds_ci, a.params_changed_mean, a.params_changed_ci
    FROM leaderboard_agg a
   WHERE a.sweep_id = coalesce(p_sweep, '*')
     AND (p_dataset IS NULL OR a.dataset = p_dataset)
     AND (p_forget_kind IS NULL OR a.forget_kind = p_forget_kind)
$$;
