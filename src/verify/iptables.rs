//! Reads rulesets as `iptables-save` and `ip6tables-save` print them: every table (`raw`,
//! `mangle`, `nat`, `filter`, `security`) with its built-in chains on their hooks at the
//! priorities iptables gives them, and the user chains they jump to. Core options, the common
//! match modules (`tcp`, `udp`, `multiport`, `conntrack`, `state`, `comment`, `addrtype`, `icmp`,
//! `mark`, `iprange`, ...) and targets are modelled; any other module is a match verify cannot
//! decide, and any other target stops it.

use std::collections::BTreeMap;

use super::ReadError;
use super::rules::{self, Base, Chain, Cond, Hook, Kind, Local, MarkOp, Policy, Rule, Ruleset, Stmt, Test, Verdict};
use super::space::{DPORT, DST, IIF, OIF, SPORT, SRC, Tri, V4, V4_MAX};

/// Adds the tables of `text` (one family's `iptables-save` output) to `ruleset`. `Err` for text
/// that is not such output; a rule it cannot read becomes a rule that stops verify. `sets` are the
/// members of the ipsets that `-m set` names (`ipset save`). Empty output (a host without rules of
/// this family, as `ip6tables-save` prints it) adds nothing.
pub fn read(text: &str, family: u128, local: &Local, sets: &IpSets, ruleset: &mut Ruleset) -> Result<(), ReadError> {
    let mut table: Option<String> = None;
    let mut chains: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut pending: Vec<(usize, usize, String)> = Vec::new();
    let mut seen_table = false;
    for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('*') {
            table = Some(name.to_string());
            seen_table = true;
        } else if line == "COMMIT" {
            table = None;
        } else if let Some(declaration) = line.strip_prefix(':') {
            let current = table
                .as_deref()
                .ok_or(ReadError::at(number, "a chain outside a table (no `*table` line before it)"))?;
            let chain = declare(current, declaration, family, number)?;
            chains.insert((current.to_string(), chain.0.clone()), ruleset.chains.len());
            ruleset.chains.push(chain.1);
        } else {
            let current =
                table.as_deref().ok_or(ReadError::at(number, "a rule outside a table (no `*table` line before it)"))?;
            let line = strip_counters(line);
            let words = split(line).map_err(|e| ReadError::at(number, e))?;
            let chain = match words.as_slice() {
                [flag, chain, ..] if flag == "-A" || flag == "--append" => chain.clone(),
                _ => return Err(ReadError::at(number, format!("expected `-A CHAIN ...`, found `{line}`"))),
            };
            if let Some(address) = other_family(&words, family) {
                let (this, other) = if family == V4 { ("iptables", "ip6tables") } else { ("ip6tables", "iptables") };
                return Err(ReadError::at(
                    number,
                    format!("`{address}` is not an address {this} handles: this looks like {other}-save output"),
                ));
            }
            let slot = *chains.get(&(current.to_string(), chain.clone())).ok_or(ReadError::at(
                number,
                format!("chain {chain} of table {current} is not declared (no `:{chain}` line)"),
            ))?;
            pending.push((slot, number, line.to_string()));
        }
    }
    if !seen_table && !pending.is_empty() {
        return Err(ReadError { line: None, message: "no `*table` line".to_string() });
    }
    for (slot, number, line) in pending {
        let Some(chain) = ruleset.chains.get(slot) else { continue };
        let table = chain.name.split(' ').next().unwrap_or_default().to_string();
        let context = Context { table: &table, chains: &chains, family, local, sets };
        let rule = rule(&line, number, &chain.name, &context);
        if let Some(chain) = ruleset.chains.get_mut(slot) {
            chain.rules.push(rule);
        }
    }
    Ok(())
}

/// `:INPUT DROP [0:0]` or `:KUBE-SERVICES - [0:0]`: a chain, and where the kernel calls it.
fn declare(table: &str, declaration: &str, family: u128, number: usize) -> Result<(String, Chain), ReadError> {
    let mut words = declaration.split_whitespace();
    let name = words.next().ok_or(ReadError::at(number, "a chain without a name"))?.to_string();
    let policy = match words.next() {
        Some("ACCEPT") => Some(Policy::Accept),
        Some("DROP") => Some(Policy::Drop),
        Some("-") | None => None,
        Some(other) => return Err(ReadError::at(number, format!("`{other}` is not a chain policy"))),
    };
    let base = builtin(table, &name).map(|(hook, priority, kind)| Base {
        hook,
        priority,
        policy: policy.or(Some(Policy::Accept)),
        kind,
        families: (family, family),
        devices: Vec::new(),
    });
    Ok((name.clone(), Chain { name: format!("{table} {name}"), base, rules: Vec::new() }))
}

