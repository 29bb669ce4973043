//! Attachments of documents (DESIGN §4): upload as the raw request body, list, download,
//! delete. The rules — who, which types, how stored — are in
//! `compact_registry::attachments`; here the body is streamed to disk through its
//! `Inspector`, so a file past the limit or of a refused type is never held in memory.

use std::fmt::Display;
use std::io::{self, Read, Write};

use actix_web::http::header;
use actix_web::web::{Bytes, Query};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use compact_registry::attachments::{
    self, Attachment, Inspected, Inspector, Refusal, Store, TEXT_PLAIN, TempPath, sanitize_filename,
};
use compact_registry::items::ItemKind;

use crate::app::AppState;
use crate::auth::{Authenticated, MaybeAuthenticated, request_context};
use crate::error::{ApiError, Problem};
use crate::routes::items::viewer;
use crate::routes::registry::blocking;

const KIND: ItemKind = ItemKind::Document;

/// How much of a stored file is read at a time for a download.
const READ_CHUNK: usize = 64 * 1024;

/// A file attached to a document.
#[derive(Serialize, ToSchema)]
pub struct AttachmentView {
    id: String,
    /// The name given at upload, cleaned of paths, control characters and quotes.
    filename: String,
    /// Detected from the file's bytes at upload, e.g. `application/pdf`.
    content_type: String,
    size_bytes: i64,
    /// Lower-case hex SHA-256 of the content (also the download's `ETag`).
    sha256: String,
    /// The user who uploaded it.
    uploaded_by: String,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    created_at: DateTime<Utc>,
}

impl From<Attachment> for AttachmentView {
    fn from(a: Attachment) -> Self {
        Self {
            id: a.id,
            filename: a.filename,
            content_type: a.content_type,
            size_bytes: a.size_bytes,
            sha256: a.sha256,
            uploaded_by: a.uploaded_by,
            created_at: a.created_at.and_utc(),
        }
    }
}

/// A file's bytes, as they are.
// Named in the OpenAPI document only: handlers stream the body instead.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct FileBytes(#[allow(dead_code)] Vec<u8>);

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file's name, kept as a label for downloads (paths, control characters, quotes and
    /// leading dots are removed). It never decides the type, except that plain text is
    /// accepted only as `.txt`, `.csv` or `.md`.
    // Optional to serde, so that a missing name is a 422 naming the field.
    #[param(required = true, value_type = String, min_length = 1, example = "assessment-2026.pdf")]
    filename: Option<String>,
}

fn io_error(error: impl Display) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("attachment storage: {error}"))
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::TooLarge { limit } => ApiError::PayloadTooLarge {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
        },
        Refusal::Empty => ApiError::invalid_field("body", "the file is empty"),
        Refusal::UnsupportedType { detected } => ApiError::UnsupportedFileType { detected },
    }
}

fn declared_length(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Streams an upload into a temporary file of the store, inspecting it on the way; the file
/// is flushed to disk before this returns, and removed if anything refuses it.
pub async fn receive<S, E>(
    store: &Store,
    filename: &str,
    limit: u64,
    idle: std::time::Duration,
    mut body: S,
) -> Result<(Inspected, TempPath), ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    let temp = {
        let store = store.clone();
        web::block(move || store.temp_file())
            .await
            .map_err(io_error)?
            .map_err(io_error)?
    };
    let (file, path) = temp.into_parts();
    let mut file = Some(file);
    let mut inspector = Inspector::new(filename, limit);
    while let Some(chunk) = tokio::time::timeout(idle, body.next())
        .await
        .map_err(|_| ApiError::RequestTimeout)?
    {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("Could not read the body: {e}")))?;
        inspector.feed(&chunk).map_err(refused)?;
        let mut f = file.take().ok_or_else(|| io_error("file gone"))?;
        file = Some(
            web::block(move || f.write_all(&chunk).map(|()| f))
                .await
                .map_err(io_error)?
                .map_err(io_error)?,
        );
    }
    let inspected = inspector.finish().map_err(refused)?;
    if let Some(f) = file {
        web::block(move || f.sync_all())
            .await
            .map_err(io_error)?
            .map_err(io_error)?;
    }
    Ok((inspected, path))
}

