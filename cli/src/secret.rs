//! `strongroom secret …` (Secrets Manager) and `strongroom run --secret ENV=name -- CMD`.
//!
//! Values come from a file or stdin (`--value-file PATH`, `-` for stdin), never from an
//! argument that would land in shell history; `get` writes the value to stdout or to a
//! new 0600 file. Every subcommand goes through the one dispatch (`Kms::call`) and, with
//! `--json`, prints Alibaba's response JSON.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use strongroom::api::{Request, Response};
use strongroom::{
    BoxFuture, CreateSecretRequest, DeleteSecretRequest, DescribeSecretRequest, Error,
    GetSecretValueRequest, KeyFilter, Kms, ListSecretVersionIdsRequest, ListSecretsRequest,
    PutSecretValueRequest, RestoreSecretRequest, RotateSecretRequest, RotationStep, SecretBytes,
    SecretDataType, SecretRotator, Tag, UpdateSecretRequest, UpdateSecretRotationPolicyRequest,
    UpdateSecretVersionStageRequest,
};

#[derive(Subcommand, Debug)]
pub(crate) enum SecretCmd {
    /// CreateSecret: a secret and its first value (VersionId v1 unless given).
    Create {
        /// SecretName.
        name: String,
        #[command(flatten)]
        value: ValueArgs,
        /// VersionId of the first value.
        #[arg(long = "version-id", default_value = "v1")]
        version_id: String,
        /// The CMK (KeyId, alias or ARN); default: the store-managed secrets key.
        #[arg(long = "key-id")]
        key_id: Option<String>,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// A tag, KEY=VALUE (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Turn on automatic rotation every INTERVAL (7d, 12h, 604800s).
        #[arg(long = "rotation-interval")]
        rotation_interval: Option<String>,
        /// SecretType: Generic (default), Rds, Redis, RAMCredentials, ECS.
        #[arg(long = "secret-type")]
        secret_type: Option<String>,
        /// ExtendedConfig, a JSON object.
        #[arg(long = "extended-config")]
        extended_config: Option<String>,
    },
    /// GetSecretValue: the value to stdout (raw), or to a new 0600 file with --out.
    Get {
        /// SecretName.
        name: String,
        /// VersionId.
        #[arg(long = "version-id")]
        version_id: Option<String>,
        /// VersionStage (default ACSCurrent).
        #[arg(long)]
        stage: Option<String>,
        /// Write the value to this file (created or reset to 0600) instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// PutSecretValue: a new version (ACSCurrent unless --stage is given).
    Put {
        /// SecretName.
        name: String,
        /// VersionId of the new value (unique in the secret).
        #[arg(long = "version-id")]
        version_id: String,
        #[command(flatten)]
        value: ValueArgs,
        /// Its stages (repeatable; default ACSCurrent).
        #[arg(long = "stage")]
        stages: Vec<String>,
    },
    /// ListSecrets (every page).
    List {
        /// A filter KEY=V1,V2 (SecretName, Description, TagKey, TagValue).
        #[arg(long = "filter")]
        filters: Vec<String>,
        /// Include each secret's tags.
        #[arg(long)]
        tags: bool,
    },
    /// DescribeSecret (metadata; never the value).
    Describe {
        /// SecretName.
        name: String,
    },
    /// ListSecretVersionIds.
    Versions {
        /// SecretName.
        name: String,
        /// Include versions without a stage.
        #[arg(long = "include-deprecated")]
        include_deprecated: bool,
    },
    /// UpdateSecretVersionStage: move STAGE --to a version and / or remove it --from one.
    Stage {
        /// SecretName.
        name: String,
        /// The stage (ACSCurrent, ACSPrevious, or your own).
        stage: String,
        /// RemoveFromVersion.
        #[arg(long)]
        from: Option<String>,
        /// MoveToVersion.
        #[arg(long)]
        to: Option<String>,
    },
    /// UpdateSecret: description and / or ExtendedConfig.CustomData.
    Update {
        /// SecretName.
        name: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// ExtendedConfig.CustomData, a JSON object.
        #[arg(long = "custom-data")]
        custom_data: Option<String>,
    },
    /// DeleteSecret: after a recovery window (7-30 days, default 30), or now with --force.
    Delete {
        /// SecretName.
        name: String,
        /// RecoveryWindowInDays.
        #[arg(long = "recovery-window-days")]
        recovery_window_days: Option<u32>,
        /// ForceDeleteWithoutRecovery.
        #[arg(long, conflicts_with = "recovery_window_days")]
        force: bool,
    },
    /// RestoreSecret: cancels a planned deletion.
    Restore {
        /// SecretName.
        name: String,
    },
    /// RotateSecret now: a new value from --rotate-command (or a random password by the
    /// secret's ExtendedConfig rules), made current only once every step succeeded.
    Rotate {
        /// SecretName.
        name: String,
        /// VersionId of the new value (default: a random UUID).
        #[arg(long = "version-id")]
        version_id: Option<String>,
        /// A command run through `sh -c` for each step, with STRONGROOM_ROTATION_STEP
        /// (create, set, test), STRONGROOM_SECRET_NAME and STRONGROOM_VERSION_ID set:
        /// `create` prints the new value; `set` and `test` get it on stdin; a non-zero
        /// exit fails the step and leaves ACSCurrent as it was.
        #[arg(long = "rotate-command")]
        rotate_command: Option<String>,
    },
    /// UpdateSecretRotationPolicy.
    RotationPolicy {
        /// SecretName.
        name: String,
        /// Rotate automatically every INTERVAL (7d, 12h, 604800s).
        #[arg(long, conflicts_with = "disable", required_unless_present = "disable")]
        interval: Option<String>,
        /// Turn automatic rotation off.
        #[arg(long)]
        disable: bool,
    },
    /// TagResource / UntagResource / ListResourceTags: add KEY=VALUE tags, remove keys,
    /// and print the tags the secret has then.
    Tag {
        /// SecretName.
        name: String,
        /// Tags to add, KEY=VALUE.
        tags: Vec<String>,
        /// Tag keys to remove (repeatable).
        #[arg(long = "remove")]
        remove: Vec<String>,
    },
}

/// Where a value comes from: a file, or stdin with `-`. Never an argument.
#[derive(Args, Debug)]
pub(crate) struct ValueArgs {
    /// The value: a file, or - for stdin (one trailing newline is dropped from text).
    #[arg(long = "value-file")]
    value_file: String,
    /// The value is bytes (SecretDataType binary): kept exactly as read.
    #[arg(long)]
    binary: bool,
    /// Keep a trailing newline in a text value.
    #[arg(long = "keep-newline")]
    keep_newline: bool,
}

impl ValueArgs {
    fn read(&self) -> Result<(SecretBytes, SecretDataType), Error> {
        let mut buf = Vec::new();
        let r = if self.value_file == "-" {
            std::io::stdin().read_to_end(&mut buf).map(|_| ())
        } else {
            std::fs::File::open(&self.value_file)
                .and_then(|mut f| f.read_to_end(&mut buf).map(|_| ()))
        };
        let mut buf = SecretBytes::new(buf);
        r.map_err(|e| Error::Io(format!("cannot read {}: {e}", self.value_file)))?;
        if self.binary {
            return Ok((buf, SecretDataType::Binary));
        }
        if !self.keep_newline {
            let kept = without_newline(buf.expose());
            if kept.len() != buf.len() {
                buf = SecretBytes::from_slice(kept);
            }
        }
        Ok((buf, SecretDataType::Text))
    }
}

/// `b` without one trailing `\n` or `\r\n`.
fn without_newline(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r\n")
        .or_else(|| b.strip_suffix(b"\n"))
        .unwrap_or(b)
}

fn kv(flag: &'static str, s: &str) -> Result<(String, String), Error> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| Error::InvalidParameter {
            name: flag,
            reason: format!("{s:?} is not KEY=VALUE"),
        })
}

