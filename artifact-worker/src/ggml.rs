//! Convert Whisper weights from CTranslate2's `model.bin` into the ggml file whisper.cpp loads.
//!
//! CTranslate2 fuses self-attention q/k/v into `linear_0` and cross-attention k/v into `linear_1`
//! (the key bias is zero, and whisper.cpp has none); they are split into whisper.cpp's tensor names.
//! Matrices stay f16; biases, norms, conv biases and positional embeddings become f32.

use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::io::Write;

/// One CTranslate2 variable.
#[derive(Debug)]
pub struct Var {
    pub dims: Vec<usize>,
    /// 0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16
    pub dtype: u8,
    pub data: Vec<u8>,
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let s = self.b.get(self.at..self.at + n).context("model.bin is truncated")?;
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into()?))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into()?))
    }
    fn name(&mut self) -> Result<String> {
        let n = self.u16()? as usize;
        let raw = self.take(n)?;
        Ok(String::from_utf8_lossy(raw).trim_end_matches('\0').to_string())
    }
}

/// Parse a CTranslate2 (version 6) model file: variables by name, aliases resolved.
pub fn read_ct2(bytes: &[u8]) -> Result<HashMap<String, Var>> {
    let mut r = Reader { b: bytes, at: 0 };
    let version = r.u32()?;
    if version != 6 {
        bail!("unsupported CTranslate2 model version {version}");
    }
    let spec = r.name()?;
    if spec != "WhisperSpec" {
        bail!("not a Whisper model: {spec}");
    }
    let _revision = r.u32()?;
    let count = r.u32()?;
    let mut vars = HashMap::new();
    for _ in 0..count {
        let name = r.name()?;
        let rank = r.u8()? as usize;
        let mut dims = Vec::with_capacity(rank);
        for _ in 0..rank {
            dims.push(r.u32()? as usize);
        }
        let dtype = r.u8()?;
        let n = r.u32()? as usize;
        let data = r.take(n)?.to_vec();
        vars.insert(name, Var { dims, dtype, data });
    }
    let aliases = r.u32()?;
    for _ in 0..aliases {
        let alias = r.name()?;
        let target = r.name()?;
        if let Some(v) = vars.get(&target) {
            let copy = Var { dims: v.dims.clone(), dtype: v.dtype, data: v.data.clone() };
            vars.insert(alias, copy);
        }
    }
    Ok(vars)
}

/// Model shape read from the variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hparams {
    pub n_vocab: usize,
    pub n_audio_ctx: usize,
    pub n_audio_state: usize,
    pub n_audio_head: usize,
    pub n_audio_layer: usize,
    pub n_text_ctx: usize,
    pub n_text_state: usize,
    pub n_text_head: usize,
    pub n_text_layer: usize,
    pub n_mels: usize,
}

fn scalar_i16(vars: &HashMap<String, Var>, name: &str) -> Result<usize> {
    let v = vars.get(name).with_context(|| format!("{name} missing"))?;
    Ok(i16::from_le_bytes(v.data.get(..2).context("short scalar")?.try_into()?) as usize)
}

fn layers(vars: &HashMap<String, Var>, side: &str) -> usize {
    (0..).take_while(|i| vars.contains_key(&format!("{side}/layer_{i}/ffn/linear_0/weight"))).count()
}

pub fn hparams(vars: &HashMap<String, Var>) -> Result<Hparams> {
    let dims = |n: &str| vars.get(n).map(|v| v.dims.clone()).with_context(|| format!("{n} missing"));
    let emb = dims("decoder/embeddings/weight")?;
    let enc_pos = dims("encoder/position_encodings/encodings")?;
    let dec_pos = dims("decoder/position_encodings/encodings")?;
    let conv1 = dims("encoder/conv1/weight")?;
    Ok(Hparams {
        n_vocab: emb[0],
        n_audio_ctx: enc_pos[0],
        n_audio_state: enc_pos[1],
        n_audio_head: scalar_i16(vars, "encoder/num_heads")?,
        n_audio_layer: layers(vars, "encoder"),
        n_text_ctx: dec_pos[0],
        n_text_state: dec_pos[1],
        n_text_head: scalar_i16(vars, "decoder/num_heads")?,
        n_text_layer: layers(vars, "decoder"),
        n_mels: conv1[1],
    })
}

