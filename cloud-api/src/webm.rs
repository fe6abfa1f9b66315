//! One WebM from a recording's recorder runs. A MediaRecorder cannot change its tracks, so the
//! present view starts a new recorder when the screen share starts or stops, the camera goes on or
//! off, or the page is reloaded: each run is a WebM file of its own, with its own header and a clock
//! from zero. Joined byte after byte they are not one file a player can follow (Chromium stops at
//! the second header), so the recording is rewritten as one: one header, the tracks of every run
//! (renumbered by kind: one audio, one video), every block at the second its run began on the
//! recording's clock, silence where nothing was recorded (so the audio runs on the class's clock),
//! and a duration and cues so the replay can show its length and seek.
//!
//! Two passes over the joined file: the first reads the structure (tracks, clusters, block headers)
//! and places each run; the second copies the blocks. Memory stays at one cluster.

use crate::store::RecordingRun;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};

mod id {
    pub const EBML: u32 = 0x1A45_DFA3;
    pub const EBML_VERSION: u32 = 0x4286;
    pub const EBML_READ_VERSION: u32 = 0x42F7;
    pub const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
    pub const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
    pub const DOC_TYPE: u32 = 0x4282;
    pub const DOC_TYPE_VERSION: u32 = 0x4287;
    pub const DOC_TYPE_READ_VERSION: u32 = 0x4285;
    pub const SEGMENT: u32 = 0x1853_8067;
    pub const SEEK_HEAD: u32 = 0x114D_9B74;
    pub const SEEK: u32 = 0x4DBB;
    pub const SEEK_ID: u32 = 0x53AB;
    pub const SEEK_POSITION: u32 = 0x53AC;
    pub const INFO: u32 = 0x1549_A966;
    pub const TIMECODE_SCALE: u32 = 0x2A_D7B1;
    pub const DURATION: u32 = 0x4489;
    pub const MUXING_APP: u32 = 0x4D80;
    pub const WRITING_APP: u32 = 0x5741;
    pub const TRACKS: u32 = 0x1654_AE6B;
    pub const TRACK_ENTRY: u32 = 0xAE;
    pub const TRACK_NUMBER: u32 = 0xD7;
    pub const TRACK_UID: u32 = 0x73C5;
    pub const TRACK_TYPE: u32 = 0x83;
    pub const CODEC_ID: u32 = 0x86;
    pub const CLUSTER: u32 = 0x1F43_B675;
    pub const TIMECODE: u32 = 0xE7;
    pub const SIMPLE_BLOCK: u32 = 0xA3;
    pub const BLOCK_GROUP: u32 = 0xA0;
    pub const BLOCK: u32 = 0xA1;
    pub const REFERENCE_BLOCK: u32 = 0xFB;
    pub const CUES: u32 = 0x1C53_BB6B;
    pub const CUE_POINT: u32 = 0xBB;
    pub const CUE_TIME: u32 = 0xB3;
    pub const CUE_TRACK_POSITIONS: u32 = 0xB7;
    pub const CUE_TRACK: u32 = 0xF7;
    pub const CUE_CLUSTER_POSITION: u32 = 0xF1;
}

const VIDEO: u64 = 1;
const AUDIO: u64 = 2;
/// An Opus packet of 20 ms of silence (CELT, full band, mono: a stereo stream decodes it too).
const OPUS_SILENCE: [u8; 3] = [0xF8, 0xFF, 0xFE];
const SILENCE_NS: i64 = 20_000_000;
/// A new cluster at least this often (and at a video key frame, once the cluster is a second old).
const CLUSTER_MS: i64 = 5_000;

/// What the join made.
#[derive(Debug, Clone, PartialEq)]
pub struct Joined {
    pub runs: usize,
    pub duration_s: f64,
    pub blocks: u64,
    /// Seconds of silence put where no run recorded.
    pub silence_s: f64,
    /// Where each run begins on the recording's clock (seconds).
    pub placed_s: Vec<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("reading or writing: {0}")]
    Io(#[from] io::Error),
    #[error("run {run}: {what}")]
    Unsupported { run: usize, what: String },
}

fn unsupported(run: usize, what: impl Into<String>) -> JoinError {
    JoinError::Unsupported { run, what: what.into() }
}

