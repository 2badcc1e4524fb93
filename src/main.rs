//! The `portc` command line: argument parsing, file IO and exit codes.
//!
//! Exit codes: 0 clean or warnings only, 1 errors reported, 2 usage or I/O error, 101 internal bug.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

mod cli;

use clap::builder::TypedValueParser as _;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use portc::diag::{Severity, render};
use portc::lower::Setting;
use portc::{FsLoader, Options, Outcome, Root, Target};

use cli::output::{Place, Staged, earlier_manifests, write_output};

#[derive(Parser)]
#[command(
    name = "portc",
    version,
    about = "Compile port-requirement policies (.ports files) into firewall rules, Kubernetes, Calico and Cilium policies, AWS security groups and tables"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check files and print their diagnostics (exit 1 on errors).
    Check {
        /// The .ports files or stdlib module names; each is checked as its own program.
        #[arg(required = true)]
        files: Vec<String>,
        /// Treat warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
        /// Also report everything a build for this target would refuse or warn about (for a
        /// host firewall, of every host role unless --role names some), without building.
        #[arg(long, short, value_parser = target_parser())]
        target: Option<Target>,
        /// With a host firewall --target: the role(s) of the host, comma-separated.
        #[arg(long, value_delimiter = ',', requires = "target")]
        role: Vec<String>,
        /// With --target: as `build --egress`.
        #[arg(long, requires = "target")]
        egress: bool,
        /// With --target: as `build --allow-lockout`.
        #[arg(long, requires = "target")]
        allow_lockout: bool,
        /// With --target: as `build --allow-lossy`.
        #[arg(long, requires = "target")]
        allow_lossy: bool,
        /// An error if traffic from FROM can reach TO through roles taken over on the way
        /// (`internet:etcd`; as `portc paths`, within --max-hops).
        #[arg(long, value_name = "FROM:TO")]
        no_path: Vec<String>,
        /// The most hops a path of --no-path may have.
        #[arg(long, default_value_t = portc::paths::DEFAULT_MAX_HOPS, value_parser = clap::value_parser!(u16).range(1..=64))]
        max_hops: u16,
        #[command(flatten)]
        settings: Settings,
        #[command(flatten)]
        report: Report,
    },
    /// Compile a file or a stdlib module to a target.
    Build {
        /// A .ports file, or the dotted name of a stdlib module.
        input: String,
        /// The output format.
        #[arg(long, short, value_parser = target_parser())]
        target: Target,
        /// Write the output to this file (atomically, once the build succeeded; through a
        /// symbolic link, into a pipe or device) instead of standard output (`-`); for targets
        /// that write several files (networkpolicy, calico, cilium, iptables, firewalld), `DIR/`
        /// (or an existing directory) gets one file per part.
        #[arg(long, short, conflicts_with = "out_dir")]
        output: Option<String>,
        /// For host firewalls: the role(s) of the host, comma-separated (`etcd,controlplane`).
        #[arg(long, value_delimiter = ',')]
        role: Vec<String>,
        /// Write one file per part into this directory, once every part built: ROLE.nft per
        /// role for nftables, ROLE.ipset, ROLE.v4.rules and ROLE.v6.rules for iptables, the
        /// directory ROLE/ for firewalld (replaced whole), one YAML file per policy for the
        /// Kubernetes targets.
        #[arg(long, conflicts_with = "role")]
        out_dir: Option<String>,
        /// For host firewalls, NetworkPolicies, Calico and Cilium host policies and AWS security
        /// groups: filter outgoing traffic too.
        #[arg(long)]
        egress: bool,
        /// For host firewalls: do not warn when no flow lets an operator in over SSH.
        #[arg(long)]
        allow_lockout: bool,
        /// For the Kubernetes targets and aws: leave out what the target cannot express (with a
        /// warning and a comment in the output) instead of failing; for firewalld: build a zone
        /// wider than the flows (with a warning) instead of failing.
        #[arg(long)]
        allow_lossy: bool,
        /// Treat warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
        #[command(flatten)]
        settings: Settings,
        #[command(flatten)]
        report: Report,
    },
    /// Explain why traffic from one role to another is or is not allowed (exit 1 when it is not).
    Explain {
        /// A .ports file, or the dotted name of a stdlib module.
        input: String,
        /// The sending role, external or group, or an address (the nodes bound to it).
        from: String,
        /// The receiving role, external or group, or an address (the nodes bound to it).
        to: String,
        /// A protocol and port, `tcp/443`, or a protocol alone, `ipip`.
        query: Option<String>,
        #[command(flatten)]
        settings: Settings,
        #[command(flatten)]
        report: Report,
    },
    /// Format .ports files in the canonical layout (docs/language.md, "Formatting").
    Fmt {
        /// Files, and directories whose .ports files to format; `-` formats standard input to
        /// standard output.
        #[arg(default_value = ".")]
        paths: Vec<String>,
        /// Change no file: print a unified diff of each file that is not formatted, and exit 1
        /// if there is one.
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        report: Report,
    },
    /// Serve the Language Server Protocol over standard input and output, for editors
    /// (editors/README.md says how to set them up).
    Lsp {
        /// Where to write the stdlib modules as read-only files, for go-to-definition to open
        /// [default: $XDG_CACHE_HOME/portc/stdlib-VERSION-HASH, or under ~/.cache].
        #[arg(long, value_name = "DIR")]
        stdlib_dir: Option<String>,
        /// Accepted for clients that pass it: standard input and output is the only transport.
        #[arg(long, hide = true)]
        stdio: bool,
    },
    /// Print a shell completion script (README.md says where to install it).
    Completions {
        /// The shell the script is for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page, portc(1), or write every page (one per subcommand) into a directory.
    Man {
        /// Write portc.1 and a page per subcommand (portc-build.1, ...) into this directory.
        #[arg(long)]
        out_dir: Option<String>,
    },
    /// Compare what two policies allow (exit 0 same, 1 different, 2 trouble).
    Diff {
        /// The old policy: a .ports file, a file at a git revision (`HEAD~1:site.ports`), or a
        /// stdlib module.
        old: String,
        /// The new policy, as OLD.
        new: String,
        /// An OLD role, external, flag or option that NEW calls by another name:
        /// `--rename lb=ingress_lb`.
        #[arg(long, value_name = "OLD=NEW")]
        rename: Vec<String>,
        /// Compare what each destination accepts, whatever the source (every source is `*`):
        /// for tables that name their sources differently.
        #[arg(long)]
        any_source: bool,
        /// Compare the builds, one configuration with defaults included, as `portc build` would;
        /// implied by --set and --param.
        #[arg(long, conflicts_with = "every_configuration")]
        build: bool,
        /// Compare every configuration each side allows, even with --set or --param.
        #[arg(long)]
        every_configuration: bool,
        #[command(flatten)]
        settings: Settings,
        /// How to print the comparison.
        #[arg(long, value_enum, default_value_t = DiffFormat::Human)]
        format: DiffFormat,
        /// When to colour diagnostics of a side that does not compile.
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// List the paths by which traffic from one node can reach another when every role on the
    /// way is taken over.
    Paths {
        /// A .ports file, or the dotted name of a stdlib module.
        input: String,
        /// Where the traffic starts: an external such as `internet`, a role, or a group.
        from: String,
        /// Where it must not arrive: a role, external or group.
        to: String,
        /// The most hops a path may have.
        #[arg(long, default_value_t = portc::paths::DEFAULT_MAX_HOPS, value_parser = clap::value_parser!(u16).range(1..=64))]
        max_hops: u16,
        #[command(flatten)]
        settings: Settings,
        /// How to print the paths.
        #[arg(long, value_enum, default_value_t = PathsFormat::Human)]
        format: PathsFormat,
        /// When to colour diagnostics.
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Verify a host's live firewall against the policy: does it accept exactly what the policy
    /// declares for a host of these roles? Exit 0 when it does, 1 when it does not, 2 when
    /// verify cannot tell (docs/verify.md).
    #[command(group(clap::ArgGroup::new("ruleset").required(true).multiple(true).args(["nft", "iptables", "ip6tables"])))]
    #[command(group(clap::ArgGroup::new("iptables_rules").multiple(true).args(["iptables", "ip6tables"])))]
    Verify {
        /// A .ports file, or the dotted name of a stdlib module.
        input: String,
        /// The role(s) of the host, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        role: Vec<String>,
        /// The ruleset as `nft -j list ruleset` prints it; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        nft: Option<String>,
        /// The IPv4 ruleset as `iptables-save` prints it; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        iptables: Option<String>,
        /// The IPv6 ruleset as `ip6tables-save` prints it; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        ip6tables: Option<String>,
        /// The members of the ipsets the iptables rules match (`-m set`), as `ipset save` prints
        /// them; `-` reads standard input.
        #[arg(long, value_name = "FILE", requires = "iptables_rules")]
        ipset: Option<String>,
        /// The host's own addresses, comma-separated (default: the addresses its roles are bound to).
        #[arg(long, value_delimiter = ',', value_name = "ADDRESS")]
        address: Vec<String>,
        /// Verify what the host sends too.
        #[arg(long)]
        egress: bool,
        #[command(flatten)]
        settings: Settings,
        #[command(flatten)]
        report: Report,
    },
    /// Browse the standard library.
    Stdlib {
        #[command(subcommand)]
        command: StdlibCommand,
    },
}

#[derive(Subcommand)]
enum StdlibCommand {
    /// List the stdlib modules.
    List,
    /// Print a stdlib module's source, after a summary of what a site sets and binds to use it.
    Show { module: String },
}

#[derive(clap::Args)]
struct Settings {
    /// Set a flag or option: `--set external_lb=true`, `--set cni=calico`.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// Give a param a port: `--param api_port=6443`.
    #[arg(long = "param", value_name = "NAME=PORT")]
    param: Vec<String>,
}

#[derive(clap::Args)]
struct Report {
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// When to colour diagnostics; `auto` honours NO_COLOR and whether the output is a terminal.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DiffFormat {
    Human,
    /// `portc.diff/v1` (docs/diff.md).
    Json,
    /// A table for a pull request comment.
    Markdown,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PathsFormat {
    Human,
    /// `portc.paths/v1` (docs/diff.md).
    Json,
    /// The flow graph as Graphviz DOT, the paths highlighted.
    Dot,
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

/// `--target`: the names and descriptions of `Target::ALL`, each from its own file in src/lower/.
fn target_parser() -> impl clap::builder::TypedValueParser<Value = Target> {
    let values = Target::ALL.iter().map(|t| {
        let description = t.description();
        clap::builder::PossibleValue::new(description.name).help(description.about)
    });
    clap::builder::PossibleValuesParser::new(values)
        // clap admits only the possible values, which are `Target::ALL`'s names.
        .map(|name: String| Target::from_name(&name).expect("invariant: a possible value names a target"))
}

const EXIT_ERRORS: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_BUG: u8 = 101;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Runs a command; `Err` is a usage or I/O error.
fn run(cli: Cli) -> Result<u8, String> {
    match cli.command {
        Command::Check {
            files,
            deny_warnings,
            target,
            role,
            egress,
            allow_lockout,
            allow_lossy,
            no_path,
            max_hops,
            settings,
            report,
        } => {
            let options =
                Options { target, settings: settings.collect()?, roles: role, egress, allow_lockout, allow_lossy };
            let no_path = no_path.iter().map(|p| parse_pair(p)).collect::<Result<Vec<_>, _>>()?;
            let max_hops = usize::from(max_hops);
            let mut worst = 0;
            let last = files.len().saturating_sub(1);
            for (index, file) in files.into_iter().enumerate() {
                let root = root_of(file);
                let outcome = if options.target.is_some() {
                    let mut outcome = portc::check_for_target(&root, &FsLoader, &options).map_err(|e| e.0)?;
                    if !no_path.is_empty() && !outcome.has_errors() {
                        // The target's check keeps no program; the paths need one.
                        let (_, checked) =
                            portc::check_program(&root, &FsLoader, &options.settings).map_err(|e| e.0)?;
                        add_forbidden_paths(&mut outcome, checked.as_ref(), &no_path, max_hops)?;
                    }
                    outcome
                } else {
                    let (mut outcome, checked) = portc::compile_keeping(&root, &FsLoader, &options).map_err(|e| e.0)?;
                    add_forbidden_paths(&mut outcome, checked.as_ref(), &no_path, max_hops)?;
                    // Each file's program is freed before the next is read, but the last one's.
                    if index == last {
                        not_freed(checked);
                    }
                    outcome
                };
                print_diagnostics(&outcome, &report, &mut std::io::stdout())?;
                worst = worst.max(exit_code(&outcome, deny_warnings));
            }
            Ok(worst)
        }
        Command::Build {
            input,
            target,
            output,
            role,
            out_dir,
            egress,
            allow_lockout,
            allow_lossy,
            deny_warnings,
            settings,
            report,
        } => {
            let description = target.description();
            if description.per_host && role.is_empty() && out_dir.is_none() {
                return Err(format!(
                    "the {} target builds one host's output: give --role ROLE, or --out-dir DIR for every host role",
                    description.name
                ));
            }
            let given = [
                (Setting::Role, !role.is_empty()),
                (Setting::Egress, egress),
                (Setting::AllowLockout, allow_lockout),
                (Setting::AllowLossy, allow_lossy),
            ];
            if let Some((setting, _)) = given.iter().find(|(s, given)| *given && !target.takes(*s)) {
                return Err(format!("{} does not apply to --target {}", setting.flag(), description.name));
            }
            if out_dir.is_some() && !description.per_host && !description.documents {
                return Err(format!("--out-dir does not apply to --target {}: it writes one file", description.name));
            }
            // `-o -` is standard output, as for most tools.
            let output = output.filter(|o| o != "-");
            let to_dir = output.as_deref().is_some_and(|o| o.ends_with('/') || Path::new(o).is_dir());
            if to_dir && !description.documents {
                return Err(format!("the {} target writes one file: give -o FILE", description.name));
            }
            if description.per_host && description.documents && output.is_some() && !to_dir {
                return Err(format!(
                    "the {} target writes several files per host: give -o DIR/ or --out-dir DIR",
                    description.name
                ));
            }
            let root = root_of(input);
            let settings = settings.collect()?;
            let options = Options { target: Some(target), settings, roles: role, egress, allow_lockout, allow_lossy };
            match out_dir {
                Some(dir) if description.per_host => build_every_host(&root, &options, &dir, deny_warnings, &report),
                out_dir => {
                    // `-o DIR/` (or an existing directory) splits a target's documents like --out-dir.
                    let out_dir = out_dir.or_else(|| {
                        let dir = output.as_deref().filter(|o| o.ends_with('/') || Path::new(o).is_dir())?;
                        description.documents.then(|| dir.to_string())
                    });
                    let manifests_in = out_dir.clone().filter(|_| description.documents && !description.per_host);
                    let place = match (out_dir, output) {
                        (Some(dir), _) => Place::Dir(dir.into()),
                        (None, Some(path)) => Place::File(path.into()),
                        (None, None) => Place::Stdout,
                    };
                    let mut staged = Staged::new(place)?;
                    let (outcome, checked) =
                        portc::compile_into(&root, &FsLoader, &options, &mut staged).map_err(|e| e.0)?;
                    not_freed(checked);
                    print_diagnostics(&outcome, &report, &mut std::io::stderr())?;
                    let code = exit_code(&outcome, deny_warnings);
                    if code == 0 {
                        let placed = staged.finish()?;
                        // A policy of a role the site no longer has would still be applied.
                        for earlier in manifests_in.map(|dir| earlier_manifests(&dir, &placed)).unwrap_or_default() {
                            eprintln!(
                                "note: `{}` is from an earlier build and this one makes no such policy: remove it before `kubectl apply -f` on the directory",
                                earlier.display()
                            );
                        }
                    }
                    Ok(code)
                }
            }
        }
        Command::Explain { input, from, to, query, settings, report } => {
            let (outcome, checked) =
                portc::check_program(&root_of(input), &FsLoader, &settings.collect()?).map_err(|e| e.0)?;
            let Some(checked) = checked else {
                print_diagnostics(&outcome, &report, &mut std::io::stderr())?;
                return Ok(EXIT_ERRORS);
            };
            let program = &checked.graph().program;
            let (protocol, port) = parse_query(query.as_deref())?;
            let (from_nodes, from_text) = endpoint(program, &from)?;
            let (to_nodes, to_text) = endpoint(program, &to)?;
            let request = portc::explain::Query { from: from_nodes, to: to_nodes, protocol, port };
            let explanation = portc::explain::explain(&checked, &request);
            let asked = format!("{} from {from_text} to {to_text}", query.as_deref().unwrap_or("traffic"));
            match report.format {
                Format::Human => print!("{}", explanation.human(&asked)),
                Format::Json => {
                    println!("{}", serde_json::to_string_pretty(&explanation).map_err(|e| e.to_string())?)
                }
            }
            // Like grep: 0 when the traffic is allowed, 1 when it is not.
            Ok(if explanation.verdict == portc::explain::Verdict::Denied { EXIT_ERRORS } else { 0 })
        }
        Command::Fmt { paths, check, report } => {
            let mode = if check { cli::fmt::Mode::Check } else { cli::fmt::Mode::Write };
            let render = |sources: &portc::diag::SourceMap, diagnostics: &[portc::diag::Diagnostic]| {
                diagnostics_text(sources, diagnostics, &report)
            };
            let verdict = match paths.as_slice() {
                [one] if one == "-" => cli::fmt::stdin(mode, &render)?,
                _ if paths.iter().any(|p| p == "-") => {
                    return Err("`-` (standard input) cannot be formatted with files".into());
                }
                _ => cli::fmt::paths(&paths, mode, &render)?,
            };
            Ok(match verdict {
                cli::fmt::Verdict::Clean => 0,
                cli::fmt::Verdict::Failed => EXIT_ERRORS,
                cli::fmt::Verdict::Bug => EXIT_BUG,
            })
        }
        Command::Lsp { stdlib_dir, stdio: _ } => {
            cli::lsp::run(stdlib_dir)?;
            Ok(0)
        }
        Command::Completions { shell } => {
            let script = cli::manual::completions(shell, Cli::command());
            std::io::stdout().write_all(&script).map_err(|e| format!("cannot write output: {e}"))?;
            Ok(0)
        }
        Command::Man { out_dir } => {
            let pages = cli::manual::pages(Cli::command())?;
            match out_dir {
                None => {
                    let main = pages.iter().find(|(name, _)| name == "portc.1").map(|(_, roff)| roff.as_str());
                    write_output(main.unwrap_or_default(), None)?;
                }
                Some(dir) => {
                    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create `{dir}`: {e}"))?;
                    for (name, roff) in &pages {
                        write_output(roff, Some(&format!("{dir}/{name}")))?;
                    }
                }
            }
            Ok(0)
        }
        Command::Diff { old, new, rename, any_source, build, every_configuration, settings, format, color } => {
            let settings = settings.collect()?;
            let configurations = if every_configuration || (!build && settings.is_empty()) {
                portc::diff::Configurations::Every
            } else {
                portc::diff::Configurations::Build
            };
            let renames = rename
                .iter()
                .map(|r| r.split_once('=').map(|(o, n)| (o.to_string(), n.to_string())))
                .collect::<Option<Vec<_>>>()
                .ok_or("--rename takes OLD=NEW, the old and new names of a role, external, flag or option")?;
            let request = portc::diff::Request { configurations, renames, any_source };
            run_diff([old, new], &settings, &request, format, color)
        }
        Command::Paths { input, from, to, max_hops, settings, format, color } => {
            let report = Report { format: Format::Human, color };
            let (outcome, checked) =
                portc::check_program(&root_of(input), &FsLoader, &settings.collect()?).map_err(|e| e.0)?;
            let Some(checked) = checked.filter(|_| !outcome.has_errors()) else {
                print_diagnostics(&outcome, &report, &mut std::io::stderr())?;
                return Ok(EXIT_ERRORS);
            };
            let program = &checked.graph().program;
            let query = portc::paths::Query {
                from: program.nodes_named(&from)?,
                to: program.nodes_named(&to)?,
                max_hops: usize::from(max_hops),
            };
            let paths = portc::paths::find(&checked, &query);
            let text = match format {
                PathsFormat::Human => portc::paths::report(&checked, &query, &paths).human(),
                PathsFormat::Json => portc::paths::report(&checked, &query, &paths).json(),
                PathsFormat::Dot => portc::paths::dot(&checked, &query, &paths),
            };
            write_output(&text, None)?;
            Ok(0)
        }
        Command::Verify { input, role, nft, iptables, ip6tables, ipset, address, egress, settings, report } => {
            let rulesets = cli::verify::Rulesets { nft, iptables, ip6tables, ipset };
            let request = cli::verify::request(role, &address, egress)?;
            cli::verify::run(&root_of(input), &settings, &report, &rulesets, request)
        }
        Command::Stdlib { command: StdlibCommand::List } => {
            let mut out = String::new();
            for module in portc::stdlib::modules() {
                let (title, source) = portc::stdlib::headers(module);
                out.push_str(&format!("{:<36} {}\n", module.name, title.unwrap_or_default()));
                if let Some(source) = source {
                    out.push_str(&format!("{:<36}   source: {source}\n", ""));
                }
            }
            print!("{out}");
            Ok(0)
        }
        Command::Stdlib { command: StdlibCommand::Show { module } } => match portc::stdlib::get(&module) {
            Some(m) => {
                let mut map = portc::diag::SourceMap::default();
                let root = Root::Module(module.clone());
                let (program, _) = portc::resolve::resolve(&root, &FsLoader, "", &mut map).map_err(|e| e.0)?;
                print!("{}{}", portc::summary::summary(&program), m.text);
                Ok(0)
            }
            None => {
                let hint = portc::diag::suggest(&module, portc::stdlib::modules().map(|m| m.name))
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                Err(format!("no stdlib module `{module}`{hint}"))
            }
        },
    }
}

/// `FROM:TO` -> (FROM, TO).
fn parse_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((from, to)) if !from.is_empty() && !to.is_empty() => Ok((from.to_string(), to.to_string())),
        _ => Err(format!("--no-path takes FROM:TO, the names of two roles, externals or groups, got `{text}`")),
    }
}

/// Adds the E0203 errors of `check --no-path` to an outcome whose program checked without errors.
fn add_forbidden_paths(
    outcome: &mut Outcome,
    checked: Option<&portc::check::Checked>,
    pairs: &[(String, String)],
    max_hops: usize,
) -> Result<(), String> {
    let Some(checked) = checked.filter(|_| !pairs.is_empty() && !outcome.has_errors()) else { return Ok(()) };
    outcome.diagnostics.extend(portc::paths::forbidden_paths(checked, pairs, max_hops)?);
    portc::diag::sort(&mut outcome.diagnostics);
    Ok(())
}

/// `portc diff`: checks both sides, compares them and prints the comparison; 0 same, 1 different.
fn run_diff(
    inputs: [String; 2],
    settings: &[String],
    request: &portc::diff::Request,
    format: DiffFormat,
    color: Color,
) -> Result<u8, String> {
    let report = Report { format: if format == DiffFormat::Json { Format::Json } else { Format::Human }, color };
    let mut sides = Vec::new();
    for (label, input) in ["OLD", "NEW"].into_iter().zip(&inputs) {
        let (root, loader) = side_of(input)?;
        let side =
            portc::diff::check_side(&root, loader.as_ref(), settings).map_err(|e| format!("{label}: {}", e.0))?;
        if side.outcome.has_errors() || side.checked.is_none() {
            print_diagnostics(&side.outcome, &report, &mut std::io::stderr())?;
            return Err(format!("{label} ({input}) has errors; nothing compared"));
        }
        sides.push(side);
    }
    let [old, new] = sides.as_slice() else { return Err("internal: two sides".into()) };
    if let Some(unknown) = old.unknown.iter().find(|s| new.unknown.contains(s)) {
        // Show the setting as `portc check` would, with its code (E0121), against OLD.
        let (root, loader) = side_of(&inputs[0])?;
        let (mut outcome, _) =
            portc::check_program(&root, loader.as_ref(), std::slice::from_ref(unknown)).map_err(|e| e.0)?;
        outcome.diagnostics.retain(|d| d.code == portc::diag::Code::UnknownSetting);
        print_diagnostics(&outcome, &report, &mut std::io::stderr())?;
        let name = unknown.split_once('=').map_or(unknown.as_str(), |(n, _)| n);
        return Err(format!("neither OLD nor NEW has a flag, option or param named `{name}`"));
    }
    let [old_label, new_label] = &inputs;
    let (Some(old), Some(new)) = (old.input(old_label), new.input(new_label)) else {
        return Err("internal: a side without a checked program".into());
    };
    let diff = portc::diff::diff(&old, &new, request)?;
    match format {
        DiffFormat::Human => write_output(&diff.human(), None)?,
        DiffFormat::Markdown => write_output(&diff.markdown(), None)?,
        DiffFormat::Json => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            diff.write_json(&mut out).and_then(|()| out.flush()).map_err(|e| format!("cannot write output: {e}"))?;
        }
    }
    Ok(if diff.is_empty() { 0 } else { EXIT_ERRORS })
}

/// A side of `portc diff`: a file, a file at a git revision (`REV:path`), or a stdlib module.
fn side_of(input: &str) -> Result<(Root, Box<dyn portc::SourceLoader>), String> {
    if Path::new(input).is_file() {
        return Ok((Root::File(input.to_string()), Box::new(FsLoader)));
    }
    let Some((revision, path)) = portc::git::split_revision(input) else {
        return Ok((root_of(input.to_string()), Box::new(FsLoader)));
    };
    let loader = portc::git::GitLoader::new(revision)?;
    // Read the root once here, for a message that names the revision.
    use portc::SourceLoader as _;
    match loader.read(path) {
        Ok(_) => Ok((Root::File(path.to_string()), Box::new(loader))),
        Err(portc::LoadError::NotFound) => {
            Err(format!("cannot read `{input}`: no file `{path}` at revision `{revision}`"))
        }
        Err(portc::LoadError::IsDirectory) => Err(format!("cannot read `{input}`: it is a directory at `{revision}`")),
        Err(portc::LoadError::Other(why)) => Err(format!("cannot read `{input}`: {why}")),
    }
}

/// Builds a per-host target for every host role from one compile, and writes `DIR/ROLE.EXT` for
/// each (or the host's documents: `DIR/ROLE.v4.rules`, the directory `DIR/ROLE/`), only when
/// every role built. Each host's output is staged beside its place as it is made, so memory stays
/// flat in the number of roles, and all are moved into place at the end; a host's directory
/// replaces the one an earlier build left, whole.
fn build_every_host(
    root: &Root,
    options: &Options,
    dir: &str,
    deny_warnings: bool,
    report: &Report,
) -> Result<u8, String> {
    let description = options.target.map(|t| t.description());
    let extension = description.map_or("out", |d| d.extension);
    let several = description.is_some_and(|d| d.documents);
    let mut staged = Staged::new(Place::Dir(dir.into()))?;
    let outcome = portc::compile_every_host(root, &FsLoader, options, |build| {
        let Ok((documents, _)) = &build.result else { return Ok(()) };
        let mut write = |name: &str, text: &str| {
            let out = portc::lower::Sink::document(&mut staged, name);
            out.and_then(|out| out.write_all(text.as_bytes())).map_err(|e| portc::RootError(e.to_string()))
        };
        if several {
            // The target names its documents for the host: `etcd.v4.rules`, `etcd/zones/portc.xml`.
            for document in documents {
                write(&document.name, &document.text)?;
            }
        } else {
            let text: String = documents.iter().map(|d| d.text.as_str()).collect();
            write(&format!("{}.{extension}", build.role), &text)?;
        }
        Ok(())
    })
    .map_err(|e| e.0)?;
    print_diagnostics(&outcome, report, &mut std::io::stderr())?;
    let code = exit_code(&outcome, deny_warnings);
    if code == 0 {
        staged.finish()?;
    }
    Ok(code)
}

/// The nodes an endpoint of `explain` stands for, and how to show it: a name (role, external or
/// group), or an address or prefix, which stands for the nodes bound to addresses that contain it.
fn endpoint(program: &portc::hir::Program, text: &str) -> Result<(Vec<portc::hir::NodeId>, String), String> {
    let address =
        text.parse::<ipnet::IpNet>().ok().or_else(|| text.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from));
    let Some(address) = address else { return Ok((program.nodes_named(text)?, text.to_string())) };
    let nodes = program.nodes_at(address);
    if nodes.is_empty() {
        return Err(format!("no role or external is bound to an address that contains {text}"));
    }
    let names = program.node_names();
    let list: Vec<&str> = nodes.iter().filter_map(|n| names.get(n.index())).map(String::as_str).collect();
    Ok((nodes, format!("{text} ({})", list.join(", "))))
}

