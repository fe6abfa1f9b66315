//! Recordings, artifacts and the transcript index.

use super::*;
use serde_json::Value;
use shared_types::jobs::{ArtifactKind, ArtifactStatus};
use shared_types::{CourseId, EventEnvelope, RecordingId, TenantId, UserId};

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recording {
    pub id: RecordingId,
    pub session_id: SessionId,
    /// Blob key.
    pub file_key: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub duration_s: Option<f64>,
    pub created_at: DateTime<Utc>,
    /// Where each recorder run begins when the file joins several (empty: one run from the start).
    pub runs: Vec<RecordingRun>,
}

/// A recorder run inside a recording joined from several: its first byte, and when its first
/// sample was taken, in seconds from the recording's start (the gap before it was not recorded).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingRun {
    pub byte: u64,
    pub at_s: f64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    #[serde(rename = "type")]
    pub kind: ArtifactKind,
    pub status: ArtifactStatus,
    pub recording_id: Option<RecordingId>,
    #[serde(skip)]
    pub data_key: Option<String>,
    #[serde(skip)]
    pub data: Option<Value>,
    pub error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

pub use shared_types::media::SearchHit;
/// Transcript segments are stored and answered as the wire type (times relative to the recording).
pub use shared_types::media::{HitKind, LectureText, Segment, SlideRef};

fn artifact_from(r: &AnyRow) -> StoreResult<Artifact> {
    let rec: Option<String> = r.try_get("recording_id")?;
    let data: Option<String> = r.try_get("data_json")?;
    Ok(Artifact {
        kind: crate::jobs::named(r, "type", ArtifactKind::parse)?,
        status: crate::jobs::named(r, "status", ArtifactStatus::parse)?,
        recording_id: rec.and_then(|s| s.parse().ok()),
        data_key: r.try_get("data_url")?,
        data: data.map(|d| serde_json::from_str(&d)).transpose().map_err(|e| StoreError::Corrupt(e.to_string()))?,
        error: r.try_get("error")?,
        updated_at: col_ts(r, "updated_at")?,
    })
}

fn segment_from(r: &AnyRow) -> StoreResult<Segment> {
    let asset_id: Option<String> = r.try_get("asset_id")?;
    let page = r.try_get::<Option<i64>, _>("page")?.map(|p| p as u32);
    Ok(Segment {
        start_s: r.try_get("start_s")?,
        end_s: r.try_get("end_s")?,
        text: r.try_get("text")?,
        scene_id: r.try_get("scene_id")?,
        slide: asset_id.map(|asset_id| SlideRef { asset_id, page }),
    })
}

fn recording_from(r: &AnyRow) -> StoreResult<Recording> {
    let started: Option<String> = r.try_get("started_at")?;
    let runs: Option<String> = r.try_get("runs")?;
    Ok(Recording {
        id: col_uuid(r, "id")?,
        session_id: col_uuid(r, "session_id")?,
        file_key: r.try_get("file_url")?,
        content_type: r.try_get("content_type")?,
        size_bytes: r.try_get("size_bytes")?,
        started_at: started.as_deref().map(parse_ts).transpose()?,
        duration_s: r.try_get("duration_s")?,
        created_at: col_ts(r, "created_at")?,
        runs: runs
            .map(|j| serde_json::from_str(&j))
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
            .unwrap_or_default(),
    })
}

const REC_COLS: &str = "id, session_id, file_url, content_type, size_bytes, started_at, duration_s, created_at, runs";

impl Store {
    /// The rows of a query over one session's data (`$1` = session, `$2` = tenant).
    /// The rows of `sql` (bound to `$1` = session, `$2` = tenant), each mapped by `row`.
    async fn session_rows<T>(
        &self,
        sql: &str,
        tenant: TenantId,
        session: SessionId,
        row: fn(&AnyRow) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let rows = sqlx::query(sql).bind(session.to_string()).bind(tenant.to_string()).fetch_all(&self.pool).await?;
        rows.iter().map(row).collect()
    }

    /// Store a recording row and append its `recording.added` event (which enqueues processing) in
    /// one transaction. `Err(outcome)` when the event is refused; nothing is written then.
    /// A recording and its `recording.added` event (which enqueues processing), in one commit.
    pub async fn add_recording(
        &self,
        tenant: TenantId,
        rec: &Recording,
        by: UserId,
        event: NewEvent,
    ) -> StoreResult<Result<EventEnvelope, AppendOutcome>> {
        let done = self.commit(tenant, rec.session_id, &[crate::Write::Recording(rec, by)], vec![event]).await?;
        Ok(done.map(|mut e| e.remove(0)))
    }

