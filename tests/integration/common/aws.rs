//! The AWS side of the Athena tests: the moto server started by scripts/test.sh (moto does
//! not execute SQL), a minimal HTTP client for its admin API, and a proxy in front of it that
//! records every Athena call and injects faults moto cannot produce (throttling, FAILED
//! queries, queries that keep running). The proxy is the one mock here: for faults, and, when
//! asked (`Proxy::with_catalog_effects`), for what Athena's statements do to the Glue catalog
//! (a CTAS registers its table, a write commits a new Iceberg metadata file), which moto
//! cannot do without running SQL.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

pub fn moto_endpoint() -> String {
    std::env::var("STRATA_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("STRATA_TEST_AWS_ENDPOINT is not set: run scripts/test.sh, or `eval $(scripts/moto-server.sh start)` first")
    })
}

/// One HTTP/1.1 request, read to the end of the response. Returns (status, body).
pub fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").expect("http:// url");
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut s = TcpStream::connect(host).expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    s.write_all(body).expect("write body");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("read");
    let split = find(&resp, b"\r\n\r\n").expect("response head");
    let head = String::from_utf8_lossy(&resp[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut body = resp[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = find(b, b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..i]).trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[i + 2 + n + 2..];
    }
    out
}

pub fn create_bucket(endpoint: &str, bucket: &str) {
    let (status, body) = http("PUT", &format!("{endpoint}/{bucket}"), &[], b"");
    assert!(
        status == 200 || status == 409,
        "create bucket: {status} {}",
        String::from_utf8_lossy(&body)
    );
}

/// Object keys under `prefix` in `bucket`.
pub fn list_objects(endpoint: &str, bucket: &str, prefix: &str) -> Vec<String> {
    let (status, body) = http(
        "GET",
        &format!("{endpoint}/{bucket}?list-type=2&prefix={prefix}"),
        &[],
        b"",
    );
    assert_eq!(
        status,
        200,
        "list objects: {}",
        String::from_utf8_lossy(&body)
    );
    let text = String::from_utf8_lossy(&body);
    text.split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .map(str::to_string)
        .collect()
}

/// The bytes of one S3 object.
pub fn get_object(endpoint: &str, bucket: &str, key: &str) -> Vec<u8> {
    // Objects are private: an (unverified) SigV4 header makes the request an owner's.
    let auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";
    let (status, body) = http(
        "GET",
        &format!("{endpoint}/{bucket}/{key}"),
        &[
            ("Authorization", auth),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ],
        b"",
    );
    assert_eq!(
        status,
        200,
        "get object {key}: {}",
        String::from_utf8_lossy(&body)
    );
    body
}

