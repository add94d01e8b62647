-- Geocoding: the offline address index built from OpenStreetMap extracts
-- (gcrm import addresses FILE.osm.pbf) and the cache of answers, so the same normalised
-- address is never asked of a provider twice.

-- addresses is a reference table (small, read-mostly; replicated on Citus).
CREATE TABLE addresses (
    id              bigserial PRIMARY KEY,
    source          text NOT NULL,                 -- the extract's file name: re-importing it replaces its rows
    osm_type        text NOT NULL CHECK (osm_type IN ('node', 'way', 'relation')),
    osm_id          bigint NOT NULL,
    housenumber     text NOT NULL,
    street          text NOT NULL,                 -- addr:street, or addr:place where there is no street
    postcode        text NOT NULL DEFAULT '',
    city            text NOT NULL DEFAULT '',
    country         text NOT NULL DEFAULT '',
    street_key      text NOT NULL,                 -- geocode.NormalizeStreet(street), computed in Go
    housenumber_key text NOT NULL,                 -- geocode.NormalizeHouseNumber(housenumber)
    interpolated    boolean NOT NULL DEFAULT false, -- placed along an addr:interpolation line
    geom            geometry(Point, 4326) NOT NULL
);
CREATE INDEX addresses_key_idx ON addresses (street_key, housenumber_key);
CREATE INDEX addresses_source_idx ON addresses (source);
CREATE INDEX addresses_geom_idx ON addresses USING gist (geom);

-- One row per (providers, normalised query): found answers and "not found" alike, so a
-- query that failed is not sent again either. Unavailable providers are never cached.
CREATE TABLE geocode_cache (
    providers   text NOT NULL,                     -- the provider chain that answered (its Name())
    query_key   text NOT NULL,                     -- geocode.Query.Key()
    found       boolean NOT NULL,
    lon         float8,
    lat         float8,
    precision   text NOT NULL DEFAULT '',
    confidence  real NOT NULL DEFAULT 0,
    source      text NOT NULL DEFAULT '',
    label       text NOT NULL DEFAULT '',
    ambiguous   boolean NOT NULL DEFAULT false,
    candidates  integer NOT NULL DEFAULT 0,
    reason      text NOT NULL DEFAULT '',          -- why it was not found
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (providers, query_key),
    CHECK (found = (lon IS NOT NULL AND lat IS NOT NULL))
);