/// A file path, or else the name of a stdlib module.
fn root_of(input: String) -> Root {
    if input.ends_with(".ports") || input.contains('/') || Path::new(&input).is_file() {
        Root::File(input)
    } else {
        Root::Module(input)
    }
}

/// `tcp/443` -> (tcp, 443); `ipip` -> (ipip, none); nothing -> (none, none).
fn parse_query(query: Option<&str>) -> Result<(Option<portc::protocol::Protocol>, Option<u16>), String> {
    let Some(query) = query else { return Ok((None, None)) };
    let (name, port) = match query.split_once('/') {
        Some((name, port)) => (name, Some(port)),
        None => (query, None),
    };
    let protocol = portc::protocol::Protocol::from_name(name)
        .ok_or_else(|| format!("`{name}` is not a protocol; write PROTO/PORT, `tcp/443`"))?;
    let port = match port {
        Some(p) => {
            Some(p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| format!("`{p}` is not a port (1-65535)"))?)
        }
        None => None,
    };
    Ok((Some(protocol), port))
}

impl Settings {
    /// The settings as `name=value`, checked for shape so they cannot smuggle in other statements.
    fn collect(&self) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for (flag, args) in [("--set", &self.set), ("--param", &self.param)] {
            for arg in args {
                let Some((name, value)) = arg.split_once('=') else {
                    return Err(format!("{flag} takes NAME=VALUE, got `{arg}`"));
                };
                let name_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
                let value_ok =
                    !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
                if !name_ok || !value_ok {
                    return Err(format!("{flag} takes NAME=VALUE with a plain name and value, got `{arg}`"));
                }
                if flag == "--param" && !value.chars().all(|c| c.is_ascii_digit()) {
                    return Err(format!(
                        "--param takes NAME=PORT with a port number, got `{arg}`; flags and options take --set"
                    ));
                }
                out.push(format!("{name}={value}"));
            }
        }
        Ok(out)
    }
}

