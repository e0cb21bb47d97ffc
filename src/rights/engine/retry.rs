//! `strata rights retry`: an operator runs a request the ledger answered 500 once more,
//! after fixing the cause. The ledger keeps the failed answer and records the retry, so the
//! proof shows both; a redelivery of the request afterwards gets the new answer.

use super::ledger::is_success;
use super::{int_cell, rel, RightsEngine};
use crate::error::{Error, Result};
use crate::rights::message::{Outcome, RightType, RightsRequest, RightsResult};

impl RightsEngine {
    /// Run `request_id` again. Refused for a request the ledger does not know, or one it
    /// answered 200 or 201 (nothing to retry).
    pub async fn retry(&self, request_id: &str) -> Result<RightsResult> {
        let q = self.render(
            "rights_ledger_request_sql",
            &[("ledger", rel(&self.ledger))],
        )?;
        let rows = self
            .exec(&q, &[request_id.to_string()], true)
            .await?
            .table
            .unwrap_or_default()
            .rows;
        let text = |row: &[serde_json::Value], i: usize| {
            row.get(i)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let Some(first) = rows.first() else {
            return Err(Error::Usage(format!(
                "rights retry: the ledger has no request '{request_id}' (a malformed request, \
                 answered 500 before it reached the ledger, is not recorded there: send it again \
                 corrected, with a new request_id)"
            )));
        };
        let right_type = text(first, 1);
        let request = RightsRequest {
            request_id: request_id.to_string(),
            guid: text(first, 0),
            right_type: RightType::parse(&right_type).ok_or_else(|| {
                Error::Usage(format!(
                    "rights retry: the ledger's right_type '{right_type}' of '{request_id}' is unknown"
                ))
            })?,
            created_at: int_cell(first.get(4)).unwrap_or(0),
            source: "retry".into(),
        };
        let finished: Vec<String> = rows
            .iter()
            .filter(|r| text(r, 2) == "finished")
            .map(|r| text(r, 3))
            .collect();
        if let Some(code) = finished.iter().find(|c| is_success(c)) {
            return Err(Error::Usage(format!(
                "rights retry: '{request_id}' was answered {code}: there is nothing to retry"
            )));
        }
        let retries = rows.iter().filter(|r| text(r, 2) == "retry").count();
        // A retry recorded before whose run did not finish (the process stopped) is not
        // recorded twice.
        if finished.len() > retries {
            let retry = Outcome {
                code: String::new(),
                reason: "retry asked by an operator".into(),
                attachments: Vec::new(),
            };
            self.write_ledger(
                "retry",
                &[(&request, &retry)],
                &Default::default(),
                &Default::default(),
            )
            .await?;
        }
        let (mut results, _) = self.process(std::slice::from_ref(&request)).await?;
        results
            .pop()
            .ok_or_else(|| Error::Adapter(format!("rights retry: no answer for '{request_id}'")))
    }
}