/// f16 little-endian bytes → f32 values.
fn f16_to_f32(data: &[u8]) -> Vec<f32> {
    data.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect()
}

/// A tensor to write: whisper.cpp name, dims (row-major, outermost first), and its values.
struct Out {
    name: String,
    dims: Vec<usize>,
    f16: bool,
    /// Raw f16 bytes when `f16`, else f32 values.
    raw: Vec<u8>,
    f32s: Vec<f32>,
}

fn var<'a>(vars: &'a HashMap<String, Var>, name: &str) -> Result<&'a Var> {
    let v = vars.get(name).with_context(|| format!("{name} missing from model.bin"))?;
    if v.dtype != 4 && v.dtype != 0 {
        bail!("{name}: dtype {} not supported (f16 or f32 only)", v.dtype);
    }
    Ok(v)
}

/// Element size in bytes of a CT2 float variable.
fn esize(v: &Var) -> usize {
    if v.dtype == 4 {
        2
    } else {
        4
    }
}

/// Rows `[from, to)` of a variable whose first dim is the row count.
fn rows(v: &Var, from: usize, to: usize) -> (Vec<usize>, Vec<u8>) {
    let row: usize = v.dims[1..].iter().product::<usize>() * esize(v);
    let mut dims = v.dims.clone();
    dims[0] = to - from;
    (dims, v.data[from * row..to * row].to_vec())
}

fn as_f32(v_dtype: u8, raw: &[u8]) -> Vec<f32> {
    if v_dtype == 4 {
        f16_to_f32(raw)
    } else {
        raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    }
}

fn matrix(name: String, dtype: u8, dims: Vec<usize>, raw: Vec<u8>) -> Out {
    if dtype == 4 {
        Out { name, dims, f16: true, raw, f32s: Vec::new() }
    } else {
        let f32s = as_f32(dtype, &raw);
        Out { name, dims, f16: false, raw: Vec::new(), f32s }
    }
}

fn vector(name: String, dtype: u8, dims: Vec<usize>, raw: &[u8]) -> Out {
    Out { name, dims, f16: false, raw: Vec::new(), f32s: as_f32(dtype, raw) }
}

/// Plain copy: matrices (rank ≥ 2) keep f16, the rest become f32.
fn copy(vars: &HashMap<String, Var>, from: &str, to: &str, out: &mut Vec<Out>) -> Result<()> {
    let v = var(vars, from)?;
    out.push(if v.dims.len() >= 2 {
        matrix(to.into(), v.dtype, v.dims.clone(), v.data.clone())
    } else {
        vector(to.into(), v.dtype, v.dims.clone(), &v.data)
    });
    Ok(())
}

/// Split a fused linear (`weight` rows and `bias`) into parts of `n` rows each.
fn split(vars: &HashMap<String, Var>, from: &str, parts: &[(&str, bool)], n: usize, out: &mut Vec<Out>) -> Result<()> {
    let w = var(vars, &format!("{from}/weight"))?;
    let b = var(vars, &format!("{from}/bias"))?;
    for (i, (to, keep_bias)) in parts.iter().enumerate() {
        let (dims, raw) = rows(w, i * n, (i + 1) * n);
        out.push(matrix(format!("{to}.weight"), w.dtype, dims, raw));
        if *keep_bias {
            let (dims, raw) = rows(b, i * n, (i + 1) * n);
            out.push(vector(format!("{to}.bias"), b.dtype, dims, &raw));
        }
    }
    Ok(())
}

fn linear(vars: &HashMap<String, Var>, from: &str, to: &str, out: &mut Vec<Out>) -> Result<()> {
    copy(vars, &format!("{from}/weight"), &format!("{to}.weight"), out)?;
    copy(vars, &format!("{from}/bias"), &format!("{to}.bias"), out)
}

