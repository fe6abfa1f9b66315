-- LTI 1.3: a school's learning platforms (Canvas, Moodle, …) registered as places this tool is
-- launched from — the platform's issuer and the client id it gave us, its deployments, where its
-- login (authorization) endpoint and keys are; the launches under way (one row per redirect to the
-- platform, by the hash of its `state`, used once, for ten minutes; the nonce the id_token must
-- carry); and what the platform's ids became here: its people, its courses (contexts) and its
-- links (resource links → lessons).
create table lti_platforms (
    id text primary key,
    tenant_id text not null references tenants (id),
    issuer text not null,
    client_id text not null,
    -- comma-separated
    deployment_ids text not null,
    auth_url text not null,
    jwks_url text not null,
    token_url text not null,
    created_at text not null,
    constraint lti_platforms_issuer_client_key unique (issuer, client_id)
);
create table lti_logins (
    state_hash text primary key,
    platform_id text not null references lti_platforms (id),
    nonce text not null,
    expires_at text not null,
    used_at text
);
create table lti_links (
    platform_id text not null references lti_platforms (id),
    -- 'user', 'context' or 'resource_link'
    kind text not null,
    lti_id text not null,
    local_id text not null,
    created_at text not null,
    constraint lti_links_key primary key (platform_id, kind, lti_id)
);