/// Attach a file to a document of the caller's organization. Send the file itself as the
/// body (any `Content-Type`: the type is detected from the bytes) and its name as
/// `?filename=`. Accepted: PDF, PNG, JPEG, GIF, WebP, DOCX, XLSX, PPTX, ODT, ODS, ODP, ZIP,
/// and plain text — UTF-8 without NUL bytes, named `.txt`, `.csv` or `.md`. Larger than
/// `attachment_max_bytes` (25 MiB by default) is a 413.
#[utoipa::path(
    tag = "documents",
    security(("bearer" = ["documents:write"]), ("api_key" = ["documents:write"])),
    params(("id" = String, Path), UploadQuery),
    request_body(content = inline(FileBytes), content_type = "application/octet-stream", description = "The file's bytes"),
    responses(
        (status = 201, body = AttachmentView, headers(("Location" = String))),
        (status = 403, description = "Not the owner organization, or no documents:write", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than attachment_max_bytes", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not an accepted file type (the detected type is named)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No filename, or an empty file", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/{id}/attachments")]
pub async fn upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    id: web::Path<String>,
    query: Query<UploadQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.0;
    let id = id.into_inner();
    let filename = query
        .into_inner()
        .filename
        // Any other name is usable: one that sanitises to nothing gets a fallback.
        .filter(|f| !f.is_empty())
        .ok_or_else(|| ApiError::invalid_field("filename", "give the file's name as ?filename="))?;
    let filename = sanitize_filename(&filename);
    let limit = state.settings.attachment_max_bytes;

    // Who may attach, before a byte of the file is read.
    {
        let principal = principal.clone();
        let id = id.clone();
        blocking(&state, move |conn| {
            attachments::check_upload(conn, &principal, &id)
        })
        .await?;
    }
    if declared_length(&req).is_some_and(|n| n > limit) {
        return Err(refused(Refusal::TooLarge { limit }));
    }

    // The file goes to disk first: a file without a row is harmless, a row without a file
    // is not.
    let store = Store::new(&state.settings.data_dir);
    let idle = crate::extract::body_timeout(&req);
    let (inspected, upload) = receive(&store, &filename, limit, idle, body).await?;
    let sha256 = inspected.sha256.clone();
    web::block(move || store.keep(upload, &sha256))
        .await
        .map_err(io_error)?
        .map_err(io_error)?;

    let ctx = request_context(&req);
    let actor = principal.audit_actor(ctx.ip, ctx.request_id);
    let document_id = id.clone();
    let row = blocking(&state, move |conn| {
        attachments::add(
            conn,
            &principal,
            &document_id,
            &filename,
            &inspected,
            &actor,
        )
    })
    .await?;
    let location = format!("/api/v1/documents/{id}/attachments/{}", row.id);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(AttachmentView::from(row)))
}

/// The files attached to a document, oldest first; 404 when the document is not for the
/// caller. Without credentials: TLP:CLEAR documents only.
#[utoipa::path(
    tag = "documents",
    security((), ("bearer" = ["documents:read"]), ("api_key" = ["documents:read"])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = [AttachmentView]),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/{id}/attachments")]
pub async fn list(
    state: web::Data<AppState>,
    caller: MaybeAuthenticated,
    id: web::Path<String>,
) -> Result<web::Json<Vec<AttachmentView>>, ApiError> {
    let viewer = viewer(caller.0.as_ref(), KIND)?;
    let id = id.into_inner();
    let rows = blocking(&state, move |conn| attachments::list(conn, &viewer, &id)).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
}

/// RFC 5987 `attr-char`s pass; every other byte of the UTF-8 name is `%XX`.
fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `attachment` with the name twice: as plain ASCII for old clients (anything else, and
/// `%`, becomes `_`), and exactly, percent-encoded, as `filename*`.
pub fn content_disposition(filename: &str) -> String {
    let name = sanitize_filename(filename);
    let ascii: String = name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() || c == ' ') && !matches!(c, '"' | '\\' | '%') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        percent_encode(&name)
    )
}

/// The stored file, read in pieces on the blocking pool.
fn file_stream(file: std::fs::File) -> impl Stream<Item = Result<Bytes, io::Error>> {
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let read = web::block(move || {
            let mut buf = vec![0; READ_CHUNK];
            let n = file.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, io::Error>((file, buf))
        })
        .await;
        match read {
            Ok(Ok((_, buf))) if buf.is_empty() => None,
            Ok(Ok((file, buf))) => Some((Ok(Bytes::from(buf)), Some(file))),
            Ok(Err(e)) => Some((Err(e), None)),
            Err(e) => Some((Err(io::Error::other(e.to_string())), None)),
        }
    })
}

/// Download an attached file, with the type detected at upload, as `attachment` (never
/// shown inline) and `nosniff`. 404 for a file of another document, a deleted one, or one
/// of a document not for the caller.
#[utoipa::path(
    tag = "documents",
    security((), ("bearer" = ["documents:read"]), ("api_key" = ["documents:read"])),
    params(("id" = String, Path), ("attachment_id" = String, Path)),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream", body = inline(FileBytes),
         headers(("Content-Disposition" = String), ("ETag" = String, description = "The SHA-256, quoted"))),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/{id}/attachments/{attachment_id}")]
