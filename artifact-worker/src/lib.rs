//! artifact-worker: claims pipeline jobs from the store and turns a class recording into a
//! transcript, chapters, highlights, captions, a search index and question→answer links.

pub mod agreement;
pub mod decode;
pub mod derive;
pub mod ggml;
pub mod glossary;
pub mod levels;
pub mod live;
pub mod model;
pub mod pipeline;
pub mod samples;
pub mod text;
pub mod transcribe;