/// The tables of `iptables-save` output, as nft names them (`ip filter`, `ip6 nat`).
pub fn tables(text: &str, family: u128) -> Vec<String> {
    let prefix = if family == V4 { "ip" } else { "ip6" };
    text.lines().filter_map(|l| l.trim().strip_prefix('*')).map(|t| format!("{prefix} {t}")).collect()
}

/// The hook and priority of a built-in chain (the priorities of iptables-nft, which match the
/// order the legacy tables run in).
fn builtin(table: &str, chain: &str) -> Option<(Hook, i32, Kind)> {
    let hook = match chain {
        "PREROUTING" => Hook::Prerouting,
        "INPUT" => Hook::Input,
        "FORWARD" => Hook::Forward,
        "OUTPUT" => Hook::Output,
        "POSTROUTING" => Hook::Postrouting,
        _ => return None,
    };
    let (priority, kind) = match (table, hook) {
        ("raw", _) => (-300, Kind::Filter),
        ("mangle", Hook::Output) => (-150, Kind::Route),
        ("mangle", _) => (-150, Kind::Filter),
        ("nat", Hook::Prerouting | Hook::Output) => (-100, Kind::Nat),
        ("nat", _) => (100, Kind::Nat),
        ("filter", _) => (0, Kind::Filter),
        ("security", _) => (50, Kind::Filter),
        _ => return None,
    };
    Some((hook, priority, kind))
}

/// `[12:3456] -A ...` as `iptables-save -c` prints it: the counters go.
fn strip_counters(line: &str) -> &str {
    match line.strip_prefix('[').and_then(|rest| rest.split_once(']')) {
        Some((_, rest)) => rest.trim_start(),
        None => line,
    }
}

/// Words as a shell splits them: double quotes (with backslash escapes) and single quotes.
fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            match c {
                '"' => loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => word.extend(chars.next()),
                        Some(c) => word.push(c),
                        None => return Err("unterminated quote".to_string()),
                    }
                },
                '\'' => loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated quote".to_string()),
                    }
                },
                c => word.push(c),
            }
        }
        words.push(word);
    }
    Ok(words)
}

/// What reading a rule needs: its table's chains, the family and the host's addresses.
struct Context<'a> {
    table: &'a str,
    chains: &'a BTreeMap<(String, String), usize>,
    family: u128,
    local: &'a Local,
    sets: &'a IpSets,
}

/// The address given to `-s`/`-d` that belongs to the other family, if one does: the text of
/// the other tool's `-save`.
fn other_family(words: &[String], family: u128) -> Option<String> {
    let other = if family == V4 { super::space::V6 } else { V4 };
    let options = words.iter().zip(words.iter().skip(1));
    options
        .filter(|(option, _)| matches!(option.as_str(), "-s" | "--source" | "-d" | "--destination"))
        .flat_map(|(_, value)| value.split(','))
        .find(|item| address_interval(item, other).is_some())
        .map(str::to_string)
}

/// The members of ipsets, as `ipset save` prints them: per set, its family and its addresses.
/// A set whose members are not plain addresses and prefixes (`hash:net,port`, `nomatch`
/// entries) has none here, and `-m set` on it is a match verify cannot decide.
#[derive(Debug, Default)]
pub struct IpSets(BTreeMap<String, Option<Members>>);

/// A set's family and its members, as address intervals.
type Members = (u128, Vec<(u128, u128)>);

