//! `kube-proxy-save`: prints synthetic `iptables-save` output as kube-proxy writes it on a large
//! cluster, for the scale figures of `portc verify` (`portc::verify::synth` describes it).
//! Deterministic: the same arguments print the same bytes.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "kube-proxy-save",
    version,
    about = "Print kube-proxy's iptables rules for a large cluster, for benchmarks"
)]
struct Cli {
    /// About this many rules (Services get three endpoints each).
    #[arg(long, default_value_t = 50_000)]
    rules: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (text, rules) = portc::verify::synth::kube_proxy_save(&portc::verify::synth::Options::for_rules(cli.rules));
    eprintln!("{rules} rules");
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the rules: {e}");
            ExitCode::from(2)
        }
    }
}
