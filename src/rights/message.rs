//! Request and result messages, exactly as reference document 000 defines them.
//!
//! Request: `{"request_id", "guid", "right_type": "ACCESS|ERASURE|SA_WITHDRAW", "created_at"}`
//! Result: the same ids, `"service_name": "analytics"`, `"result": {"code", "reason",
//! "attachments"}`, `"created_at"` (the request's) and `"finished_at"` (epoch seconds).

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RightType {
    #[serde(rename = "ACCESS")]
    Access,
    #[serde(rename = "ERASURE")]
    Erasure,
    #[serde(rename = "SA_WITHDRAW")]
    SaWithdraw,
}

impl RightType {
    pub fn as_str(&self) -> &'static str {
        match self {
            RightType::Access => "ACCESS",
            RightType::Erasure => "ERASURE",
            RightType::SaWithdraw => "SA_WITHDRAW",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ACCESS" => Some(RightType::Access),
            "ERASURE" => Some(RightType::Erasure),
            "SA_WITHDRAW" => Some(RightType::SaWithdraw),
            _ => None,
        }
    }

    /// ERASURE and SA_WITHDRAW both delete the subject's rows.
    pub fn deletes(&self) -> bool {
        matches!(self, RightType::Erasure | RightType::SaWithdraw)
    }
}

/// A well-formed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RightsRequest {
    pub request_id: String,
    pub guid: String,
    pub right_type: RightType,
    pub created_at: i64,
    /// Where the request came from, kept with its answer in the ledger:
    /// `<topic>/<partition>@<offset>` for a Kafka message, `apply` or `retry`.
    #[serde(skip)]
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub code: String,
    pub reason: String,
    pub attachments: Vec<String>,
}

impl Outcome {
    pub fn success(attachments: Vec<String>) -> Self {
        Outcome {
            code: "200".into(),
            reason: "Success".into(),
            attachments,
        }
    }

    pub fn no_data() -> Self {
        Outcome {
            code: "201".into(),
            reason: "No Data".into(),
            attachments: Vec::new(),
        }
    }

    pub fn error(reason: impl Into<String>) -> Self {
        Outcome {
            code: "500".into(),
            reason: bounded_reason(reason.into()),
            attachments: Vec::new(),
        }
    }
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RightsResult {
    pub request_id: String,
    pub guid: String,
    /// As received (a malformed request may carry an unknown type; it is echoed back).
    pub right_type: String,
    pub service_name: String,
    pub result: Outcome,
    pub created_at: i64,
    pub finished_at: i64,
}

/// A message that could not be turned into a request. With a readable request_id it is
/// answered with 500; without one it goes to the dead-letter topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Malformed {
    pub request_id: Option<String>,
    pub guid: String,
    pub right_type: String,
    pub created_at: i64,
    pub reason: String,
}

/// The most characters of a request's field a result echoes: a malformed request's guid or
/// right_type can be any size, and a result must fit in one Kafka message.
pub const MAX_ECHOED_CHARS: usize = 256;
/// The most characters of a result's reason (an engine's error can be long).
pub const MAX_REASON_CHARS: usize = 2048;

/// `field` cut to [`MAX_ECHOED_CHARS`]; a note for the reason when it was cut.
fn echoed(name: &str, field: &str) -> (String, Option<String>) {
    let n = field.chars().count();
    if n <= MAX_ECHOED_CHARS {
        return (field.to_string(), None);
    }
    let cut = field.chars().take(MAX_ECHOED_CHARS).collect();
    (
        cut,
        Some(format!(
            "{name} truncated from {n} to {MAX_ECHOED_CHARS} characters"
        )),
    )
}

/// `reason` cut to [`MAX_REASON_CHARS`], saying so.
fn bounded_reason(reason: String) -> String {
    let n = reason.chars().count();
    if n <= MAX_REASON_CHARS {
        return reason;
    }
    let cut: String = reason.chars().take(MAX_REASON_CHARS).collect();
    format!("{cut}... (reason truncated from {n} characters)")
}

