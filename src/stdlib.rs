//! The standard library: the vendor documents as `.ports` modules, embedded at build time.

mod files {
    include!(concat!(env!("OUT_DIR"), "/stdlib_files.rs"));
}

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

/// The module's title, from its `module name "title"` header.
pub fn title(module: StdModule) -> Option<String> {
    let (file, _) = crate::syntax::parse(crate::span::FileId(0), module.text);
    file.items.into_iter().find_map(|item| match item {
        crate::ast::Item::Module(m) => m.description.map(|d| d.value),
        _ => None,
    })
}
