//! tickwatch binary: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = tickwatch::cli::Cli::parse();
    match tickwatch::app::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tickwatch: {}", tickwatch::app::error_text(&e));
            ExitCode::from(tickwatch::app::exit_code(&e))
        }
    }
}