/// Reads `ipset save` output.
pub fn ipsets(text: &str) -> Result<IpSets, ReadError> {
    let mut sets = IpSets::default();
    for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words = split(line).map_err(|e| ReadError::at(number, e))?;
        match words.as_slice() {
            [create, name, kind, options @ ..] if create == "create" || create == "-N" => {
                let family = match options.iter().position(|w| w == "family").and_then(|i| options.get(i + 1)) {
                    Some(f) if f == "inet6" => super::space::V6,
                    _ => V4,
                };
                let plain = matches!(kind.as_str(), "hash:net" | "hash:ip");
                sets.0.insert(name.clone(), plain.then(|| (family, Vec::new())));
            }
            [add, name, member, options @ ..] if add == "add" || add == "-A" => {
                let Some(entry) = sets.0.get_mut(name) else {
                    return Err(ReadError::at(
                        number,
                        format!("a member of `{name}`, which no `create` line declares"),
                    ));
                };
                if let Some((family, members)) = entry {
                    match address_interval(member, *family) {
                        Some(interval) if !options.iter().any(|o| o == "nomatch") => members.push(interval),
                        _ => *entry = None,
                    }
                }
            }
            _ => {
                return Err(ReadError::at(
                    number,
                    format!("expected `create SET TYPE ...` or `add SET MEMBER`, found `{line}`"),
                ));
            }
        }
    }
    Ok(sets)
}

/// One rule; a rule verify cannot read stops it, where it stands.
fn rule(line: &str, number: usize, chain: &str, context: &Context) -> Rule {
    let at = format!("{chain}, line {number}");
    let stmts = split(line).map_err(|e| e.to_string()).and_then(|words| statements(&words, context));
    let stmts = stmts.unwrap_or_else(|why| vec![Stmt::Stop(format!("a rule verify cannot read: {why}"))]);
    let text = line.split_once(' ').map_or(line, |(_, rest)| rest.split_once(' ').map_or(rest, |(_, r)| r));
    Rule { at, text: text.to_string(), stmts }
}

/// The options of one rule after `-A CHAIN`, as statements.
fn statements(words: &[String], context: &Context) -> Result<Vec<Stmt>, String> {
    let mut out = Vec::new();
    let mut module: Option<String> = None;
    let mut protocol: Option<u8> = None;
    let mut negate = false;
    let mut i = 2;
    while let Some(word) = words.get(i) {
        let arg = |n: usize| words.get(i + n).map(String::as_str).ok_or(format!("`{word}` needs a value"));
        let mut used = 2;
        match word.as_str() {
            "!" => {
                negate = true;
                i += 1;
                continue;
            }
            "-s" | "--source" | "-d" | "--destination" => {
                let dim = if matches!(word.as_str(), "-s" | "--source") { SRC } else { DST };
                out.push(test(address_test(dim, arg(1)?, context.family)?, negate, word, arg(1)?));
            }
            "-p" | "--protocol" => {
                let name = arg(1)?;
                if name != "all" {
                    let number = rules::protocol_number(name).ok_or(format!("unknown protocol `{name}`"))?;
                    protocol = (!negate).then_some(number);
                    out.push(test(rules::protocols(&[(number.into(), number.into())]), negate, word, name));
                }
            }
            "-i" | "--in-interface" | "-o" | "--out-interface" => {
                let dim = if matches!(word.as_str(), "-i" | "--in-interface") { IIF } else { OIF };
                out.push(test(rules::interfaces(dim, &[arg(1)?.to_string()]), negate, word, arg(1)?));
            }
            "-f" | "--fragment" => {
                out.push(Stmt::unknown("-f"));
                used = 1;
            }
            "-m" | "--match" => {
                let name = arg(1)?;
                if !KNOWN_MODULES.contains(&name) {
                    out.push(Stmt::unknown(format!("-m {name}")));
                }
                module = Some(name.to_string());
            }
            "-c" | "--set-counters" => used = 3,
            "-j" | "--jump" => {
                out.extend(target(arg(1)?, words.get(i + 2..).unwrap_or_default(), context)?);
                return Ok(out);
            }
            "-g" | "--goto" => {
                out.push(go(arg(1)?, false, context));
                return Ok(out);
            }
            option if option.starts_with("--") => {
                let rest = words.get(i + 1..).unwrap_or_default();
                let (stmt, n) = module_option(module.as_deref(), protocol, option, rest, negate, context)?;
                out.extend(stmt);
                used = 1 + n;
            }
            other => return Err(format!("unexpected `{other}`")),
        }
        negate = false;
        i += used;
    }
    Ok(out)
}

/// The match modules whose options verify reads (some options of them it cannot decide).
const KNOWN_MODULES: &[&str] = &[
    "tcp",
    "udp",
    "sctp",
    "dccp",
    "udplite",
    "multiport",
    "conntrack",
    "state",
    "comment",
    "addrtype",
    "icmp",
    "icmp6",
    "mark",
    "connmark",
    "iprange",
    "pkttype",
    "set",
];

