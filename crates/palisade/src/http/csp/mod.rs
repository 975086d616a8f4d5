//! Content-Security-Policy with a fresh nonce per response, and violation reports.
//!
//! Stops: injected scripts (they have no nonce), clickjacking (`frame-ancestors 'none'`),
//! `<base>` hijacking, plugin content, and DOM XSS sinks (Trusted Types required).

mod layer;
mod policy;
mod report;

pub use layer::{Csp, CspLayer, CspNonce, FormActionOrigin};
pub use policy::{CspPolicy, NONCE};
pub use report::{CspReport, CspReportSink, ReportLimits, csp_report_router};