    pub async fn recording(&self, tenant: TenantId, id: RecordingId) -> StoreResult<Option<Recording>> {
        let r = sqlx::query(&format!("select {REC_COLS} from recordings where id = $1 and tenant_id = $2"))
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(recording_from).transpose()
    }

    pub async fn recordings_of(&self, tenant: TenantId, session: SessionId) -> StoreResult<Vec<Recording>> {
        let rows = sqlx::query(&format!(
            "select {REC_COLS} from recordings where session_id = $1 and tenant_id = $2 order by created_at"
        ))
        .bind(session.to_string())
        .bind(tenant.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(recording_from).collect()
    }

    pub async fn set_recording_duration(&self, id: RecordingId, duration_s: f64) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query("update recordings set duration_s = $2 where id = $1")
            .bind(id.to_string())
            .bind(duration_s)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await
    }

    /// Record one artifact of a recording, replacing the session's artifact of this type (a re-run
    /// replaces, never duplicates), and when it is ready the log's `artifact.ready` event — once per
    /// recording and kind however often the recording is processed (the worker's results and the
    /// demo class's shipped ones alike).
    #[allow(clippy::too_many_arguments)]
    pub async fn record_artifact(
        &self,
        tenant: TenantId,
        session: SessionId,
        recording: RecordingId,
        kind: ArtifactKind,
        status: ArtifactStatus,
        data_key: Option<&str>,
        data: Option<&Value>,
        error: Option<&str>,
    ) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query(
            "insert into artifacts (id, tenant_id, session_id, recording_id, type, status, data_url, data_json, error, updated_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             on conflict (session_id, type) do update set recording_id = $4, status = $6, data_url = $7, data_json = $8, \
             error = $9, updated_at = $10",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(tenant.to_string())
        .bind(session.to_string())
        .bind(recording.to_string())
        .bind(kind.as_str())
        .bind(status.as_str())
        .bind(data_key)
        .bind(data.map(|d| d.to_string()))
        .bind(error)
        .bind(ts(Utc::now()))
        .execute(&mut *w.tx)
        .await
        .map_err(on_constraint)?;
        w.commit().await?;
        if status == ArtifactStatus::Ready {
            let ev = NewEvent {
                idempotency_key: format!("artifact/{recording}/{kind}"),
                actor_id: None,
                actor_role: None,
                occurred_at: None,
                event: shared_types::SessionEvent::ArtifactReady {
                    artifact_type: kind.as_str().into(),
                    artifact_id: None,
                },
            };
            self.append(tenant, session, vec![ev]).await?;
        }
        Ok(())
    }

    pub async fn artifacts_of(&self, tenant: TenantId, session: SessionId) -> StoreResult<Vec<Artifact>> {
        let sql = "select type, status, recording_id, data_url, data_json, error, updated_at from artifacts \
                   where session_id = $1 and tenant_id = $2 order by type";
        self.session_rows(sql, tenant, session, artifact_from).await
    }

