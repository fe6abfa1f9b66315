-- The folded state of a session after `head` events, so "state at t" folds a short tail instead
-- of the whole log. A cache: written by reads, every `SNAPSHOT_EVERY` events, and only trusted
-- under the fold rules (`rules`) that wrote it; the log stays the truth.
create table session_snapshots (
    session_id text not null,
    head bigint not null,
    rules text not null,
    state text not null,
    created_at text not null,
    constraint session_snapshots_key primary key (session_id, head, rules)
);
