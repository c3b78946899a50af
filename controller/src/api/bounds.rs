//! The bounds the API's handlers enforce, each stated once: the check that refuses a value and
//! the schema that documents it come from the same constants, so `/api/openapi.json` and the
//! handlers cannot disagree (the OpenAPI fuzzer in `tests/run.sh` holds them to it).
//!
//! Schemas are for `#[schema(schema_with = …)]` and `#[param(schema_with = …)]`; a field that
//! may be `null` or absent uses the `_or_null` form, since serde reads `null` as absent.

use utoipa::openapi::KnownFormat;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, SchemaFormat, SchemaType, Type};

use crate::api::error::{ApiError, ApiResult};

/// Longest router name, location, host or username (characters).
pub const MAX_TEXT: usize = 128;
/// Longest staff username, site name or package name (characters).
pub const MAX_NAME: usize = 64;
/// Longest router password we pass on (characters).
pub const MAX_ROUTER_PASSWORD: usize = 256;
/// Longest page cursor (hex digits).
pub const MAX_CURSOR: usize = 512;
/// Largest id a query or path names, and largest number a body takes where the schema says
/// `int64` (JSON Schema's `int64` ends at `i64::MAX`).
pub const MAX_ID: u64 = i64::MAX as u64;

/// A control character (Unicode `Cc`), as JSON Schema's pattern sees it.
const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";
/// Unicode `White_Space` outside `Cc`, spelled out (regex engines differ on `\s`).
const SPACE: &str = r"\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// The pattern of [`text`]: no control characters, no space at either end.
pub fn text_pattern() -> String {
    format!("^[^{CONTROL}{SPACE}](?:[^{CONTROL}]*[^{CONTROL}{SPACE}])?$")
}

/// A name or similar text: 1 to `max` characters (0 to `max` with `allow_empty`), none of them
/// a control character, and no space at either end (the pages trim what people type; the API
/// refuses rather than guesses). 422 naming `field` otherwise.
pub fn text(field: &str, value: &str, max: usize, allow_empty: bool) -> ApiResult<String> {
    let chars = value.chars().count();
    let refuse = |why: String| Err(ApiError::invalid_field(field, why));
    if value.chars().any(char::is_control) {
        return refuse(format!("{field} may not contain control characters"));
    }
    if chars == 0 && allow_empty {
        return Ok(String::new());
    }
    if chars == 0 || chars > max {
        let least = if allow_empty { 0 } else { 1 };
        return refuse(format!("{field} must be {least} to {max} characters"));
    }
    if value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
        return refuse(format!("{field} may not start or end with a space"));
    }
    Ok(value.to_owned())
}

/// A string schema, `null` allowed with `nullable`.
pub fn string(nullable: bool) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::new(Type::String)
    })
}

/// `schema`, with `null` allowed too.
fn or_null(schema: ObjectBuilder) -> ObjectBuilder {
    schema.schema_type(SchemaType::from_iter([Type::String, Type::Null]))
}

fn text_schema(max: usize, allow_empty: bool) -> ObjectBuilder {
    let pattern = if allow_empty {
        format!("(?:{})|^$", text_pattern())
    } else {
        text_pattern()
    };
    string(false)
        .min_length(Some(usize::from(!allow_empty)))
        .max_length(Some(max))
        .pattern(Some(pattern))
}

/// Schema of a [`MAX_NAME`] text.
pub fn name() -> ObjectBuilder {
    text_schema(MAX_NAME, false)
}

/// Schema of a [`MAX_NAME`] text, or null.
pub fn name_or_null() -> ObjectBuilder {
    or_null(name())
}

/// Schema of a [`MAX_TEXT`] text.
pub fn long_text() -> ObjectBuilder {
    text_schema(MAX_TEXT, false)
}

/// Schema of a [`MAX_TEXT`] text, or null.
pub fn long_text_or_null() -> ObjectBuilder {
    or_null(long_text())
}

/// Schema of a [`MAX_TEXT`] text that may be empty.
pub fn optional_text() -> ObjectBuilder {
    text_schema(MAX_TEXT, true)
}

