//! `datanode` binary: flags → `Config` → logging → [`datanode::run`].
use clap::Parser;
use datanode::config::{Cli, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    dfs_common::alloc::tune_for_bulk_data();
    let cli = Cli::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let config = Config::load(cli)?;
    datanode::run(config, datanode::shutdown_signal()).await?;
    Ok(())
}