/// A track as a run declares it.
#[derive(Clone, Debug)]
struct TrackIn {
    number: u64,
    kind: u64,
    codec: String,
    /// Its TrackEntry's children, as they were.
    children: Vec<u8>,
}

/// A block as the walk meets it.
struct BlockAt {
    track: u64,
    /// Timestamp on the run's own clock, in nanoseconds.
    ns: i64,
    /// SimpleBlock flags (key frame 0x80).
    flags: u8,
    /// Where the frame data (after track, timecode and flags) is, and how long.
    data_at: u64,
    data_len: u64,
}

/// Reads elements of one run's byte range.
struct Walk<'a, R: Read + Seek> {
    r: &'a mut BufReader<R>,
    pos: u64,
    end: u64,
}

struct Header {
    id: u32,
    /// None: unknown size (a live stream's segment or cluster).
    size: Option<u64>,
    /// Where its data starts.
    at: u64,
}

impl<R: Read + Seek> Walk<'_, R> {
    fn byte(&mut self) -> io::Result<u8> {
        let mut b = [0u8];
        self.r.read_exact(&mut b)?;
        self.pos += 1;
        Ok(b[0])
    }

    fn vint(&mut self, keep_marker: bool) -> io::Result<(u64, usize, bool)> {
        let first = self.byte()?;
        if first == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "a vint longer than 8 bytes"));
        }
        let len = first.leading_zeros() as usize + 1;
        let mut value = if keep_marker { first as u64 } else { (first & mask(len)) as u64 };
        let mut all_ones = (first | !mask(len)) == 0xFF;
        for _ in 1..len {
            let b = self.byte()?;
            all_ones &= b == 0xFF;
            value = (value << 8) | b as u64;
        }
        Ok((value, len, all_ones))
    }

    /// The next element's header, or None at the end of the range (or a header cut by it).
    fn header(&mut self) -> io::Result<Option<Header>> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let start = self.pos;
        let read = (|| -> io::Result<Header> {
            let (id, id_len, _) = self.vint(true)?;
            if id_len > 4 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "an element id longer than 4 bytes"));
            }
            let (size, _, unknown) = self.vint(false)?;
            Ok(Header { id: id as u32, size: (!unknown).then_some(size), at: self.pos })
        })();
        match read {
            Ok(h) if self.pos <= self.end => Ok(Some(h)),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                self.pos = start.max(self.end);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn go(&mut self, to: u64) -> io::Result<()> {
        if to != self.pos {
            self.r.seek_relative(to as i64 - self.pos as i64)?;
            self.pos = to;
        }
        Ok(())
    }

    fn bytes(&mut self, n: u64) -> io::Result<Vec<u8>> {
        let mut v = vec![0u8; n as usize];
        self.r.read_exact(&mut v)?;
        self.pos += n;
        Ok(v)
    }

    /// The end of a known-size element, if it fits in the range.
    fn end_of(&self, h: &Header) -> Option<u64> {
        h.size.map(|s| h.at + s).filter(|e| *e <= self.end)
    }
}

/// The value bits of a vint's first byte, for a vint of `len` bytes.
fn mask(len: usize) -> u8 {
    (0xFFu16 >> len) as u8
}

fn uint(b: &[u8]) -> u64 {
    b.iter().fold(0, |v, x| (v << 8) | *x as u64)
}

/// The children of an element held in memory: (id, data).
fn children(mut data: &[u8]) -> Vec<(u32, &[u8])> {
    let mut out = Vec::new();
    let vint = |d: &[u8], keep: bool| -> Option<(u64, usize)> {
        let first = *d.first()?;
        if first == 0 {
            return None;
        }
        let len = first.leading_zeros() as usize + 1;
        let mut v = if keep { first as u64 } else { (first & mask(len)) as u64 };
        for b in d.get(1..len)? {
            v = (v << 8) | *b as u64;
        }
        Some((v, len))
    };
    while let Some((id, a)) = vint(data, true) {
        let Some((size, b)) = vint(&data[a..], false) else { break };
        let Some(body) = data.get(a + b..a + b + size as usize) else { break };
        out.push((id as u32, body));
        data = &data[a + b + size as usize..];
    }
    out
}

