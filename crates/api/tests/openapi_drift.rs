//! `openapi/openapi.json` must be what the code generates. To accept a change:
//!     cargo run --bin compact -- openapi --output openapi/openapi.json

#[test]
fn committed_openapi_document_matches_the_code() {
    let generated = compact_api::app::openapi_pretty_json(&compact_api::app::openapi());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if generated != committed {
        let line = generated
            .lines()
            .zip(committed.lines())
            .position(|(a, b)| a != b);
        panic!(
            "openapi/openapi.json is out of date (first difference at line {}).\n\
             Regenerate it with: cargo run --bin compact -- openapi --output openapi/openapi.json",
            line.map_or_else(|| "end".to_owned(), |l| (l + 1).to_string())
        );
    }
}