/// Queue result sets for the next queries started in `region` (moto answers every query,
/// DDL too, with the next queued one; without one it returns no rows).
pub fn preset_results(endpoint: &str, region: &str, results: Vec<(Vec<&str>, Vec<Vec<&str>>)>) {
    let results: Vec<Value> = results
        .into_iter()
        .map(|(columns, rows)| {
            let names: Vec<&str> = columns.iter().map(|c| c.split(':').next().unwrap_or(c)).collect();
            let header = json!({"Data": names.iter().map(|c| json!({"VarCharValue": c})).collect::<Vec<_>>()});
            let mut all = vec![header];
            all.extend(rows.iter().map(|r| json!({"Data": r.iter().map(|v| json!({"VarCharValue": v})).collect::<Vec<_>>()})));
            json!({
                "rows": all,
                // `name:type` or `name` (varchar).
                "column_info": columns.iter().map(|c| {
                    let (c, t) = c.split_once(':').unwrap_or((c, "varchar"));
                    json!({
                    "Name": c, "Label": c, "Type": t, "CatalogName": "hive", "SchemaName": "",
                    "TableName": "", "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": true
                })}).collect::<Vec<_>>(),
            })
        })
        .collect();
    let body = json!({"account_id": "123456789012", "region": region, "results": results});
    let (status, resp) = http(
        "POST",
        &format!("{endpoint}/moto-api/static/athena/query-results"),
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert_eq!(status, 201, "preset: {}", String::from_utf8_lossy(&resp));
}

/// What the proxy does to a matching request instead of forwarding it.
#[derive(Clone)]
pub enum Fault {
    /// Answer HTTP 400 with this error `__type` (ThrottlingException ...).
    Error(&'static str),
    /// Answer GetQueryExecution with state FAILED and this reason.
    QueryFailed(String),
    /// Answer GetQueryExecution with state RUNNING (the query never ends by itself).
    QueryRunning,
    /// Answer GetQueryExecution with SUCCEEDED, these bytes scanned and engine milliseconds.
    QueryScanned(u64, u64),
}

/// A fault applied `times` times (`usize::MAX`: always) to requests of `operation` (the
/// X-Amz-Target suffix, e.g. `StartQueryExecution`) whose query text contains `query_marker`.
#[derive(Clone)]
pub struct Rule {
    pub operation: &'static str,
    pub query_marker: Option<String>,
    pub times: usize,
    pub fault: Fault,
}

/// One Athena call seen by the proxy.
#[derive(Debug, Clone)]
pub struct Call {
    pub operation: String,
    pub query_id: Option<String>,
    /// The SQL of the query the call is about.
    pub query: Option<String>,
    /// StartQueryExecution's ExecutionParameters.
    pub params: Vec<String>,
    pub faulted: bool,
    /// The access key id the call was signed with (its Authorization header's Credential).
    pub access_key: Option<String>,
}

/// Any AWS API call that went through the proxy (Athena, Glue, S3, Lake Formation, STS).
#[derive(Debug, Clone)]
pub struct ApiCall {
    /// The signing name of the service (`athena`, `glue`, `s3`, `lakeformation`).
    pub service: String,
    /// The JSON protocols' operation (`GetTables`); for S3, the method and path.
    pub operation: String,
    /// The JSON request body (Null for S3 and empty bodies).
    pub body: Value,
}

/// Lake Formation's data-cells filters and the SELECT grants on them, which moto does not
/// have: the proxy keeps them itself (a stand-in for want of an emulator that has them).
#[derive(Default)]
struct CellFilters {
    /// (database, table, name) -> the filter as the API gives it.
    filters: std::collections::BTreeMap<(String, String, String), Value>,
    /// (database, table, filter name) -> principals granted SELECT through it.
    grants:
        std::collections::BTreeMap<(String, String, String), std::collections::BTreeSet<String>>,
}

impl CellFilters {
    fn key(v: &Value, table: &str) -> (String, String, String) {
        let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
        (s("DatabaseName"), s(table), s("Name"))
    }

    /// The answer to a data-cells filter call, or None for any other call.
    fn answer(&mut self, operation: &str, req: &Value) -> Option<Value> {
        match operation {
            "ListDataCellsFilter" => {
                let t = &req["Table"];
                let (db, table) = (t["DatabaseName"].as_str()?, t["Name"].as_str()?);
                let list: Vec<&Value> = self
                    .filters
                    .iter()
                    .filter(|((d, n, _), _)| d == db && n == table)
                    .map(|(_, f)| f)
                    .collect();
                Some(json!({"DataCellsFilters": list}))
            }
            "CreateDataCellsFilter" | "UpdateDataCellsFilter" => {
                let data = &req["TableData"];
                self.filters
                    .insert(Self::key(data, "TableName"), data.clone());
                Some(json!({}))
            }
            "DeleteDataCellsFilter" => {
                let key = Self::key(req, "TableName");
                self.filters.remove(&key);
                self.grants.remove(&key);
                Some(json!({}))
            }
            "ListPermissions" => {
                let f = req["Resource"].get("DataCellsFilter")?;
                let key = Self::key(f, "TableName");
                let list: Vec<Value> = self
                    .grants
                    .get(&key)
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        json!({"Principal": {"DataLakePrincipalIdentifier": p},
                        "Resource": {"DataCellsFilter": f}, "Permissions": ["SELECT"]})
                    })
                    .collect();
                Some(json!({"PrincipalResourcePermissions": list}))
            }
            "BatchGrantPermissions" | "BatchRevokePermissions" => {
                let entries = req["Entries"].as_array()?;
                if !entries
                    .iter()
                    .all(|e| e["Resource"].get("DataCellsFilter").is_some())
                {
                    return None;
                }
                for e in entries {
                    let key = Self::key(&e["Resource"]["DataCellsFilter"], "TableName");
                    let principal = e["Principal"]["DataLakePrincipalIdentifier"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    let set = self.grants.entry(key).or_default();
                    if operation == "BatchGrantPermissions" {
                        set.insert(principal);
                    } else {
                        set.remove(&principal);
                    }
                }
                Some(json!({"Failures": []}))
            }
            _ => None,
        }
    }
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    calls: Vec<Call>,
    api_calls: Vec<ApiCall>,
    cell_filters: CellFilters,
    /// query id -> SQL, learned from StartQueryExecution responses.
    queries: HashMap<String, String>,
    /// Play the catalog side of the statements that reach moto (see `catalog_effect`).
    catalog_effects: bool,
    /// Iceberg commits made so far (each names a new metadata file).
    commits: u64,
}

pub struct Proxy {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Proxy {
    pub fn start(upstream: &str, rules: Vec<Rule>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State {
            rules,
            ..Default::default()
        }));
        let upstream = upstream.trim_start_matches("http://").to_string();
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let st = st.clone();
                let upstream = upstream.clone();
                std::thread::spawn(move || serve(conn, &upstream, &st));
            }
        });
        Proxy { url, state }
    }

    /// Give each statement that reaches moto the effect real Athena has on the Glue
    /// catalog: a CTAS or CREATE VIEW registers its table or view, a rename moves it, an
    /// INSERT, MERGE, DELETE or UPDATE commits a new Iceberg metadata file (a new
    /// `metadata_location`). moto runs no SQL, so without this nothing a build creates exists
    /// for the next build. Data is not emulated, only the catalog entries.
    pub fn with_catalog_effects(self) -> Proxy {
        self.state.lock().expect("lock").catalog_effects = true;
        self
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().expect("lock").calls.clone()
    }

    /// Every API call of every service, in order.
    pub fn api_calls(&self) -> Vec<ApiCall> {
        self.state.lock().expect("lock").api_calls.clone()
    }

    /// The data-cells filters the proxy keeps (see `CellFilters`), and who may SELECT
    /// through each: (filter name, row filter, columns, principals).
    pub fn cell_filters(&self) -> Vec<(String, String, Vec<String>, Vec<String>)> {
        let state = self.state.lock().expect("lock");
        state
            .cell_filters
            .filters
            .iter()
            .map(|(key, f)| {
                let columns = f["ColumnNames"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect();
                let principals = state
                    .cell_filters
                    .grants
                    .get(key)
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect();
                (
                    key.2.clone(),
                    f["RowFilter"]["FilterExpression"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    columns,
                    principals,
                )
            })
            .collect()
    }

    /// The SQL of every StartQueryExecution that reached Athena (moto), in order.
    pub fn started_queries(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| c.operation == "StartQueryExecution" && !c.faulted)
            .filter_map(|c| c.query)
            .collect()
    }
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<(Vec<String>, Vec<u8>)> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push(line.trim_end().to_string());
    }
    let len = head
        .iter()
        .find_map(|h| {
            h.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((head, body))
}

fn respond(out: &mut TcpStream, status: &str, body: &str) {
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
}

fn serve(conn: TcpStream, upstream: &str, st: &Mutex<State>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
    let mut out = conn.try_clone().expect("clone");
    let mut reader = BufReader::new(conn);
    while let Some((head, body)) = read_request(&mut reader) {
        let target = head
            .iter()
            .find_map(|h| {
                let (k, v) = h.split_once(':')?;
                k.eq_ignore_ascii_case("x-amz-target")
                    .then(|| v.trim().to_string())
            })
            .unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or("").to_string();
        let access_key = head.iter().find_map(|h| {
            let (k, v) = h.split_once(':')?;
            let credential = v.split("Credential=").nth(1)?;
            k.eq_ignore_ascii_case("authorization")
                .then(|| credential.split('/').next().unwrap_or("").to_string())
        });
        let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let athena = target.starts_with("AmazonAthena.");
        {
            // The service from the credential scope (key/date/region/service/aws4_request).
            let service = head
                .iter()
                .find_map(|h| {
                    let (k, v) = h.split_once(':')?;
                    let scope = v.split("Credential=").nth(1)?;
                    k.eq_ignore_ascii_case("authorization")
                        .then(|| scope.split('/').nth(3).unwrap_or("").to_string())
                })
                .unwrap_or_default();
            let request_line = head.first().cloned().unwrap_or_default();
            let path = request_line.split_whitespace().nth(1).unwrap_or("");
            let operation = if !operation.is_empty() {
                operation.clone()
            } else if service == "sts" {
                // The query protocol: `Action=GetCallerIdentity&Version=...` in the body.
                String::from_utf8_lossy(&body)
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("Action="))
                    .unwrap_or("")
                    .to_string()
            } else if service == "s3" {
                let method = request_line.split_whitespace().next().unwrap_or("");
                format!("{method} {}", path.split('?').next().unwrap_or(""))
            } else {
                // REST JSON protocols (Lake Formation): the operation is the path.
                path.trim_start_matches('/')
                    .split('?')
                    .next()
                    .unwrap_or("")
                    .to_string()
            };
            let mut state = st.lock().expect("lock");
            state.api_calls.push(ApiCall {
                service: service.clone(),
                operation: operation.clone(),
                body: req.clone(),
            });
            if service == "lakeformation" {
                if let Some(answer) = state.cell_filters.answer(&operation, &req) {
                    drop(state);
                    // Closed after the answer, as the upstream's are (readers wait for it).
                    let body = answer.to_string();
                    let _ = write!(
                        out,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                         Connection: close\r\n\r\n{body}",
                        body.len()
                    );
                    return;
                }
            }
        }
        let query_id = req
            .get("QueryExecutionId")
            .and_then(Value::as_str)
            .map(str::to_string);
        let query = if operation == "StartQueryExecution" {
            req.get("QueryString")
                .and_then(Value::as_str)
                .map(str::to_string)
        } else {
            let s = st.lock().expect("lock");
            query_id.as_ref().and_then(|id| s.queries.get(id).cloned())
        };
        // A matching rule with uses left?
        let fault = {
            let mut s = st.lock().expect("lock");
            let hit = s.rules.iter_mut().find(|r| {
                athena
                    && r.operation == operation
                    && r.times > 0
                    && r.query_marker
                        .as_ref()
                        .is_none_or(|m| query.as_ref().is_some_and(|q| q.contains(m.as_str())))
            });
            hit.map(|r| {
                if r.times != usize::MAX {
                    r.times -= 1;
                }
                r.fault.clone()
            })
        };
        let call_index = {
            let mut s = st.lock().expect("lock");
            if athena {
                s.calls.push(Call {
                    operation: operation.clone(),
                    query_id: query_id.clone(),
                    query: query.clone(),
                    params: req
                        .get("ExecutionParameters")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                    faulted: fault.is_some(),
                    access_key: access_key.clone(),
                });
            }
            s.calls.len().saturating_sub(1)
        };
        if let Some(fault) = fault {
            let id = query_id.clone().unwrap_or_default();
            match fault {
                Fault::Error(kind) => respond(
                    &mut out,
                    "400 Bad Request",
                    &json!({"__type": kind, "message": "Rate exceeded"}).to_string(),
                ),
                Fault::QueryFailed(reason) => respond(
                    &mut out,
                    "200 OK",
                    &json!({"QueryExecution": {"QueryExecutionId": id, "Query": query,
                        "Status": {"State": "FAILED", "StateChangeReason": reason}}})
                    .to_string(),
                ),
                Fault::QueryScanned(bytes, millis) => respond(
                    &mut out,
                    "200 OK",
                    &json!({"QueryExecution": {"QueryExecutionId": id, "Query": query,
                        "Status": {"State": "SUCCEEDED"},
                        "Statistics": {"DataScannedInBytes": bytes, "EngineExecutionTimeInMillis": millis}}})
                    .to_string(),
                ),
                Fault::QueryRunning => respond(
                    &mut out,
                    "200 OK",
                    &json!({"QueryExecution": {"QueryExecutionId": id, "Query": query,
                        "Status": {"State": "RUNNING"}}})
                    .to_string(),
                ),
            }
            continue;
        }
        // Forward, one upstream connection per request.
        let Ok(mut up) = TcpStream::connect(upstream) else {
            return;
        };
        let mut raw = String::new();
        if let Some((first, rest)) = head.split_first() {
            raw.push_str(first);
            raw.push_str("\r\n");
            for h in rest {
                if h.to_ascii_lowercase().starts_with("connection:") {
                    continue;
                }
                raw.push_str(h);
                raw.push_str("\r\n");
            }
        }
        raw.push_str("Connection: close\r\n\r\n");
        if up.write_all(raw.as_bytes()).is_err() || up.write_all(&body).is_err() {
            return;
        }
        let mut resp = Vec::new();
        if up.read_to_end(&mut resp).is_err() {
            return;
        }
        if operation == "StartQueryExecution" {
            if let (Some(split), Some(q)) = (find(&resp, b"\r\n\r\n"), query.clone()) {
                let v: Value = serde_json::from_slice(&resp[split + 4..]).unwrap_or(Value::Null);
                if let Some(id) = v.get("QueryExecutionId").and_then(Value::as_str) {
                    let commit = {
                        let mut s = st.lock().expect("lock");
                        s.queries.insert(id.to_string(), q.clone());
                        if let Some(call) = s.calls.get_mut(call_index) {
                            call.query_id = Some(id.to_string());
                        }
                        s.commits += 1;
                        s.catalog_effects.then_some(s.commits)
                    };
                    if let Some(commit) = commit {
                        let region = access_scope(&head, 2);
                        catalog_effect(&format!("http://{upstream}"), &region, &q, commit);
                    }
                }
            }
        }
        // The upstream closes after its response; so do we when it said so.
        let closes = find(&resp, b"\r\n\r\n")
            .map(|i| {
                String::from_utf8_lossy(&resp[..i])
                    .to_ascii_lowercase()
                    .contains("connection: close")
            })
            .unwrap_or(true);
        if out.write_all(&resp).is_err() || closes {
            return;
        }
    }
}

