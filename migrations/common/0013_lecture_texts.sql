-- Course search finds more than speech: the text of each slide page from when it was first shown
-- and each question from when it was asked sit beside the transcript's segments (same table, so
-- the same full-text index and one ranking cover them); `kind` says which a row is.
alter table transcript_segments add column kind text not null default 'speech';