    /// Replace the session's searchable text: its transcript, and the slide pages and questions
    /// found beside it (one transaction, so search never sees half of either), in `language` (the
    /// class's, ISO 639-1: PostgreSQL stems it as that language).
    pub async fn replace_transcript(
        &self,
        tenant: TenantId,
        course: CourseId,
        session: SessionId,
        language: &str,
        segments: &[Segment],
        texts: &[LectureText],
    ) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query("delete from transcript_segments where session_id = $1")
            .bind(session.to_string())
            .execute(&mut *w.tx)
            .await?;
        let said =
            segments.iter().map(|s| (HitKind::Speech, s.start_s, s.end_s, &s.text, s.scene_id.as_ref(), &s.slide));
        let shown = texts.iter().map(|t| (t.kind, t.start_s, t.end_s, &t.text, None, &t.slide));
        let rows: Vec<_> = said.chain(shown).collect();
        sqlx::query(
            "insert into search_languages (tenant_id, course_id, language) values ($1, $2, $3) \
             on conflict (course_id, language) do nothing",
        )
        .bind(tenant.to_string())
        .bind(course.to_string())
        .bind(language)
        .execute(&mut *w.tx)
        .await?;
        const COLS: usize = 12;
        for (chunk_no, chunk) in rows.chunks(100).enumerate() {
            let values: Vec<String> = (0..chunk.len())
                .map(|r| {
                    format!("({})", (1..=COLS).map(|c| format!("${}", r * COLS + c)).collect::<Vec<_>>().join(", "))
                })
                .collect();
            let sql = format!(
                "insert into transcript_segments (tenant_id, course_id, session_id, idx, start_s, end_s, text, scene_id, asset_id, page, kind, language) values {}",
                values.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for (i, (kind, start_s, end_s, text, scene_id, slide)) in chunk.iter().enumerate() {
                q = q
                    .bind(tenant.to_string())
                    .bind(course.to_string())
                    .bind(session.to_string())
                    .bind((chunk_no * 100 + i) as i64)
                    .bind(*start_s)
                    .bind(*end_s)
                    .bind((*text).clone())
                    .bind(scene_id.cloned())
                    .bind(slide.as_ref().map(|sl| sl.asset_id.clone()))
                    .bind(slide.as_ref().and_then(|sl| sl.page).map(|p| p as i64))
                    .bind(kind.as_str())
                    .bind(language);
            }
            q.execute(&mut *w.tx).await?;
        }
        w.commit().await
    }

    pub async fn transcript(&self, tenant: TenantId, session: SessionId) -> StoreResult<Vec<Segment>> {
        let sql = "select start_s, end_s, text, scene_id, asset_id, page from transcript_segments \
                   where session_id = $1 and tenant_id = $2 and kind = 'speech' order by idx";
        self.session_rows(sql, tenant, session, segment_from).await
    }

    /// Ranked full-text search over a course's transcripts (SQLite FTS5 with BM25, Porter-stemmed;
    /// PostgreSQL a GIN-indexed tsvector stemmed in each class's language, with `ts_rank_cd`):
    /// every word must match (stemmed), the last as a prefix when it has three letters or more;
    /// best first, with a snippet around the match.
    pub async fn search(
        &self,
        tenant: TenantId,
        course: CourseId,
        q: &str,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<SearchHit>> {
        let Some(query) = search_query(self.backend, q) else { return Ok(Vec::new()) };
        let sql = match self.backend {
            Backend::Sqlite => SEARCH_SQLITE,
            Backend::Postgres => SEARCH_POSTGRES,
        };
        let rows = sqlx::query(sql)
            .bind(query)
            .bind(tenant.to_string())
            .bind(course.to_string())
            .bind(limit)
            .bind(offset)
            .bind(SEARCH_RANKS_AT_MOST)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let session_id = col_uuid(r, "session_id")?;
                let at_s: f64 = r.try_get("start_s")?;
                let kind: String = r.try_get("kind")?;
                Ok(SearchHit {
                    kind: HitKind::parse(&kind).unwrap_or_default(),
                    page: r.try_get::<Option<i64>, _>("page")?.map(|p| p as u32),
                    session_id,
                    at_s,
                    end_s: r.try_get("end_s")?,
                    text: r.try_get("text")?,
                    snippet: r.try_get("snip")?,
                    language: r.try_get("language")?,
                    score: r.try_get("score")?,
                    lesson_id: col_uuid(r, "lesson_id")?,
                    lesson_title: r.try_get("lesson_title")?,
                    held_at: col_ts(r, "held_at")?,
                    replay_url: SearchHit::replay_url(session_id, at_s),
                })
            })
            .collect()
    }
}

/// The words of a search: runs of letters and digits, lower-cased, at most 8. Nothing else the
/// user typed counts (no quotes, operators or brackets: never query syntax).
pub fn search_words(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).take(8).map(str::to_lowercase).collect()
}

/// The words of a search as the database's query language wants them: FTS5 `"w1" "w2" "w3"*`,
/// PostgreSQL `w1 & w2 & w3:*`.
fn search_query(backend: Backend, q: &str) -> Option<String> {
    let words = search_words(q);
    let last = words.len().checked_sub(1)?;
    let prefix = words[last].chars().count() >= 3;
    let parts = words.iter().enumerate().map(|(i, w)| match (backend, i == last && prefix) {
        (Backend::Sqlite, true) => format!("\"{w}\"*"),
        (Backend::Sqlite, false) => format!("\"{w}\""),
        (Backend::Postgres, true) => format!("{w}:*"),
        (Backend::Postgres, false) => w.clone(),
    });
    Some(parts.collect::<Vec<_>>().join(if backend == Backend::Sqlite { " " } else { " & " }))
}

