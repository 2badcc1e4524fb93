//! Calico's own acceptance rules for a `GlobalNetworkPolicy`, applied to a document as written
//! (YAML read back as data, not portc's structs), so that a document Calico would refuse fails
//! the tests. Each rule names the function of libcalico-go it mirrors:
//! `libcalico-go/lib/validator/v3/validator.go` (projectcalico/calico, Apache-2.0) for the
//! resource and its rules, `libcalico-go/lib/selector/tokenizer/tokenizer.go` and
//! `libcalico-go/lib/selector/parser/parser.go` for selectors. Only what a GlobalNetworkPolicy
//! can carry is checked.

use serde_json::Value;

/// The problems Calico's validator would report for one GlobalNetworkPolicy.
pub fn problems(policy: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let name = policy["metadata"]["name"].as_str().unwrap_or_default();
    global_network_policy_name(name, &mut out);
    for (field, map) in [("labels", &policy["metadata"]["labels"]), ("annotations", &policy["metadata"]["annotations"])]
    {
        object_meta(field, map, &mut out);
    }
    let spec = &policy["spec"];
    global_network_policy_spec(spec, &mut out);
    for direction in ["ingress", "egress"] {
        for (i, rule) in spec[direction].as_array().into_iter().flatten().enumerate() {
            let before = out.len();
            self::rule(rule, &mut out);
            for problem in out.iter_mut().skip(before) {
                *problem = format!("{direction}[{i}]: {problem}");
            }
        }
    }
    out
}

/// `validateGlobalNetworkPolicy`: the name is at most 253 bytes and matches
/// `globalNetworkPolicyNameRegex`, a DNS-1123 label with at most one dot.
fn global_network_policy_name(name: &str, out: &mut Vec<String>) {
    if name.len() > 253 {
        out.push(format!("validateGlobalNetworkPolicy: name is too long: {name}"));
    }
    let mut parts = name.split('.');
    let ok = match (parts.next(), parts.next(), parts.next()) {
        (Some(a), None, _) => dns_label(a),
        (Some(a), Some(b), None) => dns_label(a) && dns_label(b),
        _ => false,
    };
    if !ok {
        out.push(format!("validateGlobalNetworkPolicy: name `{name}` does not match globalNetworkPolicyNameRegex"));
    }
}

/// `nameLabelFmt`: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
fn dns_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    let inner = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.first().is_some_and(inner)
        && bytes.last().is_some_and(inner)
        && bytes.iter().all(|b| inner(b) || *b == b'-')
}

/// `validateObjectMetaLabels` and `validateObjectMetaAnnotations`: keys are qualified names
/// (`k8svalidation.IsQualifiedName`), label values valid label values, annotations under 256 kB.
fn object_meta(field: &str, map: &Value, out: &mut Vec<String>) {
    let Some(map) = map.as_object() else { return };
    let mut size = 0;
    for (key, value) in map {
        let value = value.as_str().unwrap_or_default();
        size += key.len() + value.len();
        let key_checked = if field == "annotations" { key.to_ascii_lowercase() } else { key.clone() };
        if !qualified_name(&key_checked) {
            out.push(format!("validateObjectMeta: {field} key `{key}` is not a qualified name"));
        }
        if field == "labels" && !label_value(value) {
            out.push(format!("validateObjectMetaLabels: label value `{value}` is not valid"));
        }
    }
    if field == "annotations" && size > 256 * 1024 {
        out.push("validateObjectMetaAnnotations: total size of annotations is too large".into());
    }
}

/// `IsQualifiedName`: an optional DNS subdomain prefix and `/`, then a name of at most 63
/// characters of alphanumerics, `-`, `_` and `.`, starting and ending alphanumeric.
fn qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| p.len() <= 253 && p.split('.').all(dns_label));
    prefix_ok && label_value(name) && !name.is_empty()
}

/// `IsValidLabelValue`: empty, or at most 63 alphanumerics, `-`, `_`, `.`, alphanumeric at both ends.
fn label_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    let alnum = |b: &u8| b.is_ascii_alphanumeric();
    value.is_empty()
        || (bytes.len() <= 63
            && bytes.first().is_some_and(alnum)
            && bytes.last().is_some_and(alnum)
            && bytes.iter().all(|b| alnum(b) || matches!(b, b'-' | b'_' | b'.')))
}

