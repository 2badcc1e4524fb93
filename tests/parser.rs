//! The parser on every construct of the language: what each statement becomes in the AST.

use portc::ast::*;
use portc::span::FileId;

/// Parses `text`, asserting it has no diagnostics, and returns its items.
fn items(text: &str) -> Vec<Item> {
    let (file, diagnostics) = portc::syntax::parse(FileId(0), text);
    let messages: Vec<String> = diagnostics.iter().map(|d| format!("{} {}", d.code, d.message)).collect();
    assert!(messages.is_empty(), "{text:?}: {messages:?}");
    file.items
}

fn one(text: &str) -> Item {
    let mut items = items(text);
    assert_eq!(items.len(), 1, "{text:?}");
    items.remove(0)
}

fn flow(text: &str) -> Flow {
    match one(text) {
        Item::Flow(f) => f,
        other => panic!("not a flow: {other:?}"),
    }
}

fn names(endpoints: &[Endpoint]) -> Vec<String> {
    endpoints
        .iter()
        .map(|e| match e {
            Endpoint::Name(p) => p.text(),
            Endpoint::SelfNode(_) => "self".into(),
        })
        .collect()
}

fn proto(spec: &Spec) -> (Vec<Protocol>, Vec<(u16, u16)>) {
    let SpecKind::Proto(p) = &spec.kind else { panic!("not a protocol spec: {spec:?}") };
    let ports = p
        .ports
        .iter()
        .map(|i| match i {
            PortItem::Single(p) => (p.value, p.value),
            PortItem::Range { start, end, .. } => (start.value, end.value),
            PortItem::Param(_) => (0, 0),
        })
        .collect();
    (p.protocols.iter().map(|(p, _)| *p).collect(), ports)
}

#[test]
fn headers_and_use() {
    let items =
        items("module rancher.server.rke \"RKE\"\nsource \"docs\"\nuse kubernetes\nuse \"./common.ports\" as common\n");
    let Item::Module(m) = &items[0] else { panic!() };
    assert_eq!(m.name.text(), "rancher.server.rke");
    assert_eq!(m.description.as_ref().map(|d| d.value.as_str()), Some("RKE"));
    let Item::Source(s) = &items[1] else { panic!() };
    assert_eq!(s.value, "docs");
    let Item::Use(u) = &items[2] else { panic!() };
    assert!(matches!(&u.target, UseTarget::Stdlib(p) if p.text() == "kubernetes"));
    assert!(u.alias.is_none());
    let Item::Use(u) = &items[3] else { panic!() };
    assert!(matches!(&u.target, UseTarget::File(t) if t.value == "./common.ports"));
    assert_eq!(u.alias.as_ref().map(|a| a.name.as_str()), Some("common"));
}

#[test]
fn flags_options_params_in_either_order() {
    let items = items(
        "flag a \"A\" = true\nflag b = false \"B\"\nflag c\noption cni = canal | calico \"CNI\" = calico\nparam p = 6443 \"P\"\nparam q \"Q\"\n",
    );
    let Item::Flag(a) = &items[0] else { panic!() };
    assert_eq!((a.default.map(|b| b.value), a.description.as_ref().map(|d| d.value.as_str())), (Some(true), Some("A")));
    let Item::Flag(b) = &items[1] else { panic!() };
    assert_eq!(b.default.map(|b| b.value), Some(false));
    let Item::Flag(c) = &items[2] else { panic!() };
    assert!(c.default.is_none() && c.description.is_none());
    let Item::Option(o) = &items[3] else { panic!() };
    assert_eq!(o.choices.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["canal", "calico"]);
    assert_eq!(o.default.as_ref().map(|d| d.name.as_str()), Some("calico"));
    let Item::Param(p) = &items[4] else { panic!() };
    assert_eq!(p.default.map(|p| p.value), Some(6443));
    let Item::Param(q) = &items[5] else { panic!() };
    assert!(q.default.is_none());
}