/// How many of a course's matches a search ranks at most: the newest ones. A word found in more
/// lines than this (a common word, in every lecture) is ranked among its most recent lines, so a
/// search costs the same whatever the word; a rarer word has all its matches ranked.
pub const SEARCH_RANKS_AT_MOST: i64 = 2000;

/// The course's newest matches (FTS5 walks its posting list in rowid order, newest first, and
/// stops at the cap), then the best `limit` of them (BM25 `rank`, lower is better), then their
/// snippets — from one more walk over the same stretch of the posting list (from the oldest row
/// kept on), not a lookup per row: FTS5 reads a word's whole posting list for each `rowid =`.
const SEARCH_SQLITE: &str = "with cand as ( \
        select transcript_fts.rowid as rid, transcript_fts.rank as rank, s.session_id, s.start_s, s.idx \
        from transcript_fts join transcript_segments s on s.rowid = transcript_fts.rowid \
        where transcript_fts match $1 and s.tenant_id = $2 and s.course_id = $3 \
        order by transcript_fts.rowid desc limit $6), \
    top as materialized (select rid, rank from cand order by rank, session_id, start_s, idx limit $4 offset $5) \
    select s.session_id, s.start_s, s.end_s, s.text, s.kind, s.page, s.language, \
        snippet(transcript_fts, 0, '«', '»', '…', 16) as snip, -top.rank as score, \
        l.id as lesson_id, l.title as lesson_title, coalesce(se.started_at, se.scheduled_start) as held_at \
    from transcript_fts \
    cross join top on top.rid = transcript_fts.rowid \
    join transcript_segments s on s.rowid = transcript_fts.rowid \
    join sessions se on se.id = s.session_id \
    join lessons l on l.id = se.lesson_id \
    where transcript_fts match $1 and transcript_fts.rowid >= (select min(rid) from top) \
    order by top.rank, s.session_id, s.start_s, s.idx";

/// The course's first matches up to the cap, then the best `limit` of them (cover density over
/// the stored tsvector), then their headlines. The query is read in each language the course's
/// lectures were held in (ORed; each line was stemmed in its own).
const SEARCH_POSTGRES: &str = "with q as ( \
        select studio_tsquery_or(to_tsquery(studio_ts_config(l.language), $1)) as q \
        from search_languages l where l.course_id = $3 and l.tenant_id = $2), \
    cand as ( \
        select s.session_id, s.idx, s.start_s, s.end_s, s.text, s.kind, s.page, s.language, s.tsv \
        from transcript_segments s, q \
        where s.tsv @@ q.q and s.tenant_id = $2 and s.course_id = $3 \
        limit $6), \
    top as ( \
        select c.session_id, c.idx, c.start_s, c.end_s, c.text, c.kind, c.page, c.language, \
            ts_rank_cd(c.tsv, q.q) as score \
        from cand c, q \
        order by score desc, c.session_id, c.start_s, c.idx limit $4 offset $5) \
    select top.session_id, top.start_s, top.end_s, top.text, top.kind, top.page, top.language, \
        ts_headline(studio_ts_config(top.language), top.text, q.q, \
            'StartSel=«, StopSel=», MaxWords=20, MinWords=8, ShortWord=2') as snip, \
        top.score::float8 as score, l.id as lesson_id, l.title as lesson_title, \
        coalesce(se.started_at, se.scheduled_start) as held_at \
    from top cross join q \
    join sessions se on se.id = top.session_id \
    join lessons l on l.id = se.lesson_id \
    order by top.score desc, top.session_id, top.start_s, top.idx";

/// A resumable upload in progress.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Upload {
    pub id: uuid::Uuid,
    pub session_id: SessionId,
    pub user_id: UserId,
    pub started_at: Option<DateTime<Utc>>,
    /// Set once completed.
    pub recording_id: Option<RecordingId>,
    /// The parts received, in order.
    pub parts: Vec<UploadPart>,
}

/// A part of a resumable upload as received.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadPart {
    pub n: u32,
    pub size_bytes: i64,
    /// Set on a part that begins a new recorder run: when that run's first sample was taken.
    pub run_started_at: Option<DateTime<Utc>>,
}

