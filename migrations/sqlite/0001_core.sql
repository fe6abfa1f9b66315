-- Core schema (spec §3.1, §3.2). Ids are UUID text; times are RFC 3339 UTC text (sortable);
-- integers are 64-bit. The Postgres schema mirrors this one column for column.
create table tenants (
    id text primary key,
    name text not null,
    created_at text not null
);

create table users (
    id text primary key,
    tenant_id text not null references tenants (id),
    email text not null,
    display_name text,
    hashed_password text not null,
    platform_admin integer not null default 0,
    created_at text not null,
    constraint users_email_key unique (email),
    constraint users_tenant_id_key unique (tenant_id, id)
);

create table roles (
    id text primary key,
    tenant_id text not null references tenants (id),
    name text not null check (name in ('teacher', 'student', 'assistant', 'admin')),
    constraint roles_tenant_name_key unique (tenant_id, name),
    constraint roles_tenant_id_key unique (tenant_id, id)
);

create table user_roles (
    tenant_id text not null,
    user_id text not null,
    role_id text not null,
    scope text not null check (scope in ('tenant', 'course', 'session')),
    scope_id text not null,
    created_at text not null,
    constraint user_roles_key primary key (user_id, role_id, scope, scope_id),
    foreign key (tenant_id, user_id) references users (tenant_id, id),
    foreign key (tenant_id, role_id) references roles (tenant_id, id)
);

create table auth_tokens (
    token_hash text primary key,
    tenant_id text not null,
    user_id text not null,
    created_at text not null,
    expires_at text not null,
    revoked_at text,
    foreign key (tenant_id, user_id) references users (tenant_id, id)
);
create index auth_tokens_user_idx on auth_tokens (user_id);

create table courses (
    id text primary key,
    tenant_id text not null references tenants (id),
    title text not null,
    created_at text not null,
    constraint courses_tenant_id_key unique (tenant_id, id)
);

create table lessons (
    id text primary key,
    tenant_id text not null,
    course_id text not null,
    title text not null,
    lesson_order integer not null,
    created_at text not null,
    constraint lessons_tenant_id_key unique (tenant_id, id),
    foreign key (tenant_id, course_id) references courses (tenant_id, id)
);
create index lessons_course_idx on lessons (course_id, lesson_order);

create table sessions (
    id text primary key,
    tenant_id text not null,
    course_id text not null,
    lesson_id text not null,
    scheduled_start text not null,
    scheduled_end text not null,
    status text not null check (status in ('scheduled', 'live', 'ended')),
    head integer not null default 0,
    created_by text,
    created_at text not null,
    started_at text,
    ended_at text,
    constraint sessions_tenant_id_key unique (tenant_id, id),
    foreign key (tenant_id, lesson_id) references lessons (tenant_id, id),
    foreign key (tenant_id, course_id) references courses (tenant_id, id)
);
create index sessions_lesson_idx on sessions (lesson_id, scheduled_start);

create table session_state_events (
    id text primary key,
    tenant_id text not null,
    session_id text not null,
    sequence integer not null,
    idempotency_key text not null,
    event_type text not null,
    version integer not null,
    actor_id text,
    actor_role text,
    event_payload text not null,
    occurred_at text not null,
    created_at text not null,
    constraint session_state_events_session_seq_key unique (session_id, sequence),
    constraint session_state_events_session_idem_key unique (session_id, idempotency_key),
    foreign key (tenant_id, session_id) references sessions (tenant_id, id)
);

create table session_participants (
    session_id text not null,
    tenant_id text not null,
    user_id text not null,
    role text not null,
    join_time text not null,
    leave_time text,
    permissions text not null,
    constraint session_participants_key primary key (session_id, user_id),
    foreign key (tenant_id, session_id) references sessions (tenant_id, id)
);

create table idempotency_keys (
    tenant_id text not null,
    user_id text not null,
    idem_key text not null,
    fingerprint text not null,
    state text not null check (state in ('in_flight', 'done')),
    response_status integer,
    response_content_type text,
    response_body blob,
    created_at text not null,
    constraint idempotency_keys_key primary key (user_id, idem_key)
);
create index idempotency_keys_created_idx on idempotency_keys (created_at);

-- Studio, interaction and artifact entities (spec §3.1). The event log is the source of truth;
-- chat_messages, questions and polls are projections kept in step inside the append transaction;
-- scenes, assets, recordings, artifacts and replays are filled by the live-classroom and pipeline work.
create table chat_messages (
    id text primary key,
    tenant_id text not null,
    session_id text not null,
    user_id text,
    content text not null,
    hidden integer not null default 0,
    sequence integer not null,
    created_at text not null,
    foreign key (tenant_id, session_id) references sessions (tenant_id, id)
);
create index chat_messages_session_idx on chat_messages (session_id, sequence);

