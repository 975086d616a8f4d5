//! The audit log for administrators: pages, newest first, and the whole of a selection as
//! JSON lines or CSV, streamed — read a thousand events at a time by keyset and sent as
//! they are read, so an export of millions of events holds one batch in memory, whatever
//! its size. A CSV cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, a
//! tab or a carriage return first) is written with a `'` before it.

use axum::body::{Body, Bytes};

use super::Administration;
use crate::error::AppError;
use crate::store::{AuditQuery, AuditRow, Store};

/// Events read per round trip while exporting.
const BATCH: i64 = 1000;
/// Batches waiting to be sent, at most: a slow reader slows the reading, not the memory.
const QUEUED: usize = 4;

/// How an export is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    JsonLines,
    Csv,
}

impl Format {
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::JsonLines => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    pub(crate) fn extension(self) -> &'static str {
        match self {
            Format::JsonLines => "jsonl",
            Format::Csv => "csv",
        }
    }
}

/// A cell as a spreadsheet will not run it.
fn inert(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

fn encode(rows: &[AuditRow], format: Format, header: bool) -> Result<Bytes, AppError> {
    let mut out = Vec::with_capacity(rows.len() * 160);
    match format {
        Format::JsonLines => {
            for row in rows {
                serde_json::to_writer(&mut out, row).map_err(AppError::internal)?;
                out.push(b'\n');
            }
        }
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(&mut out);
            if header {
                writer
                    .write_record(["id", "at", "event", "subject", "client_addr", "detail"])
                    .map_err(AppError::internal)?;
            }
            for row in rows {
                let (id, at) = (row.id.to_string(), row.at.to_string());
                let cells = [
                    id.as_str(),
                    at.as_str(),
                    row.event.as_str(),
                    row.subject.as_deref().unwrap_or(""),
                    row.client_addr.as_deref().unwrap_or(""),
                    row.detail.as_deref().unwrap_or(""),
                ];
                writer
                    .write_record(cells.iter().map(|c| inert(c).into_owned()))
                    .map_err(AppError::internal)?;
            }
            writer.flush().map_err(AppError::internal)?;
            drop(writer);
        }
    }
    Ok(out.into())
}

impl Administration {
    /// One page of the audit log.
    pub(crate) async fn audit_page(&self, query: &AuditQuery) -> Result<Vec<AuditRow>, AppError> {
        Ok(self.store.search_audit(query).await?)
    }

    /// Every event `query` selects, as a streamed body.
    pub(crate) fn export(&self, mut query: AuditQuery, format: Format) -> Body {
        let store: Store = self.store.clone();
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<Result<Bytes, AppError>>(QUEUED);
        tokio::spawn(async move {
            query.limit = BATCH;
            let mut first = true;
            loop {
                let rows = match store.search_audit(&query).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        let _ = sender.send(Err(e.into())).await;
                        return;
                    }
                };
                let chunk = encode(&rows, format, first);
                first = false;
                let last = rows.len() < BATCH as usize;
                if let Some(row) = rows.last() {
                    query.before = row.id;
                }
                // A reader that went away ends the export.
                if sender.send(chunk).await.is_err() || last {
                    return;
                }
            }
        });
        Body::from_stream(futures_util::stream::poll_fn(move |cx| {
            receiver.poll_recv(cx)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_written_inert_and_the_rest_as_it_is() {
        let row = |detail: &str| AuditRow {
            id: 7,
            at: 1,
            event: "email_change_requested".into(),
            subject: Some("=cmd|' /C calc'!A0".into()),
            client_addr: Some("203.0.113.1".into()),
            detail: Some(detail.into()),
        };
        let csv = encode(
            &[row("+1 fee"), row("plain, \"quoted\"")],
            Format::Csv,
            true,
        )
        .unwrap();
        let text = std::str::from_utf8(&csv).unwrap();
        assert_eq!(
            text,
            "id,at,event,subject,client_addr,detail\n\
             7,1,email_change_requested,'=cmd|' /C calc'!A0,203.0.113.1,'+1 fee\n\
             7,1,email_change_requested,'=cmd|' /C calc'!A0,203.0.113.1,\"plain, \"\"quoted\"\"\"\n"
        );
        let lines = encode(&[row("=x")], Format::JsonLines, true).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&lines).unwrap();
        assert_eq!(value["detail"], "=x", "JSON keeps the text as it is");
    }
}
