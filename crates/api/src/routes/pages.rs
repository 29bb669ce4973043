//! The pages a person opens from a mailed link, or from the link `compact admin create`
//! prints: a form that sets the password through the API. Self-contained (inline style and
//! script, nothing fetched but the API call), and the token is never written into the page:
//! the script reads it from the address, so nothing from the request is echoed. The route
//! pattern, not the path, is what reaches the logs (`telemetry::RedactedRootSpan`).

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};

use crate::error::ApiError;

/// Which page: the two differ only in wording and the API route the form posts to.
#[derive(Clone, Copy)]
enum Purpose {
    Invitation,
    Reset,
}

impl Purpose {
    fn title(self) -> &'static str {
        match self {
            Purpose::Invitation => "Activate your Compact Platform account",
            Purpose::Reset => "Reset your Compact Platform password",
        }
    }

    fn intro(self) -> &'static str {
        match self {
            Purpose::Invitation => {
                "Choose a password to activate your account. The link works once, within 72 hours of the invitation."
            }
            Purpose::Reset => {
                "Choose a new password. The link works once, within 30 minutes of the request; your other sessions end."
            }
        }
    }

    fn done(self) -> &'static str {
        match self {
            Purpose::Invitation => {
                "Your password is set and your account is active. Sign in with your e-mail address and this password."
            }
            Purpose::Reset => {
                "Your password is changed. Sign in with your e-mail address and the new password."
            }
        }
    }

    /// The API route, relative to the page (`/invitations/{token}` or
    /// `/password-reset/{token}`), so a path prefix in front of the platform still works.
    fn api(self) -> &'static str {
        match self {
            Purpose::Invitation => "../api/v1/invitations/{token}/accept",
            Purpose::Reset => "../api/v1/auth/password-reset/{token}",
        }
    }
}

