-- One server-side recording per class. The node that inserts the row starts the egress (a teacher's
-- microphone and camera arrive as two webhooks, often on two nodes); `egress_id` is filled once it
-- runs, and the row is removed if the egress could not start so the next track may try again.
create table recording_egress (
    session_id text primary key,
    tenant_id text not null,
    egress_id text,
    claimed_at text not null,
    foreign key (tenant_id, session_id) references sessions (tenant_id, id)
);
