//! `doormat serve DESIGN`: a built-in design served over the exec protocol
//! on standard input and output (the server is `doormat_exec::serve`).

use crate::{Failure, EXIT_OK};
use anyhow::Context;

/// Serves the built-in design `design` until standard input ends.
pub fn run(design: &str) -> Result<u8, Failure> {
    let Some(design) = doormat_designs::builtin(design) else {
        return Err(Failure::Usage(format!(
            "unknown design `{design}`: expected one of {}",
            doormat_designs::names().join(", ")
        )));
    };
    let output = std::io::BufWriter::new(std::io::stdout().lock());
    doormat_exec::serve(design, std::io::stdin().lock(), output).context("serving over standard input and output")?;
    Ok(EXIT_OK)
}
