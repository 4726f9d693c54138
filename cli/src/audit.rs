//! `strongroom audit …`: the store's trail (`<store>.audit`): verify it with only the
//! audit key's public key, look events up, export them as JSON lines, rotate the
//! file, set the level.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::{Value, json};
use strongroom::audit::{self, LookupFilter};
use strongroom::storage::FileAuditSink;
use strongroom::{Error, Kms};

#[derive(Subcommand, Debug)]
pub(crate) enum AuditCmd {
    /// Checks the trail's hash chain and every digest's signature. With
    /// --public-key, needs no passphrase (nor the store). Several --file in order
    /// check a rotated trail across its files. Exit status 1 when anything was
    /// edited, removed, reordered or inserted; 3 with --require-closed when the
    /// trail does not end with a final digest (its tail may have been cut off).
    Verify {
        /// The audit key's public key (PEM): `strongroom audit public-key`.
        #[arg(long)]
        public_key: Option<PathBuf>,
        /// Trail files, oldest first (default: the store's `<store>.audit`).
        #[arg(long = "file")]
        files: Vec<PathBuf>,
        /// Fail unless the trail ends with a final digest.
        #[arg(long)]
        require_closed: bool,
    },
    /// Prints the audit key's public key (PEM), made on first use.
    PublicKey,
    /// LookupEvents: events that pass every filter, one JSON per line.
    Lookup(LookupArgs),
    /// Every event as JSON lines (what a SIEM ingests), to stdout or --out.
    Export {
        /// Write here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        filter: LookupArgs,
    },
    /// Renames the trail to `<store>.audit.<time>` and continues the same chain in a
    /// fresh file (after a final digest).
    Rotate,
    /// Shows the level, or sets it: off, management or all.
    Level {
        /// off, management or all.
        level: Option<String>,
    },
}

#[derive(clap::Args, Debug, Default)]
pub(crate) struct LookupArgs {
    /// eventName (Encrypt, CreateKey, …).
    #[arg(long)]
    event_name: Option<String>,
    /// A KeyId, SecretName or ARN in the event's resources.
    #[arg(long)]
    resource: Option<String>,
    /// A principal ARN, principalId or userName.
    #[arg(long)]
    principal: Option<String>,
    /// From this time (ISO 8601), inclusive.
    #[arg(long)]
    start: Option<String>,
    /// Until this time (ISO 8601), exclusive.
    #[arg(long)]
    end: Option<String>,
    /// Only events that failed.
    #[arg(long)]
    errors: bool,
    /// Trail files, oldest first (default: the store's).
    #[arg(long = "file")]
    files: Vec<PathBuf>,
}

impl LookupArgs {
    fn filter(&self) -> LookupFilter {
        LookupFilter {
            event_name: self.event_name.clone(),
            resource_name: self.resource.clone(),
            principal: self.principal.clone(),
            start_time: self.start.clone(),
            end_time: self.end.clone(),
            errors_only: self.errors,
        }
    }
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::Io(format!("cannot read {}: {e}", path.display())))
}

fn files(store: &Path, given: &[PathBuf]) -> Vec<PathBuf> {
    if given.is_empty() {
        vec![FileAuditSink::beside(store)]
    } else {
        given.to_vec()
    }
}

