//! The `unspin` command line: a thin layer that parses arguments and calls
//! the library. Each subcommand lives in its own file under `src/cmd/`.

mod cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`unspin ... | head`) is not an error worth a message.
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("unspin: {err:#}");
            ExitCode::from(cmd::EXIT_ERROR)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
