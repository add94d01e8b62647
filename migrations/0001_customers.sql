-- Customers, prospects and leads: one table, told apart by kind.
CREATE EXTENSION IF NOT EXISTS postgis;

-- rev orders every change to customers (insert, update, delete) so the in-memory engine can
-- apply them idempotently: a change is applied only when its rev is newer than the engine's.
CREATE SEQUENCE customer_rev;

CREATE TABLE customers (
    id            bigserial PRIMARY KEY,
    external_id   text UNIQUE,
    kind          text NOT NULL CHECK (kind IN ('customer', 'prospect', 'lead')),
    name          text NOT NULL,
    street        text NOT NULL DEFAULT '',
    city          text NOT NULL DEFAULT '',
    region        text NOT NULL DEFAULT '',
    postcode      text NOT NULL DEFAULT '',
    country       text NOT NULL DEFAULT '',
    geom          geometry(Point, 4326),          -- NULL while ungeocoded
    h3            bigint,                         -- H3 cell at geo.CellResolution, computed in Go
    segment       text NOT NULL DEFAULT '',
    status        text NOT NULL DEFAULT '',
    owner         text COLLATE "C" NOT NULL DEFAULT '', -- a user's e-mail; byte order indexes faster
    revenue       numeric(16, 2) NOT NULL DEFAULT 0,
    email         text NOT NULL DEFAULT '',
    phone         text NOT NULL DEFAULT '',
    consent_email boolean NOT NULL DEFAULT false,
    attributes    jsonb NOT NULL DEFAULT '{}',
    geocode_precision  text NOT NULL DEFAULT '',  -- rooftop, street, postcode, city, region, manual, given
    geocode_confidence real NOT NULL DEFAULT 0,
    geocode_source     text NOT NULL DEFAULT '',
    geocode_error      text NOT NULL DEFAULT '',
    version       integer NOT NULL DEFAULT 1,     -- optimistic concurrency, bumped on update
    rev           bigint NOT NULL DEFAULT nextval('customer_rev'),
    txid          bigint NOT NULL DEFAULT txid_current(), -- writing transaction, for the change feed
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((geom IS NULL) = (h3 IS NULL))
);

CREATE INDEX customers_geom_idx ON customers USING gist (geom);
-- The H3 cell has no index: cell queries are answered by the in-memory engine.
CREATE INDEX customers_rev_idx ON customers (rev);
CREATE INDEX customers_txid_idx ON customers (txid);
CREATE INDEX customers_owner_idx ON customers (owner);

-- Deletions keep their rev so followers of the change feed see them.
CREATE TABLE customer_deletions (
    id         bigint PRIMARY KEY,
    rev        bigint NOT NULL DEFAULT nextval('customer_rev'),
    txid       bigint NOT NULL DEFAULT txid_current(),
    deleted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customer_deletions_txid_idx ON customer_deletions (txid);

-- Followers of the change feed: a writer NOTIFYs gcrm_changes after committing; a follower
-- reads rows whose txid is at or above the xmin of its previous snapshot (every older
-- transaction had finished then), so no commit is missed however transactions interleave.

CREATE FUNCTION notify_customer_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gcrm_changes', 'customers');
    RETURN NULL;
END $$;

CREATE TRIGGER customers_notify AFTER INSERT OR UPDATE OR DELETE ON customers
    FOR EACH STATEMENT EXECUTE FUNCTION notify_customer_changes();
