//! Files attached to documents (DESIGN §4). A file's type is read from its bytes, never from
//! its name or the uploader's say-so, and checked against an allow-list; its name is cleaned
//! for the disk-free role it keeps (a label sent back on download). Files are stored once per
//! content under `<data_dir>/attachments/<first 2 hex of sha256>/<sha256>`; rows say which
//! document has which file under which name. An attachment is seen exactly by those who see
//! its document: every read goes through [`items::get`] first.
//!
//! Nothing here knows HTTP: the upload's bytes are fed to an [`Inspector`] as they arrive,
//! so a caller can refuse an oversized or unwanted file without holding it in memory.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;
use sha2::{Digest, Sha256};

use compact_auth::Principal;
use compact_db::audit::{self, Actor, NewAuditEvent, Outcome};
use compact_db::schema::attachments;
use compact_db::{DbConnection, now, write_transaction};

use crate::RegistryError;
use crate::audience::Viewer;
use crate::items::{self, ItemKind, edit};

/// An upload in progress on disk, removed when dropped unless [`Store::keep`] keeps it.
pub use tempfile::TempPath;

/// Attachments belong to documents only.
const KIND: ItemKind = ItemKind::Document;

// ---------------------------------------------------------------------------------------
// File names

/// The longest name kept, in characters.
pub const MAX_FILENAME_CHARS: usize = 150;

/// The name of a file whose given name leaves nothing usable.
pub const FALLBACK_FILENAME: &str = "attachment";

/// Characters that are invisible or reorder text (zero-width, bidirectional overrides,
/// byte-order mark): they can make `invoice<U+202E>fdp.exe` read as `invoiceexe.pdf`.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{061C}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}')
}

fn is_trimmed(c: char) -> bool {
    c == '.' || c.is_whitespace()
}

/// One path segment without the characters a name may not carry.
fn clean_segment(segment: &str) -> String {
    let kept: String = segment
        .chars()
        .filter(|&c| !c.is_control() && c != '"' && !is_invisible_format(c))
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    kept.trim_start_matches(is_trimmed)
        .trim_end_matches(is_trimmed)
        .to_owned()
}

/// Cuts a name to [`MAX_FILENAME_CHARS`], keeping a short extension.
fn capped(name: String) -> String {
    if name.chars().count() <= MAX_FILENAME_CHARS {
        return name;
    }
    let extension = name
        .rfind('.')
        .filter(|&i| i > 0)
        .map(|i| &name[i..])
        .filter(|ext| ext.chars().count() <= 16);
    let (stem, extension) = match extension {
        Some(ext) => (&name[..name.len() - ext.len()], ext),
        None => (name.as_str(), ""),
    };
    let room = MAX_FILENAME_CHARS - extension.chars().count();
    let stem: String = stem.chars().take(room).collect();
    format!("{}{extension}", stem.trim_end_matches(is_trimmed))
}

/// A file name safe to keep and send back: the last segment of whatever path was given
/// (browsers on some systems send `C:\Users\…\file.pdf`), without control characters,
/// quotes, invisible or bidirectional formatting characters, leading dots or surrounding
/// spaces, at most [`MAX_FILENAME_CHARS`] characters. Never empty: [`FALLBACK_FILENAME`]
/// when nothing usable is left.
pub fn sanitize_filename(raw: &str) -> String {
    let name = raw
        .rsplit(['/', '\\'])
        .map(clean_segment)
        .find(|segment| !segment.is_empty())
        .map(capped)
        .unwrap_or_default();
    if name.is_empty() || name.starts_with('.') {
        FALLBACK_FILENAME.to_owned()
    } else {
        name
    }
}

/// The lower-case extension of a name, without the dot.
fn extension(filename: &str) -> Option<String> {
    let (stem, ext) = filename.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

// ---------------------------------------------------------------------------------------
// File types

pub const TEXT_PLAIN: &str = "text/plain";

/// The types accepted, as detected from the bytes; [`TEXT_PLAIN`] by the rule of
/// [`TEXT_EXTENSIONS`].
pub const ALLOWED_TYPES: &[(&str, &str)] = &[
    ("application/pdf", "PDF"),
    ("image/png", "PNG"),
    ("image/jpeg", "JPEG"),
    ("image/gif", "GIF"),
    ("image/webp", "WebP"),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "DOCX",
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "XLSX",
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "PPTX",
    ),
    ("application/vnd.oasis.opendocument.text", "ODT"),
    ("application/vnd.oasis.opendocument.spreadsheet", "ODS"),
    ("application/vnd.oasis.opendocument.presentation", "ODP"),
    ("application/zip", "ZIP"),
    (TEXT_PLAIN, "plain text (.txt, .csv, .md)"),
];

