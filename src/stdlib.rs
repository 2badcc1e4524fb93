//! The standard library: the vendor documents as `.ports` modules, embedded at build time.

mod files {
    include!(concat!(env!("OUT_DIR"), "/stdlib_files.rs"));
}

/// The module that names a Kubernetes cluster's networks, `pod_cidr` and `service_cidr`; the
/// checks and the host targets recognise those two declarations of it.
pub const CLUSTER_MODULE: &str = "kubernetes.cluster";

/// One embedded module.
#[derive(Clone, Copy, Debug)]
pub struct StdModule {
    /// The dotted name used in `use`, `rancher.downstream.custom`.
    pub name: &'static str,
    /// Its file under stdlib/, `rancher/downstream/custom.ports`.
    pub relative: &'static str,
    pub text: &'static str,
}

/// Every module, sorted by name.
pub fn modules() -> impl Iterator<Item = StdModule> {
    files::FILES.iter().map(|&(name, relative, text)| StdModule { name, relative, text })
}

pub fn get(name: &str) -> Option<StdModule> {
    modules().find(|m| m.name == name)
}

impl StdModule {
    /// The name its file is shown by, `<stdlib>/rancher/downstream/custom.ports`,
    /// which never depends on where portc was built.
    pub fn display_path(self) -> String {
        format!("<stdlib>/{}", self.relative)
    }
}

/// The module's title and source, from its `module name "title"` and `source "..."` headers.
pub fn headers(module: StdModule) -> (Option<String>, Option<String>) {
    let (file, _) = crate::syntax::parse(crate::span::FileId(0), module.text);
    let mut title = None;
    let mut source = None;
    for item in file.items {
        match item {
            crate::ast::Item::Module(m) => title = m.description.map(|d| d.value),
            crate::ast::Item::Source(s) => source = Some(s.value),
            _ => {}
        }
    }
    (title, source)
}
