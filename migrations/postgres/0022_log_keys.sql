-- The log's rows are identified by (session_id, sequence): that key becomes the primary key, and
-- the event id's own unique index (a random UUID: every insert touched a random page of it) and the
-- foreign key to `sessions` go. The foreign key's check locked the session's row (key share) on every
-- insert — a write to that hot row per event, the largest single cost of a 1,000-event batch. What
-- it guarded is held by the only writer of this table, the store's append: its general path reads the
-- session (by id and tenant) under the row lock, and its one-statement path runs only on a state
-- folded that way; sessions are never deleted. Event ids stay random UUIDs, looked up by no query.
-- SQLite keeps its schema: changing its keys means rebuilding the table, and it meets its goals as it is.
alter table session_state_events drop constraint session_state_events_tenant_id_session_id_fkey;
alter table session_state_events drop constraint session_state_events_pkey;
alter table session_state_events drop constraint session_state_events_session_seq_key;
alter table session_state_events add constraint session_state_events_session_seq_key primary key (session_id, sequence);
