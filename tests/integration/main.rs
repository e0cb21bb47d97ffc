//! Strata's integration tests: the real `strata` binary on temporary projects, against DuckDB
//! in-process, a Kafka-protocol broker and the moto AWS emulator on 127.0.0.1.
//!
//! They are one test binary on purpose: each file used to be its own binary, and each one
//! linked its own copy of DuckDB, the AWS SDK and librdkafka (minutes of linking and gigabytes
//! of build cache). Run one area with `cargo test --test integration athena::`.

mod common;

mod athena;
mod athena_example;
mod athena_exports;
mod athena_hive;
mod athena_lock;
mod athena_reuse;
mod athena_swap;
mod cli;
mod config_keys;
mod cosmos;
mod cross_db;
mod data_tests;
mod dbt_project;
mod deps;
mod docs;
mod errors;
mod examples;
mod freshness;
mod landing_contract;
mod materializations;
mod merge_options;
mod microbatch;
mod msk_iam;
mod packages;
mod partial_parse;
mod persist_docs;
mod reference_project;
mod render_once;
mod reuse;
mod rights;
mod rights_chaos;
mod rights_faults;
mod rights_kafka;
mod rights_writes;
mod selection;
mod snapshots;
mod state;
mod unit_tests;
