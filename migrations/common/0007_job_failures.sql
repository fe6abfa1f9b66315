-- Failed job attempts by kind, ever (a counter for `studio_job_failures_total`; retries reset a job's
-- own attempts, so the count is kept apart).
create table job_failure_counts (
    kind text primary key,
    failures bigint not null
);