/// A test statement from a region, with how the option reads.
fn test(tri: Tri, negate: bool, option: &str, value: &str) -> Stmt {
    let text = format!("{}{option} {value}", if negate { "! " } else { "" });
    Stmt::Test(Box::new(Test::new(Cond::Region(tri), negate, text)))
}

/// `-s`/`-d` (and `--src-range`): addresses, prefixes with a length or a mask, ranges, lists.
fn address_test(dim: usize, text: &str, family: u128) -> Result<Tri, String> {
    let mut intervals = Vec::new();
    for item in text.split(',') {
        intervals.push(address_interval(item, family).ok_or(format!("`{item}` is not an address of this family"))?);
    }
    Ok(rules::addresses(dim, family, &intervals))
}

fn address_interval(text: &str, family: u128) -> Option<(u128, u128)> {
    let one = |t: &str| -> Option<u128> {
        let (f, v) = super::space::address(t.parse().ok()?);
        (f == family).then_some(v)
    };
    if let Some((lo, hi)) = text.split_once('-') {
        return Some((one(lo)?, one(hi)?));
    }
    let Some((addr, len)) = text.split_once('/') else { return one(text).map(|v| (v, v)) };
    let bits: u32 = if family == V4 { 32 } else { 128 };
    let len = match len.parse::<u32>() {
        Ok(len) => len,
        // A mask, `255.255.0.0`: only a contiguous one is a prefix.
        Err(_) => {
            let mask = one(len)?;
            let ones = mask.count_ones() - (128 - bits);
            let expected = if ones == 0 { 0 } else { (u128::MAX << (bits - ones)) & top(bits) };
            (mask == expected).then_some(ones)?
        }
    };
    let host = bits.checked_sub(len)?;
    let span = if host >= 128 { u128::MAX } else { (1u128 << host) - 1 };
    let first = one(addr)? & !span;
    Some((first, (first | span) & top(bits)))
}

fn top(bits: u32) -> u128 {
    if bits == 32 { V4_MAX } else { u128::MAX }
}

/// `22`, `1000:2000`, `1000:` and `:2000`, comma-separated.
fn port_list(text: &str) -> Result<Vec<(u128, u128)>, String> {
    let port = |t: &str, default: u128| -> Result<u128, String> {
        if t.is_empty() {
            return Ok(default);
        }
        t.parse::<u16>().map(u128::from).map_err(|_| format!("`{t}` is not a port"))
    };
    text.split(',')
        .map(|item| match item.split_once(':') {
            Some((lo, hi)) => Ok((port(lo, 0)?, port(hi, 65535)?)),
            None => port(item, 0).map(|p| (p, p)),
        })
        .collect()
}

