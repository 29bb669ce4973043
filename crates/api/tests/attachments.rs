//! Document attachments over HTTP (DESIGN §4): types from the bytes against an allow-list,
//! the size limit, content-addressed storage, safe download headers, and the document's
//! audience on every read.

mod support;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{TestApp, header, problem};

/// Owner UNODC (a focal point who writes, a member who only reads), recipient INTERPOL,
/// outsider FATF.
struct World {
    app: TestApp,
    interpol: String,
    author: String,
    author_id: String,
    colleague: String,
    recipient: String,
    outsider: String,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let unodc = app.create_org("UNODC", "compact_entity");
    let interpol = app.create_org("INTERPOL", "compact_entity");
    let fatf = app.create_org("FATF", "compact_entity");
    let author_id = app.create_user(&unodc, "fp@unodc.example", "focal_point");
    app.create_user(&unodc, "member@unodc.example", "member");
    app.create_user(&interpol, "fp@interpol.example", "focal_point");
    app.create_user(&fatf, "coordinator@fatf.example", "coordinator");
    World {
        author: app.tokens("fp@unodc.example").await.0,
        colleague: app.tokens("member@unodc.example").await.0,
        recipient: app.tokens("fp@interpol.example").await.0,
        outsider: app.tokens("coordinator@fatf.example").await.0,
        app,
        interpol,
        author_id,
    }
}

impl World {
    /// A document of UNODC's, returning its attachments path.
    async fn document(&self, tlp: &str, recipients: Value) -> String {
        let doc = self
            .app
            .share_document(
                &self.author,
                json!({
                    "title": "Assessment of financing channels",
                    "language": "en",
                    "type": "assessment",
                    "tlp": tlp,
                    "recipients": recipients,
                }),
            )
            .await;
        format!(
            "/api/v1/documents/{}/attachments",
            doc["id"].as_str().expect("id")
        )
    }

    async fn amber_document(&self) -> String {
        self.document("amber", json!({ "organizations": [self.interpol] }))
            .await
    }
}

/// POSTs raw bytes as an attachment named `filename`, with a Content-Type that should not
/// matter.
async fn upload(
    app: &TestApp,
    token: Option<&str>,
    path: &str,
    filename: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("filename", filename)
        .finish();
    let mut request = app
        .client
        .post(app.url(&format!("{path}?{query}")))
        .header("content-type", "application/octet-stream")
        .body(bytes);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("upload")
}

/// Uploads, asserting 201; returns the attachment's JSON.
async fn uploaded(app: &TestApp, token: &str, path: &str, filename: &str, bytes: &[u8]) -> Value {
    let response = upload(app, Some(token), path, filename, bytes.to_vec()).await;
    assert_eq!(response.status(), 201, "upload of {filename}");
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location")
        .to_owned();
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        location,
        format!("{path}/{}", body["id"].as_str().expect("id"))
    );
    body
}

/// A small but well-formed PDF: one empty page, a cross-reference table with the right
/// offsets, a trailer.
fn tiny_pdf() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ];
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// The PNG signature, then a 1×1 RGBA IHDR chunk with its CRC, an IDAT and an IEND.
fn tiny_png() -> Vec<u8> {
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    png.extend_from_slice(&[0, 0, 0, 13]);
    png.extend_from_slice(b"IHDR");
    png.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]);
    png.extend_from_slice(&[0x1F, 0x15, 0xC4, 0x89]);
    png.extend_from_slice(&[0, 0, 0, 13]);
    png.extend_from_slice(b"IDAT");
    png.extend_from_slice(&[
        0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4,
    ]);
    png.extend_from_slice(&[0, 0, 0, 0]);
    png.extend_from_slice(b"IEND");
    png.extend_from_slice(&[0xAE, 0x42, 0x60, 0x82]);
    png
}

