-- In-flight idempotency claims belong to the process that made them: a claim whose process has
-- stopped sending heartbeats is dead, and a retry takes it over at once (not after minutes).
alter table idempotency_keys add column owner text;
create table server_nodes (
    id text primary key,
    started_at text not null,
    seen_at text not null
);
