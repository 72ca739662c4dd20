"""Truth over time: every value the store replaces is kept, with the vintage it came from.

ENTSO-E revises published values days to months later and re-publishes windows at another
resolution. ``entsoe.observations`` holds the latest published value of each point; each row also
records its vintage, ``document_created`` (the createdDateTime of the ENTSO-E document that brought
it; ``fetched_at`` stands in for rows stored before vintages were recorded). Nothing is lost:

* a value that changes (value, resolution, unit or revisionNumber) is copied to
  ``entsoe.observation_history`` by a row trigger, whoever makes the update (upsert or hand-made
  SQL), with ``replaced_by_created`` = the vintage of the value that replaced it: ``'revised'``;
* a point that a newer document of another resolution no longer contains (PT15M rows inside a
  window re-published at PT60M) is moved there by ``upsert_points``: ``'superseded'``.

So "what was known for this hour as of T" is a query (``entsoe.observations_as_of(T)``): the rows
whose vintage is at or before T and that were not yet replaced by a vintage at or before T.
"""

from __future__ import annotations

# Migration 0007. The vintage column is nullable: rows stored before it existed have none, and
# their fetched_at is the best bound there is (adding a NOT NULL column would rewrite the table).
DDL = r"""
ALTER TABLE entsoe.observations ADD COLUMN document_created timestamptz;
COMMENT ON COLUMN entsoe.observations.document_created IS
    'Vintage of the value: createdDateTime of the ENTSO-E document that brought it (NULL for rows '
    'stored before vintages were recorded: fetched_at is then the best bound).';

CREATE TABLE entsoe.observation_history (
    time                timestamptz      NOT NULL,
    endpoint            text             NOT NULL,
    area                text             NOT NULL,
    business_type       text             NOT NULL,
    psr_type            text             NOT NULL,
    variant             text             NOT NULL,
    resolution          interval         NOT NULL,
    value               double precision NOT NULL,
    unit                text             NOT NULL,
    document_mrid       text             NOT NULL,
    revision            integer          NOT NULL,
    document_created    timestamptz,
    fetched_at          timestamptz      NOT NULL,
    replaced_at         timestamptz      NOT NULL DEFAULT now(),
    replaced_by_created timestamptz,
    change              text             NOT NULL CHECK (change IN ('revised', 'superseded'))
);
CREATE INDEX observation_history_series ON entsoe.observation_history
    (endpoint, area, business_type, psr_type, variant, time);
COMMENT ON TABLE entsoe.observation_history IS
    'Values entsoe.observations no longer holds, one row per replaced version of a point: '
    'change = ''revised'' (a later document changed value, resolution, unit or revision) or '
    '''superseded'' (a later document of another resolution no longer has this point). '
    'document_created is the vintage of this version, replaced_by_created that of the one that '
    'replaced it, replaced_at when the store replaced it. See entsoe.observations_as_of.';

-- Any update that changes what a row says keeps the old version, however it is made.
CREATE FUNCTION entsoe.keep_revised() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO entsoe.observation_history
        (time, endpoint, area, business_type, psr_type, variant, resolution, value, unit,
         document_mrid, revision, document_created, fetched_at, replaced_by_created, change)
    VALUES (OLD.time, OLD.endpoint, OLD.area, OLD.business_type, OLD.psr_type, OLD.variant,
            OLD.resolution, OLD.value, OLD.unit, OLD.document_mrid, OLD.revision,
            OLD.document_created, OLD.fetched_at, coalesce(NEW.document_created, NEW.fetched_at),
            'revised');
    RETURN NULL;
END $$;
CREATE TRIGGER observations_revised AFTER UPDATE ON entsoe.observations
    FOR EACH ROW WHEN (
        (OLD.value, OLD.resolution, OLD.unit, OLD.revision)
        IS DISTINCT FROM (NEW.value, NEW.resolution, NEW.unit, NEW.revision))
    EXECUTE FUNCTION entsoe.keep_revised();

-- What was known at p_as_of: an inlinable SQL function, so filters on endpoint, area and time
-- reach the indexes of both tables.
CREATE FUNCTION entsoe.observations_as_of(p_as_of timestamptz)
RETURNS TABLE (
    "time" timestamptz, endpoint text, area text, business_type text, psr_type text,
    variant text, resolution interval, value double precision, unit text, known_since timestamptz
) LANGUAGE sql STABLE AS $$
    SELECT o.time, o.endpoint, o.area, o.business_type, o.psr_type, o.variant, o.resolution,
           o.value, o.unit, coalesce(o.document_created, o.fetched_at)
    FROM entsoe.observations o
    WHERE coalesce(o.document_created, o.fetched_at) <= p_as_of
    UNION ALL
    SELECT h.time, h.endpoint, h.area, h.business_type, h.psr_type, h.variant, h.resolution,
           h.value, h.unit, coalesce(h.document_created, h.fetched_at)
    FROM entsoe.observation_history h
    WHERE coalesce(h.document_created, h.fetched_at) <= p_as_of
      AND coalesce(h.replaced_by_created, h.replaced_at) > p_as_of
$$;
COMMENT ON FUNCTION entsoe.observations_as_of(timestamptz) IS
    'The points as the store knew them at the given time (vintage = document createdDateTime): '
    'SELECT time, value FROM entsoe.observations_as_of(''2026-01-10'') '
    'WHERE endpoint = ''actual_load'' AND area = ''10YFR-RTE------C'' AND variant = '''' ORDER BY time.';
"""