/// Plain text has no magic bytes: it is accepted only under one of these extensions, and
/// only when the whole file is UTF-8 without NUL bytes.
pub const TEXT_EXTENSIONS: &[&str] = &["txt", "csv", "md"];

/// How many leading bytes type detection reads (OOXML needs a few local zip headers).
pub const SNIFF_BYTES: usize = 64 * 1024;

/// What is said for bytes no detector recognises.
pub const UNKNOWN_TYPE: &str = "application/octet-stream";

/// The allowed types, named for people: `PDF, PNG, …`.
pub fn allowed_type_names() -> String {
    ALLOWED_TYPES
        .iter()
        .map(|(_, name)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the first bytes of a file say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detection {
    /// One of [`ALLOWED_TYPES`], by its magic bytes.
    Allowed(&'static str),
    /// No magic bytes, and a text extension: plain text if the whole file is UTF-8 without
    /// NUL bytes.
    MaybeText,
    /// Refused: the detected type, or [`UNKNOWN_TYPE`].
    Refused(String),
}

/// Reads a file's type from its first bytes (at least [`SNIFF_BYTES`] of them, or the whole
/// file if shorter) and its (sanitised) name, whose extension matters for plain text only.
pub fn detect_type(head: &[u8], filename: &str) -> Detection {
    match infer::get(head) {
        Some(found) => ALLOWED_TYPES
            .iter()
            .find(|(mime, _)| *mime == found.mime_type() && *mime != TEXT_PLAIN)
            .map_or_else(
                || Detection::Refused(found.mime_type().to_owned()),
                |(mime, _)| Detection::Allowed(mime),
            ),
        None => match extension(filename) {
            Some(ext) if TEXT_EXTENSIONS.contains(&ext.as_str()) => Detection::MaybeText,
            _ => Detection::Refused(UNKNOWN_TYPE.to_owned()),
        },
    }
}

/// Whether bytes are plain text as attachments mean it: UTF-8 without NUL bytes.
pub fn is_plain_text(bytes: &[u8]) -> bool {
    let mut check = TextCheck::default();
    check.feed(bytes);
    check.finish()
}

/// [`is_plain_text`] over a file read in pieces, which may split a character.
#[derive(Debug, Clone)]
pub struct TextCheck {
    ok: bool,
    /// The start of a character cut by the end of the last piece (at most 3 bytes).
    carry: Vec<u8>,
}

impl Default for TextCheck {
    fn default() -> Self {
        Self {
            ok: true,
            carry: Vec::new(),
        }
    }
}

impl TextCheck {
    pub fn feed(&mut self, piece: &[u8]) {
        if !self.ok {
            return;
        }
        if piece.contains(&0) {
            self.ok = false;
            return;
        }
        let joined;
        let bytes = if self.carry.is_empty() {
            piece
        } else {
            let mut carried = std::mem::take(&mut self.carry);
            carried.extend_from_slice(piece);
            joined = carried;
            &joined[..]
        };
        if let Err(e) = std::str::from_utf8(bytes) {
            match e.error_len() {
                Some(_) => self.ok = false,
                None => self.carry = bytes[e.valid_up_to()..].to_vec(),
            }
        }
    }

    pub fn finish(self) -> bool {
        self.ok && self.carry.is_empty()
    }
}

/// Why an upload is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Past the size limit (in bytes).
    TooLarge {
        limit: u64,
    },
    Empty,
    /// Not an allowed type; what it was detected as.
    UnsupportedType {
        detected: String,
    },
}

/// An upload that passed: its type, size and content hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    pub content_type: &'static str,
    pub size_bytes: u64,
    /// Lower-case hex.
    pub sha256: String,
}

/// Watches an upload as it arrives: counts it against the limit, hashes it, and detects its
/// type as soon as enough of it is in, so a refused file is refused early.
pub struct Inspector {
    filename: String,
    limit: u64,
    size: u64,
    hasher: Sha256,
    head: Vec<u8>,
    detection: Option<Detection>,
    text: TextCheck,
}

impl Inspector {
    /// For a file of this (sanitised) name, refused past `limit` bytes.
    pub fn new(filename: &str, limit: u64) -> Self {
        Self {
            filename: filename.to_owned(),
            limit,
            size: 0,
            hasher: Sha256::new(),
            head: Vec::new(),
            detection: None,
            text: TextCheck::default(),
        }
    }

    /// The next piece of the file. An error means: stop reading, the upload is refused.
    pub fn feed(&mut self, piece: &[u8]) -> Result<(), Refusal> {
        let size = self.size.saturating_add(piece.len() as u64);
        if size > self.limit {
            return Err(Refusal::TooLarge { limit: self.limit });
        }
        self.size = size;
        self.hasher.update(piece);
        if self.detection.is_none() {
            let wanted = SNIFF_BYTES - self.head.len();
            self.head
                .extend_from_slice(&piece[..wanted.min(piece.len())]);
            if self.head.len() >= SNIFF_BYTES {
                self.decide()?;
            }
        }
        if self.detection.is_none() || self.detection == Some(Detection::MaybeText) {
            self.text.feed(piece);
        }
        Ok(())
    }

    fn decide(&mut self) -> Result<(), Refusal> {
        let detection = detect_type(&self.head, &self.filename);
        self.head = Vec::new();
        if let Detection::Refused(detected) = &detection {
            return Err(Refusal::UnsupportedType {
                detected: detected.clone(),
            });
        }
        self.detection = Some(detection);
        Ok(())
    }

    /// The whole file is in: its verdict.
    pub fn finish(mut self) -> Result<Inspected, Refusal> {
        if self.size == 0 {
            return Err(Refusal::Empty);
        }
        if self.detection.is_none() {
            self.decide()?;
        }
        let is_text = self.text.finish();
        let content_type = match self.detection {
            Some(Detection::Allowed(mime)) => mime,
            _ if is_text => TEXT_PLAIN,
            _ => {
                return Err(Refusal::UnsupportedType {
                    detected: UNKNOWN_TYPE.to_owned(),
                });
            }
        };
        Ok(Inspected {
            content_type,
            size_bytes: self.size,
            sha256: hex::encode(self.hasher.finalize()),
        })
    }
}

/// Inspects a whole file at once.
pub fn inspect(bytes: &[u8], filename: &str, limit: u64) -> Result<Inspected, Refusal> {
    let mut inspector = Inspector::new(filename, limit);
    inspector.feed(bytes)?;
    inspector.finish()
}

// ---------------------------------------------------------------------------------------
// Storage

/// Where files live: `<data_dir>/attachments/<aa>/<sha256>`, with uploads in progress in
/// `<data_dir>/attachments/tmp/` (the same file system, so keeping one is an atomic rename).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Store {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("attachments"),
        }
    }

    /// The file of a content hash. Only a well-formed hash names a path, so no stored value
    /// can point outside the store.
    pub fn path_of(&self, sha256: &str) -> io::Result<PathBuf> {
        if !is_sha256_hex(sha256) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a sha256: {sha256:?}"),
            ));
        }
        Ok(self.root.join(&sha256[..2]).join(sha256))
    }

    /// A new, empty file for an upload in progress; it is removed when dropped unless kept.
    pub fn temp_file(&self) -> io::Result<tempfile::NamedTempFile> {
        let dir = self.root.join("tmp");
        fs::create_dir_all(&dir)?;
        tempfile::Builder::new().prefix("upload-").tempfile_in(dir)
    }

    /// Keeps a finished upload (already flushed to disk) under its content hash. Identical
    /// content is stored once: if the file is already there, the upload is dropped.
    pub fn keep(&self, upload: TempPath, sha256: &str) -> io::Result<PathBuf> {
        let path = self.path_of(sha256)?;
        if path.is_file() {
            return Ok(path);
        }
        let dir = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir)?;
        upload.persist(&path).map_err(|e| e.error)?;
        // Make the rename itself durable (best effort: not every system syncs directories).
        if let Ok(dir) = fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(path)
    }
}

