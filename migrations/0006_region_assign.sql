-- The region of each customer at each region level (county, state, …), computed in Go by
-- olap.RegionIndex (R-tree + exact point-in-polygon, one region per border point) and
-- written with COPY. No foreign keys: on Citus customers are distributed and regions a
-- reference table; a row whose customer or region is gone is ignored by readers (joins)
-- and replaced by the next assignment. A customer outside every region of a level has no
-- row for that level.
CREATE TABLE customer_regions (
    customer_id bigint NOT NULL,
    level       text   NOT NULL,
    region_id   bigint NOT NULL,
    PRIMARY KEY (customer_id, level)
);

-- No second index (level, region_id): it made a bulk COPY of 1 M rows 3× slower, and
-- roll-ups by region are answered by the in-memory cube, not by this table.

-- What the stored assignment is current with, so a server start does not redo it: per
-- level, the version of the regions it was computed from (max(rev) and count); the row with
-- level '' holds the change-feed position (a snapshot xmin) up to which customer writes
-- have been assigned (olap.FollowAssignments).
CREATE TABLE region_assignment_state (
    level         text PRIMARY KEY,
    regions_rev   bigint NOT NULL DEFAULT 0,
    regions_count bigint NOT NULL DEFAULT 0,
    feed_xmin     bigint NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
