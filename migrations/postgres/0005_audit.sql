-- The audit log: append-only, one row per login outcome, logout, admin action, permission denial,
-- stream change and job retry. Nothing in the app updates or deletes it, and the database refuses to.
create table audit_log (
    id text primary key,
    at text not null,
    tenant_id text,
    actor_id text,
    action text not null,
    target text not null,
    outcome text not null,
    request_id text,
    ip text
);
create index audit_log_tenant_idx on audit_log (tenant_id, id);
create index audit_log_actor_idx on audit_log (actor_id, id);

create function audit_log_refuse_change() returns trigger language plpgsql as $$
begin
    raise exception 'audit_log is append-only';
end
$$;
create trigger audit_log_no_update before update or delete on audit_log
    for each row execute function audit_log_refuse_change();
create trigger audit_log_no_truncate before truncate on audit_log
    for each statement execute function audit_log_refuse_change();