fn tags(list: &[String]) -> Result<Vec<Tag>, Error> {
    list.iter()
        .map(|t| kv("Tags", t).map(|(tag_key, tag_value)| Tag { tag_key, tag_value }))
        .collect()
}

/// One action through the dispatch; its answer as Alibaba's JSON.
fn call(kms: &Kms, req: Request) -> Result<(Response, Value), Error> {
    let rid = kms.new_request_id();
    let resp = pollster::block_on(kms.call(
        &(*kms.default_caller()).clone().with_request_id(rid.clone()),
        req,
    ))?;
    let wire = resp.to_wire(&rid)?;
    Ok((resp, wire))
}

/// Runs `strongroom secret …`.
pub(crate) fn run(kms: &Kms, cmd: SecretCmd, json_mode: bool) -> Result<(), Error> {
    let out = |v: &Value| crate::print(json_mode, v);
    match cmd {
        SecretCmd::Create {
            name,
            value,
            version_id,
            key_id,
            description,
            tags: tag_list,
            rotation_interval,
            secret_type,
            extended_config,
        } => {
            let (secret_data, ty) = value.read()?;
            let (_, v) = call(
                kms,
                Request::CreateSecret(CreateSecretRequest {
                    secret_name: name,
                    version_id,
                    secret_data,
                    secret_data_type: Some(ty),
                    encryption_key_id: key_id,
                    description,
                    tags: tags(&tag_list)?,
                    secret_type: secret_type.map(|s| s.parse()).transpose()?,
                    extended_config,
                    enable_automatic_rotation: rotation_interval.is_some(),
                    rotation_interval,
                }),
            )?;
            out(&v);
        }
        SecretCmd::Get {
            name,
            version_id,
            stage,
            out: file,
        } => {
            let (resp, wire) = call(
                kms,
                Request::GetSecretValue(GetSecretValueRequest {
                    secret_name: name,
                    version_id,
                    version_stage: stage,
                    fetch_extended_config: false,
                }),
            )?;
            let Response::GetSecretValue(r) = resp else {
                return Err(Error::Internal("a response of another action"));
            };
            match file {
                Some(f) => {
                    crate::write_secret_file(&f, r.secret_data.expose())?;
                    let mut meta = wire;
                    if let Some(o) = meta.as_object_mut() {
                        o.remove("SecretData");
                        o.insert("SecretFile".into(), json!(f.display().to_string()));
                    }
                    out(&meta);
                }
                // --json asks for Alibaba's whole answer, value included; otherwise
                // the value alone, as it is stored (no newline added).
                None if json_mode => out(&wire),
                None => crate::write_output("-", r.secret_data.expose())?,
            }
        }
        SecretCmd::Put {
            name,
            version_id,
            value,
            stages,
        } => {
            let (secret_data, ty) = value.read()?;
            let (_, v) = call(
                kms,
                Request::PutSecretValue(PutSecretValueRequest {
                    secret_name: name,
                    version_id,
                    secret_data,
                    secret_data_type: Some(ty),
                    version_stages: (!stages.is_empty()).then_some(stages),
                }),
            )?;
            out(&v);
        }
        SecretCmd::List {
            filters,
            tags: fetch_tags,
        } => {
            let filters = filters
                .iter()
                .map(|f| {
                    kv("Filters", f).map(|(key, vals)| KeyFilter {
                        key,
                        values: vals
                            .split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut all = Vec::new();
            let mut total = 0u64;
            for page in 1u32.. {
                let (_, v) = call(
                    kms,
                    Request::ListSecrets(ListSecretsRequest {
                        fetch_tags,
                        page_number: Some(page),
                        page_size: Some(100),
                        filters: filters.clone(),
                    }),
                )?;
                total = v.get("TotalCount").and_then(Value::as_u64).unwrap_or(0);
                let items = v
                    .pointer("/SecretList/Secret")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let done = items.is_empty();
                all.extend(items);
                if done || all.len() as u64 >= total {
                    break;
                }
            }
            if json_mode {
                out(&json!({"SecretList": {"Secret": all}, "TotalCount": total}));
            } else {
                for s in &all {
                    let planned = s
                        .get("PlannedDeleteTime")
                        .and_then(Value::as_str)
                        .map(|t| format!("  (deleted at {t})"))
                        .unwrap_or_default();
                    let name = s.get("SecretName").and_then(Value::as_str);
                    println!("{}{planned}", name.unwrap_or_default());
                }
            }
        }
        SecretCmd::Describe { name } => {
            let (_, v) = call(
                kms,
                Request::DescribeSecret(DescribeSecretRequest {
                    secret_name: name,
                    fetch_tags: true,
                }),
            )?;
            out(&v);
        }
        SecretCmd::Versions {
            name,
            include_deprecated,
        } => {
            let (_, v) = call(
                kms,
                Request::ListSecretVersionIds(ListSecretVersionIdsRequest {
                    secret_name: name,
                    include_deprecated,
                    page_number: Some(1),
                    page_size: Some(100),
                }),
            )?;
            if json_mode {
                out(&v);
            } else {
                for ver in v
                    .pointer("/VersionIds/VersionId")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let field = |k: &str| ver.get(k).and_then(Value::as_str).unwrap_or_default();
                    let stages: Vec<&str> = ver
                        .pointer("/VersionStages/VersionStage")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    println!(
                        "{}\t{}\t{}",
                        field("VersionId"),
                        field("CreateTime"),
                        stages.join(",")
                    );
                }
            }
        }
        SecretCmd::Stage {
            name,
            stage,
            from,
            to,
        } => {
            let (_, v) = call(
                kms,
                Request::UpdateSecretVersionStage(UpdateSecretVersionStageRequest {
                    secret_name: name,
                    version_stage: stage,
                    remove_from_version: from,
                    move_to_version: to,
                }),
            )?;
            out(&v);
        }
        SecretCmd::Update {
            name,
            description,
            custom_data,
        } => {
            let (_, v) = call(
                kms,
                Request::UpdateSecret(UpdateSecretRequest {
                    secret_name: name,
                    description,
                    extended_config_custom_data: custom_data,
                }),
            )?;
            out(&v);
        }
        SecretCmd::Delete {
            name,
            recovery_window_days,
            force,
        } => {
            let (_, v) = call(
                kms,
                Request::DeleteSecret(DeleteSecretRequest {
                    secret_name: name,
                    recovery_window_in_days: recovery_window_days,
                    force_delete_without_recovery: force,
                }),
            )?;
            out(&v);
        }
        SecretCmd::Restore { name } => {
            let (_, v) = call(
                kms,
                Request::RestoreSecret(RestoreSecretRequest { secret_name: name }),
            )?;
            out(&v);
        }
        SecretCmd::Rotate {
            name,
            version_id,
            rotate_command,
        } => {
            if let Some(cmd) = rotate_command {
                kms.set_secret_rotator(Some(Arc::new(CommandRotator { command: cmd })));
            }
            let r = call(
                kms,
                Request::RotateSecret(RotateSecretRequest {
                    secret_name: name,
                    version_id,
                }),
            );
            kms.set_secret_rotator(None);
            out(&r?.1);
        }
        SecretCmd::RotationPolicy {
            name,
            interval,
            disable,
        } => {
            let (_, v) = call(
                kms,
                Request::UpdateSecretRotationPolicy(UpdateSecretRotationPolicyRequest {
                    secret_name: name,
                    enable_automatic_rotation: !disable,
                    rotation_interval: interval,
                }),
            )?;
            out(&v);
        }
        SecretCmd::Tag {
            name,
            tags: add,
            remove,
        } => {
            if !add.is_empty() {
                pollster::block_on(kms.tag_secret(&name, &tags(&add)?))?;
            }
            if !remove.is_empty() {
                pollster::block_on(kms.untag_secret(&name, &remove))?;
            }
            let now = pollster::block_on(kms.list_secret_tags(&name))?;
            let list: Vec<Value> = now
                .iter()
                .map(|t| json!({"TagKey": t.tag_key, "TagValue": t.tag_value}))
                .collect();
            if json_mode {
                out(&json!({"Tags": {"Tag": list}}));
            } else {
                for t in &now {
                    println!("{}={}", t.tag_key, t.tag_value);
                }
            }
        }
    }
    Ok(())
}

/// `--rotate-command`: each rotation step runs the command through `sh -c`.
pub(crate) struct CommandRotator {
    command: String,
}

impl CommandRotator {
    /// A rotator running `command` for each step (`secret rotate`, `serve`).
    pub(crate) fn new(command: String) -> Self {
        CommandRotator { command }
    }

    fn step(
        &self,
        step: &str,
        at: &RotationStep<'_>,
        stdin: Option<&SecretBytes>,
    ) -> Result<SecretBytes, Error> {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .env("STRONGROOM_ROTATION_STEP", step)
            .env("STRONGROOM_SECRET_NAME", at.secret_name)
            .env("STRONGROOM_VERSION_ID", at.version_id)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| Error::Io(format!("cannot run the rotate command: {e}")))?;
        if let (Some(v), Some(mut i)) = (stdin, child.stdin.take()) {
            // A command that does not read its stdin may close it: not an error.
            let _ = i.write_all(v.expose());
        }
        let mut out = Vec::new();
        if let Some(mut o) = child.stdout.take() {
            o.read_to_end(&mut out)
                .map_err(|e| Error::Io(format!("reading the rotate command's output: {e}")))?;
        }
        let out = SecretBytes::new(out);
        let status = child
            .wait()
            .map_err(|e| Error::Io(format!("the rotate command: {e}")))?;
        if !status.success() {
            return Err(Error::RotationFailed(format!(
                "the rotate command's {step} step failed ({status})"
            )));
        }
        Ok(out)
    }
}

impl SecretRotator for CommandRotator {
    fn create<'a>(
        &'a self,
        step: &'a RotationStep<'a>,
    ) -> BoxFuture<'a, strongroom::Result<SecretBytes>> {
        Box::pin(async move {
            let out = self.step("create", step, None)?;
            Ok(SecretBytes::from_slice(without_newline(out.expose())))
        })
    }
    fn set<'a>(
        &'a self,
        step: &'a RotationStep<'a>,
        value: &'a SecretBytes,
    ) -> BoxFuture<'a, strongroom::Result<()>> {
        Box::pin(async move { self.step("set", step, Some(value)).map(|_| ()) })
    }
    fn test<'a>(
        &'a self,
        step: &'a RotationStep<'a>,
        value: &'a SecretBytes,
    ) -> BoxFuture<'a, strongroom::Result<()>> {
        Box::pin(async move { self.step("test", step, Some(value)).map(|_| ()) })
    }
}

