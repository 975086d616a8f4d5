//! `/admin/audit`: the audit log, newest first, filtered by user, event, client address
//! and days (UTC); its export links are the admin API's, with the same filters.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;

use super::Frame;
use crate::body::ApiQuery;
use crate::console::access::ConsoleAdmin;
use crate::console::audit_api::{AuditParams, audit_query};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::AuditRow;
use crate::web::{When, render};

/// The filter form's fields (a GET form).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Filters {
    #[serde(default)]
    user: String,
    #[serde(default)]
    event: String,
    #[serde(default)]
    client: String,
    /// `YYYY-MM-DD`, from its start (UTC).
    #[serde(default)]
    since: String,
    /// `YYYY-MM-DD`, to its end (UTC).
    #[serde(default)]
    until: String,
    before: Option<i64>,
}

struct EventLine {
    at: When,
    event: String,
    subject: String,
    client_addr: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage<'a> {
    site: &'a crate::web::Site,
    frame: Frame,
    filters: Filters,
    events: Vec<EventLine>,
    next: Option<String>,
    export_query: String,
    error: Option<String>,
}

const PAGE: i64 = 100;

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (Howard Hinnant's days-from-civil).
fn day(text: &str) -> Option<i64> {
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn params(f: &Filters) -> Result<AuditParams, String> {
    let text = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    let date = |s: &str, name: &str| -> Result<Option<i64>, String> {
        match text(s) {
            None => Ok(None),
            Some(t) => day(&t)
                .map(Some)
                .ok_or_else(|| format!("{name} must be a date, as YYYY-MM-DD.")),
        }
    };
    Ok(AuditParams {
        user: text(&f.user),
        event: text(&f.event),
        client: text(&f.client),
        since: date(&f.since, "From")?.map(|d| d * 86_400),
        until: date(&f.until, "Until")?.map(|d| d * 86_400 + 86_399),
        before: f.before,
        limit: Some(PAGE),
        format: None,
    })
}

/// The filters as the export's query (`since`/`until` in Unix seconds, as the API takes).
fn export_query(p: &AuditParams) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("user", &p.user),
        ("event", &p.event),
        ("client", &p.client),
    ] {
        if let Some(v) = value {
            q.append_pair(name, v);
        }
    }
    for (name, value) in [("since", p.since), ("until", p.until)] {
        if let Some(v) = value {
            q.append_pair(name, &v.to_string());
        }
    }
    q.finish()
}

pub(super) async fn page(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    ApiQuery(filters): ApiQuery<Filters>,
) -> Response {
    let now = state.accounts.clock.now();
    let checked = match params(&filters) {
        Ok(p) => audit_query(&state, &p)
            .await
            .map(|q| (p, q))
            .map_err(|e| match e {
                AppError::Body { field: Some(f), .. } => format!("The filter {f} is not valid."),
                other => other.message(),
            }),
        Err(message) => Err(message),
    };
    let (events, export, error) = match checked {
        Ok((p, Some(query))) => match state.console.audit_page(&query).await {
            Ok(events) => (events, export_query(&p), None),
            Err(e) => return e.into_response(),
        },
        Ok((p, None)) => (Vec::new(), export_query(&p), None),
        Err(message) => (Vec::<AuditRow>::new(), String::new(), Some(message)),
    };
    let next = (events.len() as i64 == PAGE).then(|| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("user", &filters.user),
            ("event", &filters.event),
            ("client", &filters.client),
            ("since", &filters.since),
            ("until", &filters.until),
        ] {
            if !value.is_empty() {
                q.append_pair(name, value);
            }
        }
        q.append_pair("before", &events[events.len() - 1].id.to_string());
        format!("/admin/audit?{}", q.finish())
    });
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let events = events
        .into_iter()
        .map(|e| EventLine {
            at: When::at(e.at, now),
            event: e.event,
            subject: e.subject.unwrap_or_default(),
            client_addr: e.client_addr.unwrap_or_default(),
            detail: e.detail.unwrap_or_default(),
        })
        .collect();
    render(
        status,
        &AuditPage {
            site: &state.site,
            frame: Frame::new(&state, &admin, "audit"),
            filters,
            events,
            next,
            export_query: export,
            error,
        },
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn days_are_counted_from_the_epoch() {
        assert_eq!(super::day("1970-01-01"), Some(0));
        assert_eq!(super::day("2000-03-01"), Some(11_017));
        assert_eq!(super::day("2026-12-07"), Some(20_794));
        assert_eq!(super::day("2024-02-29"), Some(19_782));
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-1-01",
            "x",
            "2026-12-07-1",
            "2026-00-10",
        ] {
            assert_eq!(super::day(bad), None, "{bad}");
        }
    }
}
