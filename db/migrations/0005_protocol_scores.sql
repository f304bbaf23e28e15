-- Scores of the per-example evaluation protocol (docs/reproduction.md): one row per completed trial that carries
-- them (a method's first-seed trial of a sweep with evaluation.protocol), with the keys the leaderboard groups by.
CREATE OR REPLACE VIEW protocol_scores AS
SELECT t.sweep_id, t.setting_key, t.method_key, t.label, t.algorithm, t.dataset, t.model, t.forget_kind,
       t.forget_fraction, t.localization, t.alpha, t.hparams, t.seed, t.id AS trial_id,
       max(m.value) FILTER (WHERE m.name = 'neurips23_score')          AS neurips23_score,
       max(m.value) FILTER (WHERE m.name = 'neurips23_forget_quality') AS neurips23_forget_quality,
       max(m.value) FILTER (WHERE m.name = 'lira_auc')                 AS lira_auc,
       max(m.value) FILTER (WHERE m.name = 'lira_tpr_at_1fpr')         AS lira_tpr_at_1fpr,
       max(m.value) FILTER (WHERE m.name = 'lira_tpr_at_5fpr')         AS lira_tpr_at_5fpr
  FROM trials t
  JOIN metrics m ON m.trial_id = t.id AND m.split = 'protocol'
 WHERE t.status = 'completed'
 GROUP BY t.id;
