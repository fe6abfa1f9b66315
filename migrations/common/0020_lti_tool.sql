-- LTI 1.3, the tool's side of the services: its own signing keys (RS256; the private key as PKCS#8,
-- sealed with the server's secrets key; the newest signs, the newest few are published at
-- /api/lti/jwks so a platform holding an older one still verifies), and where a platform's course
-- lists its members (Names and Role Provisioning Services), as its launches said.
create table lti_tool_keys (
    kid text primary key,
    private_sealed text not null,
    created_at text not null
);
alter table lti_links add column service_url text;
-- A deep-linking request under way (an instructor placing a class in a platform's course): the
-- choice page's token (by its hash, once, thirty minutes), and what the answer to the platform needs.
create table lti_picks (
    state_hash text primary key,
    platform_id text not null references lti_platforms (id),
    user_id text not null,
    course_id text not null,
    deployment_id text not null,
    return_url text not null,
    data text,
    expires_at text not null,
    used_at text
);
