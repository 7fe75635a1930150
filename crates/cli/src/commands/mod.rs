//! One module per subcommand; [`run`] dispatches.

mod config;
mod demo;
mod queue;
mod report;
mod sync;
mod triport;

use crate::args::{Command, ConfigCommand, TriportCommand};
use crate::error::Failure;

/// Runs one subcommand.
pub(crate) async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Demo(args) => demo::run(args).await,
        Command::Sync(args) => sync::run(args).await,
        Command::Report(args) => report::run(args).await,
        Command::Plan(args) => queue::plan(args).await,
        Command::Worker(args) => queue::worker(args).await,
        Command::Status(args) => queue::status(args).await,
        Command::Triport {
            command: TriportCommand::User(args),
        } => triport::user(args).await,
        Command::Config {
            command: ConfigCommand::Check(args),
        } => config::check(args),
    }
}
