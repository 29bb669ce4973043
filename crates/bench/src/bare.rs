//! `compact-bench bare`: the baseline of the trivial authenticated GET — a bare actix-web
//! server (same actix version, same worker count) answering a JSON body of the size of
//! `/api/v1/me`'s, with no authentication, database or middleware.

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;

async fn me() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "id": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "organization_id": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c",
        "email": "user25@ce1.bench.example",
        "name": "Bench User 25",
        "role": "coordinator",
        "status": "active",
        "mfa_enabled": false,
        "created_at": "2026-11-28T02:47:03.123456Z",
        "updated_at": "2026-11-28T02:47:03.123456Z",
        "permissions": ["search", "documents:read", "documents:write", "updates:read", "updates:write", "users:manage", "nominations:create", "audit:read"],
        "mfa_satisfied": true,
    }))
}

pub fn serve(bind: &str, workers: usize) -> std::io::Result<()> {
    let bind = bind.to_owned();
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(|| App::new().route("/me", web::get().to(me)))
            .workers(workers)
            .bind(bind)?
            .run()
            .await
    })
}
