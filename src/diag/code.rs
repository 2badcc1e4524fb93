//! The stable diagnostic codes: one per problem, numbered by stage, never renumbered or reused.

use super::Severity;

/// Never renumber; never reuse a retired code.
/// 00xx syntax, 01xx names and modules, 02xx checks and build configuration, 03xx targets,
/// 04xx `portc verify`.
/// The letter is the severity: `E` error, `W` warning, `N` note.
/// Each variant's doc is a minimal input that triggers it; `docs/diagnostics.md` lists them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    /// `role etcd "etcd nodes` (a statement the grammar does not accept).
    Syntax,
    /// A file whose bytes are not UTF-8.
    InvalidUtf8,
    /// A file with a NUL byte (usually a binary file passed by mistake).
    NulByte,
    /// `a -> b : ipip when ((((...))))` nested deeper than the parser allows.
    NestingTooDeep,
    /// `role r "tab\q"` (an unknown escape).
    BadEscape,
    /// `external e = 10.0.0.300`.
    BadAddress,
    /// `a -> b : tcp 65536`.
    PortOutOfRange,
    /// `a -> b : tcp 2380-2379`.
    ReversedRange,
    /// `a -> b : tcp`.
    PortRequired,
    /// `a -> b : icmp 22`.
    PortNotAllowed,
    /// `a -> b : tpc 22`.
    UnknownProtocol,
    /// `a -> b : tcp/icmp 22`.
    MixedProtocols,
    /// `a -> b : tcp 22 "ssh" "secure shell"` (one modifier given twice).
    DuplicateModifier,
    /// `option cni = canal | canal`.
    DuplicateChoice,
    /// `self -> a : tcp 22` (`self` only stands alone on the right of `->`).
    MisplacedSelf,
    /// `role a` then `module m` (headers come first, once).
    MisplacedHeader,
    /// An empty file, or one of only comments.
    EmptyFile,
    /// `bind w = nodes { role: worker } in namespace "shop"` (nodes have no namespace).
    NodeNamespace,
    /// `bind api = pods { app: a, app: b }`.
    DuplicateLabel,
    /// `external admins = 10.9.0.77/16` (an address with host bits under its prefix).
    HostBits,

    /// `etcd -> controlpane : tcp 2379` where `controlpane` is undeclared.
    UnknownRole,
    /// `a -> b : tcp 1 when extrnal_lb` where no such flag or option exists.
    UnknownCondition,
    /// `a -> b : etcd_clinet` where no such service exists.
    UnknownService,
    /// `a -> b : tcp api_prot` where no such param exists.
    UnknownParam,
    /// `a -> b : tcp 1 [7]` where this module has no `note 7`.
    UndefinedNote,
    /// `use rancher.downstrem.custom`.
    UnknownModule,
    /// `use "./missing.ports"`.
    FileNotFound,
    /// `use "./notes.txt"` or `use "./dir"`.
    NotPortsFile,
    /// `use "./self.ports"` inside `self.ports`, or two files that use each other.
    UseCycle,
    /// `role etcd` twice in one module.
    DuplicateDeclaration,
    /// `a -> cni : tcp 1` where `cni` is an option, not a role.
    WrongKind,
    /// `worker` used where two `use`d modules each declare a different `worker`.
    AmbiguousName,
    /// `group a = b` and `group b = a`.
    GroupCycle,
    /// `when cni == cannal` where `cannal` is not a choice of `cni`.
    UnknownChoice,
    /// `set external_lb = canal` where `external_lb` is a flag.
    SetMismatch,
    /// `set cni = canal` twice.
    DuplicateSet,
    /// `bind etcd = 10.0.0.1` twice.
    DuplicateBind,
    /// `option cni = canal | calico = weave`.
    BadDefault,
    /// `k8s.worker` where no `use ... as k8s` exists.
    UnknownQualifier,
    /// A `use`d file that exists but cannot be read.
    UnreadableFile,
    /// `set nothing = true` where `nothing` is not a flag, option or param.
    UnknownSetting,
    /// `bind controlplane = 10.0.0.1` where `controlplane` is a group.
    BadBindTarget,

    /// `a -> b : tcp hosted_port` where `param hosted_port` has no default and no `--param`.
    ParamUnset,
    /// `internet -> nodes : udp 8472` while `never internet -> nodes : udp 8472` holds.
    NeverViolated,
    /// `a -> b : udp 8472 "Canal VXLAN"` and `a -> b : udp 8472 "Cilium VXLAN"` under one configuration.
    PortClaimedTwice,
    /// `a -> b : tcp 80` written twice.
    DuplicateFlow,
    /// `a -> b : tcp 80 when x` next to `a -> b : tcp 1-1024`.
    ShadowedFlow,
    /// `a -> b : tcp 80 when x && !x`.
    DeadFlow,
    /// `role r` with `a -> r` flows only under conditions that never hold.
    UnreachableRole,
    /// `role r` that no flow mentions.
    IsolatedRole,
    /// `note 6 "..."` that no flow references.
    UnusedNote,
    /// `a -> b : tcp 1 when x || !x` (the condition can be dropped).
    AlwaysTrue,
    /// `use kubernetes` with `bind worker = 10.0.1.0/24` and no overlay or BGP flow between nodes.
    NoPodNetwork,
    /// `bind db = 10.0.1.0/24` and `app -> db : tcp 5432` where `app` is never bound.
    UnboundEndpoint,
    /// `bind a = 10.0.0.1`, `bind b = fd00::1` and `a -> b : tcp 22`; or `icmpv6` from an IPv4-only peer.
    FamilyMismatch,
    /// `check --no-path internet:db` with `internet -> web : tcp 443` and `web -> db : tcp 5432`.
    ReachableThroughRoles,

    /// `build --target nftables --role etcd` where a flow to etcd comes from an unbound role.
    PeerWithoutAddresses,
    /// `build --target nftables` where a flow depends on a flag with no default and no `set`.
    UndecidedCondition,
    /// `build --target nftables --role db` where no flow lets anyone reach db over SSH.
    Lockout,
    /// `build --target nftables --egress` where no flow lets the host reach DNS.
    EgressWithoutDns,
    /// `build --target networkpolicy` where a flow to a pod role is `icmp`.
    NotExpressible,
    /// `build --target networkpolicy --allow-lossy` where a flow to a pod role is `icmp`.
    LeftOut,
    /// `build --target calico` where a flow to a node role is `tcp 22` from a few addresses.
    FailsafeMoot,
    /// `build --target nftables --role worker` where the site uses `kubernetes.cluster` and never
    /// binds `pod_cidr`.
    ClusterNetworkUnbound,
    /// `build --target networkpolicy` where a pod role receives a flow from a host role bound
    /// to addresses.
    NodeIpBlock,
    /// `build --target firewalld --role worker --allow-lossy` where the site binds `pod_cidr` and
    /// pods reach the worker (a Kubernetes node, whose NodePorts kube-proxy DNATs before firewalld
    /// sees them); without `--allow-lossy` it is `NodePortsUnenforceable`.
    DnatBypassesFirewalld,
    /// `build --target firewalld --role db --allow-lossy` where `bind db = fd00::5` (firewalld
    /// cannot name the ICMPv6 types IPv6 needs, so it accepts all of ICMPv6); without
    /// `--allow-lossy` it is `Icmpv6Unenforceable`.
    IcmpWidened,
    /// `build --target firewalld --role worker` where the site binds `pod_cidr` and pods reach
    /// the worker: firewalld cannot keep the NodePorts to their declared sources.
    NodePortsUnenforceable,
    /// `build --target firewalld --role db` where `bind db = fd00::5`: firewalld cannot keep
    /// ICMPv6 to the RFC 4890 baseline and the declared flows.
    Icmpv6Unenforceable,
    /// `build --target aws` where a role receives flows from 61 prefixes.
    SecurityGroupRuleQuota,
    /// `build --target aws` on a program whose template has more than 500 resources.
    TemplateTooLarge,
    /// `build --target cilium` where a role is bound to `nodes { "kubernetes.io/os": "linux" }`.
    CiliumIgnoredLabel,
    /// `build --target cilium` where a flow to a node role comes from an external that covers
    /// the addresses of another node role.
    CidrCoversCluster,

    /// `verify --iptables FILE` where FILE is `nft list ruleset` output, not `iptables-save`'s.
    UnreadableRuleset,
}