/// `validateGlobalNetworkPolicySpec`, with the field validators of its fields.
fn global_network_policy_spec(spec: &Value, out: &mut Vec<String>) {
    let pre_dnat = spec["preDNAT"].as_bool().unwrap_or(false);
    let apply_on_forward = spec["applyOnForward"].as_bool().unwrap_or(false);
    let types: Vec<&str> = spec["types"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if pre_dnat && spec["egress"].as_array().is_some_and(|e| !e.is_empty()) {
        out.push("validateGlobalNetworkPolicySpec: PreDNAT PolicySpec cannot have any Egress rules".into());
    }
    if pre_dnat && types.contains(&"Egress") {
        out.push("validateGlobalNetworkPolicySpec: PreDNAT PolicySpec cannot have 'egress' Type".into());
    }
    if pre_dnat && !apply_on_forward {
        out.push("validateGlobalNetworkPolicySpec: ApplyOnForward must be true if PreDNAT is true".into());
    }
    for (i, t) in types.iter().enumerate() {
        if !matches!(*t, "Ingress" | "Egress") {
            out.push(format!("validatePolicyType: `{t}` is not Ingress or Egress"));
        }
        if types.get(..i).is_some_and(|before| before.contains(t)) {
            out.push(format!("validateGlobalNetworkPolicySpec: '{t}' type specified more than once"));
        }
    }
    if !spec["order"].is_null() && !spec["order"].is_number() {
        out.push("GlobalNetworkPolicySpec.Order: the order is a number".into());
    }
    match spec["selector"].as_str() {
        Some(selector) if selector.contains("global()") => out.push(
            "validateGlobalNetworkPolicySpec: global() can only be used in an EntityRule namespaceSelector".into(),
        ),
        Some(selector) => {
            if let Err(e) = validate_selector(selector) {
                out.push(format!("validateSelector: `{selector}`: {e}"));
            }
        }
        None => {}
    }
}

/// `validateRule`, `validateEntityRule`, `validateAction`, `validateProtocol`, `validatePort`,
/// `validateIPVersion`, and the `net` field validator of `nets`.
fn rule(rule: &Value, out: &mut Vec<String>) {
    let action = rule["action"].as_str().unwrap_or_default();
    if !matches!(action, "Allow" | "Deny" | "Log" | "Pass") {
        out.push(format!("validateAction: `{action}` is not Allow, Deny, Log or Pass"));
    }
    let protocol = Protocol::read(&rule["protocol"], out);
    let ip_version = rule["ipVersion"].as_u64();
    if let Some(version) = ip_version
        && version != 4
        && version != 6
    {
        out.push(format!("validateIPVersion: {version} is not 4 or 6"));
    }
    let supports_ports = protocol.as_ref().is_some_and(Protocol::supports_ports);
    for side in ["source", "destination"] {
        for field in ["ports", "notPorts"] {
            let ports = rule[side][field].as_array().cloned().unwrap_or_default();
            if !ports.is_empty() && !supports_ports {
                out.push(format!(
                    "validateRule: {side}.{field}: rules that specify ports must set protocol to TCP or UDP or SCTP"
                ));
            }
            for port in &ports {
                self::port(port, out);
            }
        }
        entity_rule(side, &rule[side], out);
    }
    if !rule["icmp"].is_null() && !protocol.as_ref().is_some_and(Protocol::is_icmp) {
        out.push("validateRule: rules that specify ICMP fields must set protocol to ICMP".into());
    }
    match (protocol.as_ref().map(Protocol::icmp_version), ip_version) {
        (Some(Some(4)), Some(v)) if v != 4 => {
            out.push("validateRule: must set ipversion to '4' with protocol icmp".into())
        }
        (Some(Some(6)), Some(v)) if v != 6 => {
            out.push("validateRule: must set ipversion to '6' with protocol icmpv6".into())
        }
        _ => {}
    }
    nets(rule, ip_version, out);
}

/// The part of `validateRule` that scans `nets` and `notNets`: every entry a strictly masked
/// network (the `net` field validator), the rule's `ipVersion` matching, and no rule holding both
/// IPv4 and IPv6 networks.
fn nets(rule: &Value, ip_version: Option<u64>, out: &mut Vec<String>) {
    let (mut seen_v4, mut seen_v6) = (false, false);
    for side in ["source", "destination"] {
        for field in ["nets", "notNets"] {
            let (mut v4, mut v6) = (false, false);
            for net in rule[side][field].as_array().into_iter().flatten() {
                let text = net.as_str().unwrap_or_default();
                match text.parse::<ipnet::IpNet>().or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                {
                    Ok(parsed) => {
                        if parsed.trunc() != parsed {
                            out.push(format!("net: `{text}` is not strictly masked"));
                        }
                        v4 |= matches!(parsed, ipnet::IpNet::V4(_));
                        v6 |= matches!(parsed, ipnet::IpNet::V6(_));
                    }
                    Err(_) => out.push(format!("validateRule: {side}.{field}: invalid CIDR `{text}`")),
                }
            }
            if ip_version.is_some_and(|v| (v4 && v != 4) || (v6 && v != 6)) {
                out.push(format!("validateRule: {side}.{field}: rule IP version doesn't match CIDR version"));
            }
            if (v4 && seen_v6) || (v6 && seen_v4) || (v4 && v6) {
                out.push(format!("validateRule: {side}.{field}: rule contains both IPv4 and IPv6 CIDRs"));
            }
            seen_v4 |= v4;
            seen_v6 |= v6;
        }
    }
}

/// `validateEntityRule` and the `selector` field validator of its selectors.
fn entity_rule(side: &str, entity: &Value, out: &mut Vec<String>) {
    for field in ["selector", "notSelector", "namespaceSelector"] {
        let Some(selector) = entity[field].as_str() else { continue };
        if field != "namespaceSelector" && selector.contains("global()") {
            out.push(format!("validateEntityRule: {side}.{field}: global() can only be used in a namespaceSelector"));
        }
        if let Err(e) = validate_selector(selector) {
            out.push(format!("validateSelector: {side}.{field} `{selector}`: {e}"));
        }
    }
}

/// `validatePort`: a number or `min:max`, 1-65535, min not above max.
fn port(port: &Value, out: &mut Vec<String>) {
    let range = match port {
        Value::Number(n) => n.as_u64().map(|n| (n, n)),
        Value::String(s) => s.split_once(':').and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?))),
        _ => None,
    };
    match range {
        Some((min, max)) if (1..=65535).contains(&min) && (1..=65535).contains(&max) && min <= max => {}
        _ => out.push(format!("validatePort: port range invalid: {port}")),
    }
}

