-- A session's head is the highest sequence in its log: the `(session_id, sequence)` key assigns
-- sequences, so no column of `sessions` is rewritten by every append (that row was the hot spot of
-- the commit path on PostgreSQL). Nodes of an older release read this column: upgrade every node
-- together (stop, migrate, start), not one at a time.
alter table sessions drop column head;