/// `audit verify --public-key`: runs without the store. The exit status.
pub(crate) fn verify(
    store: &Path,
    public_key: &[u8],
    given: &[PathBuf],
    require_closed: bool,
    json_mode: bool,
) -> Result<u8, Error> {
    let mut after: Option<String> = None;
    let mut total = audit::AuditReport::default();
    let mut problems = Vec::new();
    for f in files(store, given) {
        let r = audit::verify(&read(&f)?, public_key, after.as_deref())?;
        for p in &r.problems {
            problems.push(format!("{}: {p}", f.display()));
        }
        total.events += r.events;
        total.digests += r.digests;
        total.unsigned_tail = r.unsigned_tail;
        total.closed = r.closed;
        if r.last_hash.is_some() {
            after = r.last_hash.clone();
        }
    }
    let intact = problems.is_empty();
    let v = json!({
        "Intact": intact,
        "Events": total.events,
        "Digests": total.digests,
        "UnsignedTail": total.unsigned_tail,
        "Closed": total.closed,
        "Problems": problems,
    });
    if json_mode {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        for p in &problems {
            println!("{p}");
        }
        println!(
            "{}: {} events, {} signed digests{}",
            if intact { "intact" } else { "TAMPERED" },
            total.events,
            total.digests,
            match (total.closed, total.unsigned_tail) {
                (true, _) => String::new(),
                (false, n) => format!(
                    "; the trail does not end with a final digest ({n} events after the last digest): its writer is still running or crashed, or its tail was cut off"
                ),
            }
        );
    }
    Ok(if !intact {
        1
    } else if require_closed && !total.closed {
        3
    } else {
        0
    })
}

pub(crate) fn run(kms: &Kms, store: &Path, cmd: AuditCmd, json_mode: bool) -> Result<u8, Error> {
    match cmd {
        AuditCmd::Verify {
            public_key: _,
            files: given,
            require_closed,
        } => {
            // Without --public-key: the store's own audit key. Everything written so
            // far is made durable first.
            kms.flush_audit()?;
            let pem = pollster::block_on(kms.audit_public_key())?;
            verify(store, pem.as_bytes(), &given, require_closed, json_mode)
        }
        AuditCmd::PublicKey => {
            print!("{}", pollster::block_on(kms.audit_public_key())?);
            Ok(0)
        }
        AuditCmd::Lookup(args) => {
            kms.flush_audit()?;
            let f = args.filter();
            for path in files(store, &args.files) {
                let text = read(&path)?;
                for line in audit::lookup(&text, &f) {
                    println!("{line}");
                }
            }
            Ok(0)
        }
        AuditCmd::Export { out, filter } => {
            kms.flush_audit()?;
            let f = filter.filter();
            let mut buf = String::new();
            for path in files(store, &filter.files) {
                let text = read(&path)?;
                for line in audit::lookup(&text, &f) {
                    buf.push_str(line);
                    buf.push('\n');
                }
            }
            match out {
                // Events name principals, keys and secrets: the export is private too.
                Some(p) => strongroom::storage::create_private(&p)
                    .and_then(|mut w| w.write_all(buf.as_bytes()))
                    .map_err(|e| Error::Io(format!("cannot write {}: {e}", p.display())))?,
                None => print!("{buf}"),
            }
            Ok(0)
        }
        AuditCmd::Rotate => {
            let now = strongroom::time::iso8601(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0),
            )
            .replace(':', "");
            let path = FileAuditSink::beside(store);
            let mut to = path.clone().into_os_string();
            to.push(format!(".{now}"));
            let to = PathBuf::from(to);
            let sink = crate::audit_sink().ok_or(Error::Internal("the store's audit sink"))?;
            pollster::block_on(kms.rotate_audit(&mut || sink.rotate(&to)))?;
            crate::print(json_mode, &json!({"RotatedTo": to.display().to_string()}));
            Ok(0)
        }
        AuditCmd::Level { level } => {
            let caller = (*kms.default_caller()).clone();
            if let Some(l) = level {
                let mut m = serde_json::Map::new();
                m.insert("AuditLevel".into(), Value::String(l));
                pollster::block_on(kms.call_wire(
                    &caller,
                    strongroom::api::Action::SetAuditLevel,
                    &m,
                ))?;
            }
            let v = pollster::block_on(kms.call_wire(
                &caller,
                strongroom::api::Action::DescribeAuditConfig,
                &serde_json::Map::new(),
            ))?;
            crate::print(json_mode, &v);
            Ok(0)
        }
    }
}