// ---------------------------------------------------------------------------------------
// Records

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = attachments)]
pub struct Attachment {
    pub id: String,
    pub item_id: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: String,
    pub created_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
}

/// Checks that `principal` may attach files to the document, before its upload is read:
/// visible (else NotFound), of its own organization (else Forbidden), `documents:write`.
pub fn check_upload(
    conn: &mut DbConnection,
    principal: &Principal,
    document_id: &str,
) -> Result<(), RegistryError> {
    edit::owned_item(conn, principal, KIND, document_id).map(|_| ())
}

/// Records an upload whose file is already kept in the [`Store`]; checks the caller's right
/// again, in the transaction that writes the row (the document may have gone meanwhile).
pub fn add(
    conn: &mut DbConnection,
    principal: &Principal,
    document_id: &str,
    filename: &str,
    file: &Inspected,
    audit_actor: &Actor,
) -> Result<Attachment, RegistryError> {
    let filename = sanitize_filename(filename);
    write_transaction(conn, |conn| {
        edit::owned_item(conn, principal, KIND, document_id)?;
        let row = Attachment {
            id: uuid::Uuid::now_v7().to_string(),
            item_id: document_id.to_owned(),
            filename,
            content_type: file.content_type.to_owned(),
            size_bytes: i64::try_from(file.size_bytes)
                .map_err(|_| RegistryError::invalid("file", "too large"))?,
            sha256: file.sha256.clone(),
            uploaded_by: principal.user_id.clone(),
            created_at: now(),
            deleted_at: None,
        };
        diesel::insert_into(attachments::table)
            .values(&row)
            .execute(conn)?;
        audit::append(
            conn,
            NewAuditEvent::new("document.attachment_added", Outcome::Success)
                .actor(audit_actor.clone())
                .target(KIND.as_str(), document_id)
                .details(json!({
                    "attachment_id": row.id,
                    "filename": row.filename,
                    "content_type": row.content_type,
                    "size_bytes": row.size_bytes,
                    "sha256": row.sha256,
                })),
        )?;
        Ok(row)
    })
}

