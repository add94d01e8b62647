-- Activities logged on a record: visits, calls, e-mails, meetings.
-- Citus: distributed by customer_id beside customers; no foreign key for that reason (the
-- store checks the record exists and is in the caller's scope in the same transaction, and
-- deleting a record deletes its activities).
CREATE TABLE activities (
    id          bigserial PRIMARY KEY,
    customer_id bigint      NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('visit', 'call', 'email', 'meeting')),
    occurred_at timestamptz NOT NULL,
    owner       text COLLATE "C" NOT NULL DEFAULT '', -- who logged it (a user's e-mail)
    note        text        NOT NULL DEFAULT '' CHECK (length(note) <= 4000),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX activities_customer_idx ON activities (customer_id, occurred_at DESC);

-- The number of activities of a record, kept with it so that logging one is a change of the
-- record (new rev and txid): the change feed carries it to the engine and the cube.
ALTER TABLE customers ADD COLUMN activity_count integer NOT NULL DEFAULT 0;