/// An option of a match module, and how many words after it belong to it.
fn module_option(
    module: Option<&str>,
    protocol: Option<u8>,
    option: &str,
    rest: &[String],
    negate: bool,
    context: &Context,
) -> Result<(Option<Stmt>, usize), String> {
    let arg = || rest.first().map(String::as_str).ok_or(format!("`{option}` needs a value"));
    let module = module.unwrap_or_default();
    let port_protocol = rules::protocol_number(module).filter(|p| rules::PORT_PROTOCOLS.contains(p)).or(protocol);
    let tri = match (module, option) {
        (_, "--dport" | "--destination-port" | "--sport" | "--source-port")
        | ("multiport", "--dports" | "--destination-ports" | "--sports" | "--source-ports") => {
            let dim = if option.starts_with("--d") { DPORT } else { SPORT };
            rules::ports(dim, port_protocol, &port_list(arg()?)?)
        }
        ("multiport", "--ports") => {
            let ports = port_list(arg()?)?;
            rules::ports(SPORT, port_protocol, &ports).or(rules::ports(DPORT, port_protocol, &ports))
        }
        ("tcp", "--tcp-flags") => {
            let mask = tcp_flag_list(arg()?)?;
            let comp = tcp_flag_list(rest.get(1).map(String::as_str).ok_or("`--tcp-flags` needs two values")?)?;
            let stmt = test(rules::tcp_flags(mask, &[comp], false), negate, option, &rest.join(" "));
            return Ok((Some(within(stmt, rules::protocol_domain(None, 6))), 2));
        }
        ("tcp", "--syn") => {
            let stmt = test(rules::tcp_flags(0x17, &[0x02], false), negate, option, "");
            return Ok((Some(within(stmt, rules::protocol_domain(None, 6))), 0));
        }
        ("conntrack", "--ctstate") | ("state", "--state") => {
            let mask = arg()?
                .split(',')
                .map(|s| rules::ct_state(s).ok_or(format!("unknown state `{s}`")))
                .try_fold(0u8, |a, b| b.map(|b| a | b))?;
            let text = format!("{}{option} {}", if negate { "! " } else { "" }, arg()?);
            return Ok((Some(Stmt::Test(Box::new(Test::new(Cond::CtState(mask), negate, text)))), 1));
        }
        ("conntrack", _) => {
            let text = format!("-m conntrack {option} {}", arg()?);
            return Ok((Some(Stmt::Test(Box::new(Test::new(Cond::CtOther, negate, text)))), 1));
        }
        ("comment", "--comment") => return Ok((None, 1)),
        ("addrtype", "--src-type" | "--dst-type") => {
            let dim = if option == "--src-type" { SRC } else { DST };
            let types: Vec<String> = arg()?.split(',').map(str::to_ascii_lowercase).collect();
            rules::address_types(dim, &types, context.local)
        }
        ("icmp", "--icmp-type") | ("icmp6", "--icmpv6-type") => icmp_types(module == "icmp6", arg()?)?,
        ("mark" | "connmark", "--mark") => {
            let (value, mask) = value_mask(arg()?)?;
            let cond = Cond::Mark { ct: module == "connmark", mask, values: vec![(value & mask, value & mask)] };
            return Ok((
                Some(Stmt::Test(Box::new(Test::new(cond, negate, format!("-m {module} --mark {}", arg()?))))),
                1,
            ));
        }
        ("iprange", "--src-range" | "--dst-range") => {
            address_test(if option == "--src-range" { SRC } else { DST }, arg()?, context.family)?
        }
        ("set", "--match-set") => {
            let name = arg()?;
            let flags = rest.get(1).map_or("", String::as_str);
            let dim = match flags {
                "src" => SRC,
                "dst" => DST,
                _ => {
                    let stmt = Stmt::unknown(format!("-m set --match-set {name} {flags}"));
                    return Ok((Some(stmt), 2));
                }
            };
            let text = format!("{}--match-set {name} {flags}", if negate { "! " } else { "" });
            let tri = match context.sets.0.get(name) {
                Some(Some((family, members))) if *family == context.family => {
                    rules::addresses(dim, context.family, members)
                }
                // A set of the other family never matches.
                Some(Some(_)) => Tri::never(),
                Some(None) => {
                    return Ok((
                        Some(Stmt::unknown(format!("-m set {text} (a set of a kind verify does not read)"))),
                        2,
                    ));
                }
                None => {
                    let why =
                        format!("-m set {text} (its members are not given: pass `ipset save` output with --ipset)");
                    return Ok((Some(Stmt::unknown(why)), 2));
                }
            };
            return Ok((Some(Stmt::Test(Box::new(Test::new(Cond::Region(tri), negate, text)))), 2));
        }
        ("pkttype", "--pkt-type") => {
            let types = if arg()? == "unicast" { vec!["host".to_string()] } else { vec![arg()?.to_string()] };
            rules::packet_types(&types)
        }
        _ => {
            // An option verify does not read: its words run to the next option.
            let n = rest.iter().take_while(|w| !w.starts_with('-') && *w != "!").count();
            let known = KNOWN_MODULES.contains(&module);
            let stmt = known.then(|| Stmt::unknown(format!("-m {module} {option}")));
            return Ok((stmt, n));
        }
    };
    let domain = match (module, port_protocol) {
        ("icmp", _) => rules::protocol_domain(Some(V4), 1),
        ("icmp6", _) => rules::protocol_domain(Some(super::space::V6), 58),
        (_, Some(p)) if option.contains("port") => rules::protocol_domain(None, p),
        _ => super::space::Cube::all(),
    };
    Ok((Some(within(test(tri, negate, option, arg().unwrap_or_default()), domain)), 1))
}

/// A test statement that applies to `domain` only.
fn within(stmt: Stmt, domain: super::space::Cube) -> Stmt {
    match stmt {
        Stmt::Test(t) => Stmt::Test(Box::new(t.within(domain))),
        other => other,
    }
}