/// The start of a 64-bit x86 Linux executable.
fn elf() -> Vec<u8> {
    let mut elf = vec![0x7F, b'E', b'L', b'F', 2, 1, 1, 0];
    elf.resize(128, 0);
    elf[16] = 2; // ET_EXEC
    elf[18] = 0x3E; // x86-64
    elf
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Files under `<data_dir>/attachments/`, leaving out the (empty) temporary directory.
fn stored_files(app: &TestApp) -> Vec<std::path::PathBuf> {
    let root = app.settings.data_dir.join("attachments");
    let mut files = Vec::new();
    for shard in std::fs::read_dir(&root).expect("store") {
        let shard = shard.expect("entry").path();
        for file in std::fs::read_dir(&shard).expect("shard") {
            files.push(file.expect("file").path());
        }
    }
    files.sort();
    files
}

#[tokio::test]
async fn pdf_and_png_round_trip_typed_by_their_bytes_and_stored_once_by_content() {
    let w = world().await;
    let app = &w.app;
    let path = w.amber_document().await;
    let pdf = tiny_pdf();
    let png = tiny_png();

    let a = uploaded(app, &w.author, &path, "Assessment 2026.pdf", &pdf).await;
    assert_eq!(a["filename"], "Assessment 2026.pdf");
    assert_eq!(a["content_type"], "application/pdf");
    assert_eq!(a["size_bytes"], pdf.len());
    assert_eq!(a["sha256"], sha256(&pdf));
    assert_eq!(a["uploaded_by"], w.author_id.as_str());
    // The name says PDF and the request says octet-stream: the bytes say PNG.
    let b = uploaded(app, &w.author, &path, "chart.pdf", &png).await;
    assert_eq!(b["content_type"], "image/png");

    let list = app.get_json(&w.recipient, &path).await;
    let ids: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|x| x["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [&a["id"], &b["id"]].map(|id| id.as_str().expect("id")));
    assert_eq!(list[0]["sha256"], sha256(&pdf));

    for (attachment, bytes, content_type, disposition) in [
        (
            &a,
            &pdf,
            "application/pdf",
            "attachment; filename=\"Assessment 2026.pdf\"; filename*=UTF-8''Assessment%202026.pdf",
        ),
        (
            &b,
            &png,
            "image/png",
            "attachment; filename=\"chart.pdf\"; filename*=UTF-8''chart.pdf",
        ),
    ] {
        let url = format!("{path}/{}", attachment["id"].as_str().expect("id"));
        let response = app.get_as(&w.recipient, &url).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "content-type"), content_type);
        assert_eq!(header(&response, "content-disposition"), disposition);
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header(&response, "content-length"), bytes.len().to_string());
        assert_eq!(header(&response, "etag"), format!("\"{}\"", sha256(bytes)));
        assert_eq!(
            response.bytes().await.expect("body").as_ref(),
            bytes.as_slice()
        );
    }

    // Content-addressed: <data_dir>/attachments/<aa>/<sha256>, the same content kept once.
    let again = uploaded(app, &w.author, &path, "copy.pdf", &pdf).await;
    assert_ne!(again["id"], a["id"]);
    let root = app.settings.data_dir.join("attachments");
    let pdf_sha = sha256(&pdf);
    let png_sha = sha256(&png);
    let mut expected = vec![
        root.join(&pdf_sha[..2]).join(&pdf_sha),
        root.join(&png_sha[..2]).join(&png_sha),
    ];
    expected.sort();
    assert_eq!(stored_files(app), expected);
    assert_eq!(
        std::fs::read(root.join(&pdf_sha[..2]).join(&pdf_sha)).expect("stored"),
        pdf
    );
    let added = app.audit_count("document.attachment_added");
    assert_eq!(added, 3);
}

