-- Results tables (issue 6): trials, long-form metrics (+ wide view), per-epoch curves, per-example forget-set
-- outputs, the oracle pairing, and leaderboard views. Owner: results. Applied after 0001_core.sql.
-- Contract and reasoning: docs/results.md. TypeScript access: db/record.ts (writes), db/leaderboard.ts (reads).

-- One row per (unlearned or oracle) model that is evaluated. Keyed by trial id (idempotent upserts).
CREATE TABLE IF NOT EXISTS trials (
  id                      text PRIMARY KEY,
  sweep_id                text NOT NULL,
  dataset                 text NOT NULL,
  model                   text NOT NULL,
  recipe_key              text NOT NULL,
  forget_set_key          text NOT NULL,
  forget_kind             text NOT NULL,
  forget_fraction         double precision NOT NULL,
  algorithm               text NOT NULL,
  localization            text,                        -- NULL: not localized
  alpha                   double precision,            -- NULL: no budget
  hparams                 jsonb NOT NULL DEFAULT '{}'::jsonb,
  seed                    integer NOT NULL,
  is_oracle               boolean NOT NULL DEFAULT false,
  stage_keys              jsonb NOT NULL DEFAULT '{}'::jsonb,  -- { "<stage kind>": "<stage key>" }
  status                  text NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed')),
  error                   text,
  wall_seconds            double precision,
  epochs                  double precision,
  params_changed_fraction double precision,
  -- Headline metrics copied from `metrics` by the statement triggers below (never written by clients).
  forget_acc              double precision,
  retain_acc              double precision,
  test_acc                double precision,
  mia_efficacy            double precision,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS trials_sweep_idx ON trials (sweep_id);
CREATE INDEX IF NOT EXISTS trials_dataset_kind_idx ON trials (dataset, forget_kind);
CREATE INDEX IF NOT EXISTS trials_oracle_idx ON trials (forget_set_key, seed, recipe_key, updated_at DESC) WHERE is_oracle;

-- Long-form metrics: one value per (trial, split, name). split: 'forget' | 'retain' | 'test' | other.
CREATE TABLE IF NOT EXISTS metrics (
  trial_id    text NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
  split       text NOT NULL,
  name        text NOT NULL,
  value       double precision NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (trial_id, split, name)
);
CREATE INDEX IF NOT EXISTS metrics_split_name_idx ON metrics (split, name);

-- Per-epoch training curves, keyed by the stage that trained (train.original, train.oracle, unlearn, ...).
CREATE TABLE IF NOT EXISTS curves (
  stage_key text NOT NULL,
  epoch     integer NOT NULL,
  name      text NOT NULL,
  value     double precision NOT NULL,
  PRIMARY KEY (stage_key, epoch, name)
);

-- Per-example outputs of a trial's model on its forget set, stored in the database as parallel arrays
-- (one row per trial: a 5,000-example forget set is ~60 kB; see docs/results.md for the choice).
CREATE TABLE IF NOT EXISTS forget_outputs (
  trial_id    text PRIMARY KEY REFERENCES trials (id) ON DELETE CASCADE,
  n           integer NOT NULL,
  ids         integer[] NOT NULL,
  true_prob   real[] NOT NULL,
  loss        real[] NOT NULL,
  correct     boolean[] NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CHECK (cardinality(ids) = n AND cardinality(true_prob) = n AND cardinality(loss) = n AND cardinality(correct) = n)
);

-- Keep trials' headline metric columns equal to the metrics rows (set-based, one statement per write).
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
$$;

CREATE OR REPLACE FUNCTION results_metrics_new_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM results_refresh_trial_summary(ARRAY(SELECT DISTINCT trial_id FROM new_rows));
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION results_metrics_old_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM results_refresh_trial_summary(ARRAY(SELECT DISTINCT trial_id FROM old_rows));
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS metrics_summary_ins ON metrics;
DROP TRIGGER IF EXISTS metrics_summary_upd ON metrics;
DROP TRIGGER IF EXISTS metrics_summary_del ON metrics;
CREATE TRIGGER metrics_summary_ins AFTER INSERT ON metrics REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION results_metrics_new_trg();
CREATE TRIGGER metrics_summary_upd AFTER UPDATE ON metrics REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION results_metrics_new_trg();
CREATE TRIGGER metrics_summary_del AFTER DELETE ON metrics REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION results_metrics_old_trg();

-- t_{0.975, df}: exact table for df 1..100 (computed by db/tdist.ts, checked in test/results), a 4-term
-- Cornish-Fisher expansion beyond (error < 1e-10 for df > 100).
CREATE OR REPLACE FUNCTION t975(df bigint) RETURNS double precision LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE
    WHEN df < 1 THEN NULL
    WHEN df <= 100 THEN (ARRAY[12.706204736175,4.302652729749,3.182446305284,2.776445105198,2.570581835636,2.446911851145,2.364624251593,2.306004135204,2.262157162798,2.228138851986,2.200985160092,2.178812829667,2.160368656463,2.144786687918,2.131449545560,2.119905299221,2.109815577833,2.100922040241,2.093024054408,2.085963447266,2.079613844728,2.073873067904,2.068657610419,2.063898561628,2.059538552753,2.055529438643,2.051830516480,2.048407141795,2.045229642133,2.042272456301,2.039513446396,2.036933343460,2.034515297449,2.032244509318,2.030107928250,2.028094000980,2.026192463029,2.024394163912,2.022690920037,2.021075390306,2.019540970441,2.018081702818,2.016692199228,2.015367574444,2.014103388881,2.012895598919,2.011740513730,2.010634757624,2.009575237129,2.008559112101,2.007583770316,2.006646805062,2.005745995318,2.004879288188,2.004044783289,2.003240718848,2.002465459291,2.001717484145,2.000995378088,2.000297822014,1.999623584995,1.998971517033,1.998340542521,1.997729654318,1.997137908392,1.996564418952,1.996008354025,1.995468931430,1.994945415107,1.994437111771,1.993943367846,1.993463566662,1.992997125890,1.992543495181,1.992102154002,1.991672609645,1.991254395388,1.990847068812,1.990450210230,1.990063421254,1.989686323457,1.989318557137,1.988959780175,1.988609666976,1.988267907477,1.987934206239,1.987608281589,1.987289864831,1.986978699506,1.986674540704,1.986377154419,1.986086316951,1.985801814346,1.985523441867,1.985251003506,1.984984311522,1.984723186014,1.984467454509,1.984216951586,1.983971518524]::double precision[])[df]
    ELSE (SELECT z + (z^3 + z) / (4 * df) + (5 * z^5 + 16 * z^3 + 3 * z) / (96 * df^2)
                 + (3 * z^7 + 19 * z^5 + 17 * z^3 - 15 * z) / (384 * df^3)
                 + (79 * z^9 + 776 * z^7 + 1482 * z^5 - 1920 * z^3 - 945 * z) / (92160 * df^4)
            FROM (SELECT 1.959963984540054::double precision AS z) c)
  END
$$;

-- Half-width of the two-sided 95% t-interval of a mean, from the sample standard deviation and n.
CREATE OR REPLACE FUNCTION ci95(sd double precision, n bigint) RETURNS double precision
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN n > 1 AND sd IS NOT NULL THEN t975(n - 1) * sd / sqrt(n) END
$$;

-- Wide view of the long-form metrics (one row per trial; every split/name present becomes a key of 'values').
CREATE OR REPLACE VIEW metrics_wide AS
SELECT t.id AS trial_id, t.sweep_id, t.dataset, t.model, t.forget_kind, t.forget_fraction, t.algorithm,
       t.localization, t.alpha, t.hparams, t.seed, t.is_oracle, t.status,
       t.forget_acc, t.retain_acc, t.test_acc, t.mia_efficacy,
       max(m.value) FILTER (WHERE m.split = 'forget' AND m.name = 'loss') AS forget_loss,
       max(m.value) FILTER (WHERE m.split = 'retain' AND m.name = 'loss') AS retain_loss,
       max(m.value) FILTER (WHERE m.split = 'test'   AND m.name = 'loss') AS test_loss,
       coalesce(jsonb_object_agg(m.split || '.' || m.name, m.value) FILTER (WHERE m.trial_id IS NOT NULL), '{}'::jsonb) AS "values"
  FROM trials t LEFT JOIN metrics m ON m.trial_id = t.id
 GROUP BY t.id;

-- Each completed trial paired with the oracle of the same (forget_set_key, seed, recipe_key): the latest
-- completed oracle trial when several exist. Gaps are oracle minus trial (method.md: Δ_X = X_oracle − X_u).
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
       u.epochs / nullif(o.epochs, 0)             AS epochs_rel
  FROM trials u
  LEFT JOIN oracle o ON o.forget_set_key = u.forget_set_key AND o.seed = u.seed AND o.recipe_key = u.recipe_key
 WHERE u.status = 'completed';

-- Leaderboard: one row per configuration, aggregated over seeds (and over sweeps unless filtered).
-- NULL filter arguments mean "all". For each measure X: X_mean, X_ci (half-width of the 95% t-interval over
-- the trials that have X; NULL when fewer than 2), and the counts.
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

CREATE OR REPLACE VIEW leaderboard AS SELECT * FROM leaderboard_for(NULL, NULL, NULL);
