-- PostgreSQL stems each line in its own language's text-search configuration (snowball: spanish,
-- german, french, … — 'simple' for a language it has none for, which lower-cases and keeps every
-- word), where migration 0012 read every line as English.
--
-- `studio_ts_config(code)` maps an ISO 639-1 code to the configuration, looked up in the catalogue
-- so a server without one of them (older PostgreSQL) falls back to 'simple' instead of failing.
-- It is declared immutable (a generated column needs it): the built-in configurations do not move.
create function studio_ts_config(code text) returns regconfig
language sql immutable parallel safe
as $$
    select coalesce(
        (select c.oid::regconfig from pg_catalog.pg_ts_config c
         where c.cfgnamespace = 'pg_catalog'::regnamespace
           and c.cfgname = case code
               when 'ar' then 'arabic' when 'hy' then 'armenian' when 'eu' then 'basque'
               when 'ca' then 'catalan' when 'da' then 'danish' when 'nl' then 'dutch'
               when 'en' then 'english' when 'fi' then 'finnish' when 'fr' then 'french'
               when 'de' then 'german' when 'el' then 'greek' when 'hi' then 'hindi'
               when 'hu' then 'hungarian' when 'id' then 'indonesian' when 'ga' then 'irish'
               when 'it' then 'italian' when 'lt' then 'lithuanian' when 'ne' then 'nepali'
               when 'no' then 'norwegian' when 'nn' then 'norwegian' when 'pt' then 'portuguese'
               when 'ro' then 'romanian' when 'ru' then 'russian' when 'sr' then 'serbian'
               when 'es' then 'spanish' when 'sv' then 'swedish' when 'ta' then 'tamil'
               when 'tr' then 'turkish' when 'yi' then 'yiddish'
           end),
        'simple'::regconfig)
$$;

-- A query read in each of a course's languages, ORed.
create aggregate studio_tsquery_or(tsquery) (sfunc = tsquery_or, stype = tsquery);

drop index transcript_segments_tsv_idx;
alter table transcript_segments drop column tsv;
alter table transcript_segments
    add column tsv tsvector generated always as (to_tsvector(studio_ts_config(language), text)) stored;
create index transcript_segments_tsv_idx on transcript_segments using gin (tsv);
