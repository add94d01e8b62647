-- Footfall: pedestrian (or vehicle) counters and their hourly counts.
-- Citus: footfall_sensors is small (a reference table); footfall_counts can be distributed by
-- sensor_id. No foreign keys between them for that reason; the importer creates a sensor
-- before its counts.
CREATE TABLE footfall_sensors (
    id    bigserial PRIMARY KEY,
    key   text NOT NULL UNIQUE,            -- the provider's sensor id (or a wide file's column)
    name  text NOT NULL DEFAULT '',
    geom  geometry(Point, 4326),           -- NULL while the sensor's place is unknown
    h3    bigint,                          -- H3 cell at geo.CellResolution, computed in Go
    tz    text NOT NULL DEFAULT 'UTC',     -- IANA zone of its local hours (hour-of-week)
    CHECK ((geom IS NULL) = (h3 IS NULL))
);
CREATE INDEX footfall_sensors_geom_idx ON footfall_sensors USING gist (geom);

-- One row per sensor and hour; count NULL means missing (the source said -1, blank or
-- "undefined"): missing is never 0.
CREATE TABLE footfall_counts (
    sensor_id bigint      NOT NULL,
    ts        timestamptz NOT NULL,        -- start of the hour
    count     integer CHECK (count >= 0),
    PRIMARY KEY (sensor_id, ts)
);
