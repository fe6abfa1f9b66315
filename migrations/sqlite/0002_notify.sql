-- SQLite runs as one node and publishes in-process; this number keeps the two lists in step.
select 1;
