-- Multi-node fan-out: at commit, tell every listening node the newest sequence per session.
create function studio_notify_events() returns trigger language plpgsql as $$
declare
    r record;
begin
    for r in select session_id, max(sequence) as seq from new_rows group by session_id loop
        perform pg_notify('studio_events', r.session_id || ':' || r.seq);
    end loop;
    return null;
end
$$;

create trigger session_state_events_notify
    after insert on session_state_events
    referencing new table as new_rows
    for each statement execute function studio_notify_events();
