-- Ranked course search: an FTS5 index over the transcript's text (Porter stemming, so "waves"
-- finds "wave"), kept in step with transcript_segments by triggers. It indexes the table's own
-- rows by rowid (external content: the text is not stored twice). The store never VACUUMs; a
-- VACUUM may renumber these rowids, after which `insert into transcript_fts(transcript_fts)
-- values ('rebuild')` rebuilds the index.
create virtual table transcript_fts using fts5(
    text,
    content = 'transcript_segments',
    content_rowid = 'rowid',
    tokenize = 'porter unicode61'
);
create trigger transcript_fts_insert after insert on transcript_segments begin
    insert into transcript_fts (rowid, text) values (new.rowid, new.text);
end;
create trigger transcript_fts_delete after delete on transcript_segments begin
    insert into transcript_fts (transcript_fts, rowid, text) values ('delete', old.rowid, old.text);
end;
create trigger transcript_fts_update after update of text on transcript_segments begin
    insert into transcript_fts (transcript_fts, rowid, text) values ('delete', old.rowid, old.text);
    insert into transcript_fts (rowid, text) values (new.rowid, new.text);
end;
insert into transcript_fts (transcript_fts) values ('rebuild');