/// A rule's protocol: a name of `protocolRegex` or a number 1-255 (`validateProtocol`).
enum Protocol {
    Name(String),
    Number(u64),
}

impl Protocol {
    fn read(value: &Value, out: &mut Vec<String>) -> Option<Protocol> {
        match value {
            Value::Null => None,
            Value::Number(n) => match n.as_u64() {
                Some(n) if (1..=255).contains(&n) => Some(Protocol::Number(n)),
                _ => {
                    out.push(format!("validateProtocol: protocol number invalid: {n}"));
                    None
                }
            },
            Value::String(s) if matches!(s.as_str(), "TCP" | "UDP" | "ICMP" | "ICMPv6" | "SCTP" | "UDPLite") => {
                Some(Protocol::Name(s.clone()))
            }
            other => {
                out.push(format!("validateProtocol: protocol name invalid: {other}"));
                None
            }
        }
    }

    /// `numorstring.Protocol.SupportsPorts`: TCP, UDP, SCTP, UDPLite, by name or number.
    fn supports_ports(&self) -> bool {
        match self {
            Protocol::Name(n) => matches!(n.as_str(), "TCP" | "UDP" | "SCTP" | "UDPLite"),
            Protocol::Number(n) => matches!(n, 6 | 17 | 132 | 136),
        }
    }

    fn is_icmp(&self) -> bool {
        self.icmp_version().is_some()
    }

    fn icmp_version(&self) -> Option<u64> {
        match self {
            Protocol::Name(n) if n == "ICMP" => Some(4),
            Protocol::Name(n) if n == "ICMPv6" => Some(6),
            _ => None,
        }
    }
}

