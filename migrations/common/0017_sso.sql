-- Single sign-on through a school's own OpenID provider: its settings (the client secret sealed with
-- the server's secrets key, like stream keys), and the sign-ins under way — one row per redirect to
-- the provider, found again by the hash of its `state`, used once, for ten minutes.
create table tenant_sso (
    tenant_id text primary key references tenants (id),
    issuer text not null,
    client_id text not null,
    client_secret_sealed text not null,
    -- lower-case, comma-separated
    allowed_domains text not null,
    password_sign_in bigint not null default 1,
    updated_at text not null
);
create table sso_logins (
    state_hash text primary key,
    tenant_id text not null references tenants (id),
    nonce text not null,
    verifier text not null,
    next text not null,
    expires_at text not null,
    used_at text
);
