//! Field checks shared by the registry's inputs.

use crate::RegistryError;

/// Trimmed text of 1..=`max` characters without control characters (so nothing that reaches
/// a mail header can carry CR/LF).
pub fn text(field: &str, value: &str, max: usize) -> Result<String, RegistryError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(RegistryError::invalid(
            field,
            format!("must be 1 to {max} characters without control characters"),
        ));
    }
    Ok(value.to_owned())
}

/// Free text that may be empty and may hold line breaks, at most `max` characters.
pub fn long_text(field: &str, value: &str, max: usize) -> Result<String, RegistryError> {
    if value.chars().count() > max
        || value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(RegistryError::invalid(
            field,
            format!(
                "must be at most {max} characters, without control characters other than line breaks and tabs"
            ),
        ));
    }
    Ok(value.trim().to_owned())
}

/// A DNS domain as used in e-mail addresses, in lower case.
pub fn domain(field: &str, value: &str) -> Result<String, RegistryError> {
    let value = value.trim().trim_start_matches('@').to_ascii_lowercase();
    let labels_ok = value.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    if value.len() > 253 || !value.contains('.') || !labels_ok {
        return Err(RegistryError::invalid(
            field,
            format!("{value:?} is not a domain name"),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_text_and_domains() {
        assert_eq!(text("name", "  UNOCT  ", 10).expect("ok"), "UNOCT");
        assert!(text("name", "a\r\nBcc: x", 100).is_err());
        assert!(text("name", "", 10).is_err());
        assert!(text("name", "abcdefghijk", 10).is_err());
        assert_eq!(domain("d", "@UN.org").expect("ok"), "un.org");
        for bad in ["localhost", "a..b", "-a.org", "a b.org", "x_y.org"] {
            assert!(domain("d", bad).is_err(), "{bad}");
        }
        assert!(long_text("d", "line one\nline two", 100).is_ok());
        assert!(long_text("d", "bell\u{7}", 100).is_err());
    }
}
