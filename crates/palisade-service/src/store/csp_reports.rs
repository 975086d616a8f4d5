//! The `csp_reports` table.

use super::{Store, StoreError};

impl Store {
    pub(crate) async fn insert_csp_report(
        &self,
        now: i64,
        client: &str,
        r: &palisade::http::csp::CspReport,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO csp_reports (at, client_addr, document_uri, blocked_uri, directive, disposition, source_file, line, col, sample) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(now)
        .bind(client)
        .bind(&r.document_uri)
        .bind(&r.blocked_uri)
        .bind(&r.effective_directive)
        .bind(&r.disposition)
        .bind(&r.source_file)
        .bind(r.line.map(|l| l.min(i64::MAX as u64) as i64))
        .bind(r.column.map(|c| c.min(i64::MAX as u64) as i64))
        .bind(&r.sample)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