# Points of a series that a newer document re-published at another resolution: inside the time
# span of one of the batch's runs (consecutive points of one resolution; the runs of a series do
# not overlap, so the batch's own points there all have the run's resolution) and of another
# resolution. Only the (series, day)s where more points are stored than the batch brought are
# looked at (``suspect``): elsewhere every stored point is a batch point. The rows go to the
# history in the same statement; the delete trigger keeps the summary right.
SUPERSEDE = """
WITH runs AS (
    SELECT * FROM unnest(%(run_bt)s::text[], %(run_psr)s::text[], %(run_variant)s::text[],
                         %(run_lo)s::timestamptz[], %(run_hi)s::timestamptz[],
                         %(run_resolution)s::interval[], %(run_created)s::timestamptz[])
        AS r(business_type, psr_type, variant, lo, hi, resolution, created)
), batch_days AS (
    SELECT * FROM unnest(%(day_bt)s::text[], %(day_psr)s::text[], %(day_variant)s::text[],
                         %(day)s::date[], %(day_points)s::integer[])
        AS b(business_type, psr_type, variant, day, points)
), suspect AS (
    SELECT b.business_type, b.psr_type, b.variant,
           b.day::timestamp AT TIME ZONE 'UTC' - interval '1 day' AS lo,
           b.day::timestamp AT TIME ZONE 'UTC' + interval '2 days' AS hi
    FROM batch_days b
    JOIN entsoe.daily_counts d
      ON (d.endpoint, d.area, d.business_type, d.psr_type, d.variant, d.day)
         = (%(endpoint)s, %(area)s, b.business_type, b.psr_type, b.variant, b.day)
    WHERE d.points > b.points
), gone AS (
    DELETE FROM entsoe.observations o
    USING runs r, suspect s
    WHERE o.endpoint = %(endpoint)s AND o.area = %(area)s
      AND (o.business_type, o.psr_type, o.variant) = (r.business_type, r.psr_type, r.variant)
      AND (s.business_type, s.psr_type, s.variant) = (r.business_type, r.psr_type, r.variant)
      AND o.time >= greatest(r.lo, s.lo) AND o.time < least(r.hi, s.hi)
      AND o.resolution <> r.resolution
    RETURNING o.*, r.created AS replaced_by_created
), kept AS (
    INSERT INTO entsoe.observation_history
        (time, endpoint, area, business_type, psr_type, variant, resolution, value, unit,
         document_mrid, revision, document_created, fetched_at, replaced_by_created, change)
    SELECT time, endpoint, area, business_type, psr_type, variant, resolution, value, unit,
           document_mrid, revision, document_created, fetched_at, replaced_by_created, 'superseded'
    FROM gone
    RETURNING 1
)
SELECT count(*) FROM kept
"""