#[test]
fn roles_externals_groups_services_notes() {
    let items = items(
        "role etcd \"etcd nodes\"\nexternal internet = 0.0.0.0/0, ::/0 \"The Internet\"\nexternal lb\ngroup nodes = etcd | k8s.worker\nservice etcd_client = tcp 2379 \"etcd\"\nnote 3 \"no lb\" when !external_lb\nnote 4 \"local\" local\n",
    );
    let Item::External(e) = &items[1] else { panic!() };
    let nets: Vec<String> = e.addresses.iter().map(|a| a.net.to_string()).collect();
    assert_eq!(nets, ["0.0.0.0/0", "::/0"]);
    let Item::External(lb) = &items[2] else { panic!() };
    assert!(lb.addresses.is_empty());
    let Item::Group(g) = &items[3] else { panic!() };
    assert_eq!(g.members.iter().map(Path::text).collect::<Vec<_>>(), ["etcd", "k8s.worker"]);
    let Item::Service(s) = &items[4] else { panic!() };
    assert_eq!(s.spec.protocols[0].0, Protocol::Tcp);
    let Item::Note(n3) = &items[5] else { panic!() };
    assert_eq!(n3.label.label, "3");
    assert!(matches!(n3.when, Some(Expr::Not(..))));
    let Item::Note(n4) = &items[6] else { panic!() };
    assert!(n4.local.is_some() && n4.when.is_none());
}

#[test]
fn a_description_may_come_before_or_after_the_value_of_every_declaration() {
    let before = items(
        "external lb \"LB\" = 10.0.0.5\noption m \"M\" = a | b = b\ngroup g \"G\" = x | y\nservice s \"S\" = tcp 1\nparam p \"P\" = 2\nflag f \"F\" = true\n",
    );
    let after = items(
        "external lb = 10.0.0.5 \"LB\"\noption m = a | b \"M\" = b\ngroup g = x | y \"G\"\nservice s = tcp 1 \"S\"\nparam p = 2 \"P\"\nflag f = true \"F\"\n",
    );
    let description = |item: &Item| match item {
        Item::External(d) => d.description.clone(),
        Item::Option(d) => d.description.clone(),
        Item::Group(d) => d.description.clone(),
        Item::Service(d) => d.description.clone(),
        Item::Param(d) => d.description.clone(),
        Item::Flag(d) => d.description.clone(),
        _ => None,
    };
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(description(b).map(|t| t.value), description(a).map(|t| t.value));
        assert!(description(b).is_some());
    }
    let Item::External(lb) = &before[0] else { panic!() };
    assert_eq!(lb.addresses.len(), 1);
    let Item::Option(m) = &before[1] else { panic!() };
    assert_eq!(m.default.as_ref().map(|d| d.name.as_str()), Some("b"));
    // Both places at once is one description too many.
    let (_, diagnostics) = portc::syntax::parse(FileId(0), "external lb \"a\" = 10.0.0.5 \"b\"\n");
    assert_eq!(diagnostics.iter().map(|d| d.code.as_str()).collect::<Vec<_>>(), ["E0013"]);
}

#[test]
fn a_flow_keeps_whether_it_was_written_inline_or_as_a_block() {
    assert_eq!(flow("a -> b : tcp 1").body, FlowBody::Inline);
    let text = "a -> b [1] \"d\" # {\n  { tcp 1 }";
    let FlowBody::Block { open, close } = flow(text).body else { panic!("not a block") };
    assert_eq!((text.find("{ tcp").unwrap_or(0), text.len() - 1), (open.start as usize, close.start as usize));
    assert_eq!((open.end - open.start, close.end - close.start), (1, 1));
}

#[test]
fn inline_flow_with_several_specs() {
    let f = flow(
        "internet -> worker : tcp/udp 30000-32767 \"NodePort\", tcp 80, 443 \"Ingress\", etcd_client, ipip when x",
    );
    assert_eq!(names(&f.from), ["internet"]);
    assert_eq!(names(&f.to), ["worker"]);
    assert_eq!(f.specs.len(), 4);
    assert_eq!(proto(&f.specs[0]), (vec![Protocol::Tcp, Protocol::Udp], vec![(30000, 32767)]));
    assert_eq!(f.specs[0].modifiers.description.as_ref().map(|d| d.value.as_str()), Some("NodePort"));
    assert_eq!(proto(&f.specs[1]), (vec![Protocol::Tcp], vec![(80, 80), (443, 443)]));
    assert!(matches!(&f.specs[2].kind, SpecKind::Service(p) if p.text() == "etcd_client"));
    assert_eq!(proto(&f.specs[3]), (vec![Protocol::Ipip], vec![]));
    assert!(f.specs[3].modifiers.when.is_some());
}

#[test]
fn block_flow_with_modifiers_and_unions() {
    let f = flow(
        "etcd | controlplane -> nodes when ace [5] \"block\" {\n  tcp 2379-2380 \"etcd\"\n  udp 8472 [3, 4] local\n  svc, tcp api_port\n}",
    );
    assert_eq!(names(&f.from), ["etcd", "controlplane"]);
    assert!(f.modifiers.when.is_some());
    assert_eq!(f.modifiers.notes.iter().map(|n| n.label.as_str()).collect::<Vec<_>>(), ["5"]);
    assert_eq!(f.specs.len(), 4);
    assert_eq!(f.specs[1].modifiers.notes.len(), 2);
    assert!(f.specs[1].modifiers.local.is_some());
    let SpecKind::Proto(p) = &f.specs[3].kind else { panic!() };
    assert!(matches!(&p.ports[0], PortItem::Param(path) if path.text() == "api_port"));
}

