//! lingerscan's command line: parse, run, map the outcome to the exit code.

mod allocator;
mod app;
mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    allocator::tune();
    let cli = cli::Cli::parse();
    match app::run(cli) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(error) => {
            let message =
                lingerscan::report::sanitize::for_terminal(&format!("{error:#}")).into_owned();
            eprintln!("lingerscan: error: {message}");
            ExitCode::from(2)
        }
    }
}
