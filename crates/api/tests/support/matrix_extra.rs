//! Helpers of the audience property test and the authorization matrix: requests whose
//! status is the point, attachment uploads, the ids in list, CSV, facet and version
//! answers, and the mail outbox as written (no SMTP needed).

use reqwest::Method;
use serde_json::Value;

use super::TestApp;

/// Bytes of a refused type (an ELF header): an authorized upload of them is a 415, so a
/// probe changes nothing.
pub const REFUSED_BYTES: [u8; 8] = [0x7f, b'E', b'L', b'F', 2, 1, 1, 0];

/// Sends a request with an optional bearer token, `If-Match` and JSON body.
pub async fn send(
    app: &TestApp,
    method: Method,
    token: Option<&str>,
    path: &str,
    if_match: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(etag) = if_match {
        request = request.header("if-match", etag);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request")
}

/// Uploads `bytes` as an attachment of a document, named `filename`.
pub async fn upload(
    app: &TestApp,
    token: Option<&str>,
    document_id: &str,
    filename: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let path = format!("/api/v1/documents/{document_id}/attachments?filename={filename}");
    let mut request = app.client.post(app.url(&path)).body(bytes);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("upload")
}

/// The `id` of every element of a JSON array.
pub fn ids_in(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

/// `value -> count` of one facet of a search answer, as the server counted it.
pub fn facet_counts(results: &Value, facet: &str) -> std::collections::BTreeMap<String, i64> {
    results["facets"][facet]
        .as_array()
        .expect("facet")
        .iter()
        .map(|c| {
            (
                c["value"].as_str().expect("value").to_owned(),
                c["count"].as_i64().expect("count"),
            )
        })
        .collect()
}

/// `(version, tlp)` of each entry of a `/versions` answer, in its order.
pub fn versions_in(list: &Value) -> Vec<(i64, String)> {
    list.as_array()
        .expect("versions")
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().expect("version"),
                v["tlp"].as_str().expect("tlp").to_owned(),
            )
        })
        .collect()
}

/// The records of an RFC 4180 text: quoted fields may hold commas, doubled quotes and line
/// breaks; records end with CRLF (a lone LF is accepted too).
pub fn csv_records(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(!quoted, "unterminated quoted CSV field");
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

/// The `id` column of a CSV export, in order (the header must name it first).
pub fn csv_ids(text: &str) -> Vec<String> {
    let mut records = csv_records(text).into_iter();
    let header = records.next().expect("CSV header");
    assert_eq!(header.first().map(String::as_str), Some("id"), "{header:?}");
    records
        .map(|r| {
            assert_eq!(r.len(), header.len(), "CSV record {r:?}");
            r[0].clone()
        })
        .collect()
}

/// One message as the outbox holds it.
#[derive(Debug, Clone)]
pub struct OutboxMail {
    pub recipient: String,
    pub subject: String,
    pub body: String,
}

/// Every message written to the outbox so far, oldest first (rows stay once sent).
pub fn outbox(app: &TestApp) -> Vec<OutboxMail> {
    use compact_db::schema::outbox;
    use diesel::prelude::*;
    let mut conn = app.db.get().expect("connection");
    outbox::table
        .order((outbox::created_at.asc(), outbox::id.asc()))
        .select((outbox::recipient, outbox::subject, outbox::body_text))
        .load::<(String, String, String)>(&mut *conn)
        .expect("outbox")
        .into_iter()
        .map(|(recipient, subject, body)| OutboxMail {
            recipient,
            subject,
            body,
        })
        .collect()
}

/// Percent-encodes a query value (RFC 3339 instants carry `+` and `:`).
pub fn query_value(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The `id` of a user, by e-mail.
pub fn user_id_of(app: &TestApp, email: &str) -> String {
    use compact_db::schema::users;
    use diesel::prelude::*;
    let mut conn = app.db.get().expect("connection");
    users::table
        .filter(users::email_normalized.eq(email.to_lowercase()))
        .select(users::id)
        .first(&mut *conn)
        .expect("user")
}