#[test]
fn self_flows_and_never() {
    let f = flow("nodes -> self : tcp 10254 [4]");
    assert!(matches!(f.to.as_slice(), [Endpoint::SelfNode(_)]));
    let Item::Never(n) = one("never internet -> nodes : udp 8472 \"VXLAN\"") else { panic!() };
    assert_eq!(names(&n.to), ["nodes"]);
}

#[test]
fn conditions_fold_negations_and_flatten_operators() {
    let f = flow("a -> b : ipip when !!x && (cni == canal || cni != flannel) && !y && z");
    let Some(Expr::And(terms, _)) = &f.specs[0].modifiers.when else { panic!("{:?}", f.specs[0].modifiers.when) };
    assert_eq!(terms.len(), 4);
    assert!(matches!(&terms[0], Expr::Name(p) if p.text() == "x"), "`!!x` is `x`");
    let Expr::Paren(inner, _) = &terms[1] else { panic!() };
    let Expr::Or(alternatives, _) = inner.as_ref() else { panic!() };
    assert!(matches!(&alternatives[1], Expr::Compare { equal: false, .. }));
    assert!(matches!(&terms[2], Expr::Not(..)));
}

#[test]
fn set_and_bind() {
    let items = items(
        "set external_lb = true\nset cni = canal\nset api_port = 6443\nbind etcd = 10.0.1.0/24, fd00::1\nbind api = pods { app: api, \"tier\": \"web\" } in namespace \"shop\"\nbind worker = nodes { \"node-role.kubernetes.io/worker\": \"true\" }\n",
    );
    assert!(matches!(&items[0], Item::Set(SetStmt { value: SetValue::Bool(Bool { value: true, .. }), .. })));
    assert!(matches!(&items[1], Item::Set(SetStmt { value: SetValue::Name(p), .. }) if p.text() == "canal"));
    assert!(matches!(&items[2], Item::Set(SetStmt { value: SetValue::Port(Port { value: 6443, .. }), .. })));
    let Item::Bind(BindStmt { target: BindTarget::Addresses(addresses), .. }) = &items[3] else { panic!() };
    assert_eq!(addresses[1].net.to_string(), "fd00::1/128");
    let Item::Bind(BindStmt { target: BindTarget::Selector(pods), .. }) = &items[4] else { panic!() };
    assert_eq!(pods.kind, SelectorKind::Pods);
    assert_eq!(
        pods.labels.iter().map(|(k, v)| (k.value.as_str(), v.value.as_str())).collect::<Vec<_>>(),
        [("app", "api"), ("tier", "web")]
    );
    assert_eq!(pods.namespace.as_ref().map(|n| n.value.as_str()), Some("shop"));
    let Item::Bind(BindStmt { target: BindTarget::Selector(nodes), .. }) = &items[5] else { panic!() };
    assert_eq!(nodes.kind, SelectorKind::Nodes);
    assert!(nodes.namespace.is_none());
}

#[test]
fn strings_decode_escapes_and_keep_utf8() {
    let Item::Role(r) = one("role r \"端口 \\\"q\\\" \\\\ \\n\\t\\u{1F600}\"") else { panic!() };
    assert_eq!(r.description.map(|d| d.value), Some("端口 \"q\" \\ \n\t\u{1F600}".to_string()));
}

#[test]
fn comments_and_free_form_layout() {
    let items = items("# header\nrole a # trailing\n  role b\"B\" role c\na->b:tcp 1#x\n");
    assert_eq!(items.len(), 4);
}

#[test]
fn spans_point_at_the_source() {
    let text = "role etcd\netcd -> etcd : tcp 2379   # comment\n";
    let f = match &items(text)[1] {
        Item::Flow(f) => f.clone(),
        _ => panic!(),
    };
    let spec = &f.specs[0];
    assert_eq!(&text[spec.span.start as usize..spec.span.end as usize], "tcp 2379", "no trailing space or comment");
}

#[test]
fn the_product_brief_sketch_parses() {
    let sketch = include_str!("parser/brief.ports");
    let items = items(sketch);
    assert!(items.iter().filter(|i| matches!(i, Item::Flow(_))).count() >= 7);
}
