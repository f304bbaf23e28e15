-- 0008: the oracle pairing no longer races. A trial's Δ-to-oracle pairs it with the oracle of its sweep, setting
-- and seed, a trial of ANOTHER group; the per-group advisory locks (0003..0007) did not order two writers of one
-- (sweep, setting), and a refresh read its paired groups in a snapshot taken before it waited. Seen on a real
-- sweep: an original and its oracle recorded 22 ms apart each refreshed without seeing the other (uncommitted),
-- and the original's row kept n_paired = 0 while the live computation paired it.
-- Now results_refresh_changed first takes one transaction lock per changed (sweep, setting), in sorted order,
-- and only then reads which groups to refresh: the second writer of a setting waits for the first to commit and
-- then sees its rows (READ COMMITTED: every statement here takes a new snapshot), so whichever of an oracle and
-- its paired trials commits last refreshes with both present. Lock space 734512 (734511 is the groups').
CREATE OR REPLACE FUNCTION results_refresh_changed(p results_changed[]) RETURNS void LANGUAGE plpgsql
  SET jit = off AS $$
DECLARE
  keys text[];
BEGIN
  IF p IS NULL OR cardinality(p) = 0 THEN RETURN; END IF;
  PERFORM pg_advisory_xact_lock(734512, hashtext(s))
     FROM (SELECT DISTINCT c.sweep_id || E'\x1f' || c.setting_key AS s FROM unnest(p) c ORDER BY 1) x;
  keys := ARRAY(SELECT DISTINCT c.group_key FROM unnest(p) c);
  IF EXISTS (SELECT 1 FROM unnest(p) c WHERE c.role = 'oracle') THEN
    keys := ARRAY(SELECT k FROM unnest(keys) k
                  UNION SELECT t.group_key FROM (SELECT DISTINCT c.sweep_id, c.setting_key FROM unnest(p) c WHERE c.role = 'oracle') o
                                           JOIN trials t ON t.sweep_id = o.sweep_id AND t.setting_key = o.setting_key);
  END IF;
  PERFORM results_refresh_groups(ARRAY(SELECT DISTINCT c.sweep_id FROM unnest(p) c), keys);
END $$;

-- rows written before this migration may carry the race's stale pairing: recompute every group once
SELECT results_rebuild_leaderboard();
