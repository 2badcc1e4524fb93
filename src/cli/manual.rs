//! `portc completions` and `portc man`: shell completion scripts and manual pages, made from the
//! clap definition of the command line, so that they never drift from its options.

use clap_complete::Shell;

/// The completion script for `shell`.
pub fn completions(shell: Shell, mut command: clap::Command) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "portc", &mut script);
    script
}

/// Every manual page: `portc.1`, then one per subcommand (`portc-fmt.1`, `portc-stdlib-list.1`),
/// each as its file name and its roff text.
pub fn pages(command: clap::Command) -> Result<Vec<(String, String)>, String> {
    let mut command = command.disable_help_subcommand(true);
    // Building names each subcommand after its parents (`portc-stdlib-list`), as the pages are.
    command.build();
    let mut pages = Vec::new();
    let mut pending = vec![command];
    while let Some(command) = pending.pop() {
        pending.extend(command.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
        let man = clap_mangen::Man::new(command).manual("portc manual");
        let mut roff = Vec::new();
        man.render(&mut roff).map_err(|e| format!("cannot render the manual page: {e}"))?;
        let roff = String::from_utf8(roff).map_err(|e| format!("the manual page is not UTF-8: {e}"))?;
        pages.push((man.get_filename(), roff));
    }
    pages.sort();
    Ok(pages)
}
