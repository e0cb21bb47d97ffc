//! Running the procedure models for a loaded batch: erasures (delete, then prove nothing is
//! left) and ACCESS exports (one folder per subject), each request getting its outcome.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Instant;

use minijinja::value::Value;

use super::{rel, BatchMetrics, RightsEngine};
use crate::adapters::ExecResult;
use crate::compile::CompileOptions;
use crate::error::{Error, Result, YamlStep};
use crate::rights::message::{Outcome, RightType, RightsRequest};
use crate::sql;

impl RightsEngine {
    /// Answer the unanswered requests of the loaded batch (`to_run`, a part of `unique`).
    pub(super) async fn execute_batch(
        &self,
        to_run: &[&RightsRequest],
        unique: &[&RightsRequest],
        had: &HashMap<String, bool>,
        via_keys: &HashMap<String, String>,
        metrics: &mut BatchMetrics,
    ) -> Result<HashMap<String, Outcome>> {
        let has = |r: &RightsRequest| had.get(&r.request_id).copied().unwrap_or(false);
        let pending = Outcome {
            code: String::new(),
            reason: String::new(),
            attachments: Vec::new(),
        };
        let rows: Vec<(&RightsRequest, &Outcome)> = to_run.iter().map(|r| (*r, &pending)).collect();
        self.write_ledger("started", &rows, had, via_keys).await?;

        let mut outcomes = HashMap::new();
        for r in to_run {
            if !has(r) {
                outcomes.insert(r.request_id.clone(), Outcome::no_data());
            }
        }

        // ERASURE and SA_WITHDRAW: delete, then prove nothing is left.
        let deleting: Vec<&RightsRequest> = to_run
            .iter()
            .copied()
            .filter(|r| r.right_type.deletes() && has(r))
            .collect();
        if !deleting.is_empty() {
            self.run_erasures(&deleting, &mut outcomes, metrics).await?;
        }

        // ACCESS: export each declared relation's rows, one folder per subject.
        let accessing: Vec<&RightsRequest> = to_run
            .iter()
            .copied()
            .filter(|r| r.right_type == RightType::Access && has(r))
            .collect();
        if !accessing.is_empty() {
            self.run_exports(&accessing, unique, &mut outcomes, metrics)
                .await?;
        }
        Ok(outcomes)
    }

    /// Run the deleting procedures for `deleting`, then one query for the subjects that
    /// still have rows: each erasure is 200 only if its subject has none left.
    async fn run_erasures(
        &self,
        deleting: &[&RightsRequest],
        outcomes: &mut HashMap<String, Outcome>,
        metrics: &mut BatchMetrics,
    ) -> Result<()> {
        let t = Instant::now();
        let types: Vec<RightType> = {
            let mut v: Vec<RightType> = deleting.iter().map(|r| r.right_type).collect();
            v.sort_by_key(|t| t.as_str());
            v.dedup();
            v
        };
        // Both delete types share one procedure run when one model answers both.
        let mut by_proc: BTreeMap<String, Vec<RightType>> = BTreeMap::new();
        for t in &types {
            by_proc
                .entry(self.procedures.get(t).cloned().unwrap_or_default())
                .or_default()
                .push(*t);
        }
        let mut failure: HashMap<RightType, String> = HashMap::new();
        for group in by_proc.values() {
            if let Err(e) = self.run_procedure(group[0], group, None, &self.batch).await {
                for t in group {
                    failure.insert(*t, e.to_string());
                }
            }
        }
        let remaining = self.subjects_with_data(&types).await?;
        for r in deleting {
            let o = if let Some(e) = failure.get(&r.right_type) {
                Outcome::error(format!("deletion failed: {e}"))
            } else if remaining.contains(&r.guid) {
                Outcome::error("rows of the subject remain after deletion")
            } else {
                Outcome::success(Vec::new())
            };
            outcomes.insert(r.request_id.clone(), o);
        }
        metrics.deletion_ms += t.elapsed().as_secs_f64() * 1000.0;
        Ok(())
    }

    /// Run the ACCESS procedure and answer each request with the files written for its
    /// subject (`subject_no` is its position in `unique`). An export writes one partition per
    /// subject, so the subjects go in groups of at most the engine's partitions per write
    /// (Athena's UNLOAD: 100), each into a new export location: a group that fails gets its
    /// 500s and its partial files deleted (they hold personal data), the others their files.
    async fn run_exports(
        &self,
        accessing: &[&RightsRequest],
        unique: &[&RightsRequest],
        outcomes: &mut HashMap<String, Outcome>,
        metrics: &mut BatchMetrics,
    ) -> Result<()> {
        let t = Instant::now();
        let index: HashMap<&str, usize> = unique
            .iter()
            .enumerate()
            .map(|(i, r)| (r.request_id.as_str(), i))
            .collect();
        let per_group = self
            .adapter
            .max_partitions_per_write()
            .unwrap_or(accessing.len())
            .max(1);
        for group in accessing.chunks(per_group) {
            let numbers: Vec<usize> = group
                .iter()
                .filter_map(|r| index.get(r.request_id.as_str()).copied())
                .collect();
            let dir = self.export_location()?;
            let batch = if group.len() == accessing.len() {
                self.batch.clone()
            } else {
                self.batch_of_subjects(&numbers)
            };
            match self
                .run_procedure(RightType::Access, &[RightType::Access], Some(&dir), &batch)
                .await
            {
                Ok(()) => {
                    let all_files = self.adapter.list_files(&dir).await?;
                    for (r, no) in group.iter().zip(&numbers) {
                        let files = exported_files(&all_files, *no);
                        outcomes.insert(r.request_id.clone(), Outcome::success(files));
                    }
                }
                Err(e) => {
                    let cleanup = self.delete_export(&dir).await;
                    for r in group {
                        outcomes.insert(
                            r.request_id.clone(),
                            Outcome::error(format!("export failed: {e} ({cleanup})")),
                        );
                    }
                }
            }
        }
        metrics.access_ms += t.elapsed().as_secs_f64() * 1000.0;
        Ok(())
    }

