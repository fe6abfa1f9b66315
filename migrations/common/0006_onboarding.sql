-- One-time links (invites, password resets): only the token's sha256 is kept; used once, then dead.
create table user_links (
    token_hash text primary key,
    tenant_id text not null,
    user_id text not null,
    purpose text not null,
    created_at text not null,
    expires_at text not null,
    used_at text,
    foreign key (tenant_id, user_id) references users (tenant_id, id)
);
create index user_links_user_idx on user_links (user_id);

-- Rate limits shared by every node: one counter per key and fixed window.
create table rate_counters (
    key text not null,
    window_start text not null,
    hits bigint not null,
    constraint rate_counters_key primary key (key, window_start)
);