pub async fn download(
    state: web::Data<AppState>,
    caller: MaybeAuthenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let viewer = viewer(caller.0.as_ref(), KIND)?;
    let (id, attachment_id) = path.into_inner();
    let row = blocking(&state, move |conn| {
        attachments::get(conn, &viewer, &id, &attachment_id)
    })
    .await?;
    let store = Store::new(&state.settings.data_dir);
    let file_path = store.path_of(&row.sha256).map_err(io_error)?;
    let (file, size) = web::block(move || {
        let file = std::fs::File::open(&file_path)?;
        let size = file.metadata()?.len();
        Ok::<_, io::Error>((file, size))
    })
    .await
    .map_err(io_error)?
    .map_err(|e| io_error(format!("the file of attachment {}: {e}", row.id)))?;
    let content_type = if row.content_type == TEXT_PLAIN {
        "text/plain; charset=utf-8".to_owned()
    } else {
        row.content_type.clone()
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((
            header::CONTENT_DISPOSITION,
            content_disposition(&row.filename),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ))
        .insert_header((header::ETAG, format!("\"{}\"", row.sha256)))
        .body(actix_web::body::SizedStream::new(size, file_stream(file))))
}

/// Remove an attachment from a document of the caller's organization (kept for the record,
/// downloadable by nobody).
#[utoipa::path(
    tag = "documents",
    security(("bearer" = ["documents:write"]), ("api_key" = ["documents:write"])),
    params(("id" = String, Path), ("attachment_id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/{id}/attachments/{attachment_id}")]
pub async fn remove(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.0;
    let (id, attachment_id) = path.into_inner();
    let ctx = request_context(&req);
    let actor = principal.audit_actor(ctx.ip, ctx.request_id);
    blocking(&state, move |conn| {
        attachments::delete(conn, &principal, &id, &attachment_id, &actor)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    const IDLE: std::time::Duration = std::time::Duration::from_secs(5);

    #[test]
    fn content_disposition_is_safe_ascii_with_the_exact_name_encoded() {
        assert_eq!(
            content_disposition("report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        assert_eq!(
            content_disposition("../../etc/passwd\r\n\"x"),
            "attachment; filename=\"passwdx\"; filename*=UTF-8''passwdx"
        );
        assert_eq!(
            content_disposition("Été 100%.pdf"),
            "attachment; filename=\"_t_ 100_.pdf\"; filename*=UTF-8''%C3%89t%C3%A9%20100%25.pdf"
        );
        assert_eq!(
            content_disposition("..."),
            "attachment; filename=\"attachment\"; filename*=UTF-8''attachment"
        );
    }

    fn pieces(data: &[u8], size: usize) -> impl Stream<Item = Result<Bytes, io::Error>> + Unpin {
        let chunks: Vec<Result<Bytes, io::Error>> = data
            .chunks(size)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        stream::iter(chunks)
    }

    fn status(error: ApiError) -> u16 {
        actix_web::ResponseError::status_code(&error).as_u16()
    }

    #[actix_web::test]
    async fn a_streamed_upload_is_refused_past_the_limit_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::new(dir.path());
        let mut pdf = b"%PDF-1.4\n".to_vec();
        pdf.resize(10_000, b' ');

        // No Content-Length to go by: the stream itself is cut off at the limit.
        let Err(error) = receive(&store, "a.pdf", 4_096, IDLE, pieces(&pdf, 1_000)).await else {
            panic!("accepted past the limit");
        };
        assert_eq!(status(error), 413);
        let Err(error) = receive(&store, "a.pdf", 1 << 20, IDLE, pieces(b"", 1)).await else {
            panic!("accepted an empty file");
        };
        assert_eq!(status(error), 422);
        let Err(error) = receive(&store, "a.pdf", 1 << 20, IDLE, pieces(b"<html >", 1)).await
        else {
            panic!("accepted html");
        };
        assert_eq!(status(error), 415);
        let tmp = dir.path().join("attachments/tmp");
        assert_eq!(std::fs::read_dir(&tmp).expect("tmp").count(), 0);

        let (inspected, path) = receive(&store, "a.pdf", 1 << 20, IDLE, pieces(&pdf, 777))
            .await
            .expect("accepted");
        assert_eq!(inspected.size_bytes, 10_000);
        assert_eq!(std::fs::read(&path).expect("read"), pdf);
    }
}