    /// The batch table restricted to the subjects numbered `numbers` (a group of exports).
    fn batch_of_subjects(&self, numbers: &[usize]) -> crate::compile::Relation {
        let list: Vec<String> = numbers.iter().map(usize::to_string).collect();
        crate::compile::Relation {
            rendered: format!(
                "(select * from {} where subject_no in ({}))",
                self.batch.rendered,
                list.join(", ")
            ),
            ..self.batch.clone()
        }
    }

    /// Delete what a failed export wrote under `dir`; says what became of the files.
    async fn delete_export(&self, dir: &str) -> String {
        let deleted = match self.adapter.list_files(dir).await {
            Ok(files) => self.adapter.delete_files(&files).await,
            Err(e) => Err(e),
        };
        match deleted {
            Ok(n) => format!("the {n} files it had written were deleted"),
            Err(e) => format!("deleting the files it had written under {dir} failed: {e}"),
        }
    }

    /// Compile and run the procedure model answering `rt`.
    async fn run_procedure(
        &self,
        rt: RightType,
        types: &[RightType],
        access_dir: Option<&str>,
        batch: &crate::compile::Relation,
    ) -> Result<()> {
        let id = self.procedures.get(&rt).ok_or_else(|| {
            Error::Usage(format!(
                "no procedure answers {}: add a model under models/rights/ with \
                 config(materialized='procedure', right_types=['{}'])",
                rt.as_str(),
                rt.as_str()
            ))
        })?;
        let node = &self.project.nodes[id];
        let mut ctx = BTreeMap::new();
        ctx.insert("batch", rel(batch));
        ctx.insert("declared", self.declared_value.clone());
        ctx.insert(
            "right_types",
            Value::from(types.iter().map(|t| t.as_str()).collect::<Vec<_>>()),
        );
        ctx.insert("access_path", Value::from(access_dir.unwrap_or_default()));
        let opts = CompileOptions {
            extra: vec![("rights", Value::from(ctx))],
            ..Default::default()
        };
        let text = self.compiler.compile(&self.project, node, opts)?;
        let statements = sql::split_statements(&text);
        self.statements
            .fetch_add(statements.len(), Ordering::Relaxed);
        if rt.deletes() {
            self.adapter.execute_atomic(&statements).await?;
        } else {
            for s in &statements {
                self.adapter.execute(s, false).await?;
            }
        }
        Ok(())
    }

    /// The batch's subjects (of requests of `types`) that have rows in a declared relation.
    async fn subjects_with_data(&self, types: &[RightType]) -> Result<HashSet<String>> {
        let names: Vec<String> = types.iter().map(|t| t.as_str().to_string()).collect();
        let q = self.render(
            "rights_subjects_with_data",
            &[
                ("batch", rel(&self.batch)),
                ("declared", self.declared_value.clone()),
                ("right_types", Value::from(names)),
            ],
        )?;
        Ok(guids(&self.exec(&q, &[], true).await?))
    }

    /// A new, empty place for one batch's ACCESS exports: a folder under `rights.access_path`
    /// (relative to the project), or a prefix under it when it is an `s3://` URI (Athena's
    /// UNLOAD writes there).
    fn export_location(&self) -> Result<String> {
        let base = &self.config.access_path;
        let id = uuid::Uuid::new_v4().to_string();
        if base.starts_with("s3://") {
            return Ok(format!("{}/{id}", base.trim_end_matches('/')));
        }
        if self.adapter.writes_files_only_to_object_store() {
            return Err(Error::config(
                &self.project.file_path,
                format!(
                    "rights.access_path is '{base}': on the {} target ACCESS exports go to S3, \
                     so it must be an s3:// prefix",
                    self.adapter.adapter_type()
                ),
            )
            .at_yaml_key_of_file(
                &self.project.file_path,
                &[YamlStep::Key("rights"), YamlStep::Key("access_path")],
            ));
        }
        let dir = self.project.root.join(base).join(id);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let dir = dir.canonicalize().map_err(|e| Error::io(&dir, e))?;
        Ok(dir.to_string_lossy().into_owned())
    }
}

/// The first column of a query's rows, as subject ids.
fn guids(r: &ExecResult) -> HashSet<String> {
    r.table
        .as_ref()
        .map(|t| {
            t.rows
                .iter()
                .filter_map(|row| row.first()?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The files written for subject `no` (under a `subject_no=<no>` folder), sorted.
fn exported_files(all: &[String], no: usize) -> Vec<String> {
    let part = format!("subject_no={no}");
    let mut files: Vec<String> = all
        .iter()
        .filter(|f| f.split('/').any(|c| c == part))
        .cloned()
        .collect();
    files.sort();
    files
}