/// Schema of a [`MAX_TEXT`] text that may be empty, or null.
pub fn optional_text_or_null() -> ObjectBuilder {
    or_null(optional_text())
}

/// The pattern of a host: a [`text`] without spaces or `/`.
fn host_pattern() -> String {
    format!("^[^{CONTROL}{SPACE}/]+$")
}

/// A router's address: a [`MAX_TEXT`] text without spaces or `/`.
pub fn host(value: &str) -> ApiResult<String> {
    let h = text("host", value, MAX_TEXT, false)?;
    if h.contains(char::is_whitespace) || h.contains('/') {
        return Err(ApiError::invalid_field(
            "host",
            "host must be an IP address or a DNS name, without a scheme or path",
        ));
    }
    Ok(h)
}

/// Schema of [`host`].
pub fn host_text() -> ObjectBuilder {
    string(false)
        .min_length(Some(1))
        .max_length(Some(MAX_TEXT))
        .pattern(Some(host_pattern()))
}

/// Schema of [`host`], or null.
pub fn host_or_null() -> ObjectBuilder {
    or_null(host_text())
}

/// Schema of a router password: 1 to [`MAX_ROUTER_PASSWORD`] characters.
pub fn router_password() -> ObjectBuilder {
    string(false)
        .min_length(Some(1))
        .max_length(Some(MAX_ROUTER_PASSWORD))
}

/// Schema of a router password, or null.
pub fn router_password_or_null() -> ObjectBuilder {
    or_null(router_password())
}

/// A router password: 1 to [`MAX_ROUTER_PASSWORD`] characters, passed on as given.
pub fn router_password_of(value: &str) -> ApiResult<String> {
    let chars = value.chars().count();
    if chars == 0 || chars > MAX_ROUTER_PASSWORD {
        return Err(ApiError::invalid_field(
            "password",
            format!("password must be 1 to {MAX_ROUTER_PASSWORD} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// Schema of a site id: 1 to 64 of `a-z`, `0-9` and `-`, not starting with `-`.
pub fn site_id() -> ObjectBuilder {
    string(false)
        .min_length(Some(1))
        .max_length(Some(hotspot_pki::site::SITE_ID_MAX_LEN))
        .pattern(Some("^[a-z0-9][a-z0-9-]*$"))
}

/// Schema of a site id, or null.
pub fn site_id_or_null() -> ObjectBuilder {
    or_null(site_id())
}

/// Schema of a site id filter: a site id, or empty for none.
pub fn site_filter() -> ObjectBuilder {
    string(false)
        .max_length(Some(hotspot_pki::site::SITE_ID_MAX_LEN))
        .pattern(Some("^(?:[a-z0-9][a-z0-9-]*)?$"))
}

/// A site filter of a query (see [`site_filter`]): empty is none.
pub fn site_filter_of(text: Option<&str>) -> ApiResult<Option<hotspot_pki::SiteId>> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => t.parse().map(Some).map_err(|e: hotspot_pki::SiteIdError| {
            ApiError::invalid_field("site_id", e.to_string())
        }),
    }
}

/// Schema of a page cursor: what a listing gave as `next` (hex digits), or empty for the first
/// page. Any such text is a position in the listing's order; the page starts after it.
pub fn cursor() -> ObjectBuilder {
    string(false)
        .max_length(Some(MAX_CURSOR))
        .pattern(Some("^(?:[0-9a-f]{2})*$"))
}

/// Most digits of the router list's cursor: every 19-digit number fits a `u64`.
const MAX_ID_CURSOR: usize = 19;

/// Schema of the router list's cursor: a router id, or empty for the first page.
pub fn id_cursor() -> ObjectBuilder {
    string(false)
        .max_length(Some(MAX_ID_CURSOR))
        .pattern(Some("^[0-9]*$"))
}

/// The router list's cursor (see [`id_cursor`]): ids after it.
pub fn id_cursor_of(text: Option<&str>) -> ApiResult<u64> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(0),
        Some(t) if t.len() <= MAX_ID_CURSOR && t.bytes().all(|b| b.is_ascii_digit()) => {
            t.parse().map_err(|_| bad_cursor())
        }
        Some(_) => Err(bad_cursor()),
    }
}

fn bad_cursor() -> ApiError {
    ApiError::bad_request("the page cursor is not one a listing gave")
}

/// A page cursor (see [`cursor`]), checked for its form.
pub fn cursor_of(text: Option<String>) -> ApiResult<Option<String>> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t)
            if t.len() <= MAX_CURSOR
                && t.len().is_multiple_of(2)
                && t.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            Ok(Some(t))
        }
        Some(_) => Err(bad_cursor()),
    }
}

