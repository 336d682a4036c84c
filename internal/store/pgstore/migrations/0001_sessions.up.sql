-- The session store: one row per session (its header and counters) and
-- one row per record, keyed by the McpSession's UID. Every record keeps the
-- encoded form the Pebble store keeps (rec), so both export the same bytes,
-- and its search terms as a tsvector (see internal/store/pgstore/tsv.go).

-- (uid, tsv) GIN indexes: a search looks only at the sessions it may see.
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE TABLE mcp_sessions (
    uid             text COLLATE "C" PRIMARY KEY,
    -- bytea: a name or project may hold any valid UTF-8, NUL included.
    namespace       bytea       NOT NULL,
    name            bytea       NOT NULL,
    project         bytea       NOT NULL,
    created         timestamptz NOT NULL,
    context_items   bigint      NOT NULL DEFAULT 0,
    context_bytes   bigint      NOT NULL DEFAULT 0,
    messages        bigint      NOT NULL DEFAULT 0,
    discoveries     bigint      NOT NULL DEFAULT 0,
    stored_bytes    bigint      NOT NULL DEFAULT 0,
    next_msg_seq    bigint      NOT NULL DEFAULT 1,
    next_disc_seq   bigint      NOT NULL DEFAULT 1,
    last_activity   timestamptz NOT NULL,
    -- Sums of the records' term counts, per kind: BM25's average length.
    context_terms   bigint      NOT NULL DEFAULT 0,
    message_terms   bigint      NOT NULL DEFAULT 0,
    discovery_terms bigint      NOT NULL DEFAULT 0,
    -- An imported document's unknown top-level fields, encoded.
    extra           bytea
);

CREATE TABLE mcp_context (
    uid   text COLLATE "C" NOT NULL,
    key   bytea    NOT NULL,
    rec   bytea    NOT NULL,
    terms integer  NOT NULL,
    tsv   tsvector NOT NULL,
    PRIMARY KEY (uid, key)
);

CREATE TABLE mcp_messages (
    uid   text COLLATE "C" NOT NULL,
    seq   bigint   NOT NULL,
    rec   bytea    NOT NULL,
    terms integer  NOT NULL,
    tsv   tsvector NOT NULL,
    PRIMARY KEY (uid, seq)
);

CREATE TABLE mcp_discoveries (
    uid   text COLLATE "C" NOT NULL,
    seq   bigint   NOT NULL,
    rec   bytea    NOT NULL,
    terms integer  NOT NULL,
    tsv   tsvector NOT NULL,
    PRIMARY KEY (uid, seq)
);

CREATE INDEX mcp_context_search ON mcp_context USING gin (uid, tsv);
CREATE INDEX mcp_messages_search ON mcp_messages USING gin (uid, tsv);
CREATE INDEX mcp_discoveries_search ON mcp_discoveries USING gin (uid, tsv);