/// Calico's selector grammar (`parser.Validate` over `tokenizer.AppendTokens`): `||` of `&&` of
/// possibly negated operations, each `has(label)`, `all()`, `global()`, `label OP 'value'`,
/// `label in {...}` / `not in {...}`, or a parenthesised expression. An empty selector is valid.
pub fn validate_selector(selector: &str) -> Result<(), String> {
    let tokens = tokenize(selector)?;
    if tokens.first() == Some(&Token::Eof) {
        return Ok(());
    }
    let rest = or_expression(&tokens)?;
    if rest.len() != 1 {
        return Err(format!("unexpected content at end of selector {:?}", rest));
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Label(String),
    String(String),
    LBrace,
    RBrace,
    Comma,
    Eq,
    Ne,
    In,
    Not,
    NotIn,
    Contains,
    StartsWith,
    EndsWith,
    All,
    Has(String),
    LParen,
    RParen,
    And,
    Or,
    Global,
    Eof,
}

/// `tokenizer.AppendTokens`, including its treatment of identifiers (`[a-zA-Z0-9_./-]`).
fn tokenize(input: &str) -> Result<Vec<Token>, String> {
    let identifier = |s: &str| -> String {
        s.chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-')).collect()
    };
    let mut tokens = Vec::new();
    let mut rest = input;
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        let Some(first) = rest.chars().next() else {
            tokens.push(Token::Eof);
            return Ok(tokens);
        };
        let after_label = matches!(tokens.last(), Some(Token::Label(_)));
        let (token, len) = match first {
            '(' => (Token::LParen, 1),
            ')' => (Token::RParen, 1),
            '{' => (Token::LBrace, 1),
            '}' => (Token::RBrace, 1),
            ',' => (Token::Comma, 1),
            '"' | '\'' => {
                let body = &rest[1..];
                let end = body.find(first).ok_or("unterminated string")?;
                (Token::String(body[..end].to_string()), end + 2)
            }
            '=' if rest.starts_with("==") => (Token::Eq, 2),
            '=' => return Err("expected ==".into()),
            '!' if rest.starts_with("!=") => (Token::Ne, 2),
            '!' => (Token::Not, 1),
            '&' if rest.starts_with("&&") => (Token::And, 2),
            '&' => return Err("expected &&".into()),
            '|' if rest.starts_with("||") => (Token::Or, 2),
            '|' => return Err("expected ||".into()),
            _ if after_label => operator(rest)?,
            _ if rest.starts_with("has(") => {
                let inner = rest[4..].trim_start_matches([' ', '\t']);
                let label = identifier(inner);
                if label.is_empty() {
                    return Err("no label name in has( expression".into());
                }
                let close = inner[label.len()..].trim_start_matches([' ', '\t']);
                if !close.starts_with(')') {
                    return Err("no closing ')' after has(".into());
                }
                (Token::Has(label), rest.len() - close.len() + 1)
            }
            _ if rest.starts_with("all(") || rest.starts_with("global(") => {
                let open = if rest.starts_with("all(") { 4 } else { 7 };
                let close = rest[open..].trim_start_matches([' ', '\t']);
                if !close.starts_with(')') {
                    return Err("no closing ')'".into());
                }
                let token = if open == 4 { Token::All } else { Token::Global };
                (token, rest.len() - close.len() + 1)
            }
            _ => {
                let label = identifier(rest);
                if label.is_empty() {
                    return Err("unexpected characters".into());
                }
                let len = label.len();
                (Token::Label(label), len)
            }
        };
        tokens.push(token);
        rest = &rest[len..];
    }
}

/// The operators the tokenizer looks for after a label.
fn operator(rest: &str) -> Result<(Token, usize), String> {
    let after = |word: &str, then: &str, token: Token| -> Option<(Token, usize)> {
        let tail = rest.strip_prefix(word)?.trim_start_matches([' ', '\t']);
        let tail = tail.strip_prefix(then)?;
        Some((token, rest.len() - tail.len()))
    };
    if let Some(found) = rest.strip_prefix("contains").map(|t| (Token::Contains, rest.len() - t.len())) {
        return Ok(found);
    }
    after("starts", "with", Token::StartsWith)
        .or_else(|| after("ends", "with", Token::EndsWith))
        .or_else(|| after("not", "in", Token::NotIn))
        .or_else(|| rest.strip_prefix("in").map(|t| (Token::In, rest.len() - t.len())))
        .ok_or_else(|| "unexpected characters after label, was expecting an operator".to_string())
}

fn or_expression(tokens: &[Token]) -> Result<&[Token], String> {
    let mut rest = and_expression(tokens)?;
    while rest.first() == Some(&Token::Or) {
        rest = and_expression(&rest[1..])?;
    }
    Ok(rest)
}

fn and_expression(tokens: &[Token]) -> Result<&[Token], String> {
    let mut rest = operation(tokens)?;
    while rest.first() == Some(&Token::And) {
        rest = operation(&rest[1..])?;
    }
    Ok(rest)
}

fn operation(mut tokens: &[Token]) -> Result<&[Token], String> {
    while tokens.first() == Some(&Token::Not) {
        tokens = &tokens[1..];
    }
    match tokens.first() {
        Some(Token::Has(_) | Token::All | Token::Global) => Ok(&tokens[1..]),
        Some(Token::Label(_)) => match (tokens.get(1), tokens.get(2)) {
            (
                Some(Token::Eq | Token::Ne | Token::Contains | Token::StartsWith | Token::EndsWith),
                Some(Token::String(_)),
            ) => Ok(&tokens[3..]),
            (Some(Token::In | Token::NotIn), Some(Token::LBrace)) => {
                let mut rest = &tokens[3..];
                while let Some(Token::String(_)) = rest.first() {
                    rest = &rest[1..];
                    if rest.first() == Some(&Token::Comma) {
                        rest = &rest[1..];
                    } else {
                        break;
                    }
                }
                if rest.first() != Some(&Token::RBrace) {
                    return Err("expected }".into());
                }
                Ok(&rest[1..])
            }
            (Some(Token::Eq | Token::Ne | Token::Contains | Token::StartsWith | Token::EndsWith), _) => {
                Err("expected string".into())
            }
            _ => Err("expected == or !=".into()),
        },
        Some(Token::LParen) => {
            let rest = or_expression(&tokens[1..])?;
            if rest.first() != Some(&Token::RParen) {
                return Err("expected )".into());
            }
            Ok(&rest[1..])
        }
        other => Err(format!("unexpected token: {other:?}")),
    }
}
