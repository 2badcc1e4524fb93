//! `portc-synth`: prints a synthetic `.ports` program for benchmarks and scale tests
//! (`portc::synth` describes what it holds). Deterministic: the same arguments print the same bytes.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(name = "portc-synth", version, about = "Print a synthetic .ports program of a given size, for benchmarks")]
struct Cli {
    /// Flows to generate (one per spec, as the language counts them).
    #[arg(long, default_value_t = 1000)]
    flows: usize,
    /// Roles to declare; by default about 5·√flows.
    #[arg(long)]
    roles: Option<usize>,
    /// Flags for conditions (at least 12).
    #[arg(long, default_value_t = 32)]
    flags: usize,
    /// Seed of the pseudo-random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut options = portc::synth::Options::for_flows(cli.flows, cli.seed);
    options.flags = cli.flags;
    if let Some(roles) = cli.roles {
        options.roles = roles;
    }
    let text = portc::synth::generate(&options);
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the program: {e}");
            ExitCode::from(2)
        }
    }
}