/// Schema of an id in a query: 0 to [`MAX_ID`].
pub fn id_filter() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(0))
        .maximum(Some(i64::MAX))
}

/// An id filter of a query (see [`id_filter`]).
pub fn id_filter_of(field: &str, id: Option<u64>) -> ApiResult<Option<u64>> {
    match id {
        Some(n) if n > MAX_ID => Err(ApiError::invalid_field(
            field,
            format!("{field} must be 0 to {MAX_ID}"),
        )),
        other => Ok(other),
    }
}

/// Most Unix seconds a time filter takes (eleven digits).
pub const MAX_UNIX_DIGITS: usize = 11;

/// Schema of a time filter: Unix seconds, an RFC 3339 time, a `YYYY-MM-DD` date, or empty for
/// none.
pub fn time_filter() -> AnyOfBuilder {
    AnyOfBuilder::new()
        .item(
            string(false)
                .min_length(Some(1))
                .max_length(Some(MAX_UNIX_DIGITS))
                .pattern(Some("^[0-9]+$")),
        )
        .item(string(false).format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
        .item(string(false).format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))))
        .item(string(false).max_length(Some(0)))
        .description(Some(
            "Unix seconds, an RFC 3339 time (`2026-11-02T10:00:00Z`), a UTC date \
             (`2026-11-02`, its midnight), or empty for no filter",
        ))
}

/// Parses `YYYY-MM-DD`, exactly (RFC 3339's full-date, the schema's `date`: four-digit year,
/// no sign or spaces).
pub fn parse_date(text: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let four_digit_year =
        text.len() == 10 && text.as_bytes().first().is_some_and(u8::is_ascii_digit);
    four_digit_year
        .then(|| time::Date::parse(text, &format).ok())
        .flatten()
}

/// Schema of a calendar date, `YYYY-MM-DD`.
pub fn date() -> ObjectBuilder {
    string(false).format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
}

/// Schema of a calendar date, or null.
pub fn date_or_null() -> ObjectBuilder {
    or_null(date())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pattern and the check agree on every sample: the schema states what is refused.
    #[test]
    fn text_pattern_and_text_agree() {
        let pattern = regex::Regex::new(&text_pattern()).unwrap();
        let samples = [
            "a",
            "Main Street 1",
            " lead",
            "trail ",
            "\u{a0}nbsp",
            "ideo\u{3000}",
            "tab\tinside",
            "nul\0",
            "\u{85}",
            "é",
            "日本",
            "a b",
            "x\u{2028}",
            "\u{feff}bom",
            "",
        ];
        for s in samples {
            assert_eq!(
                pattern.is_match(s),
                text("f", s, 64, false).is_ok(),
                "pattern and check disagree on {s:?}"
            );
        }
    }

    #[test]
    fn cursors_are_hex_or_ids() {
        assert_eq!(
            cursor_of(Some("0a1b".into())).unwrap().as_deref(),
            Some("0a1b")
        );
        assert_eq!(cursor_of(Some(String::new())).unwrap(), None);
        for bad in ["0", "zz", "0A", "0a 1"] {
            assert!(cursor_of(Some(bad.into())).is_err(), "{bad:?}");
        }
        assert!(cursor_of(Some("00".repeat(MAX_CURSOR / 2 + 1))).is_err());
        assert_eq!(id_cursor_of(Some("42")).unwrap(), 42);
        assert_eq!(id_cursor_of(None).unwrap(), 0);
        for bad in ["-1", "+1", "x", "99999999999999999999"] {
            assert!(id_cursor_of(Some(bad)).is_err(), "{bad:?}");
        }
    }
}