fn norm(vars: &HashMap<String, Var>, from: &str, to: &str, out: &mut Vec<Out>) -> Result<()> {
    copy(vars, &format!("{from}/gamma"), &format!("{to}.weight"), out)?;
    copy(vars, &format!("{from}/beta"), &format!("{to}.bias"), out)
}

/// A block's self-attention: fused q/k/v split (no key bias), output projection, layer norm.
fn self_attention(vars: &HashMap<String, Var>, f: &str, t: &str, n: usize, out: &mut Vec<Out>) -> Result<()> {
    split(
        vars,
        &format!("{f}/self_attention/linear_0"),
        &[(&format!("{t}.attn.query"), true), (&format!("{t}.attn.key"), false), (&format!("{t}.attn.value"), true)],
        n,
        out,
    )?;
    linear(vars, &format!("{f}/self_attention/linear_1"), &format!("{t}.attn.out"), out)?;
    norm(vars, &format!("{f}/self_attention/layer_norm"), &format!("{t}.attn_ln"), out)
}

/// A block's feed-forward part: two linears and their layer norm.
fn ffn(vars: &HashMap<String, Var>, f: &str, t: &str, out: &mut Vec<Out>) -> Result<()> {
    linear(vars, &format!("{f}/ffn/linear_0"), &format!("{t}.mlp.0"), out)?;
    linear(vars, &format!("{f}/ffn/linear_1"), &format!("{t}.mlp.2"), out)?;
    norm(vars, &format!("{f}/ffn/layer_norm"), &format!("{t}.mlp_ln"), out)
}

fn tensors(vars: &HashMap<String, Var>, hp: &Hparams) -> Result<Vec<Out>> {
    let mut out = Vec::new();
    let (ns, nt) = (hp.n_audio_state, hp.n_text_state);
    copy(vars, "encoder/conv1/weight", "encoder.conv1.weight", &mut out)?;
    copy(vars, "encoder/conv2/weight", "encoder.conv2.weight", &mut out)?;
    for conv in ["conv1", "conv2"] {
        // whisper.cpp wants conv biases as [n, 1].
        let b = var(vars, &format!("encoder/{conv}/bias"))?;
        out.push(vector(format!("encoder.{conv}.bias"), b.dtype, vec![b.dims[0], 1], &b.data));
    }
    let pos = var(vars, "encoder/position_encodings/encodings")?;
    out.push(vector("encoder.positional_embedding".into(), pos.dtype, pos.dims.clone(), &pos.data));
    for i in 0..hp.n_audio_layer {
        let (f, t) = (format!("encoder/layer_{i}"), format!("encoder.blocks.{i}"));
        self_attention(vars, &f, &t, ns, &mut out)?;
        ffn(vars, &f, &t, &mut out)?;
    }
    norm(vars, "encoder/layer_norm", "encoder.ln_post", &mut out)?;

    copy(vars, "decoder/embeddings/weight", "decoder.token_embedding.weight", &mut out)?;
    let pos = var(vars, "decoder/position_encodings/encodings")?;
    out.push(vector("decoder.positional_embedding".into(), pos.dtype, pos.dims.clone(), &pos.data));
    for i in 0..hp.n_text_layer {
        let (f, t) = (format!("decoder/layer_{i}"), format!("decoder.blocks.{i}"));
        self_attention(vars, &f, &t, nt, &mut out)?;
        linear(vars, &format!("{f}/attention/linear_0"), &format!("{t}.cross_attn.query"), &mut out)?;
        split(
            vars,
            &format!("{f}/attention/linear_1"),
            &[(&format!("{t}.cross_attn.key"), false), (&format!("{t}.cross_attn.value"), true)],
            nt,
            &mut out,
        )?;
        linear(vars, &format!("{f}/attention/linear_2"), &format!("{t}.cross_attn.out"), &mut out)?;
        norm(vars, &format!("{f}/attention/layer_norm"), &format!("{t}.cross_attn_ln"), &mut out)?;
        ffn(vars, &f, &t, &mut out)?;
    }
    norm(vars, "decoder/layer_norm", "decoder.ln", &mut out)?;
    Ok(out)
}

