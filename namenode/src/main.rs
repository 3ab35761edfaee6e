//! The `namenode` binary: flags → `Config` → logging → `namenode::run`.
use clap::Parser;
use namenode::config::{Args, Config};
use std::process::ExitCode;

fn main() -> ExitCode {
    dfs_common::alloc::tune_for_bulk_data();
    let args = Args::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let config = match Config::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("namenode: {e}");
            return ExitCode::from(2);
        }
    };
    match actix_web::rt::System::new().block_on(namenode::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e:#}");
            eprintln!("namenode: {e:#}");
            ExitCode::FAILURE
        }
    }
}