/// Part `n` of the request's credential scope (key/date/region/service/aws4_request).
fn access_scope(head: &[String], n: usize) -> String {
    head.iter()
        .find_map(|h| {
            let (k, v) = h.split_once(':')?;
            let scope = v.split("Credential=").nth(1)?;
            k.eq_ignore_ascii_case("authorization")
                .then(|| scope.split('/').nth(n).unwrap_or("").to_string())
        })
        .unwrap_or_default()
}

/// The (database, table) a statement names first after `prefix` (`"db"."t"` or `` `db`.`t` ``).
fn named_after(sql: &str, prefix: &str) -> Option<(String, String)> {
    let re = regex::Regex::new(&format!(
        r#"(?is)^\s*{prefix}\s+["`]([^"`]+)["`]\.["`]([^"`]+)["`]"#
    ))
    .expect("regex");
    let c = re.captures(sql)?;
    Some((c[1].to_string(), c[2].to_string()))
}

/// A Glue table (GetTable's `Table`) as the TableInput that recreates or updates it.
pub fn table_input(table: &Value) -> Value {
    let keep = [
        "Name",
        "TableType",
        "Parameters",
        "StorageDescriptor",
        "PartitionKeys",
    ];
    let fields = table
        .as_object()
        .map(|t| {
            t.iter()
                .filter(|(k, _)| keep.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    Value::Object(fields)
}

/// What `sql`, run by Athena, would do to the Glue catalog (see `Proxy::with_catalog_effects`).
fn catalog_effect(endpoint: &str, region: &str, sql: &str, commit: u64) {
    let glue = |target: &str, body: Value| {
        let (status, resp) = http(
            "POST",
            &format!("{endpoint}/"),
            &[
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amz-Target", target),
                (
                    "Authorization",
                    &format!("AWS4-HMAC-SHA256 Credential=test/20260101/{region}/glue/aws4_request, SignedHeaders=host, Signature=0"),
                ),
            ],
            body.to_string().as_bytes(),
        );
        (
            status,
            serde_json::from_slice::<Value>(&resp).unwrap_or(Value::Null),
        )
    };
    let metadata =
        |db: &str, t: &str| format!("s3://emulated/{db}/{t}/metadata/{commit:05}.metadata.json");
    let create = |db: &str, t: &str, kind: &str, iceberg: bool| {
        let mut parameters = json!({});
        if iceberg {
            parameters = json!({"table_type": "ICEBERG", "metadata_location": metadata(db, t)});
        }
        glue(
            "AWSGlue.CreateTable",
            json!({"DatabaseName": db, "TableInput": {"Name": t, "TableType": kind,
                "Parameters": parameters, "StorageDescriptor": {"Columns": []}}}),
        );
    };
    let lower = sql.trim_start().to_lowercase();
    if let Some((db, t)) = named_after(sql, r"create\s+table") {
        create(&db, &t, "EXTERNAL_TABLE", lower.contains("'iceberg'"));
    } else if let Some((db, t)) = named_after(sql, r"create\s+external\s+table") {
        create(&db, &t, "EXTERNAL_TABLE", false);
    } else if let Some((db, t)) = named_after(sql, r"create\s+or\s+replace\s+view") {
        glue(
            "AWSGlue.DeleteTable",
            json!({"DatabaseName": db, "Name": t}),
        );
        create(&db, &t, "VIRTUAL_VIEW", false);
    } else if let Some((db, t)) = named_after(sql, r"drop\s+(?:table|view)\s+if\s+exists") {
        glue(
            "AWSGlue.DeleteTable",
            json!({"DatabaseName": db, "Name": t}),
        );
    } else if let Some((db, from)) = named_after(sql, r"alter\s+table") {
        let Some((to_db, to)) = sql
            .to_lowercase()
            .find(" rename to ")
            .and_then(|i| named_after(&sql[i..], r"\s*rename\s+to"))
        else {
            return;
        };
        let (_, table) = glue(
            "AWSGlue.GetTable",
            json!({"DatabaseName": db, "Name": from}),
        );
        let mut input = table_input(&table["Table"]);
        input["Name"] = json!(to);
        glue(
            "AWSGlue.DeleteTable",
            json!({"DatabaseName": db, "Name": from}),
        );
        glue(
            "AWSGlue.CreateTable",
            json!({"DatabaseName": to_db, "TableInput": input}),
        );
    } else {
        let written = [
            r"insert\s+into",
            r"merge\s+into",
            r"delete\s+from",
            "update",
        ]
        .iter()
        .find_map(|p| named_after(sql, p));
        let Some((db, t)) = written else {
            return;
        };
        let (status, table) = glue("AWSGlue.GetTable", json!({"DatabaseName": db, "Name": t}));
        if status != 200 || table["Table"]["Parameters"]["table_type"] != "ICEBERG" {
            return;
        }
        let mut input = table_input(&table["Table"]);
        input["Parameters"]["metadata_location"] = json!(metadata(&db, &t));
        glue(
            "AWSGlue.UpdateTable",
            json!({"DatabaseName": db, "TableInput": input}),
        );
    }
}

/// Call a JSON-protocol AWS API of moto (Glue, Athena) directly, in `region`.
pub fn aws_json(endpoint: &str, region: &str, service: &str, target: &str, body: &Value) -> Value {
    // moto reads the region from the credential scope; the signature itself is not checked.
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=test/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"
    );
    let (status, resp) = http(
        "POST",
        &format!("{endpoint}/"),
        &[
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", target),
            ("Authorization", &auth),
        ],
        body.to_string().as_bytes(),
    );
    let v: Value = serde_json::from_slice(&resp).unwrap_or(Value::Null);
    assert_eq!(status, 200, "{target}: {v}");
    v
}

/// Register an Iceberg table in Glue, as a previous build would have left it.
pub fn glue_iceberg_table(
    endpoint: &str,
    region: &str,
    database: &str,
    table: &str,
    columns: &[(&str, &str)],
) {
    let db = json!({"DatabaseInput": {"Name": database}});
    let (status, _) = http(
        "POST",
        &format!("{endpoint}/"),
        &[
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", "AWSGlue.CreateDatabase"),
            (
                "Authorization",
                &format!("AWS4-HMAC-SHA256 Credential=test/20260101/{region}/glue/aws4_request, SignedHeaders=host, Signature=0"),
            ),
        ],
        db.to_string().as_bytes(),
    );
    assert!(status == 200 || status == 400, "create database: {status}");
    aws_json(
        endpoint,
        region,
        "glue",
        "AWSGlue.CreateTable",
        &json!({"DatabaseName": database, "TableInput": {
            "Name": table,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"table_type": "ICEBERG"},
            "StorageDescriptor": {"Columns": columns.iter().map(|(n, t)| json!({"Name": n, "Type": t})).collect::<Vec<_>>()},
        }}),
    );
}