/// `8`, `echo-request`, `3/4` (type and code), `any`.
fn icmp_types(v6: bool, text: &str) -> Result<Tri, String> {
    if text == "any" {
        return Ok(rules::icmp(v6, &[(0, 65535)]));
    }
    let (kind, code) = match text.split_once('/') {
        Some((k, c)) => (k, Some(c.parse::<u8>().map_err(|_| format!("`{c}` is not an ICMP code"))?)),
        None => (text, None),
    };
    let kind = u128::from(rules::icmp_type(v6, kind).ok_or(format!("unknown ICMP type `{kind}`"))?);
    let interval = match code {
        Some(c) => (kind * 256 + u128::from(c), kind * 256 + u128::from(c)),
        None => (kind * 256, kind * 256 + 255),
    };
    Ok(rules::icmp(v6, &[interval]))
}

/// `SYN,ACK,FIN,RST`, `ALL`, `NONE`.
fn tcp_flag_list(text: &str) -> Result<u8, String> {
    text.split(',').try_fold(0u8, |acc, flag| {
        let bit = match flag {
            "FIN" => 0x01,
            "SYN" => 0x02,
            "RST" => 0x04,
            "PSH" => 0x08,
            "ACK" => 0x10,
            "URG" => 0x20,
            "ECE" => 0x40,
            "CWR" => 0x80,
            "ALL" => 0xff,
            "NONE" => 0,
            other => return Err(format!("unknown TCP flag `{other}`")),
        };
        Ok(acc | bit)
    })
}

/// `0x4000/0x4000` or `0x10`: a value and a mask (all ones when absent).
fn value_mask(text: &str) -> Result<(u32, u32), String> {
    let parse =
        |t: &str| super::nft_match::number(t).and_then(|n| u32::try_from(n).ok()).ok_or(format!("`{t}` is not a mark"));
    match text.split_once('/') {
        Some((v, m)) => Ok((parse(v)?, parse(m)?)),
        None => Ok((parse(text)?, u32::MAX)),
    }
}

/// A jump or goto to a user chain of the same table.
fn go(name: &str, jump: bool, context: &Context) -> Stmt {
    match context.chains.get(&(context.table.to_string(), name.to_string())) {
        Some(i) if jump => Stmt::Verdict(Verdict::Jump(*i)),
        Some(i) => Stmt::Verdict(Verdict::Goto(*i)),
        None => Stmt::Stop(format!("-j {name}: no such chain")),
    }
}

/// The statements of a target and its options.
fn target(name: &str, options: &[String], context: &Context) -> Result<Vec<Stmt>, String> {
    let stmts = match name {
        "ACCEPT" => vec![Stmt::Verdict(Verdict::Accept)],
        "DROP" => vec![Stmt::Verdict(Verdict::Drop)],
        "REJECT" => vec![Stmt::Verdict(Verdict::Reject)],
        "RETURN" => vec![Stmt::Verdict(Verdict::Return)],
        "LOG" | "NFLOG" | "ULOG" | "CHECKSUM" | "TCPMSS" | "DSCP" | "TOS" | "TTL" | "HL" | "CLASSIFY" | "TRACE"
        | "AUDIT" | "SECMARK" | "CONNSECMARK" | "IDLETIMER" | "LED" | "RATEEST" | "ECN" => Vec::new(),
        "MARK" | "CONNMARK" => vec![mark_target(name == "CONNMARK", options)?],
        "DNAT" | "SNAT" | "MASQUERADE" | "REDIRECT" | "NETMAP" => vec![Stmt::Nat(format!("-j {name}"))],
        "NOTRACK" => vec![Stmt::Notrack],
        "CT" if options.iter().any(|o| o == "--notrack") => vec![Stmt::Notrack],
        "CT" => Vec::new(),
        chain if context.chains.contains_key(&(context.table.to_string(), chain.to_string())) => {
            vec![go(chain, true, context)]
        }
        other => vec![Stmt::Stop(format!("-j {other}"))],
    };
    Ok(stmts)
}

