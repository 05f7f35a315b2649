-- Sign-in throttling counters (DESIGN.md §9), shared by every server on the database: one row
-- per attempt still inside its window. `id` orders the attempts of one key as they were recorded
-- (records of one key are serialised by an advisory lock on the key, see
-- `storage-postgres/src/attempts.rs`), so the latest attempt is the one with the highest id.
CREATE TABLE throttle_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    throttle_key text NOT NULL,
    attempted_at timestamptz NOT NULL,
    -- attempted_at plus the window it was recorded with: past it, the row counts for nobody and
    -- any record may delete it.
    expires_at timestamptz NOT NULL
);
-- Counting one key's window, and deleting its expired attempts.
CREATE INDEX throttle_attempts_key_idx ON throttle_attempts (throttle_key, attempted_at);
-- Sweeping expired attempts of keys nobody records under any more.
CREATE INDEX throttle_attempts_expires_at_idx ON throttle_attempts (expires_at);
