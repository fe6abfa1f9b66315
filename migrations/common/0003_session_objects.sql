-- Which session a chat message, question, poll or scene id belongs to, written once when the object
-- is created, inside the append transaction. Everything else about these objects is in the event log
-- and every read folds it, so the projections chat_messages, questions, polls, studio_scenes and
-- session_participants (rewritten on every event, read only to find an id's session) are gone.
create table session_objects (
    id text primary key,
    tenant_id text not null,
    session_id text not null,
    kind text not null check (kind in ('message', 'question', 'poll', 'scene')),
    foreign key (tenant_id, session_id) references sessions (tenant_id, id)
);
create index session_objects_session_idx on session_objects (session_id);

insert into session_objects (id, tenant_id, session_id, kind)
    select id, tenant_id, session_id, 'message' from chat_messages;
insert into session_objects (id, tenant_id, session_id, kind)
    select id, tenant_id, session_id, 'question' from questions;
insert into session_objects (id, tenant_id, session_id, kind)
    select id, tenant_id, session_id, 'poll' from polls;
insert into session_objects (id, tenant_id, session_id, kind)
    select id, tenant_id, session_id, 'scene' from studio_scenes;

drop table chat_messages;
drop table questions;
drop table polls;
drop table studio_scenes;
drop table session_participants;
