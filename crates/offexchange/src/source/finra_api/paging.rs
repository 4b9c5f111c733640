//! One paged Query API read, for any dataset: POST the body at `offset` 0, then at every
//! `offset` up to `Record-Total`, checking each page against the paging headers (a short page, or
//! a total that moves between pages, is an error, never a silent gap).

use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE};
use reqwest::StatusCode;
use url::Url;

use super::{refusal, FinraApi};
use crate::parse::ParseError;
use crate::source::http::{Answer, Verdict};
use crate::source::{Fetched, SourceError};
use crate::store::redact_url;

/// Parses one page: `(page name, body, offset)` to the records kept and the rows the page held
/// (more than the records when some are filtered locally).
pub(super) type PageParser<'a, T> =
    dyn Fn(&str, &[u8], u64) -> Result<(Vec<T>, u64), ParseError> + Send + Sync + 'a;

/// What to read: where, how each page's body looks, and how to parse a page.
pub(super) struct PagedQuery<'a, T> {
    /// The dataset's data URL.
    pub url: &'a Url,
    /// A short name for messages (`weeklySummary 2024-04-01 T1`).
    pub name: &'a str,
    /// Rows per page asked for.
    pub limit: u64,
    /// The JSON body for the page at an offset.
    pub body: &'a (dyn Fn(u64) -> String + Send + Sync + 'a),
    /// The page parser.
    pub parse: &'a PageParser<'a, T>,
}

/// One page, as judged.
enum Page<T> {
    /// 204: no rows.
    Empty,
    Rows {
        total: u64,
        records: Vec<T>,
        /// Rows on the page (more than `records` when some were filtered locally).
        rows: u64,
    },
}

impl FinraApi {
    /// Every row `query` selects, with the pages read. `NotPublished` when FINRA answers 204 (no
    /// rows) to the first page.
    pub(super) async fn read_pages<T: Send>(
        &self,
        query: &PagedQuery<'_, T>,
    ) -> Result<Fetched<(Vec<T>, u32)>, SourceError> {
        let mut records: Vec<T> = Vec::new();
        let mut expected_total: Option<u64> = None;
        let mut pages = 0u32;
        // Rows read, including those filtered locally: the next page's offset.
        let mut seen = 0u64;
        loop {
            let offset = seen;
            let body = (query.body)(offset);
            let page_name = format!("{} (offset {offset})", query.name);
            let context = PageContext {
                url: query.url,
                body: &body,
                name: &page_name,
                offset,
                limit: query.limit,
                parse: query.parse,
            };
            pages += 1;
            let page = self.post_page(&context).await?;
            let (total, page_records) = match (page, expected_total) {
                (Page::Empty, None) => return Ok(Fetched::NotPublished),
                (Page::Empty, Some(total)) => {
                    return Err(context.broken(format!(
                        "FINRA answered 204 (no rows) at offset {offset} of {total} rows"
                    )))
                }
                (
                    Page::Rows {
                        total,
                        records,
                        rows,
                    },
                    _,
                ) => {
                    seen += rows;
                    (total, records)
                }
            };
            if let Some(before) = expected_total.filter(|t| *t != total) {
                return Err(context.broken(format!(
                    "Record-Total moved from {before} to {total} between pages (FINRA revised \
                     the data while it was read); run again"
                )));
            }
            expected_total = Some(total);
            records.extend(page_records);
            if seen >= total {
                break;
            }
        }
        Ok(Fetched::Published((records, pages)))
    }

    async fn post_page<T: Send>(&self, page: &PageContext<'_, T>) -> Result<Page<T>, SourceError> {
        let url = page.url;
        let mut attempt = 0;
        let authed = self.auth.is_some();
        self.send(
            "POST",
            url,
            |c| {
                c.post(url.clone())
                    .header(ACCEPT, "application/json")
                    .header(CONTENT_TYPE, "application/json")
                    .body(page.body.to_string())
            },
            |answer| {
                attempt += 1;
                match answer.status {
                    StatusCode::NO_CONTENT => Verdict::Done(Page::Empty),
                    StatusCode::OK => match page.read(&answer) {
                        Ok(rows) => Verdict::Done(rows),
                        Err(error) => Verdict::Fail(page.error(error, attempt)),
                    },
                    _ => Verdict::Fail(refusal(
                        "POST",
                        url,
                        &answer,
                        attempt,
                        Some(page.body),
                        authed,
                    )),
                }
            },
        )
        .await
    }
}

/// One page request, for judging its answer and naming it in errors.
struct PageContext<'a, T> {
    url: &'a Url,
    body: &'a str,
    name: &'a str,
    offset: u64,
    limit: u64,
    parse: &'a PageParser<'a, T>,
}

impl<T> PageContext<'_, T> {
    /// Checks the paging headers and the row count, then parses the rows.
    fn read(&self, answer: &Answer) -> Result<Page<T>, ParseError> {
        let fail = |reason: String| ParseError::Json {
            file: self.name.to_string(),
            reason,
        };
        let total = number_header(&answer.headers, "record-total")
            .map_err(&fail)?
            .ok_or_else(|| fail("the answer has no Record-Total header".into()))?;
        if let Some(offset) = number_header(&answer.headers, "record-offset").map_err(&fail)? {
            if offset != self.offset {
                return Err(fail(format!(
                    "Record-Offset {offset} is not the offset asked for ({})",
                    self.offset
                )));
            }
        }
        let max = number_header(&answer.headers, "record-max-limit")
            .map_err(&fail)?
            .unwrap_or(self.limit);
        let expected = total
            .saturating_sub(self.offset)
            .min(self.limit)
            .min(max.max(1));
        let (records, rows) = (self.parse)(self.name, &answer.body, self.offset)?;
        if rows != expected {
            return Err(fail(format!(
                "the page holds {rows} rows but Record-Total {total} promises {expected} from offset {}",
                self.offset
            )));
        }
        Ok(Page::Rows {
            total,
            records,
            rows,
        })
    }

    fn error(&self, error: ParseError, attempts: u32) -> SourceError {
        SourceError::Parse {
            location: format!("POST {} {}", redact_url(self.url.as_str()), self.body),
            attempts,
            error,
        }
    }

    fn broken(&self, reason: String) -> SourceError {
        self.error(
            ParseError::Json {
                file: self.name.to_string(),
                reason,
            },
            1,
        )
    }
}

/// A header holding a whole number: `None` when absent.
fn number_header(headers: &HeaderMap, name: &str) -> Result<Option<u64>, String> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    text.parse()
        .map(Some)
        .map_err(|_| format!("header {name}: {text:?} is not a whole number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(number_header(&h, "record-total"), Ok(None));
        h.insert("record-total", "12001".parse().unwrap());
        assert_eq!(number_header(&h, "record-total"), Ok(Some(12001)));
        h.insert("record-total", "262|1".parse().unwrap());
        assert!(number_header(&h, "record-total").is_err());
    }
}
