//! `portc verify`: reads the rulesets (files or standard input), checks the site, verifies and
//! prints the report; the exit code follows the report's status.

use std::io::Write;

use portc::verify::{Failure, Request, Source, Status};
use portc::{FsLoader, Root};

use crate::{EXIT_ERRORS, EXIT_USAGE, Format, Report, Settings, print_diagnostics};

/// The ruleset files the command line names; `-` is standard input.
pub struct Rulesets {
    pub nft: Option<String>,
    pub iptables: Option<String>,
    pub ip6tables: Option<String>,
    pub ipset: Option<String>,
}

/// What to verify, from the command line's roles, addresses and `--egress`.
pub fn request(roles: Vec<String>, addresses: &[String], egress: bool) -> Result<Request, String> {
    let addresses = addresses.iter().map(|a| parse_address(a)).collect::<Result<Vec<_>, _>>()?;
    Ok(Request { roles, addresses, egress })
}

/// Runs `portc verify`: 0 when the rulesets conform, 1 when they do not, 2 when verify cannot tell
/// (and for usage errors and a site with errors).
pub fn run(
    root: &Root,
    settings: &Settings,
    report: &Report,
    rulesets: &Rulesets,
    request: Request,
) -> Result<u8, String> {
    let texts = read_rulesets(rulesets)?;
    let (mut outcome, checked) = portc::check_program(root, &FsLoader, &settings.collect()?).map_err(|e| e.0)?;
    let Some(checked) = checked else {
        print_diagnostics(&outcome, report, &mut std::io::stderr())?;
        return Ok(EXIT_USAGE);
    };
    let sources: Vec<Source> = texts
        .iter()
        .map(|(kind, _, text)| match kind {
            Kind::Nft => Source::Nft(text),
            Kind::Iptables => Source::Iptables(text),
            Kind::Ip6tables => Source::Ip6tables(text),
            Kind::Ipset => Source::Ipset(text),
        })
        .collect();
    let (result, warnings) = match portc::verify::verify(&checked, &request, &sources) {
        Ok(found) => found,
        Err(Failure::Usage(message)) => return Err(message),
        Err(Failure::Unreadable(unreadable)) => {
            let (name, source) =
                (texts.get(unreadable.source).map(|(_, n, _)| n.as_str()), sources.get(unreadable.source));
            let (Some(name), Some(source)) = (name, source) else {
                return Err(format!("a ruleset cannot be read: {}", unreadable.error.message));
            };
            outcome.diagnostics = vec![unreadable.diagnostic(&mut outcome.sources, name, source)];
            print_diagnostics(&outcome, report, &mut std::io::stderr())?;
            return Ok(EXIT_USAGE);
        }
        Err(Failure::Diagnostics(diagnostics)) => {
            outcome.diagnostics = diagnostics;
            print_diagnostics(&outcome, report, &mut std::io::stderr())?;
            return Ok(EXIT_USAGE);
        }
    };
    if !warnings.is_empty() {
        outcome.diagnostics = warnings;
        print_diagnostics(&outcome, report, &mut std::io::stderr())?;
    }
    let text = match report.format {
        Format::Human => result.human(),
        Format::Json => serde_json::to_string_pretty(&result).map_err(|e| e.to_string())? + "\n",
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        // A reader that stopped early (`| head`) wants no more, and no complaint.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(format!("cannot write the report: {e}")),
        _ => {}
    }
    Ok(match result.status {
        Status::Conforms => 0,
        Status::Differs => EXIT_ERRORS,
        Status::Unknown => EXIT_USAGE,
    })
}

/// The tool that printed a ruleset.
#[derive(Clone, Copy)]
enum Kind {
    Nft,
    Iptables,
    Ip6tables,
    Ipset,
}

/// Each ruleset's text with the tool that printed it and its name (the file, or `<stdin>`); at
/// most one from standard input.
fn read_rulesets(rulesets: &Rulesets) -> Result<Vec<(Kind, String, String)>, String> {
    let files = [
        (&rulesets.nft, Kind::Nft),
        (&rulesets.iptables, Kind::Iptables),
        (&rulesets.ip6tables, Kind::Ip6tables),
        (&rulesets.ipset, Kind::Ipset),
    ];
    if files.iter().filter(|(file, _)| file.as_deref() == Some("-")).count() > 1 {
        return Err("only one ruleset can come from standard input".into());
    }
    let mut texts = Vec::new();
    for (file, kind) in files {
        if let Some(file) = file {
            let name = if file == "-" { "<stdin>".to_string() } else { file.clone() };
            texts.push((kind, name, read_ruleset(file)?));
        }
    }
    Ok(texts)
}

/// A ruleset file, or standard input for `-`.
fn read_ruleset(file: &str) -> Result<String, String> {
    if file == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text)
            .map_err(|e| format!("cannot read the ruleset from standard input: {e}"))?;
        return Ok(text);
    }
    #[allow(clippy::disallowed_methods)] // The command line reads the rulesets it is given.
    std::fs::read_to_string(file).map_err(|e| format!("cannot read `{file}`: {e}"))
}

/// `10.0.1.5` or `10.0.1.0/24`.
fn parse_address(text: &str) -> Result<ipnet::IpNet, String> {
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{text}` is not an address or prefix"))
}
