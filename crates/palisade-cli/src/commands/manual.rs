//! `palisade completions SHELL` and `palisade man DIR`: generated from the same clap
//! definitions as the parser, so they cannot drift from it.

use std::path::Path;
use std::process::ExitCode;

/// Writes the completion script for `shell` to standard output.
pub(crate) fn completions(
    command: &mut clap::Command,
    shell: clap_complete::Shell,
) -> Result<ExitCode, String> {
    // Generated into memory first: clap_complete panics on a write error (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, command, "palisade", &mut script);
    std::io::Write::write_all(&mut std::io::stdout(), &script)
        .map_err(|e| format!("writing the completion script: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `palisade.1` and a page per subcommand (`palisade-serve.1`, …) into `dir`.
pub(crate) fn man_pages(command: clap::Command, dir: &Path) -> Result<ExitCode, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    clap_mangen::generate_to(command, dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    println!("man pages written to {}", dir.display());
    Ok(ExitCode::SUCCESS)
}