impl Code {
    pub const ALL: &'static [Code] = &[
        Code::Syntax,
        Code::InvalidUtf8,
        Code::NulByte,
        Code::NestingTooDeep,
        Code::BadEscape,
        Code::BadAddress,
        Code::PortOutOfRange,
        Code::ReversedRange,
        Code::PortRequired,
        Code::PortNotAllowed,
        Code::UnknownProtocol,
        Code::MixedProtocols,
        Code::DuplicateModifier,
        Code::DuplicateChoice,
        Code::MisplacedSelf,
        Code::MisplacedHeader,
        Code::EmptyFile,
        Code::NodeNamespace,
        Code::DuplicateLabel,
        Code::HostBits,
        Code::UnknownRole,
        Code::UnknownCondition,
        Code::UnknownService,
        Code::UnknownParam,
        Code::UndefinedNote,
        Code::UnknownModule,
        Code::FileNotFound,
        Code::NotPortsFile,
        Code::UseCycle,
        Code::DuplicateDeclaration,
        Code::WrongKind,
        Code::AmbiguousName,
        Code::GroupCycle,
        Code::UnknownChoice,
        Code::SetMismatch,
        Code::DuplicateSet,
        Code::DuplicateBind,
        Code::BadDefault,
        Code::UnknownQualifier,
        Code::UnreadableFile,
        Code::UnknownSetting,
        Code::BadBindTarget,
        Code::ParamUnset,
        Code::NeverViolated,
        Code::PortClaimedTwice,
        Code::DuplicateFlow,
        Code::ShadowedFlow,
        Code::DeadFlow,
        Code::UnreachableRole,
        Code::IsolatedRole,
        Code::UnusedNote,
        Code::AlwaysTrue,
        Code::NoPodNetwork,
        Code::UnboundEndpoint,
        Code::FamilyMismatch,
        Code::ReachableThroughRoles,
        Code::PeerWithoutAddresses,
        Code::UndecidedCondition,
        Code::Lockout,
        Code::EgressWithoutDns,
        Code::NotExpressible,
        Code::LeftOut,
        Code::FailsafeMoot,
        Code::ClusterNetworkUnbound,
        Code::NodeIpBlock,
        Code::DnatBypassesFirewalld,
        Code::IcmpWidened,
        Code::NodePortsUnenforceable,
        Code::Icmpv6Unenforceable,
        Code::SecurityGroupRuleQuota,
        Code::TemplateTooLarge,
        Code::CiliumIgnoredLabel,
        Code::CidrCoversCluster,
        Code::UnreadableRuleset,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "E0001",
            Code::InvalidUtf8 => "E0002",
            Code::NulByte => "E0003",
            Code::NestingTooDeep => "E0004",
            Code::BadEscape => "E0005",
            Code::BadAddress => "E0006",
            Code::PortOutOfRange => "E0007",
            Code::ReversedRange => "E0008",
            Code::PortRequired => "E0009",
            Code::PortNotAllowed => "E0010",
            Code::UnknownProtocol => "E0011",
            Code::MixedProtocols => "E0012",
            Code::DuplicateModifier => "E0013",
            Code::DuplicateChoice => "E0014",
            Code::MisplacedSelf => "E0015",
            Code::MisplacedHeader => "E0016",
            Code::EmptyFile => "E0017",
            Code::NodeNamespace => "E0018",
            Code::DuplicateLabel => "E0019",
            Code::HostBits => "E0020",
            Code::UnknownRole => "E0101",
            Code::UnknownCondition => "E0102",
            Code::UnknownService => "E0103",
            Code::UnknownParam => "E0104",
            Code::UndefinedNote => "E0105",
            Code::UnknownModule => "E0106",
            Code::FileNotFound => "E0107",
            Code::NotPortsFile => "E0108",
            Code::UseCycle => "E0109",
            Code::DuplicateDeclaration => "E0110",
            Code::WrongKind => "E0111",
            Code::AmbiguousName => "E0112",
            Code::GroupCycle => "E0113",
            Code::UnknownChoice => "E0114",
            Code::SetMismatch => "E0115",
            Code::DuplicateSet => "E0116",
            Code::DuplicateBind => "E0117",
            Code::BadDefault => "E0118",
            Code::UnknownQualifier => "E0119",
            Code::UnreadableFile => "E0120",
            Code::UnknownSetting => "E0121",
            Code::BadBindTarget => "E0122",
            Code::ParamUnset => "E0201",
            Code::NeverViolated => "E0202",
            Code::PortClaimedTwice => "W0201",
            Code::DuplicateFlow => "W0202",
            Code::ShadowedFlow => "W0203",
            Code::DeadFlow => "W0204",
            Code::UnreachableRole => "W0205",
            Code::IsolatedRole => "W0206",
            Code::UnusedNote => "W0207",
            Code::AlwaysTrue => "N0201",
            Code::NoPodNetwork => "W0208",
            Code::UnboundEndpoint => "W0209",
            Code::FamilyMismatch => "W0210",
            Code::ReachableThroughRoles => "E0203",
            Code::PeerWithoutAddresses => "E0301",
            Code::UndecidedCondition => "E0302",
            Code::Lockout => "W0301",
            Code::EgressWithoutDns => "W0302",
            Code::NotExpressible => "E0303",
            Code::LeftOut => "W0303",
            Code::FailsafeMoot => "W0304",
            Code::ClusterNetworkUnbound => "W0305",
            Code::NodeIpBlock => "W0306",
            Code::DnatBypassesFirewalld => "W0307",
            Code::IcmpWidened => "W0308",
            Code::NodePortsUnenforceable => "E0304",
            Code::Icmpv6Unenforceable => "E0305",
            Code::SecurityGroupRuleQuota => "W0320",
            Code::TemplateTooLarge => "W0321",
            Code::CiliumIgnoredLabel => "E0320",
            Code::CidrCoversCluster => "W0322",
            Code::UnreadableRuleset => "E0401",
        }
    }

    /// Every code's severity is fixed, so the same problem is never an error in one place and a warning in another.
    pub fn severity(self) -> Severity {
        match self.as_str().as_bytes().first() {
            Some(b'W') => Severity::Warning,
            Some(b'N') => Severity::Note,
            _ => Severity::Error,
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