/// The attachments of a document the viewer sees, oldest first; NotFound if they do not
/// see the document.
pub fn list(
    conn: &mut DbConnection,
    viewer: &Viewer,
    document_id: &str,
) -> Result<Vec<Attachment>, RegistryError> {
    items::get(conn, viewer, KIND, document_id)?;
    Ok(attachments::table
        .filter(attachments::item_id.eq(document_id))
        .filter(attachments::deleted_at.is_null())
        .order((attachments::created_at.asc(), attachments::id.asc()))
        .select(Attachment::as_select())
        .load(conn)?)
}

/// One attachment of a document the viewer sees; NotFound for one of another document,
/// a deleted one, or one of a document the viewer does not see.
pub fn get(
    conn: &mut DbConnection,
    viewer: &Viewer,
    document_id: &str,
    attachment_id: &str,
) -> Result<Attachment, RegistryError> {
    items::get(conn, viewer, KIND, document_id)?;
    find(conn, document_id, attachment_id)
}

fn find(
    conn: &mut DbConnection,
    document_id: &str,
    attachment_id: &str,
) -> Result<Attachment, RegistryError> {
    attachments::table
        .filter(attachments::id.eq(attachment_id))
        .filter(attachments::item_id.eq(document_id))
        .filter(attachments::deleted_at.is_null())
        .select(Attachment::as_select())
        .first(conn)
        .optional()?
        .ok_or(RegistryError::NotFound)
}

