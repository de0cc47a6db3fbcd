//! Input helpers shared by the developer tools: read a file or stdin (`-`), trimmed, with
//! a size cap so a stray binary file cannot exhaust memory.

use std::io::Read;
use std::path::Path;

use anyhow::Context;

/// Largest input a tool reads (credentials, tokens, JWK and claims files are far smaller).
const MAX_INPUT: u64 = 16 * 1024 * 1024;

/// Reads `path` (`None` or `-` = stdin) as UTF-8 text with surrounding whitespace removed.
pub(crate) fn read_text(path: Option<&Path>) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    match path {
        None => read_capped(std::io::stdin().lock(), &mut bytes).context("cannot read stdin")?,
        Some(p) if p == Path::new("-") => {
            read_capped(std::io::stdin().lock(), &mut bytes).context("cannot read stdin")?
        }
        Some(p) => {
            let file =
                std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
            read_capped(file, &mut bytes).with_context(|| format!("cannot read {}", p.display()))?
        }
    }
    let text = String::from_utf8(bytes).context("input is not UTF-8 text")?;
    Ok(text.trim().to_owned())
}

fn read_capped(reader: impl Read, out: &mut Vec<u8>) -> anyhow::Result<()> {
    let n = reader.take(MAX_INPUT + 1).read_to_end(out)?;
    if n as u64 > MAX_INPUT {
        anyhow::bail!("input is larger than {MAX_INPUT} bytes");
    }
    Ok(())
}