#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// ENV=SecretName[:stage] (repeatable): the secret's value in ENV.
    #[arg(long = "secret", required = true)]
    secrets: Vec<String>,
    /// The command and its arguments (after --).
    #[arg(trailing_var_arg = true, required = true, num_args = 1..)]
    command: Vec<String>,
}

/// `strongroom run`: reads every secret, closes the store (releasing its lock), then
/// replaces this process with CMD, its environment holding the values — so signals
/// reach CMD directly and its exit status is the exit status.
pub(crate) fn run_command(
    store: &Path,
    pass: &str,
    args: &RunArgs,
) -> Result<std::process::ExitCode, Error> {
    let mut env: Vec<(String, SecretBytes)> = Vec::new();
    {
        let kms = crate::open_store(store, pass, strongroom::storage::KdfParams::default())?;
        for s in &args.secrets {
            let (var, spec) = kv("Secret", s)?;
            if var.is_empty() || var.contains('\0') {
                return Err(Error::InvalidParameter {
                    name: "Secret",
                    reason: format!("{s:?}: the variable name is empty"),
                });
            }
            let (name, stage) = match spec.rsplit_once(':') {
                Some((n, st)) if !n.is_empty() && !st.is_empty() && !n.starts_with("acs:") => {
                    (n.to_string(), Some(st.to_string()))
                }
                _ => (spec.clone(), None),
            };
            let r = pollster::block_on(kms.get_secret_value(GetSecretValueRequest {
                secret_name: name.clone(),
                version_stage: stage,
                ..Default::default()
            }))?;
            let value = match r.secret_data_type {
                SecretDataType::Binary => {
                    use base64::Engine as _;
                    SecretBytes::new(
                        base64::engine::general_purpose::STANDARD
                            .encode(r.secret_data.expose())
                            .into_bytes(),
                    )
                }
                _ => r.secret_data,
            };
            if value.expose().contains(&0) {
                return Err(Error::InvalidParameter {
                    name: "Secret",
                    reason: format!(
                        "secret {name} holds a NUL byte, which no environment variable can"
                    ),
                });
            }
            env.push((var, value));
        }
    }
    let Some((program, rest)) = args.command.split_first() else {
        return Err(Error::InvalidParameter {
            name: "Command",
            reason: "give the command to run after --".into(),
        });
    };
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest);
    for (k, v) in &env {
        use std::os::unix::ffi::OsStrExt;
        cmd.env(k, std::ffi::OsStr::from_bytes(v.expose()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let e = cmd.exec();
        Err(Error::Io(format!("cannot run {program}: {e}")))
    }
    #[cfg(not(unix))]
    {
        let status = cmd
            .status()
            .map_err(|e| Error::Io(format!("cannot run {program}: {e}")))?;
        Ok(std::process::ExitCode::from(
            u8::try_from(status.code().unwrap_or(1)).unwrap_or(1),
        ))
    }
}