/// Leaves a checked program to the operating system, which takes back a process's memory at once
/// when it exits. Freeing a graph of a million flows allocation by allocation takes longer
/// (0.4 s) than resolving its names; the process has nothing left to do with it.
fn not_freed(checked: Option<portc::check::Checked>) {
    std::mem::forget(checked);
}

/// The exit code of a run with these diagnostics; when only `--deny-warnings` makes it fail, says
/// so on standard error, since the summary counts the warnings as warnings.
fn exit_code(outcome: &Outcome, deny_warnings: bool) -> u8 {
    let has = |s: Severity| outcome.diagnostics.iter().any(|d| d.severity == s);
    if has(Severity::Error) {
        return EXIT_ERRORS;
    }
    if deny_warnings && has(Severity::Warning) {
        eprintln!("error: the warnings count as errors (--deny-warnings)");
        return EXIT_ERRORS;
    }
    0
}

fn print_diagnostics(outcome: &Outcome, report: &Report, out: &mut dyn Write) -> Result<(), String> {
    let mut text = diagnostics_text(&outcome.sources, &outcome.diagnostics, report);
    if let Format::Human = report.format {
        text.push_str(&summary(outcome));
    }
    out.write_all(text.as_bytes()).map_err(|e| format!("cannot write diagnostics: {e}"))
}

/// Diagnostics rendered as `--format` and `--color` ask.
fn diagnostics_text(
    sources: &portc::diag::SourceMap,
    diagnostics: &[portc::diag::Diagnostic],
    report: &Report,
) -> String {
    match report.format {
        Format::Json => render::json(sources, diagnostics),
        Format::Human => {
            let is_terminal = match report.color {
                Color::Auto => std::io::stderr().is_terminal(),
                _ => false,
            };
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            let color = match report.color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => is_terminal && !no_color,
            };
            render::human(sources, diagnostics, color)
        }
    }
}

/// `2 errors, 1 warning`, or nothing when there are no diagnostics.
fn summary(outcome: &Outcome) -> String {
    let count = |s: Severity| outcome.diagnostics.iter().filter(|d| d.severity == s).count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    match (errors, warnings) {
        (0, 0) => String::new(),
        (e, 0) => format!("{}\n", plural(e, "error")),
        (0, w) => format!("{}\n", plural(w, "warning")),
        (e, w) => format!("{}, {}\n", plural(e, "error"), plural(w, "warning")),
    }
}
