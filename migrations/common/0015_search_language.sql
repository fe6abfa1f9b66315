-- Search in the class's language: each indexed line keeps the language its class was held in
-- (ISO 639-1, as `session.language_set` and the school's settings give it), and each course the
-- languages its lectures were held in, so a query is read in each of them (one row a course,
-- usually). A language once listed stays listed: a stale one only widens the query.
alter table transcript_segments add column language text not null default 'en';
create table search_languages (
    tenant_id text not null,
    course_id text not null,
    language text not null,
    constraint search_languages_key primary key (course_id, language)
);
insert into search_languages (tenant_id, course_id, language)
    select distinct tenant_id, course_id, 'en' from transcript_segments;