/// The recording a client's `key` makes for `user`: one key, one recording, whoever stores it.
pub fn recording_id_for(user: UserId, key: &str) -> RecordingId {
    RecordingId(uuid::Uuid::new_v5(&user.0, key.as_bytes()))
}

/// Where part `n` of an upload is kept (until the upload is swept).
pub fn upload_part_key(session: SessionId, upload: uuid::Uuid, n: u32) -> String {
    format!("sessions/{session}/uploads/{upload}/part-{n:05}")
}

impl Upload {
    /// The key its recording is stored under: the page's "complete" and the server's finish make
    /// the same recording, and the live captions name it before it exists.
    pub fn recording_key(&self) -> String {
        format!("upload/{}", self.id)
    }

    pub fn recording_id(&self) -> RecordingId {
        recording_id_for(self.user_id, &self.recording_key())
    }

    /// Parts 1..k with no gap (what a recording can be joined from).
    pub fn contiguous(&self) -> &[UploadPart] {
        let k = self.parts.iter().enumerate().take_while(|(i, p)| p.n as usize == i + 1).count();
        &self.parts[..k]
    }

    /// Where each recorder run of `parts` starts in their joined bytes (empty when there is one run).
    pub fn runs(&self, parts: &[UploadPart]) -> Vec<RecordingRun> {
        let origin = self.started_at;
        let mut byte = 0u64;
        let mut runs = Vec::new();
        for p in parts {
            if let Some(at) = p.run_started_at.filter(|_| p.n > 1) {
                if runs.is_empty() {
                    runs.push(RecordingRun { byte: 0, at_s: 0.0 });
                }
                let at_s = origin.map_or(0.0, |o| (at - o).num_milliseconds() as f64 / 1000.0).max(0.0);
                runs.push(RecordingRun { byte, at_s });
            }
            byte += p.size_bytes as u64;
        }
        runs
    }
}

