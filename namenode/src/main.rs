//! The `namenode` binary: flags → `Config` → logging → `namenode::run`.
use clap::Parser;
use namenode::config::{Args, Config};
use std::process::ExitCode;

fn main() -> ExitCode {
    dfs_common::alloc::tune_for_bulk_data();
    let args = Args::parse();
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,openraft=warn"),
    )
    .init();
    let config = match Config::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("namenode: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(file) = &config.restore {
        // Before anything opens the store; refused over existing metadata.
        match namenode::checkpoint::restore(file, &config.data_dir) {
            Ok(s) => {
                log::info!(
                    "restored {} ({} records, cluster {}) into {}; starting",
                    file.display(),
                    s.records,
                    s.header.cluster_id,
                    config.data_dir.display()
                );
            }
            Err(e) => {
                log::error!("restore refused: {e}");
                eprintln!("namenode: restore refused: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    match actix_web::rt::System::new().block_on(namenode::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e:#}");
            eprintln!("namenode: {e:#}");
            ExitCode::FAILURE
        }
    }
}