#[tokio::test]
async fn refused_types_oversized_and_empty_uploads_leave_nothing_behind() {
    let w = world().await;
    let app = &w.app;
    let path = w.amber_document().await;

    let refused = problem(
        upload(app, Some(&w.author), &path, "report.pdf", elf()).await,
        415,
    )
    .await;
    let detail = refused["detail"].as_str().expect("detail");
    assert!(detail.contains("application/x-executable"), "{detail}");
    assert!(detail.contains("PDF"), "{detail}");
    let html = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>".to_vec();
    let refused = problem(
        upload(app, Some(&w.author), &path, "report.pdf", html).await,
        415,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .expect("detail")
            .contains("text/html")
    );
    // Text without a text name, text that is not UTF-8, text with NUL bytes.
    for (name, bytes) in [
        ("notes.pdf", b"just some words".to_vec()),
        ("notes.txt", b"caf\xe9 cr\xe8me".to_vec()),
        ("notes.csv", b"a,b\n1,\x002\n".to_vec()),
    ] {
        let refused = problem(upload(app, Some(&w.author), &path, name, bytes).await, 415).await;
        assert!(
            refused["detail"]
                .as_str()
                .expect("detail")
                .contains("application/octet-stream"),
            "{name}"
        );
    }

    // The test app's limit is 64 KiB: one byte more is refused, exactly 64 KiB is not.
    let limit = app.settings.attachment_max_bytes as usize;
    let mut big = tiny_pdf();
    big.resize(limit + 1, b' ');
    problem(
        upload(app, Some(&w.author), &path, "big.pdf", big.clone()).await,
        413,
    )
    .await;
    big.truncate(limit);
    uploaded(app, &w.author, &path, "just-fits.pdf", &big).await;

    let empty = problem(
        upload(app, Some(&w.author), &path, "empty.pdf", Vec::new()).await,
        422,
    )
    .await;
    assert_eq!(empty["errors"][0]["field"], "body");
    let no_name = app
        .client
        .post(app.url(&path))
        .bearer_auth(&w.author)
        .body(tiny_pdf())
        .send()
        .await
        .expect("upload");
    let no_name = problem(no_name, 422).await;
    assert_eq!(no_name["errors"][0]["field"], "filename");

    // Plain text under a text name, as UTF-8.
    let csv = "organisation,pays\nONUDC,Autriche\nINTERPOL,France — Lyon\n".as_bytes();
    let text = uploaded(app, &w.author, &path, "contacts.csv", csv).await;
    assert_eq!(text["content_type"], "text/plain");
    let response = app
        .get_as(
            &w.author,
            &format!("{path}/{}", text["id"].as_str().expect("id")),
        )
        .await;
    assert_eq!(
        header(&response, "content-type"),
        "text/plain; charset=utf-8"
    );
    assert_eq!(response.bytes().await.expect("body").as_ref(), csv);

    // Only the two accepted files were kept; nothing is left half-written.
    let listed = app.get_json(&w.author, &path).await;
    assert_eq!(listed.as_array().expect("array").len(), 2);
    assert_eq!(stored_files(app).len(), 2);
    let tmp = app.settings.data_dir.join("attachments/tmp");
    assert_eq!(std::fs::read_dir(tmp).expect("tmp").count(), 0);
}

#[tokio::test]
async fn file_names_are_sanitised_for_content_disposition() {
    let w = world().await;
    let app = &w.app;
    let path = w.amber_document().await;
    for (given, kept, disposition) in [
        (
            "../../etc/passwd\r\n\"x",
            "passwdx",
            "attachment; filename=\"passwdx\"; filename*=UTF-8''passwdx",
        ),
        (
            "C:\\Users\\amina\\Évaluation régionale.pdf",
            "Évaluation régionale.pdf",
            "attachment; filename=\"_valuation r_gionale.pdf\"; \
             filename*=UTF-8''%C3%89valuation%20r%C3%A9gionale.pdf",
        ),
        (
            ".hidden",
            "hidden",
            "attachment; filename=\"hidden\"; filename*=UTF-8''hidden",
        ),
        (
            "/..",
            "attachment",
            "attachment; filename=\"attachment\"; filename*=UTF-8''attachment",
        ),
    ] {
        let a = uploaded(app, &w.author, &path, given, &tiny_pdf()).await;
        assert_eq!(a["filename"], kept);
        let response = app
            .get_as(
                &w.author,
                &format!("{path}/{}", a["id"].as_str().expect("id")),
            )
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "content-disposition"), disposition);
    }
}