impl Store {
    /// Start a resumable upload (again: nothing changes) and queue its live captions.
    pub async fn create_upload(
        &self,
        tenant: TenantId,
        session: SessionId,
        user: UserId,
        id: uuid::Uuid,
        started_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query(
            "insert into recording_uploads (id, tenant_id, session_id, user_id, started_at, created_at) values ($1, $2, $3, $4, $5, $6) \
             on conflict (id) do nothing",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(session.to_string())
        .bind(user.to_string())
        .bind(started_at.map(ts))
        .bind(ts(Utc::now()))
        .execute(&mut *w.tx)
        .await
        .map_err(on_constraint)?;
        // The worker captions the class from the parts as they arrive (one job per upload).
        let payload = serde_json::json!({ "uploadId": id });
        let dedupe = format!("live:{id}");
        let job = crate::NewJob {
            kind: shared_types::jobs::JobKind::LiveCaptions,
            payload: &payload,
            dedupe_key: Some(&dedupe),
        };
        crate::jobs::enqueue_in(&mut w.tx, tenant, session, job).await?;
        w.commit().await
    }

    pub async fn upload(&self, tenant: TenantId, id: uuid::Uuid) -> StoreResult<Option<Upload>> {
        let r = sqlx::query("select session_id, user_id, started_at, recording_id from recording_uploads where id = $1 and tenant_id = $2")
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = r else { return Ok(None) };
        let parts = sqlx::query(
            "select n, size_bytes, run_started_at from recording_upload_parts where upload_id = $1 order by n",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|p| {
            let run: Option<String> = p.try_get(2)?;
            Ok(UploadPart {
                n: p.try_get::<i64, _>(0)? as u32,
                size_bytes: p.try_get(1)?,
                run_started_at: run.as_deref().map(parse_ts).transpose()?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        let started: Option<String> = r.try_get("started_at")?;
        let rec: Option<String> = r.try_get("recording_id")?;
        Ok(Some(Upload {
            id,
            session_id: col_uuid(&r, "session_id")?,
            user_id: col_uuid(&r, "user_id")?,
            started_at: started.as_deref().map(parse_ts).transpose()?,
            recording_id: rec.and_then(|s| s.parse().ok()),
            parts,
        }))
    }

    /// Record that part `n` is stored (again: sending a part twice replaces it).
    pub async fn put_upload_part(
        &self,
        id: uuid::Uuid,
        n: u32,
        size: i64,
        run_started_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query(
            "insert into recording_upload_parts (upload_id, n, size_bytes, run_started_at) values ($1, $2, $3, $4) \
             on conflict (upload_id, n) do update set size_bytes = $3, run_started_at = $4",
        )
        .bind(id.to_string())
        .bind(n as i64)
        .bind(size)
        .bind(run_started_at.map(ts))
        .execute(&mut *w.tx)
        .await?;
        w.commit().await
    }

    pub async fn finish_upload(&self, id: uuid::Uuid, recording: RecordingId) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query("update recording_uploads set recording_id = $2 where id = $1")
            .bind(id.to_string())
            .bind(recording.to_string())
            .execute(&mut *w.tx)
            .await?;
        w.commit().await
    }

    /// Uploads never completed, with parts, of sessions that ended at or before `ended_before`:
    /// (tenant, upload). The server finishes them from the parts it holds.
    pub async fn abandoned_uploads(&self, ended_before: DateTime<Utc>) -> StoreResult<Vec<(TenantId, uuid::Uuid)>> {
        let rows = sqlx::query(
            "select u.tenant_id, u.id from recording_uploads u join sessions s on s.id = u.session_id \
             where u.recording_id is null and s.status = 'ended' and s.ended_at <= $1 \
             and exists (select 1 from recording_upload_parts p where p.upload_id = u.id and p.n = 1) \
             order by u.created_at",
        )
        .bind(ts(ended_before))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((col_uuid(r, "tenant_id")?, col_uuid(r, "id")?))).collect()
    }

    /// Uploads created before `now - keep` that still hold parts: (id, session, completed, parts).
    pub async fn stale_uploads(
        &self,
        keep: chrono::Duration,
    ) -> StoreResult<Vec<(uuid::Uuid, SessionId, bool, Vec<u32>)>> {
        let rows = sqlx::query(
            "select u.id, u.session_id, u.recording_id, p.n from recording_uploads u \
             left join recording_upload_parts p on p.upload_id = u.id \
             where u.created_at < $1 and (p.n is not null or u.recording_id is null) order by u.id, p.n",
        )
        .bind(ts(Utc::now() - keep))
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<(uuid::Uuid, SessionId, bool, Vec<u32>)> = Vec::new();
        for r in rows {
            let id: uuid::Uuid = col_uuid(&r, "id")?;
            let n: Option<i64> = r.try_get("n")?;
            if out.last().is_none_or(|(last, ..)| *last != id) {
                let rec: Option<String> = r.try_get("recording_id")?;
                out.push((id, col_uuid(&r, "session_id")?, rec.is_some(), Vec::new()));
            }
            if let (Some(n), Some(last)) = (n, out.last_mut()) {
                last.3.push(n as u32);
            }
        }
        Ok(out)
    }

    /// Forget an upload's parts (their blobs are gone); an abandoned upload is forgotten whole.
    pub async fn forget_upload(&self, id: uuid::Uuid, completed: bool) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query("delete from recording_upload_parts where upload_id = $1")
            .bind(id.to_string())
            .execute(&mut *w.tx)
            .await?;
        if !completed {
            sqlx::query("delete from recording_uploads where id = $1").bind(id.to_string()).execute(&mut *w.tx).await?;
        }
        w.commit().await
    }
}

/// Insert a recording row inside an open transaction (once: the id decides).
pub(crate) async fn insert_recording_in(
    tx: &mut Transaction<'static, Any>,
    tenant: TenantId,
    rec: &Recording,
    by: UserId,
) -> StoreResult<()> {
    sqlx::query(
        "insert into recordings (id, tenant_id, session_id, file_url, content_type, size_bytes, started_at, duration_s, \
         created_by, created_at, runs) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) on conflict (id) do nothing",
    )
    .bind(rec.id.to_string())
    .bind(tenant.to_string())
    .bind(rec.session_id.to_string())
    .bind(&rec.file_key)
    .bind(&rec.content_type)
    .bind(rec.size_bytes)
    .bind(rec.started_at.map(ts))
    .bind(rec.duration_s)
    .bind(by.to_string())
    .bind(ts(rec.created_at))
    .bind((!rec.runs.is_empty()).then(|| serde_json::to_string(&rec.runs)).transpose().map_err(|e| StoreError::Corrupt(e.to_string()))?)
    .execute(&mut **tx)
    .await
    .map_err(on_constraint)?;
    Ok(())
}