/// Parse a `.npy` float32 array: (shape, values).
pub fn read_npy_f32(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>)> {
    if !bytes.starts_with(b"\x93NUMPY") {
        bail!("not a .npy file");
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (u32::from_le_bytes(bytes[8..12].try_into()?) as usize, 12),
    };
    let header = std::str::from_utf8(&bytes[start..start + hlen])?;
    if !header.contains("'<f4'") || header.contains("'fortran_order': True") {
        bail!("expected a C-order float32 array: {header}");
    }
    let shape_txt = header.split("'shape': (").nth(1).and_then(|s| s.split(')').next()).context("no shape")?;
    let shape: Vec<usize> = shape_txt.split(',').filter_map(|d| d.trim().parse().ok()).collect();
    let data = &bytes[start + hlen..];
    let vals = data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect::<Vec<_>>();
    if vals.len() != shape.iter().product::<usize>() {
        bail!("npy data length does not match its shape");
    }
    Ok((shape, vals))
}

/// Write the ggml model: header, mel filters (`n_mels × n_fft`), the BPE vocabulary, tensors.
pub fn write_ggml(
    w: &mut impl Write,
    vars: &HashMap<String, Var>,
    mel: (&[usize], &[f32]),
    vocab: &[Vec<u8>],
) -> Result<Hparams> {
    let hp = hparams(vars)?;
    let i32w = |w: &mut dyn Write, v: usize| w.write_all(&(v as i32).to_le_bytes());
    w.write_all(&0x6767_6d6c_i32.to_le_bytes())?;
    for v in [
        hp.n_vocab,
        hp.n_audio_ctx,
        hp.n_audio_state,
        hp.n_audio_head,
        hp.n_audio_layer,
        hp.n_text_ctx,
        hp.n_text_state,
        hp.n_text_head,
        hp.n_text_layer,
        hp.n_mels,
        1, // f16
    ] {
        i32w(w, v)?;
    }
    let (mel_shape, mel_vals) = mel;
    if mel_shape.len() != 2 || mel_shape[0] != hp.n_mels {
        bail!("mel filters {mel_shape:?} do not match n_mels {}", hp.n_mels);
    }
    i32w(w, mel_shape[0])?;
    i32w(w, mel_shape[1])?;
    for v in mel_vals {
        w.write_all(&v.to_le_bytes())?;
    }
    i32w(w, vocab.len())?;
    for tok in vocab {
        i32w(w, tok.len())?;
        w.write_all(tok)?;
    }
    for t in tensors(vars, &hp)? {
        let name = t.name.as_bytes();
        i32w(w, t.dims.len())?;
        i32w(w, name.len())?;
        i32w(w, if t.f16 { 1 } else { 0 })?;
        for d in t.dims.iter().rev() {
            i32w(w, *d)?;
        }
        w.write_all(name)?;
        if t.f16 {
            w.write_all(&t.raw)?;
        } else {
            for v in &t.f32s {
                w.write_all(&v.to_le_bytes())?;
            }
        }
    }
    Ok(hp)
}

/// The GPT-2 vocabulary from a `.tiktoken` file (`base64 rank` lines), in rank order.
pub fn read_tiktoken(text: &str) -> Result<Vec<Vec<u8>>> {
    use base64::Engine;
    let mut toks: Vec<(usize, Vec<u8>)> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (b64, rank) = line.split_once(' ').context("bad tiktoken line")?;
        // The multilingual vocabulary writes its last, empty token as a lone "=".
        let bytes = match b64.trim_end_matches('=') {
            "" => Vec::new(),
            _ => base64::engine::general_purpose::STANDARD.decode(b64)?,
        };
        toks.push((rank.trim().parse()?, bytes));
    }
    toks.sort_by_key(|t| t.0);
    Ok(toks.into_iter().map(|t| t.1).collect())
}
