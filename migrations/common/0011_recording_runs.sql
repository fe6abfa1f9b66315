-- A recording made in slices by a browser can hold several recorder runs (the page was reloaded
-- and its recorder started again, continuing the same upload). A part that begins a run keeps when
-- that run's first sample was taken; the joined recording keeps where each run starts, in bytes and
-- in seconds from the recording's start (JSON `[{"byte":0,"atS":0.0},…]`; null = one run).
alter table recording_upload_parts add column run_started_at text;
alter table recordings add column runs text;
