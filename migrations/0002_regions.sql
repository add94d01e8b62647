-- Administrative boundaries and any other polygons a user imports (states, counties, ZIP
-- areas, sales districts, …), one table for every level; a cube dimension and the base map.
--
-- geom is the imported geometry, repaired with ST_MakeValid when needed and split at the
-- antimeridian. geom_z3/geom_z6/geom_z9 are copies simplified for map tiles up to that
-- zoom (tolerance ≈ one pixel of a 4096-unit tile there), computed once at import so a
-- low-zoom tile never simplifies thousands of vertices per request; from zoom 10 on tiles
-- use geom itself.
--
-- No foreign keys point here: on Citus regions are a reference table.

CREATE SEQUENCE region_rev;

CREATE TABLE regions (
    id         bigserial PRIMARY KEY,
    level      text NOT NULL CHECK (level ~ '^[a-z0-9_-]{1,40}$'),
    code       text NOT NULL CHECK (code <> ''),
    name       text NOT NULL DEFAULT '',
    geom       geometry(MultiPolygon, 4326) NOT NULL,
    geom_z3    geometry(MultiPolygon, 4326),
    geom_z6    geometry(MultiPolygon, 4326),
    geom_z9    geometry(MultiPolygon, 4326),
    attributes jsonb NOT NULL DEFAULT '{}',
    area_m2    double precision NOT NULL DEFAULT 0, -- geodesic area, for densities
    rev        bigint NOT NULL DEFAULT nextval('region_rev'), -- bumped by every upsert: tile caches key on max(rev)
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (level, code)
);

CREATE INDEX regions_geom_idx ON regions USING gist (geom);
CREATE INDEX regions_rev_idx ON regions (rev);