/// The set-password page of an invitation.
///
/// The invitation mail and `compact admin create` link here: a form that sets the password
/// with `POST /api/v1/invitations/{token}/accept`.
#[utoipa::path(
    tag = "auth",
    security(()),
    params(("token" = String, Path, description = "The token from the invitation mail")),
    responses(
        (status = 200, description = "An HTML form that sets the password", body = String, content_type = "text/html"),
        (status = 404, description = "Not a token", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/invitations/{token}")]
pub async fn invitation_page(token: web::Path<String>) -> Result<HttpResponse, ApiError> {
    page(&token, Purpose::Invitation)
}

/// The set-password page of a password reset.
///
/// The reset mail links here: a form that sets the new password with
/// `POST /api/v1/auth/password-reset/{token}`.
#[utoipa::path(
    tag = "auth",
    security(()),
    params(("token" = String, Path, description = "The token from the reset mail")),
    responses(
        (status = 200, description = "An HTML form that sets the password", body = String, content_type = "text/html"),
        (status = 404, description = "Not a token", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/password-reset/{token}")]
pub async fn password_reset_page(token: web::Path<String>) -> Result<HttpResponse, ApiError> {
    page(&token, Purpose::Reset)
}

/// Whether the token could be one the platform issued (URL-safe base64, as the API
/// accepts at most 128 characters). Whether it is valid, the API says when the form posts.
fn looks_like_token(token: &str) -> bool {
    (1..=128).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn page(token: &str, purpose: Purpose) -> Result<HttpResponse, ApiError> {
    if !looks_like_token(token) {
        return Err(ApiError::NotFound);
    }
    // A fresh nonce per answer: only this page's own style and script run.
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let policy = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, policy))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(render(purpose, &nonce)))
}

/// Everything written into the page is a constant of this file or the nonce (hex digits).
fn render(purpose: Purpose, nonce: &str) -> String {
    PAGE.replace("{nonce}", nonce)
        .replace("{title}", purpose.title())
        .replace("{intro}", purpose.intro())
        .replace("{done}", purpose.done())
        .replace("{api}", purpose.api())
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<title>{title}</title>
<style nonce="{nonce}">
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
main { max-width: 28rem; margin: 3rem auto; padding: 2rem; background: #fff; border-radius: 8px; box-shadow: 0 1px 4px rgba(0,0,0,.12); }
h1 { font-size: 1.3rem; margin-top: 0; }
label { display: block; margin-top: 1rem; font-weight: 600; }
input { width: 100%; box-sizing: border-box; padding: .5rem; font: inherit; border: 1px solid #9aa3b2; border-radius: 4px; }
button { margin-top: 1.25rem; padding: .6rem 1.2rem; font: inherit; border: 0; border-radius: 4px; background: #1f5fbf; color: #fff; cursor: pointer; }
button[disabled] { background: #8aa4cc; cursor: wait; }
.hint { font-size: .9rem; color: #4b5565; }
#status { margin-top: 1rem; }
#status.error { color: #a11b1b; }
#status.done { color: #176b2c; }
</style>
</head>
<body>
<main>
<h1>{title}</h1>
<p>{intro}</p>
<form id="set-password" method="post" data-api="{api}" data-done="{done}" novalidate>
<label for="password">New password</label>
<input id="password" name="password" type="password" autocomplete="new-password" minlength="12" maxlength="128" required>
<p class="hint">12 to 128 characters. A phrase of several unrelated words works well; it must not be easy to guess, nor built from your name, e-mail address or organization.</p>
<label for="confirm">The same password again</label>
<input id="confirm" name="confirm" type="password" autocomplete="new-password" maxlength="128" required>
<button type="submit">Set the password</button>
</form>
<p id="status" role="status" aria-live="polite"></p>
<noscript><p>This page needs JavaScript. Without it, send <code>{"password": "…"}</code> as JSON with <code>POST</code> to the address given in the mail.</p></noscript>
</main>
<script nonce="{nonce}">
(function () {
  "use strict";
  var form = document.getElementById("set-password");
  var status = document.getElementById("status");
  var button = form.querySelector("button");
  // The token is the last part of this page's address; it is never written into the page.
  var parts = location.pathname.split("/").filter(function (p) { return p !== ""; });
  var token = encodeURIComponent(decodeURIComponent(parts[parts.length - 1] || ""));
  var api = new URL(form.getAttribute("data-api").replace("{token}", token), location.href);

  function show(kind, text) {
    status.className = kind;
    status.textContent = text;
  }

  function describe(code, problem) {
    var said = [];
    (problem.errors || []).forEach(function (e) {
      if (e && typeof e.message === "string") { said.push(e.message); }
    });
    if (!said.length && typeof problem.detail === "string") { said.push(problem.detail); }
    if (code === 404) { said.push("This link is unknown, already used or expired: ask for a new one."); }
    if (!said.length) { said.push("The platform refused the password (" + code + ")."); }
    return said.join(" ");
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var password = form.elements.password.value;
    if (password !== form.elements.confirm.value) {
      show("error", "The two passwords differ.");
      return;
    }
    button.disabled = true;
    show("", "Setting the password…");
    fetch(api, {
      method: "POST",
      headers: { "content-type": "application/json", "accept": "application/json, application/problem+json" },
      body: JSON.stringify({ password: password }),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer"
    }).then(function (response) {
      if (response.ok) {
        form.hidden = true;
        show("done", form.getAttribute("data-done"));
        return;
      }
      return response.json().catch(function () { return {}; }).then(function (problem) {
        show("error", describe(response.status, problem || {}));
        button.disabled = false;
      });
    }).catch(function () {
      show("error", "The platform could not be reached; try again.");
      button.disabled = false;
    });
  });
})();
</script>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_token_shaped_paths_are_pages() {
        assert!(looks_like_token(&compact_auth::secrets::random_token()));
        for bad in ["", "<script>", "a\"b", "a b", "%3C", &"a".repeat(129)] {
            assert!(!looks_like_token(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_page_holds_no_placeholder_and_posts_to_the_api() {
        for purpose in [Purpose::Invitation, Purpose::Reset] {
            let html = render(purpose, "0123abcd");
            assert!(html.contains(purpose.api()));
            assert!(html.contains("nonce=\"0123abcd\""));
            for placeholder in ["{nonce}", "{title}", "{intro}", "{done}", "{api}"] {
                assert!(!html.contains(placeholder), "{placeholder}");
            }
            // Written into the page as they are: nothing to escape in them.
            for text in [
                purpose.title(),
                purpose.intro(),
                purpose.done(),
                purpose.api(),
            ] {
                assert!(!text.contains(['<', '>', '&', '"']), "{text}");
            }
        }
    }
}