pub fn now_epoch() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Parse one message payload. `valid_guid` applies the configured subject-id pattern.
pub fn parse_request(
    payload: &[u8],
    valid_guid: &dyn Fn(&str) -> bool,
) -> Result<RightsRequest, Malformed> {
    let text = match std::str::from_utf8(payload) {
        Ok(t) => t,
        Err(_) => return Err(malformed(None, "message is not UTF-8".into())),
    };
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Err(malformed(None, format!("malformed JSON: {e}"))),
    };
    let Some(obj) = v.as_object() else {
        return Err(malformed(None, "message is not a JSON object".into()));
    };
    let request_id = obj
        .get("request_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let guid = obj
        .get("guid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let right_type = obj
        .get("right_type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let created_at = obj.get("created_at").and_then(Value::as_i64).unwrap_or(0);
    // What a 500 echoes back: cut to a size every result fits in, saying so.
    let (echo_guid, guid_note) = echoed("guid", &guid);
    let (echo_type, type_note) = echoed("right_type", &right_type);
    let fail = |reason: String| {
        let notes: Vec<&str> = [&guid_note, &type_note]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let reason = if notes.is_empty() {
            reason
        } else {
            format!("{reason} ({})", notes.join("; "))
        };
        Malformed {
            request_id: request_id.clone(),
            guid: echo_guid.clone(),
            right_type: echo_type.clone(),
            created_at,
            reason,
        }
    };
    let Some(rid) = request_id.clone().filter(|r| !r.trim().is_empty()) else {
        return Err(fail("missing request_id".into()));
    };
    if rid.len() > 256 {
        return Err(Malformed {
            request_id: None,
            ..fail("request_id longer than 256 characters".into())
        });
    }
    let Some(rt) = RightType::parse(&right_type) else {
        return Err(fail(format!(
            "unknown right_type '{echo_type}' (ACCESS, ERASURE, SA_WITHDRAW)"
        )));
    };
    if obj.get("created_at").is_some_and(|c| !c.is_i64()) {
        return Err(fail("created_at must be epoch seconds (an integer)".into()));
    }
    if !valid_guid(&guid) {
        return Err(fail("invalid guid".into()));
    }
    Ok(RightsRequest {
        request_id: rid,
        guid,
        right_type: rt,
        created_at,
        source: String::new(),
    })
}

fn malformed(request_id: Option<String>, reason: String) -> Malformed {
    Malformed {
        request_id,
        guid: String::new(),
        right_type: String::new(),
        created_at: 0,
        reason,
    }
}

impl Malformed {
    pub fn answer(&self, service_name: &str) -> Option<RightsResult> {
        Some(RightsResult {
            request_id: self.request_id.clone()?,
            guid: self.guid.clone(),
            right_type: self.right_type.clone(),
            service_name: service_name.to_string(),
            result: Outcome::error(self.reason.clone()),
            created_at: self.created_at,
            finished_at: now_epoch(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(_: &str) -> bool {
        true
    }

    #[test]
    fn echoed_fields_and_reasons_are_cut_and_say_so() {
        let big = format!(
            r#"{{"request_id": "r", "guid": "{}", "right_type": "{}"}}"#,
            "g".repeat(300),
            "é".repeat(1000)
        );
        let bad = parse_request(big.as_bytes(), &ok).expect_err("unknown type");
        assert_eq!(bad.guid.chars().count(), MAX_ECHOED_CHARS);
        assert_eq!(bad.right_type.chars().count(), MAX_ECHOED_CHARS);
        assert!(
            bad.reason
                .contains("guid truncated from 300 to 256 characters"),
            "{}",
            bad.reason
        );
        assert!(
            bad.reason.contains("right_type truncated from 1000"),
            "{}",
            bad.reason
        );
        assert!(bad.reason.chars().count() < 1000, "{}", bad.reason);
        // A valid request keeps its guid whole (the subject-id pattern says what is valid).
        let long_guid = format!(
            r#"{{"request_id": "r", "guid": "{}", "right_type": "ERASURE"}}"#,
            "g".repeat(300)
        );
        let good = parse_request(long_guid.as_bytes(), &ok).expect("a valid request");
        assert_eq!(good.guid.len(), 300);
        let reason = Outcome::error("e".repeat(5000)).reason;
        assert!(
            reason.ends_with("(reason truncated from 5000 characters)"),
            "{reason}"
        );
        assert!(reason.chars().count() < MAX_REASON_CHARS + 60);
    }

    #[test]
    fn parses_a_request_and_rejects_bad_ones() {
        let r = parse_request(
            br#"{"request_id":"r1","guid":"u1","right_type":"ERASURE","created_at":5}"#,
            &ok,
        )
        .unwrap();
        assert_eq!(r.right_type, RightType::Erasure);
        assert_eq!(r.created_at, 5);
        let e = parse_request(b"{not json", &ok).unwrap_err();
        assert_eq!(e.request_id, None);
        assert!(e.reason.starts_with("malformed JSON"));
        let e = parse_request(
            br#"{"request_id":"r2","guid":"u","right_type":"DELETE"}"#,
            &ok,
        )
        .unwrap_err();
        assert_eq!(e.request_id.as_deref(), Some("r2"));
        assert!(e.reason.contains("unknown right_type 'DELETE'"));
        let e = parse_request(
            br#"{"request_id":"r3","guid":"u","right_type":"ACCESS"}"#,
            &|_| false,
        )
        .unwrap_err();
        assert_eq!(e.reason, "invalid guid");
        assert_eq!(e.answer("analytics").unwrap().result.code, "500");
    }

    #[test]
    fn result_serialises_in_the_documented_shape() {
        let r = RightsResult {
            request_id: "r".into(),
            guid: "g".into(),
            right_type: "ACCESS".into(),
            service_name: "analytics".into(),
            result: Outcome::success(vec!["s3://b/f.csv".into()]),
            created_at: 1,
            finished_at: 2,
        };
        let v: Value = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"request_id":"r","guid":"g","right_type":"ACCESS","service_name":"analytics",
                "result":{"code":"200","reason":"Success","attachments":["s3://b/f.csv"]},
                "created_at":1,"finished_at":2})
        );
    }
}
