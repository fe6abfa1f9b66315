-- Ranked course search: the transcript's text as an English tsvector (stemmed, stop words out),
-- stored beside the row and indexed with GIN; queries rank with ts_rank_cd over it.
alter table transcript_segments
    add column tsv tsvector generated always as (to_tsvector('english', text)) stored;
create index transcript_segments_tsv_idx on transcript_segments using gin (tsv);
