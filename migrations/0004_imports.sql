-- Import runs started through the API (POST /api/v1/imports), with their rejects file so it
-- can be downloaded later (GET /api/v1/imports/{id}/rejects.csv).
CREATE TABLE imports (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL,                    -- what was imported: customers, regions, …
    filename     text NOT NULL DEFAULT '',
    created_by   text NOT NULL DEFAULT '',
    status       text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    rows         bigint NOT NULL DEFAULT 0,
    inserted     bigint NOT NULL DEFAULT 0,
    updated      bigint NOT NULL DEFAULT 0,
    unchanged    bigint NOT NULL DEFAULT 0,
    rejected     bigint NOT NULL DEFAULT 0,
    max_rev      bigint NOT NULL DEFAULT 0,
    error        text NOT NULL DEFAULT '',
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);

-- The rejects CSV of a run, in chunks of up to 1 MiB, so it is written and read back as a
-- stream whatever its size.
CREATE TABLE import_rejects (
    import_id bigint NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    seq       integer NOT NULL,
    data      bytea NOT NULL,
    PRIMARY KEY (import_id, seq)
);
