//! segsql's integration tests, in one binary so the ~200 MB link happens once.

mod architecture;
mod cli;
mod cluster_parity;
mod clv;
mod coverage;
mod csv;
mod delta;
mod distributed;
mod docs;
mod excel;
mod governance;
mod models;
mod parity;
mod report;
mod roundtrip;
mod s3;
mod serve;
mod slt;
mod support;