/// What a run declares and holds: walks it, handing each block to `on_block` (in file order).
fn walk_run<R: Read + Seek>(
    r: &mut BufReader<R>,
    run: usize,
    start: u64,
    end: u64,
    mut on_tracks: impl FnMut(u64, Vec<TrackIn>) -> Result<(), JoinError>,
    mut on_block: impl FnMut(&mut Walk<'_, R>, BlockAt) -> Result<(), JoinError>,
) -> Result<(), JoinError> {
    r.seek(SeekFrom::Start(start))?;
    let mut w = Walk { r, pos: start, end };
    let h = w.header()?.ok_or_else(|| unsupported(run, "empty"))?;
    if h.id != id::EBML {
        return Err(unsupported(run, "does not start with a WebM header"));
    }
    let after = w.end_of(&h).ok_or_else(|| unsupported(run, "its header is cut"))?;
    let doc = children(&w.bytes(after - h.at)?).into_iter().find(|(i, _)| *i == id::DOC_TYPE).map(|(_, d)| d.to_vec());
    if doc.as_deref() != Some(b"webm") && doc.as_deref() != Some(b"matroska") {
        return Err(unsupported(run, "not a WebM or Matroska file"));
    }
    let seg = w.header()?.ok_or_else(|| unsupported(run, "no segment"))?;
    if seg.id != id::SEGMENT {
        return Err(unsupported(run, "no segment after the header"));
    }
    if let Some(e) = w.end_of(&seg) {
        w.end = e;
    }
    let mut scale: u64 = 1_000_000;
    let mut cluster_tc: Option<u64> = None;
    while let Some(h) = w.header()? {
        match h.id {
            id::CLUSTER => cluster_tc = None, // go into it: its children follow
            id::TIMECODE => {
                let end = w.end_of(&h).ok_or_else(|| unsupported(run, "a cut cluster timecode"))?;
                cluster_tc = Some(uint(&w.bytes(end - h.at)?));
            }
            id::SIMPLE_BLOCK | id::BLOCK_GROUP => {
                let Some(end) = w.end_of(&h) else { break }; // the last block, cut: left out
                let (simple, block_end, reference) = if h.id == id::SIMPLE_BLOCK {
                    (true, end, false)
                } else {
                    let group = w.bytes(end - h.at)?;
                    let kids = children(&group);
                    let reference = kids.iter().any(|(i, _)| *i == id::REFERENCE_BLOCK);
                    // The Block's data inside the group, as a file position.
                    let found = kids.iter().find(|(i, _)| *i == id::BLOCK).map(|(_, d)| {
                        let at = (d.as_ptr() as usize - group.as_ptr() as usize) as u64;
                        (h.at + at, h.at + at + d.len() as u64)
                    });
                    let (a, b) = found.ok_or_else(|| unsupported(run, "a block group without its block"))?;
                    w.go(a)?;
                    (false, b, reference)
                };
                let tc = cluster_tc.ok_or_else(|| unsupported(run, "a block before its cluster's timecode"))?;
                let (track, _, _) = w.vint(false)?;
                let rel = i16::from_be_bytes([w.byte()?, w.byte()?]) as i64;
                let mut flags = w.byte()?;
                if !simple {
                    flags = (flags & 0x7F) | if reference { 0 } else { 0x80 };
                }
                let data_at = w.pos;
                if data_at > block_end {
                    return Err(unsupported(run, "a block shorter than its header"));
                }
                let ns = (tc as i64 + rel) * scale as i64;
                on_block(&mut w, BlockAt { track, ns, flags, data_at, data_len: block_end - data_at })?;
                w.go(end)?;
            }
            id::INFO | id::TRACKS => {
                let end = w.end_of(&h).ok_or_else(|| unsupported(run, "its track list is cut"))?;
                let data = w.bytes(end - h.at)?;
                if h.id == id::INFO {
                    if let Some((_, d)) = children(&data).into_iter().find(|(i, _)| *i == id::TIMECODE_SCALE) {
                        scale = uint(d).max(1);
                    }
                    continue;
                }
                let mut tracks = Vec::new();
                for (i, entry) in children(&data) {
                    if i != id::TRACK_ENTRY {
                        continue;
                    }
                    let kids = children(entry);
                    let get = |want: u32| kids.iter().find(|(i, _)| *i == want).map(|(_, d)| *d);
                    tracks.push(TrackIn {
                        number: get(id::TRACK_NUMBER)
                            .map(uint)
                            .ok_or_else(|| unsupported(run, "a track without a number"))?,
                        kind: get(id::TRACK_TYPE).map(uint).unwrap_or(0),
                        codec: get(id::CODEC_ID).map(|d| String::from_utf8_lossy(d).into_owned()).unwrap_or_default(),
                        children: entry.to_vec(),
                    });
                }
                on_tracks(scale, tracks)?;
            }
            // Anything else of the segment (seek head, cues, tags, void) or of a cluster (position,
            // previous size) is skipped; an element of unknown size other than a cluster cannot be.
            _ => match w.end_of(&h) {
                Some(end) => w.go(end)?,
                None if h.size.is_some() => break, // runs past the range: cut
                None => return Err(unsupported(run, format!("an element {:X} of unknown size", h.id))),
            },
        }
    }
    Ok(())
}

/// One run as the first pass saw it.
#[derive(Default, Clone, Debug)]
struct RunSeen {
    tracks: Vec<TrackIn>,
    first_ns: Option<i64>,
    last_ns: Option<i64>,
    /// The last audio block and the step before it (an audio frame's length).
    audio_first: Option<i64>,
    audio_last: Option<i64>,
    audio_step: i64,
    blocks: u64,
}

impl RunSeen {
    fn kind_of(&self, track: u64) -> Option<u64> {
        self.tracks.iter().find(|t| t.number == track).map(|t| t.kind)
    }
    fn audio_end(&self) -> Option<i64> {
        self.audio_last.map(|l| l + self.audio_step.max(1))
    }
}

/// The joined file's runs: byte ranges from `runs` (empty or one: the whole file is one run).
fn ranges(runs: &[RecordingRun], len: u64) -> Vec<(u64, u64, f64)> {
    if runs.is_empty() {
        return vec![(0, len, 0.0)];
    }
    runs.iter()
        .enumerate()
        .map(|(i, r)| (r.byte.min(len), runs.get(i + 1).map_or(len, |n| n.byte.min(len)), r.at_s.max(0.0)))
        .collect()
}

/// Rewrite `input` (the runs joined byte after byte; `runs` says where each begins and when) as one
/// WebM into `out`.
pub fn join<R: Read + Seek, W: Write + Seek>(input: R, runs: &[RecordingRun], out: W) -> Result<Joined, JoinError> {
    let mut r = BufReader::with_capacity(256 * 1024, input);
    let len = r.seek(SeekFrom::End(0))?;
    let ranges = ranges(runs, len);

    // Pass 1: each run's tracks and times.
    let mut seen: Vec<RunSeen> = Vec::new();
    for (i, (start, end, _)) in ranges.iter().enumerate() {
        let mut s = RunSeen::default();
        let tracks = std::cell::RefCell::new(Vec::new());
        walk_run(
            &mut r,
            i,
            *start,
            *end,
            |_, t| {
                *tracks.borrow_mut() = t;
                Ok(())
            },
            |_, b| {
                let kind = tracks.borrow().iter().find(|t| t.number == b.track).map(|t| t.kind);
                let kind =
                    kind.ok_or_else(|| unsupported(i, format!("a block of track {} it does not declare", b.track)))?;
                s.first_ns = Some(s.first_ns.map_or(b.ns, |f| f.min(b.ns)));
                s.last_ns = Some(s.last_ns.map_or(b.ns, |l| l.max(b.ns)));
                s.blocks += 1;
                if kind == AUDIO {
                    if let Some(l) = s.audio_last {
                        if b.ns > l {
                            s.audio_step = b.ns - l;
                        }
                    }
                    s.audio_first.get_or_insert(b.ns);
                    s.audio_last = Some(b.ns);
                }
                Ok(())
            },
        )?;
        s.tracks = tracks.into_inner();
        seen.push(s);
    }

    // The output's tracks: the first of each kind, renumbered; every run's must match its codec.
    let mut tracks: Vec<TrackIn> = Vec::new();
    for (i, s) in seen.iter().enumerate() {
        for t in &s.tracks {
            if t.kind != AUDIO && t.kind != VIDEO {
                return Err(unsupported(i, format!("a track of type {}", t.kind)));
            }
            if s.tracks.iter().filter(|o| o.kind == t.kind).count() > 1 {
                return Err(unsupported(i, "two tracks of one kind"));
            }
            match tracks.iter().find(|o| o.kind == t.kind) {
                Some(o) if o.codec != t.codec => {
                    return Err(unsupported(i, format!("{} after {}", t.codec, o.codec)));
                }
                Some(_) => {}
                None => tracks.push(t.clone()),
            }
        }
    }
    if tracks.is_empty() || seen.iter().all(|s| s.blocks == 0) {
        return Err(unsupported(0, "nothing recorded"));
    }
    let number_of = |kind: u64| tracks.iter().position(|t| t.kind == kind).map(|p| p as u64 + 1);
    let cue_kind = if number_of(VIDEO).is_some() { VIDEO } else { AUDIO };

    // Where each run goes: at the second it began, never before the run before it ended.
    let mut offsets = Vec::new(); // ns to add to a run's own clock
    let mut prev_end: i64 = 0;
    for ((_, _, at_s), s) in ranges.iter().zip(&seen) {
        let Some(first) = s.first_ns else {
            offsets.push(None);
            continue;
        };
        let target = ((at_s * 1e9) as i64).max(prev_end);
        let off = target - first;
        prev_end = s.last_ns.unwrap_or(first).max(s.audio_end().unwrap_or(0)) + off;
        offsets.push(Some(off));
    }
    let duration_ns = prev_end;

    // Pass 2: write.
    let mut w = Writer::new(out, &tracks, duration_ns, number_of(cue_kind).unwrap_or(1))?;
    // Silence fills gaps in Opus audio (what MediaRecorder writes); other codecs keep their gaps.
    let audio = number_of(AUDIO).filter(|n| tracks[*n as usize - 1].codec == "A_OPUS");
    let mut audio_end: Option<i64> = None;
    let mut silence_ns = 0i64;
    let mut frame = Vec::new();
    for (i, ((start, end, _), s)) in ranges.iter().zip(&seen).enumerate() {
        let Some(off) = offsets[i] else { continue };
        // Silence from where the last run's audio ended to where this one's starts.
        if let (Some(n), Some(from), Some(to)) = (audio, audio_end, s.audio_first.map(|a| a + off)) {
            let mut t = from;
            while t + SILENCE_NS <= to {
                w.block(n, t, 0x80, &OPUS_SILENCE, false)?;
                t += SILENCE_NS;
                silence_ns += SILENCE_NS;
            }
        }
        walk_run(
            &mut r,
            i,
            *start,
            *end,
            |_, _| Ok(()),
            |walk, b| {
                let kind = s.kind_of(b.track).ok_or_else(|| unsupported(i, "an undeclared track"))?;
                let n = number_of(kind).ok_or_else(|| unsupported(i, "a track with no place"))?;
                walk.go(b.data_at)?;
                frame.resize(b.data_len as usize, 0);
                walk.r.read_exact(&mut frame)?;
                walk.pos += b.data_len;
                w.block(n, b.ns + off, b.flags, &frame, kind == cue_kind && b.flags & 0x80 != 0)?;
                Ok(())
            },
        )?;
        if let Some(e) = s.audio_end() {
            audio_end = Some(e + off);
        }
    }
    let blocks = w.blocks;
    w.finish()?;
    Ok(Joined {
        runs: ranges.len(),
        duration_s: duration_ns as f64 / 1e9,
        blocks,
        silence_s: silence_ns as f64 / 1e9,
        placed_s: offsets.iter().zip(&seen).filter_map(|(o, s)| Some((s.first_ns? + (*o)?) as f64 / 1e9)).collect(),
    })
}

fn id_bytes(id: u32) -> Vec<u8> {
    let b = id.to_be_bytes();
    let skip = b.iter().take_while(|x| **x == 0).count().min(3);
    b[skip..].to_vec()
}

fn size_bytes(n: u64) -> Vec<u8> {
    let len = (1..=8).find(|l| n < (1u64 << (7 * l)) - 1).unwrap_or(8);
    let mut v = n.to_be_bytes()[8 - len..].to_vec();
    v[0] |= 0x80 >> (len - 1);
    v
}

fn element(buf: &mut Vec<u8>, id: u32, data: &[u8]) {
    buf.extend(id_bytes(id));
    buf.extend(size_bytes(data.len() as u64));
    buf.extend_from_slice(data);
}

fn uint_element(buf: &mut Vec<u8>, id: u32, v: u64) {
    let b = v.to_be_bytes();
    let skip = b.iter().take_while(|x| **x == 0).count().min(7);
    element(buf, id, &b[skip..]);
}

/// An 8-byte size (room to write the real one later).
fn size8(n: u64) -> [u8; 8] {
    let mut b = n.to_be_bytes();
    b[0] = 0x01;
    b
}

/// Writes the joined file: header, segment (sizes and seek positions filled in at the end),
/// clusters as blocks come, cues last.
struct Writer<W: Write + Seek> {
    out: W,
    segment_data: u64,
    seek_positions: u64,
    at: u64,
    cluster: Vec<u8>,
    cluster_ms: Option<i64>,
    cue_track: u64,
    cues: Vec<(i64, u64)>,
    pending_cue: bool,
    /// The first cluster (a cue for it when no key frame made one).
    first_cluster: Option<(i64, u64)>,
    last_ms: i64,
    blocks: u64,
    positions: [u64; 3],
}

const SEEK_TARGETS: [u32; 3] = [id::INFO, id::TRACKS, id::CUES];

impl<W: Write + Seek> Writer<W> {
    fn new(mut out: W, tracks: &[TrackIn], duration_ns: i64, cue_track: u64) -> io::Result<Self> {
        let mut head = Vec::new();
        let mut ebml = Vec::new();
        uint_element(&mut ebml, id::EBML_VERSION, 1);
        uint_element(&mut ebml, id::EBML_READ_VERSION, 1);
        uint_element(&mut ebml, id::EBML_MAX_ID_LENGTH, 4);
        uint_element(&mut ebml, id::EBML_MAX_SIZE_LENGTH, 8);
        element(&mut ebml, id::DOC_TYPE, b"webm");
        uint_element(&mut ebml, id::DOC_TYPE_VERSION, 4);
        uint_element(&mut ebml, id::DOC_TYPE_READ_VERSION, 2);
        element(&mut head, id::EBML, &ebml);
        head.extend(id_bytes(id::SEGMENT));
        head.extend(size8(0));
        let segment_data = head.len() as u64;
        // Seek head: Info, Tracks and Cues, each position 8 bytes wide, written at the end.
        let mut seeks = Vec::new();
        let mut seek_positions = 0;
        for target in SEEK_TARGETS {
            let mut s = Vec::new();
            element(&mut s, id::SEEK_ID, &id_bytes(target));
            s.extend(id_bytes(id::SEEK_POSITION));
            s.extend(size_bytes(8));
            s.extend([0u8; 8]);
            let mut e = Vec::new();
            element(&mut e, id::SEEK, &s);
            if seek_positions == 0 {
                // From the seek head's data start to the first position's data.
                seek_positions = e.len() as u64 - 8;
            }
            seeks.extend(e);
        }
        let mut sh = Vec::new();
        element(&mut sh, id::SEEK_HEAD, &seeks);
        let seek_positions = segment_data + (sh.len() - seeks.len()) as u64 + seek_positions;
        head.extend(sh);
        let info_at = head.len() as u64 - segment_data;
        let mut info = Vec::new();
        uint_element(&mut info, id::TIMECODE_SCALE, 1_000_000);
        element(&mut info, id::DURATION, &((duration_ns as f64) / 1e6).to_be_bytes());
        element(&mut info, id::MUXING_APP, b"studio recording join");
        element(&mut info, id::WRITING_APP, b"studio cloud-api");
        element(&mut head, id::INFO, &info);
        let tracks_at = head.len() as u64 - segment_data;
        let mut list = Vec::new();
        for (i, t) in tracks.iter().enumerate() {
            let mut entry = Vec::new();
            uint_element(&mut entry, id::TRACK_NUMBER, i as u64 + 1);
            uint_element(&mut entry, id::TRACK_UID, i as u64 + 1);
            for (cid, d) in children(&t.children) {
                if cid != id::TRACK_NUMBER && cid != id::TRACK_UID {
                    element(&mut entry, cid, d);
                }
            }
            element(&mut list, id::TRACK_ENTRY, &entry);
        }
        element(&mut head, id::TRACKS, &list);
        out.write_all(&head)?;
        Ok(Writer {
            out,
            segment_data,
            seek_positions,
            at: head.len() as u64,
            cluster: Vec::new(),
            cluster_ms: None,
            cue_track,
            cues: Vec::new(),
            pending_cue: false,
            first_cluster: None,
            last_ms: 0,
            blocks: 0,
            positions: [info_at, tracks_at, 0],
        })
    }

    fn block(&mut self, track: u64, ns: i64, flags: u8, data: &[u8], key: bool) -> io::Result<()> {
        let ms = (ns as f64 / 1e6).round() as i64;
        let ms = ms.max(0);
        let new_cluster = match self.cluster_ms {
            None => true,
            Some(c) => {
                let rel = ms - c;
                !(-30_000..=CLUSTER_MS).contains(&rel) || (key && rel >= 1_000)
            }
        };
        if new_cluster {
            self.flush()?;
            self.cluster_ms = Some(ms);
            uint_element(&mut self.cluster, id::TIMECODE, ms as u64);
            self.pending_cue = key;
            self.first_cluster.get_or_insert((ms, self.at - self.segment_data));
        }
        let rel = (ms - self.cluster_ms.unwrap_or(ms)) as i16;
        let mut b = size_bytes(track);
        b.extend(rel.to_be_bytes());
        b.push(flags);
        self.cluster.extend(id_bytes(id::SIMPLE_BLOCK));
        self.cluster.extend(size_bytes((b.len() + data.len()) as u64));
        self.cluster.extend(b);
        self.cluster.extend_from_slice(data);
        self.last_ms = self.last_ms.max(ms);
        self.blocks += 1;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let Some(ms) = self.cluster_ms.take() else { return Ok(()) };
        if self.pending_cue {
            self.cues.push((ms, self.at - self.segment_data));
        }
        let mut head = id_bytes(id::CLUSTER);
        head.extend(size_bytes(self.cluster.len() as u64));
        self.out.write_all(&head)?;
        self.out.write_all(&self.cluster)?;
        self.at += (head.len() + self.cluster.len()) as u64;
        self.cluster.clear();
        Ok(())
    }

    fn finish(mut self) -> io::Result<()> {
        self.flush()?;
        if self.cues.is_empty() {
            self.cues.extend(self.first_cluster);
        }
        let mut points = Vec::new();
        for (ms, pos) in &self.cues {
            let mut tp = Vec::new();
            uint_element(&mut tp, id::CUE_TRACK, self.cue_track);
            uint_element(&mut tp, id::CUE_CLUSTER_POSITION, *pos);
            let mut p = Vec::new();
            uint_element(&mut p, id::CUE_TIME, *ms as u64);
            element(&mut p, id::CUE_TRACK_POSITIONS, &tp);
            element(&mut points, id::CUE_POINT, &p);
        }
        self.positions[2] = self.at - self.segment_data;
        let mut cues = Vec::new();
        element(&mut cues, id::CUES, &points);
        self.out.write_all(&cues)?;
        self.at += cues.len() as u64;
        // Sizes and positions now known.
        self.out.seek(SeekFrom::Start(self.segment_data - 8))?;
        self.out.write_all(&size8(self.at - self.segment_data))?;
        let stride = 21; // one Seek element
        for (i, p) in self.positions.iter().enumerate() {
            self.out.seek(SeekFrom::Start(self.seek_positions + (i * stride) as u64))?;
            self.out.write_all(&p.to_be_bytes())?;
        }
        self.out.seek(SeekFrom::Start(self.at))?;
        self.out.flush()
    }
}
