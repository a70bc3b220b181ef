//! Analysis (SPEC K1–K4): facts maintained with each write (`facts`), metric
//! values computed from them or, for checking, recounted from the records
//! (`engine`), daily snapshots of the pipeline and segments (`snapshots`), and
//! the users' flash figures and dashboards (`boards`).

pub mod engine;
pub mod facts;
pub mod raw;
pub mod request;