create table questions (
    id text primary key,
    tenant_id text not null,
    session_id text not null,
    user_id text,
    content text not null,
    upvotes integer not null default 0,
    answered integer not null default 0,
    dismissed integer not null default 0,
    sequence integer not null,
    created_at text not null,
    foreign key (tenant_id, session_id) references sessions (tenant_id, id)
);
create index questions_session_idx on questions (session_id, sequence);

create table polls (
    id text primary key,
    tenant_id text not null,
    session_id text not null,
    prompt text not null,
    options text not null,
    responses text not null,
    closed integer not null default 0,
    created_at text not null,
    foreign key (tenant_id, session_id) references sessions (tenant_id, id)
);

create table studio_scenes (
    id text primary key,
    tenant_id text not null,
    session_id text not null,
    name text not null,
    layout text not null,
    metadata text not null,
    foreign key (tenant_id, session_id) references sessions (tenant_id, id)
);

create table studio_assets (
    id text primary key,
    tenant_id text not null,
    scene_id text,
    session_id text not null,
    type text not null check (type in ('slide', 'whiteboard', 'image')),
    content_url text not null,
    content_type text not null,
    title text,
    page_count integer,
    created_by text,
    created_at text not null,
    foreign key (tenant_id, session_id) references sessions (tenant_id, id)
);

create table recordings (
    id text primary key,
    tenant_id text not null,
    session_id text not null,
    file_url text not null,
    content_type text not null,
    size_bytes integer not null,
    started_at text,
    duration_s real,
    created_by text,
    created_at text not null,
    foreign key (tenant_id, session_id) references sessions (tenant_id, id)
);

-- Resumable recording uploads: parts land in the blob store and are listed here until completed.
create table recording_uploads (
    id text primary key,
    tenant_id text not null,
    session_id text not null,
    user_id text not null,
    started_at text,
    recording_id text,
    created_at text not null,
    foreign key (tenant_id, session_id) references sessions (tenant_id, id)
);

create table recording_upload_parts (
    upload_id text not null references recording_uploads (id),
    n integer not null,
    size_bytes integer not null,
    constraint recording_upload_parts_key primary key (upload_id, n)
);

-- LiveKit webhook ids already handled (LiveKit retries; each event is applied once).
create table webhook_events (
    id text primary key,
    kind text not null,
    received_at text not null
);

-- Multistream: RTMP destinations per session (stream keys encrypted at rest) and the live egress.
create table stream_destinations (
    id text primary key,
    tenant_id text not null,
    session_id text not null,
    name text not null,
    rtmp_url text not null,
    stream_key_enc text not null,
    key_hint text not null,
    created_at text not null,
    foreign key (tenant_id, session_id) references sessions (tenant_id, id)
);

create table session_streams (
    session_id text primary key,
    tenant_id text not null,
    egress_id text not null,
    destination_ids text not null,
    started_at text not null,
    foreign key (tenant_id, session_id) references sessions (tenant_id, id)
);

create table artifacts (
    id text primary key,
    tenant_id text not null,
    session_id text not null,
    recording_id text,
    type text not null,
    status text not null check (status in ('ready', 'failed')),
    data_url text,
    data_json text,
    error text,
    updated_at text not null,
    constraint artifacts_session_type_key unique (session_id, type),
    foreign key (tenant_id, session_id) references sessions (tenant_id, id)
);

-- The transcript, one row per segment, for replay and course-wide search.
create table transcript_segments (
    tenant_id text not null,
    course_id text not null,
    session_id text not null,
    idx integer not null,
    start_s real not null,
    end_s real not null,
    text text not null,
    scene_id text,
    asset_id text,
    page integer,
    constraint transcript_segments_key primary key (session_id, idx),
    foreign key (tenant_id, session_id) references sessions (tenant_id, id)
);
create index transcript_segments_course_idx on transcript_segments (course_id);

-- Pipeline jobs: enqueued in the transaction of the event that causes them, claimed with leases.
create table jobs (
    id text primary key,
    tenant_id text not null,
    session_id text not null,
    kind text not null,
    payload text not null,
    state text not null check (state in ('queued', 'running', 'done', 'failed')),
    attempts integer not null default 0,
    max_attempts integer not null,
    run_after text not null,
    lease_until text,
    locked_by text,
    last_error text,
    dedupe_key text,
    created_at text not null,
    updated_at text not null,
    constraint jobs_dedupe_key unique (dedupe_key),
    foreign key (tenant_id, session_id) references sessions (tenant_id, id)
);
create index jobs_claim_idx on jobs (state, run_after);

create table replays (
    id text primary key,
    tenant_id text not null,
    session_id text not null,
    metadata_json text not null,
    created_at text not null,
    foreign key (tenant_id, session_id) references sessions (tenant_id, id)
);
