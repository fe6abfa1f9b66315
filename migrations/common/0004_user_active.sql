-- Deactivated users (NULL: active). A deactivated user cannot sign in and their tokens stop working.
alter table users add column deactivated_at text;
create index users_tenant_email on users (tenant_id, email);