/// Removes an attachment from a document of the caller's organization. The row stays, marked
/// deleted, for the record; the file stays too (other rows may share its content).
pub fn delete(
    conn: &mut DbConnection,
    principal: &Principal,
    document_id: &str,
    attachment_id: &str,
    audit_actor: &Actor,
) -> Result<(), RegistryError> {
    write_transaction(conn, |conn| {
        edit::owned_item(conn, principal, KIND, document_id)?;
        let row = find(conn, document_id, attachment_id)?;
        diesel::update(attachments::table.filter(attachments::id.eq(&row.id)))
            .set(attachments::deleted_at.eq(Some(now())))
            .execute(conn)?;
        audit::append(
            conn,
            NewAuditEvent::new("document.attachment_deleted", Outcome::Success)
                .actor(audit_actor.clone())
                .target(KIND.as_str(), document_id)
                .details(json!({
                    "attachment_id": row.id,
                    "filename": row.filename,
                    "sha256": row.sha256,
                })),
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_lose_paths_controls_quotes_and_leading_dots() {
        let cases = [
            ("report.pdf", "report.pdf"),
            ("../../etc/passwd\r\n\"x", "passwdx"),
            ("C:\\Users\\amina\\Desktop\\Q3 plan.docx", "Q3 plan.docx"),
            ("/tmp/", "tmp"),
            (".htaccess", "htaccess"),
            ("...", FALLBACK_FILENAME),
            ("../..", FALLBACK_FILENAME),
            ("", FALLBACK_FILENAME),
            ("  \t ", FALLBACK_FILENAME),
            ("\"\"", FALLBACK_FILENAME),
            ("a\u{0}b\u{7f}c\u{85}d.txt", "abcd.txt"),
            ("invoice\u{202E}fdp.exe", "invoicefdp.exe"),
            (
                "Évaluation régionale — 2026.pdf",
                "Évaluation régionale — 2026.pdf",
            ),
            ("تقرير.pdf", "تقرير.pdf"),
            ("name. ", "name"),
            ("tab\there.txt", "tabhere.txt"),
            ("non\u{a0}breaking.txt", "non breaking.txt"),
        ];
        for (raw, expected) in cases {
            assert_eq!(sanitize_filename(raw), expected, "{raw:?}");
        }
    }

    #[test]
    fn long_names_are_cut_keeping_the_extension() {
        let long = format!("{}.pdf", "é".repeat(400));
        let name = sanitize_filename(&long);
        assert_eq!(name.chars().count(), MAX_FILENAME_CHARS);
        assert!(name.ends_with("é.pdf"), "{name}");
        let no_extension = "x".repeat(400);
        assert_eq!(sanitize_filename(&no_extension).len(), MAX_FILENAME_CHARS);
        let long_extension = format!("a.{}", "b".repeat(300));
        assert_eq!(
            sanitize_filename(&long_extension).chars().count(),
            MAX_FILENAME_CHARS
        );
        // A cut that would end in dots or spaces loses them.
        let dotted = format!("{}{}.pdf", "a".repeat(140), ".".repeat(100));
        assert_eq!(
            sanitize_filename(&dotted),
            format!("{}.pdf", "a".repeat(140))
        );
    }

    proptest! {
        #[test]
        fn sanitized_names_are_always_safe(raw in any::<String>()) {
            let name = sanitize_filename(&raw);
            prop_assert!(!name.is_empty());
            prop_assert!(!name.starts_with('.'));
            prop_assert!(!name.contains(['/', '\\', '"']));
            prop_assert!(!name.chars().any(char::is_control));
            prop_assert!(name.chars().count() <= MAX_FILENAME_CHARS);
            prop_assert_eq!(sanitize_filename(&name), name.clone());
        }

        #[test]
        fn path_like_names_are_always_safe(
            parts in proptest::collection::vec("[./\\\\\"\r\n\t a-zé\u{202e}\u{0}-\u{1f}]{0,12}", 0..8)
        ) {
            let name = sanitize_filename(&parts.join("/"));
            prop_assert!(!name.is_empty());
            prop_assert!(!name.starts_with('.'));
            prop_assert!(!name.contains(['/', '\\', '"']));
            prop_assert!(!name.chars().any(char::is_control));
        }

        #[test]
        fn text_check_agrees_however_the_file_is_cut(
            text in any::<String>(),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
            bad in proptest::option::of(0usize..4),
        ) {
            let mut bytes = text.into_bytes();
            if let Some(kind) = bad {
                let at = cuts.first().copied().unwrap_or(0) % (bytes.len() + 1);
                let junk: &[u8] = [&[0u8][..], &[0xff], &[0xe2, 0x82], &[0xc0, 0x80]][kind];
                bytes.splice(at..at, junk.iter().copied());
            }
            let whole = is_plain_text(&bytes);
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            points.sort_unstable();
            let mut check = TextCheck::default();
            let mut start = 0;
            for point in points.into_iter().chain([bytes.len()]) {
                check.feed(&bytes[start..point]);
                start = point;
            }
            prop_assert_eq!(check.finish(), whole);
            prop_assert_eq!(whole, std::str::from_utf8(&bytes).is_ok() && !bytes.contains(&0));
        }
    }

    fn tiny_pdf() -> Vec<u8> {
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n\
          2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n\
          trailer<</Root 1 0 R>>\n%%EOF\n"
            .to_vec()
    }

    fn png_header() -> Vec<u8> {
        let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
        png.extend_from_slice(&[0, 0, 0, 13]);
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]);
        png.extend_from_slice(&[0x1f, 0x15, 0xc4, 0x89]);
        png
    }

    fn elf() -> Vec<u8> {
        let mut elf = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        elf.resize(64, 0);
        elf
    }

    /// A zip whose first entry is `name` (stored, empty), as OOXML and ODF files start.
    fn zip_starting_with(name: &str, content: &[u8]) -> Vec<u8> {
        let mut zip = b"PK\x03\x04".to_vec();
        zip.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        zip.extend_from_slice(&[0; 4]); // crc
        let size = (content.len() as u32).to_le_bytes();
        zip.extend_from_slice(&size);
        zip.extend_from_slice(&size);
        zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
        zip.extend_from_slice(&[0, 0]);
        zip.extend_from_slice(name.as_bytes());
        zip.extend_from_slice(content);
        zip
    }

    #[test]
    fn types_come_from_the_bytes_not_the_name() {
        assert_eq!(
            detect_type(&tiny_pdf(), "x.exe"),
            Detection::Allowed("application/pdf")
        );
        assert_eq!(
            detect_type(&png_header(), "photo.pdf"),
            Detection::Allowed("image/png")
        );
        assert_eq!(
            detect_type(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10], "a"),
            Detection::Allowed("image/jpeg")
        );
        assert_eq!(
            detect_type(b"GIF89a\x01\x00\x01\x00", "a"),
            Detection::Allowed("image/gif")
        );
        assert_eq!(
            detect_type(b"RIFF\x24\x00\x00\x00WEBPVP8 ", "a"),
            Detection::Allowed("image/webp")
        );
        let odt = zip_starting_with("mimetype", b"application/vnd.oasis.opendocument.text");
        assert_eq!(
            detect_type(&odt, "a.zip"),
            Detection::Allowed("application/vnd.oasis.opendocument.text")
        );
        let ods = zip_starting_with(
            "mimetype",
            b"application/vnd.oasis.opendocument.spreadsheet",
        );
        assert_eq!(
            detect_type(&ods, "a"),
            Detection::Allowed("application/vnd.oasis.opendocument.spreadsheet")
        );
        let docx = zip_starting_with("word/document.xml", b"<w:document/>");
        assert_eq!(
            detect_type(&docx, "a"),
            Detection::Allowed(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            )
        );
        let xlsx = zip_starting_with("xl/workbook.xml", b"<workbook/>");
        assert_eq!(
            detect_type(&xlsx, "a"),
            Detection::Allowed("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        );
        let zip = zip_starting_with("notes.txt", b"hello");
        assert_eq!(
            detect_type(&zip, "a"),
            Detection::Allowed("application/zip")
        );
    }

    #[test]
    fn executables_markup_and_unknown_bytes_are_refused_by_name_of_type() {
        assert_eq!(
            detect_type(&elf(), "report.pdf"),
            Detection::Refused("application/x-executable".into())
        );
        assert_eq!(
            detect_type(b"MZ\x90\x00\x03\x00\x00\x00", "report.pdf"),
            Detection::Refused("application/vnd.microsoft.portable-executable".into())
        );
        assert_eq!(
            detect_type(b"<!DOCTYPE html><p>hi</p>", "notes.txt"),
            Detection::Refused("text/html".into())
        );
        assert_eq!(
            detect_type(b"  <script >alert(1)</script>", "report.pdf"),
            Detection::Refused("text/html".into())
        );
        assert_eq!(
            detect_type(b"<?xml version=\"1.0\"?><svg/>", "a.md"),
            Detection::Refused("text/xml".into())
        );
        assert_eq!(
            detect_type(b"#!/bin/sh\nrm -rf /", "run.txt"),
            Detection::Refused("text/x-shellscript".into())
        );
        assert_eq!(
            detect_type(b"\x1f\x8b\x08\x00", "a.txt"),
            Detection::Refused("application/gzip".into())
        );
        assert_eq!(
            detect_type(b"just words", "report.pdf"),
            Detection::Refused(UNKNOWN_TYPE.into())
        );
        assert_eq!(
            detect_type(b"just words", "txt"),
            Detection::Refused(UNKNOWN_TYPE.into())
        );
    }

    #[test]
    fn plain_text_needs_a_text_name_and_utf8_without_nul() {
        for name in ["notes.txt", "DATA.CSV", "readme.md"] {
            assert_eq!(detect_type(b"a,b\n1,2\n", name), Detection::MaybeText);
            let inspected = inspect("a,b\nÉté,2\n".as_bytes(), name, 1024).expect(name);
            assert_eq!(inspected.content_type, TEXT_PLAIN);
        }
        let refused = |bytes: &[u8]| inspect(bytes, "notes.txt", 1024);
        assert_eq!(
            refused(b"a\0b"),
            Err(Refusal::UnsupportedType {
                detected: UNKNOWN_TYPE.into()
            })
        );
        assert!(refused(b"caf\xe9").is_err(), "Latin-1 is not UTF-8");
        assert!(refused(b"cut \xe2\x82").is_err(), "a cut character");
        assert!(!is_plain_text(b"\xff"));
        assert!(is_plain_text("π ≈ 3.14159\n".as_bytes()));
    }

    #[test]
    fn the_inspector_counts_hashes_and_refuses_early() {
        let pdf = tiny_pdf();
        let inspected = inspect(&pdf, "a.pdf", 1024).expect("pdf");
        assert_eq!(inspected.size_bytes, pdf.len() as u64);
        assert_eq!(inspected.sha256, hex::encode(Sha256::digest(&pdf)));
        assert_eq!(inspected.content_type, "application/pdf");

        assert_eq!(inspect(b"", "a.txt", 10), Err(Refusal::Empty));
        assert_eq!(
            inspect(&pdf, "a.pdf", 10),
            Err(Refusal::TooLarge { limit: 10 })
        );
        // Exactly at the limit is fine.
        assert!(inspect(&pdf, "a.pdf", pdf.len() as u64).is_ok());

        // An executable is refused as soon as the sniffed head is in, not at the end.
        let mut inspector = Inspector::new("a.pdf", u64::MAX);
        let mut big_elf = elf();
        big_elf.resize(SNIFF_BYTES, 0);
        assert_eq!(
            inspector.feed(&big_elf),
            Err(Refusal::UnsupportedType {
                detected: "application/x-executable".into()
            })
        );

        // Pieces of any size give the verdict of the whole.
        let mut big_text = "ligne — ".repeat(20_000).into_bytes();
        let whole = inspect(&big_text, "a.md", u64::MAX).expect("text");
        let mut inspector = Inspector::new("a.md", u64::MAX);
        for piece in big_text.chunks(7) {
            inspector.feed(piece).expect("piece");
        }
        assert_eq!(inspector.finish(), Ok(whole));
        // A NUL past the sniffed head still makes it not text.
        big_text.push(0);
        assert!(inspect(&big_text, "a.md", u64::MAX).is_err());
    }

    #[test]
    fn the_store_keeps_content_once_under_its_hash() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::new(dir.path());
        let sha = hex::encode(Sha256::digest(b"hello"));
        let write = || {
            let mut file = store.temp_file().expect("temp");
            io::Write::write_all(&mut file, b"hello").expect("write");
            file.into_temp_path()
        };
        let path = store.keep(write(), &sha).expect("keep");
        assert_eq!(
            path,
            dir.path().join("attachments").join(&sha[..2]).join(&sha)
        );
        assert_eq!(fs::read(&path).expect("read"), b"hello");
        assert_eq!(store.keep(write(), &sha).expect("again"), path);
        // Temporary files do not outlive their upload.
        let leftovers = fs::read_dir(dir.path().join("attachments/tmp"))
            .expect("tmp")
            .count();
        assert_eq!(leftovers, 0);
        assert!(store.path_of("../../etc/passwd").is_err());
        assert!(store.path_of(&sha.to_uppercase()).is_err());
    }
}
