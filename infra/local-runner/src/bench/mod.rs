//! `local-runner bench …`: the measurements behind `make bench` (issue #9).
//!
//! - `cold-start`: each function's release binary under a one-shot Lambda Runtime API: init (process start →
//!   first `GET /runtime/invocation/next`), first invocation (event handed over → response posted) and peak RSS
//!   (VmHWM), the median of several runs, beside the same figures for `empty-function` built with the same profile.
//! - `tick-scale`: see `tick_scale`.
//! - `cost`: see `cost`.

mod cold_start;
mod cost;
mod proxy;
mod tick_scale;

pub use cold_start::cold_start;
pub use cost::cost;
pub use tick_scale::tick_scale;