#[tokio::test]
async fn the_documents_audience_reads_and_only_its_owners_writers_change() {
    let w = world().await;
    let app = &w.app;
    let amber = w.amber_document().await;
    let a = uploaded(app, &w.author, &amber, "report.pdf", &tiny_pdf()).await;
    let file = format!("{amber}/{}", a["id"].as_str().expect("id"));

    // Reading: the document's audience, nobody else — not even by the attachment's id.
    for (reader, expected) in [
        (Some(&w.author), 200),
        (Some(&w.colleague), 200),
        (Some(&w.recipient), 200),
        (Some(&w.outsider), 404),
        (None, 404),
    ] {
        let reader = reader.map(String::as_str);
        assert_eq!(app.status_of(reader, &amber).await, expected, "list");
        assert_eq!(app.status_of(reader, &file).await, expected, "download");
    }
    let outsiders = problem(app.get_as(&w.outsider, &file).await, 404).await;
    assert_eq!(outsiders["detail"], "Nothing is here.");

    // Writing: the owner organization's writers only.
    let pdf = tiny_pdf;
    problem(
        upload(app, Some(&w.recipient), &amber, "x.pdf", pdf()).await,
        403,
    )
    .await;
    problem(
        upload(app, Some(&w.colleague), &amber, "x.pdf", pdf()).await,
        403,
    )
    .await;
    problem(
        upload(app, Some(&w.outsider), &amber, "x.pdf", pdf()).await,
        404,
    )
    .await;
    problem(upload(app, None, &amber, "x.pdf", pdf()).await, 401).await;
    problem(
        upload(
            app,
            Some(&w.author),
            "/api/v1/documents/no-such-document/attachments",
            "x.pdf",
            pdf(),
        )
        .await,
        404,
    )
    .await;
    problem(app.delete_as(&w.recipient, &file).await, 403).await;
    problem(app.delete_as(&w.colleague, &file).await, 403).await;
    problem(app.delete_as(&w.outsider, &file).await, 404).await;

    // An attachment is reached only through its own document.
    let clear = w.document("clear", json!({})).await;
    let elsewhere = format!("{clear}/{}", a["id"].as_str().expect("id"));
    assert_eq!(app.status_of(Some(&w.author), &elsewhere).await, 404);
    problem(app.delete_as(&w.author, &elsewhere).await, 404).await;

    // TLP:CLEAR attachments are public, like the document.
    let public = uploaded(app, &w.author, &clear, "public.png", &tiny_png()).await;
    let public_file = format!("{clear}/{}", public["id"].as_str().expect("id"));
    assert_eq!(app.status_of(None, &clear).await, 200);
    let anonymous = app.get(&public_file).await;
    assert_eq!(anonymous.status(), 200);
    assert_eq!(
        anonymous.bytes().await.expect("body").as_ref(),
        tiny_png().as_slice()
    );

    // Deleted: gone for everyone, listed for nobody, not deleted twice.
    assert_eq!(app.delete_as(&w.author, &file).await.status(), 204);
    for reader in [&w.author, &w.recipient] {
        assert_eq!(app.status_of(Some(reader), &file).await, 404);
        assert_eq!(app.get_json(reader, &amber).await, json!([]));
    }
    problem(app.delete_as(&w.author, &file).await, 404).await;
    assert!(
        app.audit_actions()
            .contains(&"document.attachment_deleted".to_owned())
    );

    // A deleted document takes its attachments with it.
    let document = clear.trim_end_matches("/attachments");
    let gone = app.delete_as(&w.author, document).await;
    assert_eq!(gone.status(), 204);
    assert_eq!(app.status_of(Some(&w.author), &public_file).await, 404);
    assert_eq!(app.status_of(None, &clear).await, 404);
}