/// `-j MARK --set-xmark 0x4000/0x4000`, `-j CONNMARK --save-mark`, and their kin.
fn mark_target(ct: bool, options: &[String]) -> Result<Stmt, String> {
    let option = |flag: &str| options.iter().position(|o| o == flag).and_then(|i| options.get(i + 1));
    let op = if let Some(v) = option("--set-xmark") {
        let (value, mask) = value_mask(v)?;
        MarkOp::Xmark { value, mask }
    } else if let Some(v) = option("--set-mark") {
        let (value, mask) = value_mask(v)?;
        MarkOp::Xmark { value, mask: mask | value }
    } else if let Some(v) = option("--or-mark") {
        let (value, _) = value_mask(v)?;
        MarkOp::Xmark { value, mask: value }
    } else if let Some(v) = option("--and-mark") {
        let (value, _) = value_mask(v)?;
        MarkOp::Xmark { value: 0, mask: !value }
    } else if let Some(v) = option("--xor-mark") {
        let (value, _) = value_mask(v)?;
        MarkOp::Xmark { value, mask: 0 }
    } else if ct && options.len() == 1 && options.first().is_some_and(|o| o == "--save-mark") {
        MarkOp::Copy
    } else if ct && options.len() == 1 && options.first().is_some_and(|o| o == "--restore-mark") {
        return Ok(Stmt::Mark { ct: false, op: MarkOp::Copy });
    } else {
        MarkOp::Unknown
    };
    Ok(Stmt::Mark { ct, op })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets() -> IpSets {
        let text = "create portc-admins-v4 hash:net family inet hashsize 1024 maxelem 65536 comment\n\
                    add portc-admins-v4 10.9.0.0/24 comment \"operators\"\n\
                    create portc-admins-v6 hash:net family inet6 hashsize 1024 maxelem 65536\n\
                    add portc-admins-v6 fd00:9::/64\n\
                    create ports hash:net,port family inet hashsize 1024 maxelem 65536\n\
                    add ports 10.0.0.0/8,tcp:22\n";
        ipsets(text).expect("ipset save output reads")
    }

    fn read_v4(text: &str) -> Result<Ruleset, ReadError> {
        let mut ruleset = Ruleset::default();
        read(text, V4, &Local::default(), &sets(), &mut ruleset).map(|()| ruleset)
    }

    fn only_rule(ruleset: &Ruleset) -> &Rule {
        let chain = ruleset.chains.iter().find(|c| c.name == "filter INPUT").expect("INPUT");
        chain.rules.first().expect("one rule")
    }

    #[test]
    fn match_set_reads_the_members_of_the_set() {
        let ruleset =
            read_v4("*filter\n:INPUT DROP [0:0]\n-A INPUT -m set --match-set portc-admins-v4 src -j ACCEPT\nCOMMIT\n")
                .expect("reads");
        let Some(Stmt::Test(test)) = only_rule(&ruleset).stmts.first() else { panic!("a test") };
        let Cond::Region(tri) = &test.cond else { panic!("a region") };
        assert!(tri.maybe.is_empty(), "decided: {tri:?}");
        assert_eq!(tri.yes.len(), 1);
        assert_eq!(tri.yes.first().map(|c| c.dim(SRC)), Some((0x0a09_0000, 0x0a09_00ff)));
    }

    #[test]
    fn match_set_without_its_members_or_of_another_kind_is_undecided() {
        for set in ["portc-unknown", "ports"] {
            let text = format!("*filter\n:INPUT DROP [0:0]\n-A INPUT -m set --match-set {set} src -j ACCEPT\nCOMMIT\n");
            let ruleset = read_v4(&text).expect("reads");
            let Some(Stmt::Test(test)) = only_rule(&ruleset).stmts.first() else { panic!("a test") };
            let Cond::Region(tri) = &test.cond else { panic!("a region") };
            assert!(tri.yes.is_empty() && !tri.maybe.is_empty(), "{set}: undecided");
        }
    }

    #[test]
    fn empty_output_is_a_host_without_rules() {
        let ruleset = read_v4("").expect("empty output reads");
        assert!(ruleset.chains.is_empty());
        let ruleset = read_v4("# Generated by ip6tables-save\n").expect("a comment alone reads");
        assert!(ruleset.chains.is_empty());
    }

    #[test]
    fn the_other_familys_output_is_refused_at_its_first_address() {
        let text = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\n-A INPUT -s fe80::/10 -j ACCEPT\nCOMMIT\n";
        let error = read_v4(text).expect_err("IPv6 addresses in iptables-save output");
        assert_eq!(error.line, Some(4));
        assert!(error.message.contains("ip6tables-save"), "{}", error.message);
    }

    #[test]
    fn ipset_output_that_is_not_is_refused() {
        assert_eq!(ipsets("add nowhere 10.0.0.1\n").expect_err("no create line").line, Some(1));
        assert_eq!(ipsets("*filter\n").expect_err("iptables-save output").line, Some(1));
    }
}
