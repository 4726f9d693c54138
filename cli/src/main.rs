//! `strongroom`: the command line over the strongroom core.
#![allow(clippy::print_stdout, clippy::print_stderr)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

mod audit;
mod envelope;
mod kms_verb;
mod lab;
mod progress;

/// mimalloc for the whole binary: `strongroom serve` allocates per request (parsing,
/// signing strings, JSON answers) and glibc malloc was a tenth of its time under load
/// (bench/gateway.sh).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
mod ram;
mod secret;
mod serve;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use strongroom::storage::{FileStorage, KdfParams};
use strongroom::{
    CreateKeyRequest, DataKeySpec, DecryptRequest, EncryptRequest, EncryptionContext, Env, Error,
    GenerateDataKeyRequest, KeyMetadata, KeySpec, Kms, KmsOptions, ListKeysRequest, RootSecret,
};

/// strongroom — an embeddable key management service.
#[derive(Parser, Debug)]
#[command(name = "strongroom", version, about)]
struct Cli {
    /// The store file (passphrase from STRONGROOM_PASSPHRASE, or a prompt).
    #[arg(
        long,
        global = true,
        default_value = "./.strongroom/store",
        env = "STRONGROOM_STORE"
    )]
    store: PathBuf,
    /// Print results as JSON (Alibaba's PascalCase field names).
    #[arg(long, global = true)]
    json: bool,
    /// Act on the gateway at this URL (`strongroom serve`) instead of a store file:
    /// the same commands, each signed with STRONGROOM_ACCESS_KEY_ID / _SECRET (and
    /// _SECURITY_TOKEN); STRONGROOM_CA_FILE is a CA to trust (the `--dev-tls` one).
    #[arg(long, global = true, env = "STRONGROOM_ENDPOINT")]
    endpoint: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Customer master keys.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Aliases (`alias/<name>`), usable wherever a KeyId is.
    #[command(subcommand)]
    Alias(AliasCmd),
    /// Data keys for envelope encryption.
    #[command(subcommand, name = "data-key")]
    DataKey(DataKeyCmd),
    /// Encrypt a file or stream of any size into an envelope message for one or more
    /// CMKs (any one of them decrypts). Streams with bounded memory.
    Encrypt(EnvelopeEncryptArgs),
    /// Decrypt an envelope message (no key needed: its header names the recipients).
    /// Writes plaintext only from authenticated frames; on failure a file OUT is not
    /// left behind.
    Decrypt(EnvelopeDecryptArgs),
    /// Move an envelope message to its keys' current versions (after a rotation) or,
    /// with --key, to other keys, without decrypting it: only the header's wrapped data
    /// key changes, the frames are copied as they are (streamed). A file OUT is written
    /// beside itself and renamed into place on success. Signed messages are refused
    /// (their signature covers the header).
    #[command(name = "re-encrypt")]
    ReEncrypt(EnvelopeReEncryptArgs),
    /// The envelope-encryption lab of the Alibaba KMS tutorial, end to end, in a fresh store.
    Lab(lab::LabArgs),
    /// The store itself: its journal, passphrase, store key and backups.
    #[command(subcommand)]
    Store(StoreCmd),
    /// GetRandomPassword: written to a new 0600 file, never printed.
    #[command(name = "random-password")]
    RandomPassword(RandomPasswordArgs),
    /// Secrets Manager: secrets with versions, stages, recovery and rotation. Values
    /// come from a file or stdin, never from an argument.
    #[command(subcommand)]
    Secret(secret::SecretCmd),
    /// Run a command with secrets in its environment: `strongroom run --secret
    /// DB_PASSWORD=db/password -- ./server`. The store is closed first; the command
    /// replaces strongroom, so signals and its exit status pass straight through.
    Run(secret::RunArgs),
    /// Any action by Alibaba's name with Alibaba's parameters, answering Alibaba's
    /// response JSON, as Alibaba's own CLI does: `strongroom kms Encrypt --KeyId K
    /// --Plaintext aGk= --EncryptionContext '{"a":"b"}'`, `strongroom kms ListKeys
    /// --PageSize 50`, `strongroom kms ListKeys --pager` (every page, merged).
    /// Binary parameters and answers are base64. Put --store before `kms`.
    Kms(KmsVerbArgs),
    /// Principals and policies (RAM's actions): users, AccessKeys, roles, policies,
    /// AssumeRole, key and secret policies, SimulatePolicy.
    #[command(subcommand)]
    Ram(ram::RamCmd),
    /// The audit trail beside the store (`<store>.audit`): verify, lookup, export,
    /// rotate, level.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Serve the store as a network KMS speaking Alibaba Cloud KMS's OpenAPI, so that
    /// Alibaba's SDKs (and `curl` with a signature) drive it: requests are signed with
    /// the store's AccessKeys (`strongroom ram create-access-key`), authorised and
    /// audited. Stops on SIGTERM / SIGINT after draining. See docs/SERVE.md.
    Serve(serve::ServeArgs),
    /// Make a client key for a remote-backend server (`serve --backend-clients FILE`):
    /// `{"id", "secret"}` into --out (0600, never printed). Add the same object to the
    /// server's clients file; the client names the file in
    /// STRONGROOM_REMOTE_CLIENT_KEY_FILE (with STRONGROOM_REMOTE_URL).
    #[command(name = "backend-client-key")]
    BackendClientKey(BackendClientKeyArgs),
    /// Print a shell completion script: `source <(strongroom completions bash)`, or
    /// save it where your shell loads completions (zsh: a `_strongroom` file on
    /// $fpath; fish: ~/.config/fish/completions/strongroom.fish).
    Completions(CompletionsArgs),
    /// Write the manual pages (roff): strongroom.1 and one per subcommand
    /// (strongroom-key.1, strongroom-key-create.1, …) into --out; `man -l
    /// DIR/strongroom.1` reads one in place.
    Man(ManArgs),
}

#[derive(Args, Debug)]
struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
struct ManArgs {
    /// The directory the pages go into (made if missing).
    #[arg(long)]
    out: PathBuf,
}

/// `completions` and `man`: generated from the CLI's own definition, so they list
/// every subcommand and flag this build has.
fn generated(cmd: &Cmd, json_mode: bool) -> Result<bool, Error> {
    use clap::CommandFactory;
    match cmd {
        Cmd::Completions(a) => {
            let mut c = Cli::command();
            // Into memory first: clap_complete panics on a failed write (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(a.shell, &mut c, "strongroom", &mut script);
            match std::io::stdout().write_all(&script) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(true),
                Err(e) => Err(Error::Io(format!("cannot write the script: {e}"))),
            }
        }
        Cmd::Man(a) => {
            std::fs::create_dir_all(&a.out)
                .map_err(|e| Error::Io(format!("cannot create {}: {e}", a.out.display())))?;
            let c = Cli::command();
            clap_mangen::generate_to(c, &a.out)
                .map_err(|e| Error::Io(format!("cannot write to {}: {e}", a.out.display())))?;
            let n = std::fs::read_dir(&a.out)
                .map(|d| {
                    d.filter_map(std::result::Result::ok)
                        .filter(|e| e.path().extension().is_some_and(|x| x == "1"))
                        .count()
                })
                .unwrap_or(0);
            print(
                json_mode,
                &json!({"ManDirectory": a.out.display().to_string(), "Pages": n}),
            );
            Ok(true)
        }
        _ => Ok(false),
    }
}

#[derive(Args, Debug)]
struct BackendClientKeyArgs {
    /// Where the key goes (a new 0600 file).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct KmsVerbArgs {
    /// The action (CreateKey, Encrypt, ListKeys, DescribeService, …).
    action: String,
    /// `--Name value` pairs (or `--Name=value`); `--pager` on a list action.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    params: Vec<String>,
}

#[derive(Args, Debug)]
struct RandomPasswordArgs {
    /// Where to write the password (created with mode 0600).
    #[arg(long)]
    out: PathBuf,
    /// Length, 8-128 (default 32).
    #[arg(long)]
    length: Option<u32>,
    /// Characters never to use.
    #[arg(long = "exclude-characters")]
    exclude_characters: Option<String>,
    /// No a-z.
    #[arg(long = "exclude-lowercase")]
    exclude_lowercase: bool,
    /// No A-Z.
    #[arg(long = "exclude-uppercase")]
    exclude_uppercase: bool,
    /// No 0-9.
    #[arg(long = "exclude-numbers")]
    exclude_numbers: bool,
    /// No punctuation.
    #[arg(long = "exclude-punctuation")]
    exclude_punctuation: bool,
    /// Do not require one character of every included type.
    #[arg(long = "no-require-each-included-type")]
    no_require_each: bool,
}

#[derive(Subcommand, Debug)]
enum StoreCmd {
    /// Creates a new, empty store (the passphrase is asked twice on a terminal).
    /// Besides this, only a first `key create` or `secret create` makes a store: every
    /// other command on a missing store fails with Forbidden.StoreNotFound.
    Init,
    /// Format version, generation, snapshot and journal sizes, and any torn tail
    /// dropped on open.
    Info,
    /// Reads the store without opening it for writing (no lock taken, nothing
    /// written) and says whether it opens, and what opening it would drop: a torn
    /// final record (a crash mid-append leaves one) is dropped; damage anywhere else
    /// is refused with Rejected.StoreCorrupted.
    Check,
    /// Opens the store and, if it ends in a torn record, rewrites it without that
    /// record (what the next write would do anyway); says what it dropped. Damage
    /// anywhere else cannot be repaired: restore a backup.
    Repair,
    /// Rewrites the journal into one snapshot now (it also happens on its own once the
    /// journal outgrows the snapshot), moving any secret values still inside the
    /// store (a store from before values files) to `<store>.values`.
    Compact,
    /// Opens every secret value through its CMK (VerifyStore) — what `store check`,
    /// which has no CMK, cannot — and probes every key version in the backend holding
    /// it (an HSM, a transit engine, a KMIP server that lost an object or cannot be
    /// reached), listing each version that does not open or answer, with its code.
    /// Exit status 1 when any does not. Prints no value.
    Verify,
    /// Seals the store under a new passphrase (STRONGROOM_NEW_PASSPHRASE, or a
    /// prompt); the old one stops opening it.
    ChangePassphrase,
    /// A new random store key; the whole store is rewritten under it.
    Rekey,
    /// CreateBackup: the whole store in one file sealed under its own passphrase
    /// (STRONGROOM_BACKUP_PASSPHRASE, or a prompt).
    Backup {
        /// Where to write the backup (created with mode 0600).
        out: PathBuf,
    },
    /// RestoreBackup: a backup becomes a new store at --store (which must not exist),
    /// sealed under STRONGROOM_PASSPHRASE.
    Restore {
        /// The backup file.
        backup: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum KeyCmd {
    /// CreateKey.
    Create {
        /// KeySpec: Aliyun_AES_256 (default), Aliyun_AES_192, Aliyun_AES_128, RSA_2048,
        /// RSA_3072, RSA_4096, EC_P256, EC_P256K.
        #[arg(long = "key-spec", alias = "spec")]
        key_spec: Option<String>,
        /// KeyUsage: ENCRYPT/DECRYPT (default) or SIGN/VERIFY (EC keys: SIGN/VERIFY only).
        #[arg(long = "key-usage", alias = "usage")]
        key_usage: Option<String>,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Origin: Aliyun_KMS (default; strongroom makes the material) or EXTERNAL
        /// (BYOK: the key waits in PendingImport for `key import`).
        #[arg(long)]
        origin: Option<String>,
    },
    /// GetParametersForImport: a wrapping public key and an ImportToken (24 h) for an
    /// EXTERNAL key. Prints KeyId, ImportToken, PublicKey (base64 DER) and TokenExpireTime.
    ImportParams {
        /// KeyId, alias or ARN of an EXTERNAL key.
        key_id: String,
        /// WrappingAlgorithm: RSAES_OAEP_SHA_256 (the default) or RSAES_OAEP_SHA_1.
        #[arg(long = "wrapping-algorithm")]
        wrapping_algorithm: Option<String>,
        /// WrappingKeySpec: RSA_2048 (the default).
        #[arg(long = "wrapping-key-spec")]
        wrapping_key_spec: Option<String>,
        /// Also write the wrapping public key here as PEM (for `openssl pkeyutl`).
        #[arg(long = "public-key-out")]
        public_key_out: Option<PathBuf>,
        /// Also write the ImportToken here.
        #[arg(long = "token-out")]
        token_out: Option<PathBuf>,
    },
    /// ImportKeyMaterial: the material, encrypted to the wrapping public key, goes into
    /// the EXTERNAL key, which becomes Enabled.
    Import {
        /// KeyId, alias or ARN.
        key_id: String,
        /// File with the EncryptedKeyMaterial (raw bytes, or base64 with --base64), or -.
        #[arg(long = "encrypted-material")]
        encrypted_material: String,
        /// The encrypted material file is base64 text.
        #[arg(long)]
        base64: bool,
        /// The ImportToken (or @FILE to read it from a file).
        #[arg(long)]
        token: String,
        /// KeyMaterialExpireUnix: when the material expires, Unix seconds (0 = never).
        #[arg(long = "expire-unix")]
        expire_unix: Option<u64>,
    },
    /// DeleteKeyMaterial: destroys an EXTERNAL key's material (back to PendingImport).
    DeleteMaterial {
        /// KeyId, alias or ARN.
        key_id: String,
    },
    /// DescribeKey.
    Describe {
        /// KeyId or ARN.
        key_id: String,
    },
    /// CreateKeyVersion (the new version becomes primary).
    CreateVersion {
        /// KeyId or ARN.
        key_id: String,
    },
    /// ListKeyVersions.
    ListVersions {
        /// KeyId or ARN.
        key_id: String,
    },
    /// UpdateRotationPolicy.
    Rotation {
        /// KeyId or ARN.
        key_id: String,
        /// Turn automatic rotation on (with --interval) or off (without).
        #[arg(long)]
        enable: bool,
        /// RotationInterval, e.g. 604800s (7-365 days).
        #[arg(long)]
        interval: Option<String>,
    },
    /// SetDeletionProtection (on with --enable, off without).
    DeletionProtection {
        /// KeyId, alias or ARN.
        key_id: String,
        /// Turn protection on.
        #[arg(long)]
        enable: bool,
        /// DeletionProtectionDescription.
        #[arg(long)]
        description: Option<String>,
    },
    /// EnableKey.
    Enable {
        /// KeyId or ARN.
        key_id: String,
    },
    /// DisableKey.
    Disable {
        /// KeyId or ARN.
        key_id: String,
    },
    /// ScheduleKeyDeletion (the material is destroyed when the window passes).
    ScheduleDeletion {
        /// KeyId or ARN.
        key_id: String,
        /// PendingWindowInDays (7-30).
        #[arg(long = "pending-window-in-days")]
        pending_window_in_days: u32,
    },
    /// CancelKeyDeletion.
    CancelDeletion {
        /// KeyId or ARN.
        key_id: String,
    },
    /// UpdateKeyDescription.
    UpdateDescription {
        /// KeyId or ARN.
        key_id: String,
        /// The new description.
        #[arg(long)]
        description: String,
    },
    /// GetPublicKey: the public key of an asymmetric key version, as PEM.
    PublicKey {
        /// KeyId, alias or ARN.
        key_id: String,
        /// KeyVersionId (default: the primary version).
        #[arg(long = "key-version-id")]
        key_version_id: Option<String>,
        /// Output file, or - for stdout.
        #[arg(long, default_value = "-")]
        out: String,
    },
    /// AsymmetricSign: prints the signature (Value) in base64.
    Sign(SignArgs),
    /// AsymmetricVerify: prints Value true/false; exits 1 when the signature does not verify.
    Verify {
        #[command(flatten)]
        sign: SignArgs,
        /// The signature, base64 (as `key sign` prints it).
        #[arg(long)]
        signature: String,
    },
    /// AsymmetricEncrypt (RSA-OAEP): reads IN, prints the CiphertextBlob in base64.
    AsymEncrypt {
        /// KeyId, alias or ARN.
        key_id: String,
        /// RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1.
        #[arg(long)]
        algorithm: String,
        /// KeyVersionId (default: the primary version).
        #[arg(long = "key-version-id")]
        key_version_id: Option<String>,
        /// Plaintext file, or - for stdin (RSA_2048: ≤ 190 B with SHA-256, ≤ 214 B with SHA-1).
        input: String,
    },
    /// AsymmetricDecrypt (RSA-OAEP): reads a base64 CiphertextBlob, writes the plaintext.
    AsymDecrypt {
        /// KeyId, alias or ARN.
        key_id: String,
        /// RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1.
        #[arg(long)]
        algorithm: String,
        /// KeyVersionId (default: the primary version).
        #[arg(long = "key-version-id")]
        key_version_id: Option<String>,
        /// File holding the base64 CiphertextBlob, or - for stdin.
        input: String,
        /// Where the plaintext goes (often a data key): a file, created or reset to
        /// mode 0600, or - to write it to stdout (only when asked for).
        #[arg(long)]
        out: String,
    },
    /// Encrypt: a small payload (≤ 6 KiB) under a CMK; writes the CiphertextBlob in base64.
    Encrypt(EncryptArgs),
    /// Decrypt: a base64 CiphertextBlob (no key needed: the blob names it).
    Decrypt(DecryptArgs),
    /// ListKeys.
    List {
        /// PageNumber (from 1).
        #[arg(long = "page-number")]
        page_number: Option<u32>,
        /// PageSize (1-100).
        #[arg(long = "page-size")]
        page_size: Option<u32>,
        /// A filter `Key=Value1,Value2` (KeyState, KeySpec, KeyUsage, ProtectionLevel,
        /// CreatorType, KeyId, AliasName, Creator, TagKey, TagValue); repeatable. Values
        /// of one key are ORed, different keys ANDed.
        #[arg(long = "filter")]
        filter: Vec<String>,
        /// Alibaba's Filters JSON: `[{"Key":"KeyState","Values":["Enabled"]}]`.
        #[arg(long = "filters")]
        filters: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum AliasCmd {
    /// CreateAlias.
    Create {
        /// alias/<name>.
        alias_name: String,
        /// KeyId or ARN.
        key_id: String,
    },
    /// UpdateAlias.
    Update {
        /// alias/<name>.
        alias_name: String,
        /// KeyId or ARN.
        key_id: String,
    },
    /// DeleteAlias.
    Delete {
        /// alias/<name>.
        alias_name: String,
    },
    /// ListAliases.
    List,
}

#[derive(Subcommand, Debug)]
enum DataKeyCmd {
    /// GenerateDataKey. Prints the CiphertextBlob; the plaintext data key is written
    /// only to --plaintext-out: a new 0600 file, or stdout with `-` (the CiphertextBlob
    /// then goes to stderr).
    Generate {
        /// KeyId or ARN of the CMK.
        #[arg(long = "key")]
        key_id: String,
        /// AES_256 (default) or AES_128.
        #[arg(long = "key-spec")]
        key_spec: Option<String>,
        /// NumberOfBytes (1-1024), instead of --key-spec.
        #[arg(long = "number-of-bytes")]
        number_of_bytes: Option<u32>,
        #[command(flatten)]
        context: ContextArgs,
        /// Where to write the plaintext data key (raw bytes): a file (0600), or - for
        /// stdout. Without it, this is GenerateDataKeyWithoutPlaintext.
        #[arg(long = "plaintext-out")]
        plaintext_out: Option<PathBuf>,
    },
    /// GenerateDataKeyPair: a new RSA or EC key pair for use outside the KMS. The
    /// private key (PKCS#8) goes only to --private-key-out (a 0600 file, or - for
    /// stdout; the rest then goes to stderr); without it, this is
    /// GenerateDataKeyPairWithoutPlaintext. Prints the private key's ciphertext blob
    /// (keep it: `key decrypt` opens it) and the public key (base64 of its bytes, or
    /// written to --public-key-out).
    #[command(name = "generate-pair")]
    GeneratePair {
        /// KeyId or ARN of the symmetric CMK that encrypts the private key.
        #[arg(long = "key")]
        key_id: String,
        /// RSA_2048, RSA_3072, RSA_4096, EC_P256 or EC_P256K.
        #[arg(long = "key-pair-spec")]
        key_pair_spec: String,
        /// PEM (the default) or DER, for both keys.
        #[arg(long = "key-format")]
        key_format: Option<String>,
        #[command(flatten)]
        context: ContextArgs,
        /// Where to write the private key: a file (0600), or - for stdout.
        #[arg(long = "private-key-out")]
        private_key_out: Option<PathBuf>,
        /// Where to write the public key (SubjectPublicKeyInfo).
        #[arg(long = "public-key-out")]
        public_key_out: Option<PathBuf>,
    },
    /// ExportDataKey: a CiphertextBlob's data key re-wrapped under an RSA public key
    /// (PEM or DER file); prints ExportedDataKey (base64).
    Export {
        /// The base64 CiphertextBlob of the data key.
        #[arg(long = "ciphertext-blob")]
        ciphertext_blob: String,
        #[command(flatten)]
        wrap: WrapArgs,
        #[command(flatten)]
        context: ContextArgs,
    },
    /// GenerateAndExportDataKey: a new data key under the CMK (CiphertextBlob) and
    /// under an RSA public key (ExportedDataKey); no plaintext anywhere.
    #[command(name = "generate-and-export")]
    GenerateAndExport {
        /// KeyId or ARN of the CMK.
        #[arg(long = "key")]
        key_id: String,
        /// AES_256 (default) or AES_128.
        #[arg(long = "key-spec")]
        key_spec: Option<String>,
        /// NumberOfBytes (1-1024), instead of --key-spec.
        #[arg(long = "number-of-bytes")]
        number_of_bytes: Option<u32>,
        #[command(flatten)]
        wrap: WrapArgs,
        #[command(flatten)]
        context: ContextArgs,
    },
}

#[derive(Args, Debug)]
struct WrapArgs {
    /// The RSA public key to wrap under (SubjectPublicKeyInfo, PEM or DER file).
    #[arg(long = "public-key")]
    public_key: PathBuf,
    /// RSAES_OAEP_SHA_256 (the default), RSAES_OAEP_SHA_1 or RSAES_PKCS1_V1_5.
    #[arg(long = "wrapping-algorithm")]
    wrapping_algorithm: Option<String>,
    /// RSA_2048 (the default), RSA_3072 or RSA_4096: must match the public key.
    #[arg(long = "wrapping-key-spec")]
    wrapping_key_spec: Option<String>,
}

impl WrapArgs {
    fn parts(&self) -> Result<(Vec<u8>, strongroom::WrappingAlgorithm, KeySpec), Error> {
        let key = std::fs::read(&self.public_key)
            .map_err(|e| Error::Io(format!("cannot read {}: {e}", self.public_key.display())))?;
        Ok((
            key,
            self.wrapping_algorithm
                .as_deref()
                .map(str::parse)
                .transpose()?
                .unwrap_or(strongroom::DEFAULT_EXPORT_WRAPPING_ALGORITHM),
            self.wrapping_key_spec
                .as_deref()
                .map(str::parse)
                .transpose()?
                .unwrap_or(strongroom::DEFAULT_WRAPPING_KEY_SPEC),
        ))
    }
}

#[derive(Args, Debug, Default)]
struct ContextArgs {
    /// An EncryptionContext pair, key=value (repeatable).
    #[arg(long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
}

#[derive(Args, Debug)]
struct EncryptArgs {
    /// KeyId or ARN.
    #[arg(long = "key")]
    key_id: String,
    #[command(flatten)]
    context: ContextArgs,
    /// Input file, or - for stdin.
    input: String,
    /// Output file for the base64 CiphertextBlob, or - for stdout.
    #[arg(default_value = "-")]
    output: String,
}

#[derive(Args, Debug)]
struct EnvelopeEncryptArgs {
    /// A CMK (KeyId, alias or ARN) that wraps the data key; repeat for several
    /// recipients (at most 16).
    #[arg(long = "key", required = true)]
    key_ids: Vec<String>,
    #[command(flatten)]
    context: ContextArgs,
    /// Plaintext bytes per frame (default 262144; 1 to 16 MiB).
    #[arg(long = "frame-length")]
    frame_length: Option<u32>,
    /// Sign the message with this EC_P256 SIGN/VERIFY key (KeyId, alias or ARN):
    /// readers verify the signature and report the signer (docs/FORMAT.md suite 0x0002).
    #[arg(long = "sign-key")]
    sign_key: Option<String>,
    /// Input file, or - for stdin.
    input: String,
    /// Output file, or - for stdout.
    #[arg(default_value = "-")]
    output: String,
}

#[derive(Args, Debug)]
struct EnvelopeReEncryptArgs {
    /// A CMK (KeyId, alias or ARN) to wrap the data key under instead of the
    /// message's recipients; repeat for several (at most 16). Without any, each
    /// recipient key of this store again, under its current primary version.
    #[arg(long = "key")]
    key_ids: Vec<String>,
    /// The EncryptionContext the message must carry (key=value, repeatable).
    #[command(flatten)]
    context: ContextArgs,
    /// Input file (the message), or - for stdin.
    input: String,
    /// Output file, or - for stdout.
    #[arg(default_value = "-")]
    output: String,
}

#[derive(Args, Debug)]
struct EnvelopeDecryptArgs {
    /// The EncryptionContext the message must carry (key=value, repeatable). Without
    /// any, the message's own context is accepted and reported on stderr.
    #[command(flatten)]
    context: ContextArgs,
    /// A pair the message's EncryptionContext must hold (key=value, repeatable); other
    /// pairs are allowed. Checked before any plaintext is written.
    #[arg(long = "require-context")]
    require_context: Vec<String>,
    /// The message must be signed by this key of the store (KeyId, alias or ARN);
    /// checked before any key is used.
    #[arg(long = "require-signer")]
    require_signer: Option<String>,
    /// Input file, or - for stdin.
    input: String,
    /// Output file, or - for stdout.
    #[arg(default_value = "-")]
    output: String,
}

#[derive(Args, Debug)]
struct DecryptArgs {
    #[command(flatten)]
    context: ContextArgs,
    /// File holding the base64 CiphertextBlob, or - for stdin.
    input: String,
    /// Where the plaintext goes (it may be a data key): a file, created or reset to
    /// mode 0600, or - to write it to stdout (only when asked for).
    output: String,
}

pub(crate) fn parse_context(args: &[String]) -> Result<EncryptionContext, Error> {
    let mut pairs = Vec::new();
    for a in args {
        let (k, v) = a.split_once('=').ok_or_else(|| Error::InvalidParameter {
            name: "EncryptionContext",
            reason: format!("{a:?} is not key=value"),
        })?;
        pairs.push((k.to_string(), v.to_string()));
    }
    EncryptionContext::from_pairs(pairs)
}

/// What `key sign` / `key verify` sign: a digest, or a message hashed here.
#[derive(Args, Debug)]
struct SignArgs {
    /// KeyId, alias or ARN.
    key_id: String,
    /// RSA_PSS_SHA_256, RSA_PKCS1_SHA_256 or ECDSA_SHA_256.
    #[arg(long)]
    algorithm: String,
    /// KeyVersionId (default: the primary version).
    #[arg(long = "key-version-id")]
    key_version_id: Option<String>,
    /// The SHA-256 digest, hex (64 characters) or base64.
    #[arg(long, conflicts_with = "message", required_unless_present = "message")]
    digest: Option<String>,
    /// A file (or - for stdin) whose SHA-256 is signed.
    #[arg(long)]
    message: Option<String>,
}

/// `--digest` and `--message` as read, for [`strongroom::SignInput::one_of`].
type DigestAndMessage = (Option<Vec<u8>>, Option<Vec<u8>>);

impl SignArgs {
    /// The digest (`--digest`, hex or base64) and the message (`--message` file), as
    /// given; the core takes exactly one ([`strongroom::SignInput::one_of`]).
    fn input(&self) -> Result<DigestAndMessage, Error> {
        let message = self.message.as_deref().map(read_input).transpose()?;
        let digest = self.digest.as_deref().map(parse_digest).transpose()?;
        Ok((digest, message))
    }
}

/// A SHA-256 digest given as 64 hex characters or base64.
fn parse_digest(d: &str) -> Result<Vec<u8>, Error> {
    let d = d.trim();
    let bytes = if d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(d).ok()
    } else {
        B64.decode(d).ok()
    };
    bytes.ok_or_else(|| Error::InvalidParameter {
        name: "Digest",
        reason: "neither 64 hex characters nor base64".into(),
    })
}

fn read_input(path: &str) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::new();
    let r = if path == "-" {
        std::io::stdin().read_to_end(&mut buf).map(|_| ())
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut buf).map(|_| ()))
    };
    r.map_err(|e| Error::Io(format!("cannot read {path}: {e}")))?;
    Ok(buf)
}

pub(crate) fn write_output(path: &str, data: &[u8]) -> Result<(), Error> {
    let r = if path == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(data).and_then(|()| out.flush())
    } else {
        std::fs::write(path, data)
    };
    r.map_err(|e| Error::Io(format!("cannot write {path}: {e}")))
}

/// Writes plaintext (a secret, perhaps a data key): to stdout only for `-`, which the
/// user gave explicitly; otherwise to a file created — or reset — to mode 0600, never
/// through a symbolic link.
fn write_plaintext(path: &str, data: &[u8]) -> Result<(), Error> {
    if path == "-" {
        return write_output(path, data);
    }
    write_secret_file(Path::new(path), data)
}

/// A passphrase, wiped when dropped.
pub(crate) type Passphrase = zeroize::Zeroizing<String>;

/// The store passphrase; for a store about to be created, asked twice on a terminal.
fn passphrase_for(new_store: bool) -> Result<Passphrase, Error> {
    if new_store
        && std::env::var("STRONGROOM_PASSPHRASE").map_or(true, |p| p.is_empty())
        && std::io::stdin().is_terminal()
    {
        let bad = |reason: String| Error::InvalidParameter {
            name: "Passphrase",
            reason,
        };
        let a = Passphrase::new(
            rpassword::prompt_password("new store passphrase: ").map_err(|e| bad(e.to_string()))?,
        );
        let b = Passphrase::new(
            rpassword::prompt_password("new store passphrase again: ")
                .map_err(|e| bad(e.to_string()))?,
        );
        if *a != *b {
            return Err(bad("the two entries differ".into()));
        }
        return Ok(a);
    }
    passphrase()
}

/// Whether the command may create a missing store: a first write of a key or a
/// secret, or `store init`.
fn creates_store(cmd: &Cmd) -> bool {
    match cmd {
        Cmd::Key(KeyCmd::Create { .. })
        | Cmd::Secret(secret::SecretCmd::Create { .. })
        | Cmd::Store(StoreCmd::Init) => true,
        Cmd::Kms(a) => matches!(a.action.as_str(), "CreateKey" | "CreateSecret"),
        _ => false,
    }
}

fn passphrase() -> Result<Passphrase, Error> {
    if let Ok(p) = std::env::var("STRONGROOM_PASSPHRASE")
        && !p.is_empty()
    {
        return Ok(Passphrase::new(p));
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("store passphrase: ")
            .map(Passphrase::new)
            .map_err(|e| Error::InvalidParameter {
                name: "Passphrase",
                reason: e.to_string(),
            });
    }
    Err(Error::InvalidParameter {
        name: "Passphrase",
        reason: "set STRONGROOM_PASSPHRASE or run on a terminal to be prompted".into(),
    })
}

/// The key backend: a PKCS#11 token when STRONGROOM_PKCS11_MODULE names a module
/// (with STRONGROOM_PKCS11_TOKEN, its label, and the PIN from STRONGROOM_PKCS11_PIN,
/// the file STRONGROOM_PKCS11_PIN_FILE names, or a prompt), else the software backend.
/// Master keys in an OpenBao / Vault transit engine: STRONGROOM_TRANSIT_ADDR, the
/// token from STRONGROOM_TRANSIT_TOKEN or _TOKEN_FILE, and optionally _MOUNT,
/// _KEY_PREFIX and _CA_FILE.
fn transit_backend(address: String) -> Result<Arc<dyn strongroom::KeyBackend>, Error> {
    let bad = |reason: String| Error::InvalidParameter {
        name: "Transit",
        reason,
    };
    let token = if let Ok(t) = std::env::var("STRONGROOM_TRANSIT_TOKEN")
        && !t.is_empty()
    {
        t
    } else if let Some(f) = std::env::var_os("STRONGROOM_TRANSIT_TOKEN_FILE") {
        std::fs::read_to_string(&f)
            .map_err(|e| bad(format!("cannot read STRONGROOM_TRANSIT_TOKEN_FILE: {e}")))?
            .trim()
            .to_string()
    } else {
        return Err(bad(
            "set STRONGROOM_TRANSIT_TOKEN or STRONGROOM_TRANSIT_TOKEN_FILE".into(),
        ));
    };
    let mut cfg = strongroom::backend::transit::TransitConfig::new(
        address,
        strongroom::SecretBytes::new(token.into_bytes()),
    );
    if let Ok(m) = std::env::var("STRONGROOM_TRANSIT_MOUNT")
        && !m.is_empty()
    {
        cfg.mount = m;
    }
    if let Ok(p) = std::env::var("STRONGROOM_TRANSIT_KEY_PREFIX") {
        cfg.key_prefix = p;
    }
    let opts = strongroom_gateway::client::ClientOptions {
        ca_file: std::env::var_os("STRONGROOM_TRANSIT_CA_FILE")
            .filter(|f| !f.is_empty())
            .map(Into::into),
        timeout: None,
        ..Default::default()
    };
    strongroom_gateway::client::transit_backend(cfg, &opts)
}

/// Master keys on a KMIP server: STRONGROOM_KMIP_ADDR (`host:port`), the PEM files
/// STRONGROOM_KMIP_CA_FILE, _CERT_FILE and _KEY_FILE (mutual TLS), and optionally
/// _SERVER_NAME, _TIMEOUT (seconds) and _PROTECTION_LEVEL (`SOFTWARE`, the default,
/// or `HSM` for a server in front of an HSM).
fn kmip_backend(address: String) -> Result<Arc<dyn strongroom::KeyBackend>, Error> {
    let bad = |reason: String| Error::InvalidParameter {
        name: "Kmip",
        reason,
    };
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let file = |name: &str| var(name).ok_or_else(|| bad(format!("set {name}")));
    let mut cfg = strongroom_kmip::KmipConfig::new(
        address,
        file("STRONGROOM_KMIP_CA_FILE")?,
        file("STRONGROOM_KMIP_CERT_FILE")?,
        file("STRONGROOM_KMIP_KEY_FILE")?,
    );
    cfg.server_name = var("STRONGROOM_KMIP_SERVER_NAME");
    if let Some(t) = var("STRONGROOM_KMIP_TIMEOUT") {
        cfg.timeout = t
            .parse::<f64>()
            .ok()
            .filter(|t| *t > 0.0 && *t <= 3600.0)
            .map(std::time::Duration::from_secs_f64)
            .ok_or_else(|| bad("STRONGROOM_KMIP_TIMEOUT must be seconds in (0, 3600]".into()))?;
    }
    if let Some(p) = var("STRONGROOM_KMIP_PROTECTION_LEVEL") {
        cfg.protection_level = p
            .parse()
            .map_err(|_| bad("STRONGROOM_KMIP_PROTECTION_LEVEL must be SOFTWARE or HSM".into()))?;
    }
    Ok(strongroom_kmip::KmipBackend::connect(cfg)?)
}

/// Master keys behind another strongroom (`serve --backend-clients`), over the wire
/// protocol version 2: STRONGROOM_REMOTE_URL (`https://host:8443/strongroom-backend`),
/// the client key file STRONGROOM_REMOTE_CLIENT_KEY_FILE (`backend-client-key`), and
/// optionally STRONGROOM_REMOTE_CA_FILE.
fn remote_backend(url: String) -> Result<Arc<dyn strongroom::KeyBackend>, Error> {
    use base64::Engine as _;
    let bad = |reason: String| Error::InvalidParameter {
        name: "ClientKey",
        reason,
    };
    let file = std::env::var_os("STRONGROOM_REMOTE_CLIENT_KEY_FILE")
        .filter(|f| !f.is_empty())
        .ok_or_else(|| bad("STRONGROOM_REMOTE_URL needs STRONGROOM_REMOTE_CLIENT_KEY_FILE (`strongroom backend-client-key --out FILE`)".into()))?;
    let text = std::fs::read_to_string(&file).map_err(|e| {
        bad(format!(
            "cannot read STRONGROOM_REMOTE_CLIENT_KEY_FILE {}: {e}",
            Path::new(&file).display()
        ))
    })?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|_| bad("the client key file is not JSON {\"id\", \"secret\"}".into()))?;
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let secret = v
        .get("secret")
        .and_then(Value::as_str)
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .ok_or_else(|| bad("the client key file's \"secret\" is not base64".into()))?;
    let key = strongroom::backend::remote::WireClientKey {
        id,
        secret: strongroom::SecretBytes::new(secret),
    };
    let opts = strongroom_gateway::client::ClientOptions {
        ca_file: std::env::var_os("STRONGROOM_REMOTE_CA_FILE")
            .filter(|f| !f.is_empty())
            .map(Into::into),
        timeout: None,
        ..Default::default()
    };
    strongroom_gateway::client::remote_backend(&url, key, &opts)
}

fn key_backend() -> Result<Option<Arc<dyn strongroom::KeyBackend>>, Error> {
    let remote = std::env::var("STRONGROOM_REMOTE_URL")
        .ok()
        .filter(|a| !a.is_empty());
    if let Some(url) = remote {
        let others = [
            "STRONGROOM_PKCS11_MODULE",
            "STRONGROOM_TRANSIT_ADDR",
            "STRONGROOM_KMIP_ADDR",
        ]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
        if others {
            return Err(Error::InvalidParameter {
                name: "Backend",
                reason: "set one of STRONGROOM_REMOTE_URL, STRONGROOM_PKCS11_MODULE, STRONGROOM_TRANSIT_ADDR and STRONGROOM_KMIP_ADDR".into(),
            });
        }
        return remote_backend(url).map(Some);
    }
    let transit = std::env::var("STRONGROOM_TRANSIT_ADDR")
        .ok()
        .filter(|a| !a.is_empty());
    let kmip = std::env::var("STRONGROOM_KMIP_ADDR")
        .ok()
        .filter(|a| !a.is_empty());
    let pkcs11 = std::env::var_os("STRONGROOM_PKCS11_MODULE").filter(|m| !m.is_empty());
    if kmip.is_some() && (transit.is_some() || pkcs11.is_some()) {
        return Err(Error::InvalidParameter {
            name: "Kmip",
            reason: "set one of STRONGROOM_PKCS11_MODULE, STRONGROOM_TRANSIT_ADDR and STRONGROOM_KMIP_ADDR".into(),
        });
    }
    if let Some(a) = kmip {
        return kmip_backend(a).map(Some);
    }
    let Some(module) = pkcs11 else {
        return transit.map(transit_backend).transpose();
    };
    if transit.is_some() {
        return Err(Error::InvalidParameter {
            name: "Transit",
            reason: "set STRONGROOM_PKCS11_MODULE or STRONGROOM_TRANSIT_ADDR, not both".into(),
        });
    }
    let bad = |reason: String| Error::InvalidParameter {
        name: "Pkcs11",
        reason,
    };
    let token_label = std::env::var("STRONGROOM_PKCS11_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("STRONGROOM_PKCS11_TOKEN must name the token's label".into()))?;
    let pin = if let Ok(p) = std::env::var("STRONGROOM_PKCS11_PIN")
        && !p.is_empty()
    {
        p
    } else if let Some(f) = std::env::var_os("STRONGROOM_PKCS11_PIN_FILE") {
        std::fs::read_to_string(&f)
            .map_err(|e| bad(format!("cannot read STRONGROOM_PKCS11_PIN_FILE: {e}")))?
            .trim_end_matches(['\r', '\n'])
            .to_string()
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("PIN of PKCS#11 token {token_label:?}: "))
            .map_err(|e| bad(e.to_string()))?
    } else {
        return Err(bad(
            "set STRONGROOM_PKCS11_PIN or STRONGROOM_PKCS11_PIN_FILE, or run on a terminal to be prompted".into(),
        ));
    };
    let sessions = std::env::var("STRONGROOM_PKCS11_SESSIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4);
    let b = strongroom_pkcs11::Pkcs11Backend::open(&strongroom_pkcs11::Pkcs11Config {
        module: module.into(),
        token_label,
        pin: strongroom::SecretBytes::new(pin.into_bytes()),
        sessions,
    })?;
    // How long a found key object's handle is used before its CKA_ID is checked again
    // (0: before every use; default 1000).
    if let Ok(ms) = std::env::var("STRONGROOM_PKCS11_HANDLE_CHECK_MS")
        && !ms.is_empty()
    {
        let ms: u64 = ms
            .parse()
            .map_err(|_| bad("STRONGROOM_PKCS11_HANDLE_CHECK_MS must be milliseconds".into()))?;
        b.set_handle_check(std::time::Duration::from_millis(ms));
    }
    Ok(Some(b))
}

static AUDIT_SINK: std::sync::OnceLock<Arc<strongroom::storage::FileAuditSink>> =
    std::sync::OnceLock::new();

/// The store's audit file, once `open_store` attached it.
pub(crate) fn audit_sink() -> Option<Arc<strongroom::storage::FileAuditSink>> {
    AUDIT_SINK.get().cloned()
}

/// Opens the store, attaches its audit trail (`<store>.audit`; level from the store,
/// else STRONGROOM_AUDIT, else management; STRONGROOM_AUDIT_STRICT=1 makes every
/// event durable first) and, when STRONGROOM_ACCESS_KEY_ID is set, acts as the
/// principal its AccessKey (and STRONGROOM_SECURITY_TOKEN) names.
pub(crate) fn open_store(path: &Path, pass: &str, kdf: KdfParams) -> Result<Kms, Error> {
    let storage = Arc::new(FileStorage::open(path)?);
    let kms = pollster::block_on(Kms::open(KmsOptions {
        env: Env::system(),
        storage,
        root: RootSecret::passphrase(pass),
        kdf,
        backend: key_backend()?,
    }))?;
    let level = match std::env::var("STRONGROOM_AUDIT") {
        Ok(l) if !l.is_empty() => strongroom::access::AuditLevel::parse(&l)?,
        _ => strongroom::access::AuditLevel::Management,
    };
    kms.set_default_audit_level(level);
    let sink = Arc::new(strongroom::storage::FileAuditSink::open(
        strongroom::storage::FileAuditSink::beside(path),
    )?);
    let opts = strongroom::audit::AuditOptions {
        strict: std::env::var("STRONGROOM_AUDIT_STRICT").is_ok_and(|v| v == "1"),
        ..Default::default()
    };
    kms.attach_audit(sink.clone(), opts)?;
    let _ = AUDIT_SINK.set(sink);
    if let Ok(id) = std::env::var("STRONGROOM_ACCESS_KEY_ID")
        && !id.is_empty()
    {
        let secret = std::env::var("STRONGROOM_ACCESS_KEY_SECRET").unwrap_or_default();
        let token = std::env::var("STRONGROOM_SECURITY_TOKEN")
            .ok()
            .filter(|t| !t.is_empty());
        let caller = kms.authenticate(&id, secret.as_bytes(), token.as_deref())?;
        kms.act_as(caller)?;
    }
    Ok(kms)
}

pub(crate) fn metadata_json(m: &KeyMetadata) -> Value {
    json!({
        "KeyId": m.key_id,
        "Arn": m.arn,
        "CreationDate": m.creation_date,
        "Creator": m.creator,
        "Description": m.description,
        "KeyUsage": m.key_usage.as_str(),
        "KeyState": m.key_state.as_str(),
        "KeySpec": m.key_spec.as_str(),
        "Origin": m.origin.as_str(),
        "ProtectionLevel": m.protection_level.as_str(),
        "PrimaryKeyVersion": m.primary_key_version,
        "DeleteDate": m.delete_date,
        "AutomaticRotation": m.automatic_rotation,
        "RotationInterval": m.rotation_interval,
        "LastRotationDate": m.last_rotation_date,
        "NextRotationDate": m.next_rotation_date,
        "DeletionProtection": m.deletion_protection,
        "DeletionProtectionDescription": m.deletion_protection_description,
        "MaterialExpireTime": m.material_expire_time,
    })
}

/// Every page of a list action.
struct AllPages<T> {
    items: Vec<T>,
    total_count: u64,
}

fn all_pages<T>(
    mut page: impl FnMut(u32) -> Result<(Vec<T>, u64), Error>,
) -> Result<AllPages<T>, Error> {
    let mut items = Vec::new();
    let mut n = 1u32;
    loop {
        let (got, total_count) = page(n)?;
        let empty = got.is_empty();
        items.extend(got);
        if empty || items.len() as u64 >= total_count {
            return Ok(AllPages { items, total_count });
        }
        n = n.saturating_add(1);
    }
}

/// A `--json` result: to stdout, or to stderr when stdout carries the data (`-`).
pub(crate) fn print_result(v: &Value, data_on_stdout: bool) {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    if data_on_stdout {
        eprintln!("{text}");
    } else {
        println!("{text}");
    }
}

pub(crate) fn print(json_mode: bool, v: &Value) {
    if json_mode {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    } else if let Some(obj) = v.as_object() {
        for (k, val) in obj {
            match val {
                Value::String(s) => println!("{k}: {s}"),
                Value::Null => {}
                other => println!("{k}: {other}"),
            }
        }
    }
}

/// A second secret (new passphrase, backup passphrase): from `var`, or prompted twice
/// on a terminal.
pub(crate) fn other_secret(var: &str, what: &str) -> Result<Passphrase, Error> {
    if let Ok(p) = std::env::var(var)
        && !p.is_empty()
    {
        return Ok(Passphrase::new(p));
    }
    let bad = |reason: String| Error::InvalidParameter {
        name: "Passphrase",
        reason,
    };
    if !std::io::stdin().is_terminal() {
        return Err(bad(format!(
            "set {var} or run on a terminal to be prompted"
        )));
    }
    let a = Passphrase::new(
        rpassword::prompt_password(format!("{what}: ")).map_err(|e| bad(e.to_string()))?,
    );
    let b = Passphrase::new(
        rpassword::prompt_password(format!("{what} again: ")).map_err(|e| bad(e.to_string()))?,
    );
    if *a != *b {
        return Err(bad("the two entries differ".into()));
    }
    Ok(a)
}

fn store_cmd(kms: &Kms, cmd: StoreCmd, json_mode: bool) -> Result<(), Error> {
    match cmd {
        StoreCmd::Info | StoreCmd::Check | StoreCmd::Init | StoreCmd::Verify => {}
        StoreCmd::Repair => {
            let torn = kms.store_info()?.torn_bytes;
            if torn > 0 {
                let p = progress::Activity::start("repairing", json_mode);
                pollster::block_on(kms.compact_store())?;
                p.finish();
            }
            print(
                json_mode,
                &json!({
                    "Repaired": torn > 0,
                    "DroppedBytes": torn,
                    "Message": if torn > 0 {
                        format!("dropped a torn final record of {torn} bytes (a write a crash cut short, never acknowledged) and rewrote the store")
                    } else {
                        "nothing to repair: the store ends cleanly".to_string()
                    },
                }),
            );
            return Ok(());
        }
        StoreCmd::Compact => {
            let p = progress::Activity::start("compacting", json_mode);
            pollster::block_on(kms.compact_store())?;
            p.finish();
        }
        StoreCmd::ChangePassphrase => {
            let new = other_secret("STRONGROOM_NEW_PASSPHRASE", "new store passphrase")?;
            let p = progress::Activity::start("changing the passphrase", json_mode);
            pollster::block_on(
                kms.change_root(RootSecret::passphrase(&new), KdfParams::default()),
            )?;
            p.finish();
        }
        StoreCmd::Rekey => {
            let p = progress::Activity::start("rekeying", json_mode);
            pollster::block_on(kms.rekey_store())?;
            p.finish();
        }
        StoreCmd::Backup { out } => {
            let pass = other_secret("STRONGROOM_BACKUP_PASSPHRASE", "backup passphrase")?;
            let p = progress::Activity::start("backing up", json_mode);
            let b = pollster::block_on(kms.create_backup(&pass, KdfParams::default()))?;
            p.finish();
            write_secret_file(&out, &b)?;
            print(
                json_mode,
                &json!({"BackupFile": out.display().to_string(), "Bytes": b.len(), "ProtectionLevel": kms.protection_level().as_str()}),
            );
            return Ok(());
        }
        StoreCmd::Restore { .. } => {}
    }
    let i = kms.store_info()?;
    let keys = pollster::block_on(kms.list_keys(ListKeysRequest::default()))?.total_count;
    print(
        json_mode,
        &json!({
            "FormatVersion": i.format_version,
            "Generation": i.generation,
            "Keys": keys,
            "SnapshotBytes": i.snapshot_bytes,
            "JournalRecords": i.journal_records,
            "JournalBytes": i.journal_bytes,
            "TornBytes": i.torn_bytes,
        }),
    );
    Ok(())
}

/// A base64 CiphertextBlob (surrounding whitespace ignored).
fn ciphertext_b64(text: &[u8]) -> Result<Vec<u8>, Error> {
    let bad = |reason: String| Error::InvalidParameter {
        name: "CiphertextBlob",
        reason,
    };
    let text = std::str::from_utf8(text).map_err(|_| bad("not base64 text".into()))?;
    B64.decode(text.trim())
        .map_err(|e| bad(format!("malformed base64: {e}")))
}

/// `--filter K=V1,V2` flags and Alibaba's `--filters` JSON as ListKeys filters.
fn key_filters(flags: &[String], json: Option<&str>) -> Result<Vec<strongroom::KeyFilter>, Error> {
    let bad = |reason: String| Error::InvalidParameter {
        name: "Filters",
        reason,
    };
    let mut out = Vec::new();
    for f in flags {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| bad(format!("{f:?} is not Key=Value1,Value2")))?;
        out.push(strongroom::KeyFilter {
            key: k.to_string(),
            values: v
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        });
    }
    if let Some(j) = json {
        let parsed: Value = serde_json::from_str(j).map_err(|e| bad(e.to_string()))?;
        let shape =
            || bad(r#"Filters is a JSON array of {"Key": "...", "Values": ["..."]}"#.into());
        for f in parsed.as_array().ok_or_else(shape)? {
            let key = f.get("Key").and_then(Value::as_str).ok_or_else(shape)?;
            let values = match f.get("Values") {
                None => Vec::new(),
                Some(v) => v
                    .as_array()
                    .ok_or_else(shape)?
                    .iter()
                    .map(|x| x.as_str().map(str::to_string).ok_or_else(shape))
                    .collect::<Result<_, _>>()?,
            };
            out.push(strongroom::KeyFilter {
                key: key.to_string(),
                values,
            });
        }
    }
    Ok(out)
}

fn run(cli: Cli, store_given: bool) -> Result<ExitCode, Error> {
    let json_mode = cli.json;
    if let Cmd::Lab(args) = &cli.cmd {
        if store_given {
            return Err(Error::InvalidParameter {
                name: "Store",
                reason: "lab always runs in a fresh store of its own; choose its directory with `lab --dir DIR`".into(),
            });
        }
        return lab::run(args, json_mode).map(|()| ExitCode::SUCCESS);
    }
    if generated(&cli.cmd, json_mode)? {
        return Ok(ExitCode::SUCCESS);
    }
    if let Cmd::BackendClientKey(a) = &cli.cmd {
        use base64::Engine as _;
        let k = strongroom::backend::remote::WireClientKey::generate(&Env::system())?;
        let v = json!({
            "id": k.id,
            "secret": base64::engine::general_purpose::STANDARD.encode(k.secret.expose()),
        });
        write_secret_file(
            &a.out,
            format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default()).as_bytes(),
        )?;
        print(
            json_mode,
            &json!({"ClientKeyId": k.id, "ClientKeyFile": a.out.display().to_string()}),
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(url) = cli.endpoint.clone() {
        return run_connected(url, cli, json_mode);
    }
    if let Cmd::Store(StoreCmd::Check) = &cli.cmd {
        let bytes = match std::fs::read(&cli.store) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::StoreNotFound(cli.store.display().to_string()));
            }
            Err(e) => {
                return Err(Error::StoreIo(format!(
                    "cannot read {}: {e}",
                    cli.store.display()
                )));
            }
        };
        let (i, keys, values_generation, spans) =
            strongroom::storage::inspect_values(&bytes, &RootSecret::passphrase(&passphrase()?))?;
        // The values file must hold every value the store names.
        let v = strongroom::storage::check_values_file(&cli.store, values_generation, &spans)?;
        print(
            json_mode,
            &json!({
                "Opens": true,
                "FormatVersion": i.format_version,
                "Generation": i.generation,
                "Keys": keys,
                "JournalRecords": i.journal_records,
                "WouldDropBytes": i.torn_bytes,
                "ValuesFile": {
                    "Path": v.path.display().to_string(),
                    "Generation": values_generation,
                    "Bytes": v.bytes,
                    "Values": v.values,
                    "LiveBytes": v.live_bytes,
                    "DeadBytes": v.bytes.saturating_sub(8 + v.live_bytes),
                },
                "Message": if i.torn_bytes > 0 {
                    format!("opening drops a torn final record of {} bytes (a write a crash cut short, never acknowledged); `store repair` rewrites the store without it", i.torn_bytes)
                } else {
                    "the store is whole: opening drops nothing".to_string()
                },
            }),
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Cmd::Store(StoreCmd::Restore { backup }) = &cli.cmd {
        let bytes = std::fs::read(backup)
            .map_err(|e| Error::Io(format!("cannot read {}: {e}", backup.display())))?;
        let pass = other_secret("STRONGROOM_BACKUP_PASSPHRASE", "backup passphrase")?;
        let options = KmsOptions {
            env: Env::system(),
            storage: Arc::new(FileStorage::open(&cli.store)?),
            root: RootSecret::passphrase(&passphrase()?),
            kdf: KdfParams::default(),
            backend: key_backend()?,
        };
        // Drawn only once every passphrase has been asked for.
        let p = progress::Activity::start("restoring", json_mode);
        let kms = pollster::block_on(Kms::restore_backup(options, &bytes, &pass))?;
        p.finish();
        store_cmd(&kms, StoreCmd::Info, json_mode)?;
        return Ok(ExitCode::SUCCESS);
    }
    // A read on a missing store (a typo in --store, say) must not make an empty one
    // that looks like "every key is gone".
    let exists = cli.store.try_exists().unwrap_or(true);
    if !exists && !creates_store(&cli.cmd) {
        return Err(Error::StoreNotFound(cli.store.display().to_string()));
    }
    if let Cmd::Serve(args) = &cli.cmd {
        return serve::run(args, &cli.store, store_given, &passphrase()?);
    }
    if let Cmd::Run(args) = &cli.cmd {
        return secret::run_command(&cli.store, &passphrase()?, args);
    }
    // Verifying with the public key needs neither the store nor its passphrase.
    if let Cmd::Audit(audit::AuditCmd::Verify {
        public_key: Some(pk),
        files,
        require_closed,
    }) = &cli.cmd
    {
        let pem = std::fs::read(pk)
            .map_err(|e| Error::Io(format!("cannot read {}: {e}", pk.display())))?;
        return audit::verify(&cli.store, &pem, files, *require_closed, json_mode)
            .map(ExitCode::from);
    }
    let kms = open_store(&cli.store, &passphrase_for(!exists)?, KdfParams::default())?;
    let out = run_open(&kms, cli, json_mode);
    // Closing writes the audit trail's final digest and releases the store.
    let closed = pollster::block_on(kms.close());
    let code = out?;
    closed?;
    Ok(code)
}

/// A command against a gateway (`--endpoint`): the store's own commands (store,
/// audit, serve, run) belong to the gateway's host and are refused here.
fn run_connected(url: String, cli: Cli, json_mode: bool) -> Result<ExitCode, Error> {
    let refuse = |what: &str| {
        Err(Error::InvalidParameter {
            name: "Endpoint",
            reason: format!(
                "`{what}` works on a store file, not through --endpoint: run it where the gateway's store is"
            ),
        })
    };
    match &cli.cmd {
        Cmd::Store(_) => return refuse("store"),
        Cmd::Audit(_) => return refuse("audit"),
        Cmd::Serve(_) => return refuse("serve"),
        Cmd::Run(_) => return refuse("run"),
        _ => {}
    }
    let id = std::env::var("STRONGROOM_ACCESS_KEY_ID")
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::InvalidParameter {
            name: "AccessKeyId",
            reason: "--endpoint needs STRONGROOM_ACCESS_KEY_ID and STRONGROOM_ACCESS_KEY_SECRET"
                .into(),
        })?;
    let secret = other_secret("STRONGROOM_ACCESS_KEY_SECRET", "AccessKey secret")?;
    let token = std::env::var("STRONGROOM_SECURITY_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let endpoint = strongroom::Endpoint {
        url,
        access_key_id: id,
        access_key_secret: strongroom::SecretBytes::from_slice(secret.as_bytes()),
        security_token: token.map(|t| strongroom::SecretBytes::new(t.into_bytes())),
    };
    let opts = strongroom_gateway::client::ClientOptions {
        ca_file: std::env::var_os("STRONGROOM_CA_FILE")
            .filter(|f| !f.is_empty())
            .map(Into::into),
        timeout: None,
        ..Default::default()
    };
    let kms = pollster::block_on(strongroom_gateway::client::connect(endpoint, &opts))?;
    run_open(&kms, cli, json_mode)
}

fn run_open(kms: &Kms, cli: Cli, json_mode: bool) -> Result<ExitCode, Error> {
    if let Cmd::Audit(cmd) = cli.cmd {
        return audit::run(kms, &cli.store, cmd, json_mode).map(ExitCode::from);
    }
    if let Cmd::Ram(cmd) = cli.cmd {
        ram::run(kms, cmd, json_mode)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Cmd::Kms(args) = &cli.cmd {
        let (v, ok) = kms_verb::run(kms, &args.action, &args.params);
        let text = serde_json::to_string_pretty(&v).unwrap_or_default();
        if ok {
            println!("{text}");
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("{text}");
        return Ok(ExitCode::from(2));
    }
    match cli.cmd {
        Cmd::Key(KeyCmd::Create {
            key_spec,
            key_usage,
            description,
            origin,
        }) => {
            let key_spec = key_spec.map(|s| s.parse::<KeySpec>()).transpose()?;
            let key_usage = key_usage
                .map(|s| s.parse::<strongroom::KeyUsage>())
                .transpose()?;
            let origin = origin
                .map(|s| s.parse::<strongroom::Origin>())
                .transpose()?;
            let m = pollster::block_on(kms.create_key(CreateKeyRequest {
                key_spec,
                key_usage,
                description,
                origin,
                ..Default::default()
            }))?;
            print(json_mode, &metadata_json(&m));
        }
        Cmd::Key(KeyCmd::ImportParams {
            key_id,
            wrapping_algorithm,
            wrapping_key_spec,
            public_key_out,
            token_out,
        }) => {
            let p = pollster::block_on(
                kms.get_parameters_for_import(
                    &key_id,
                    wrapping_algorithm
                        .as_deref()
                        .map(str::parse)
                        .transpose()?
                        .unwrap_or(strongroom::DEFAULT_IMPORT_WRAPPING_ALGORITHM),
                    wrapping_key_spec
                        .as_deref()
                        .map(str::parse)
                        .transpose()?
                        .unwrap_or(strongroom::DEFAULT_WRAPPING_KEY_SPEC),
                ),
            )?;
            if let Some(f) = public_key_out {
                write_output(
                    &f.display().to_string(),
                    strongroom::asym::spki_pem(&p.public_key).as_bytes(),
                )?;
            }
            if let Some(f) = token_out {
                write_output(&f.display().to_string(), p.import_token.as_bytes())?;
            }
            print(
                json_mode,
                &json!({"KeyId": p.key_id, "ImportToken": p.import_token, "PublicKey": B64.encode(&p.public_key), "TokenExpireTime": p.token_expire_time}),
            );
        }
        Cmd::Key(KeyCmd::Import {
            key_id,
            encrypted_material,
            base64,
            token,
            expire_unix,
        }) => {
            let raw = read_input(&encrypted_material)?;
            let encrypted_key_material = if base64 {
                // Line-wrapped base64 (as `openssl base64` writes it) is fine.
                let text: Vec<u8> = raw
                    .into_iter()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                B64.decode(text).map_err(|_| Error::InvalidParameter {
                    name: "EncryptedKeyMaterial",
                    reason: "not base64".into(),
                })?
            } else {
                raw
            };
            let import_token = match token.strip_prefix('@') {
                Some(f) => {
                    String::from_utf8(read_input(f)?).map_err(|_| Error::InvalidParameter {
                        name: "ImportToken",
                        reason: "the token file is not text".into(),
                    })?
                }
                None => token,
            };
            let m = pollster::block_on(kms.import_key_material(
                strongroom::ImportKeyMaterialRequest {
                    key_id,
                    encrypted_key_material,
                    import_token,
                    key_material_expire_unix: expire_unix,
                },
            ))?;
            print(json_mode, &metadata_json(&m));
        }
        Cmd::Key(KeyCmd::DeleteMaterial { key_id }) => {
            print(
                json_mode,
                &metadata_json(&pollster::block_on(kms.delete_key_material(&key_id))?),
            );
        }
        Cmd::Key(KeyCmd::Describe { key_id }) => {
            let m = pollster::block_on(kms.describe_key(&key_id))?;
            print(json_mode, &metadata_json(&m));
        }
        Cmd::Key(KeyCmd::CreateVersion { key_id }) => {
            let v = pollster::block_on(kms.create_key_version(&key_id))?;
            print(
                json_mode,
                &json!({"KeyId": v.key_id, "KeyVersionId": v.key_version_id, "CreationDate": v.creation_date}),
            );
        }
        Cmd::Key(KeyCmd::ListVersions { key_id }) => {
            let l = all_pages(|n| {
                let p = pollster::block_on(kms.list_key_versions(&key_id, Some(n), Some(100)))?;
                Ok((p.key_versions, p.total_count))
            })?;
            let vs: Vec<Value> = l
                .items
                .iter()
                .map(|v| json!({"KeyId": v.key_id, "KeyVersionId": v.key_version_id, "CreationDate": v.creation_date}))
                .collect();
            if json_mode {
                print(
                    true,
                    &json!({"KeyVersions": vs, "TotalCount": l.total_count}),
                );
            } else {
                for v in &l.items {
                    println!("{}  {}", v.key_version_id, v.creation_date);
                }
            }
        }
        Cmd::Key(KeyCmd::Rotation {
            key_id,
            enable,
            interval,
        }) => {
            let req = strongroom::UpdateRotationPolicyRequest {
                key_id,
                enable_automatic_rotation: enable,
                rotation_interval: interval,
            };
            print(
                json_mode,
                &metadata_json(&pollster::block_on(kms.update_rotation_policy(req))?),
            );
        }
        Cmd::Key(KeyCmd::DeletionProtection {
            key_id,
            enable,
            description,
        }) => print(
            json_mode,
            &metadata_json(&pollster::block_on(kms.set_deletion_protection(
                &key_id,
                enable,
                description.as_deref(),
            ))?),
        ),
        Cmd::Key(KeyCmd::Enable { key_id }) => print(
            json_mode,
            &metadata_json(&pollster::block_on(kms.enable_key(&key_id))?),
        ),
        Cmd::Key(KeyCmd::Disable { key_id }) => print(
            json_mode,
            &metadata_json(&pollster::block_on(kms.disable_key(&key_id))?),
        ),
        Cmd::Key(KeyCmd::ScheduleDeletion {
            key_id,
            pending_window_in_days,
        }) => print(
            json_mode,
            &metadata_json(&pollster::block_on(
                kms.schedule_key_deletion(&key_id, pending_window_in_days),
            )?),
        ),
        Cmd::Key(KeyCmd::CancelDeletion { key_id }) => print(
            json_mode,
            &metadata_json(&pollster::block_on(kms.cancel_key_deletion(&key_id))?),
        ),
        Cmd::Key(KeyCmd::UpdateDescription {
            key_id,
            description,
        }) => print(
            json_mode,
            &metadata_json(&pollster::block_on(
                kms.update_key_description(&key_id, &description),
            )?),
        ),
        Cmd::Key(KeyCmd::List {
            page_number,
            page_size,
            filter,
            filters,
        }) => {
            let filters = key_filters(&filter, filters.as_deref())?;
            if page_number.is_none() && page_size.is_none() {
                // No page asked for: every key.
                let l = all_pages(|n| {
                    let p = pollster::block_on(kms.list_keys(ListKeysRequest {
                        page_number: Some(n),
                        page_size: Some(100),
                        filters: filters.clone(),
                    }))?;
                    Ok((p.keys, p.total_count))
                })?;
                if json_mode {
                    let keys: Vec<Value> = l
                        .items
                        .iter()
                        .map(|k| json!({"KeyId": k.key_id, "KeyArn": k.key_arn}))
                        .collect();
                    print(true, &json!({"Keys": keys, "TotalCount": l.total_count}));
                } else {
                    for k in &l.items {
                        println!("{}", k.key_id);
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
            let l = pollster::block_on(kms.list_keys(ListKeysRequest {
                page_number,
                page_size,
                filters,
            }))?;
            if json_mode {
                let keys: Vec<Value> = l
                    .keys
                    .iter()
                    .map(|k| json!({"KeyId": k.key_id, "KeyArn": k.key_arn}))
                    .collect();
                print(
                    true,
                    &json!({"Keys": keys, "TotalCount": l.total_count, "PageNumber": l.page_number, "PageSize": l.page_size}),
                );
            } else {
                for k in &l.keys {
                    println!("{}", k.key_id);
                }
                eprintln!(
                    "({} of {} keys, page {})",
                    l.keys.len(),
                    l.total_count,
                    l.page_number
                );
            }
        }
        Cmd::Alias(AliasCmd::Create { alias_name, key_id }) => {
            pollster::block_on(kms.create_alias(&alias_name, &key_id))?;
            print(
                json_mode,
                &json!({"AliasName": alias_name, "KeyId": pollster::block_on(kms.describe_key(&key_id))?.key_id}),
            );
        }
        Cmd::Alias(AliasCmd::Update { alias_name, key_id }) => {
            pollster::block_on(kms.update_alias(&alias_name, &key_id))?;
            print(
                json_mode,
                &json!({"AliasName": alias_name, "KeyId": pollster::block_on(kms.describe_key(&key_id))?.key_id}),
            );
        }
        Cmd::Alias(AliasCmd::Delete { alias_name }) => {
            pollster::block_on(kms.delete_alias(&alias_name))?;
            print(json_mode, &json!({"AliasName": alias_name}));
        }
        Cmd::Alias(AliasCmd::List) => {
            let l = all_pages(|n| {
                let p = pollster::block_on(kms.list_aliases(Some(n), Some(100)))?;
                Ok((p.aliases, p.total_count))
            })?;
            if json_mode {
                let a: Vec<Value> = l
                    .items
                    .iter()
                    .map(|a| json!({"AliasName": a.alias_name, "AliasArn": a.alias_arn, "KeyId": a.key_id}))
                    .collect();
                print(true, &json!({"Aliases": a, "TotalCount": l.total_count}));
            } else {
                for a in &l.items {
                    println!("{}  {}", a.alias_name, a.key_id);
                }
            }
        }
        Cmd::DataKey(DataKeyCmd::Generate {
            key_id,
            key_spec,
            number_of_bytes,
            context,
            plaintext_out,
        }) => {
            let req = GenerateDataKeyRequest {
                key_id,
                key_spec: key_spec.map(|s| s.parse::<DataKeySpec>()).transpose()?,
                number_of_bytes,
                encryption_context: parse_context(&context.context)?,
            };
            let to_stdout = plaintext_out.as_deref() == Some(Path::new("-"));
            let (kid, ver, blob) = match &plaintext_out {
                Some(path) => {
                    let r = pollster::block_on(kms.generate_data_key(req))?;
                    // `-` is stdout, asked for explicitly; anything else a 0600 file.
                    write_plaintext(&path.display().to_string(), r.plaintext.expose())?;
                    (r.key_id, r.key_version_id, r.ciphertext_blob)
                }
                None => {
                    let r = pollster::block_on(kms.generate_data_key_without_plaintext(req))?;
                    (r.key_id, r.key_version_id, r.ciphertext_blob)
                }
            };
            let meta =
                json!({"KeyId": kid, "KeyVersionId": ver, "CiphertextBlob": B64.encode(blob)});
            if to_stdout {
                // stdout carries the data key: the rest goes to stderr.
                print_result(&meta, true);
            } else {
                print(json_mode, &meta);
            }
        }
        Cmd::DataKey(DataKeyCmd::GeneratePair {
            key_id,
            key_pair_spec,
            key_format,
            context,
            private_key_out,
            public_key_out,
        }) => {
            let req = strongroom::GenerateDataKeyPairRequest {
                key_id,
                key_pair_spec: Some(strongroom::parse_key_pair_spec(&key_pair_spec)?),
                key_format: key_format
                    .map(|f| f.parse::<strongroom::KeyFormat>())
                    .transpose()?,
                encryption_context: parse_context(&context.context)?,
            };
            let to_stdout = private_key_out.as_deref() == Some(Path::new("-"));
            let r = match &private_key_out {
                Some(path) => {
                    let r = pollster::block_on(kms.generate_data_key_pair(req))?;
                    // `-` is stdout, asked for explicitly; anything else a 0600 file.
                    write_plaintext(
                        &path.display().to_string(),
                        r.private_key_plaintext.expose(),
                    )?;
                    strongroom::GenerateDataKeyPairWithoutPlaintextResponse {
                        key_id: r.key_id,
                        key_version_id: r.key_version_id,
                        key_pair_spec: r.key_pair_spec,
                        private_key_ciphertext_blob: r.private_key_ciphertext_blob,
                        public_key: r.public_key,
                    }
                }
                None => pollster::block_on(kms.generate_data_key_pair_without_plaintext(req))?,
            };
            let mut meta = serde_json::Map::new();
            meta.insert("KeyId".into(), json!(r.key_id));
            meta.insert("KeyVersionId".into(), json!(r.key_version_id));
            meta.insert("KeyPairSpec".into(), json!(r.key_pair_spec.as_str()));
            meta.insert(
                "PrivateKeyCiphertextBlob".into(),
                json!(B64.encode(&r.private_key_ciphertext_blob)),
            );
            match &public_key_out {
                Some(path) => {
                    std::fs::write(path, &r.public_key)
                        .map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display())))?;
                    meta.insert("PublicKeyFile".into(), json!(path.display().to_string()));
                }
                None => {
                    meta.insert("PublicKey".into(), json!(B64.encode(&r.public_key)));
                }
            }
            let meta = Value::Object(meta);
            if to_stdout {
                // stdout carries the private key: the rest goes to stderr.
                print_result(&meta, true);
            } else {
                print(json_mode, &meta);
            }
        }
        Cmd::DataKey(DataKeyCmd::Export {
            ciphertext_blob,
            wrap,
            context,
        }) => {
            let (public_key_blob, wrapping_algorithm, wrapping_key_spec) = wrap.parts()?;
            let blob = ciphertext_b64(ciphertext_blob.as_bytes())?;
            let r = pollster::block_on(kms.export_data_key(strongroom::ExportDataKeyRequest {
                ciphertext_blob: blob,
                encryption_context: parse_context(&context.context)?,
                public_key_blob,
                wrapping_algorithm,
                wrapping_key_spec,
            }))?;
            print(
                json_mode,
                &json!({"KeyId": r.key_id, "KeyVersionId": r.key_version_id, "ExportedDataKey": B64.encode(r.exported_data_key)}),
            );
        }
        Cmd::DataKey(DataKeyCmd::GenerateAndExport {
            key_id,
            key_spec,
            number_of_bytes,
            wrap,
            context,
        }) => {
            let (public_key_blob, wrapping_algorithm, wrapping_key_spec) = wrap.parts()?;
            let r = pollster::block_on(kms.generate_and_export_data_key(
                strongroom::GenerateAndExportDataKeyRequest {
                    data_key: GenerateDataKeyRequest {
                        key_id,
                        key_spec: key_spec.map(|s| s.parse::<DataKeySpec>()).transpose()?,
                        number_of_bytes,
                        encryption_context: parse_context(&context.context)?,
                    },
                    public_key_blob,
                    wrapping_algorithm,
                    wrapping_key_spec,
                },
            ))?;
            print(
                json_mode,
                &json!({"KeyId": r.key_id, "KeyVersionId": r.key_version_id, "CiphertextBlob": B64.encode(r.ciphertext_blob), "ExportedDataKey": B64.encode(r.exported_data_key)}),
            );
        }
        Cmd::Key(KeyCmd::PublicKey {
            key_id,
            key_version_id,
            out,
        }) => {
            let r = pollster::block_on(kms.get_public_key(&key_id, key_version_id.as_deref()))?;
            if json_mode {
                print(
                    true,
                    &json!({"KeyId": r.key_id, "KeyVersionId": r.key_version_id, "PublicKey": r.public_key}),
                );
            } else {
                write_output(&out, r.public_key.as_bytes())?;
            }
        }
        Cmd::Key(KeyCmd::Sign(a)) => {
            let (digest, message) = a.input()?;
            let r = pollster::block_on(kms.asymmetric_sign_input(
                &a.key_id,
                a.key_version_id.as_deref(),
                a.algorithm.parse()?,
                strongroom::SignInput::one_of(digest.as_deref(), message.as_deref())?,
            ))?;
            if json_mode {
                print(
                    json_mode,
                    &json!({"KeyId": r.key_id, "KeyVersionId": r.key_version_id, "Value": B64.encode(r.value)}),
                );
            } else {
                // The signature alone, so that `SIG=$(strongroom key sign …)` works.
                println!("{}", B64.encode(r.value));
            }
        }
        Cmd::Key(KeyCmd::Verify { sign: a, signature }) => {
            let value = B64
                .decode(signature.trim())
                .map_err(|e| Error::InvalidParameter {
                    name: "Value",
                    reason: format!("malformed base64: {e}"),
                })?;
            let (digest, message) = a.input()?;
            let r = pollster::block_on(kms.asymmetric_verify_input(
                &a.key_id,
                a.key_version_id.as_deref(),
                a.algorithm.parse()?,
                strongroom::SignInput::one_of(digest.as_deref(), message.as_deref())?,
                &value,
            ))?;
            print(
                json_mode,
                &json!({"KeyId": r.key_id, "KeyVersionId": r.key_version_id, "Value": r.value}),
            );
            if !r.value {
                return Ok(ExitCode::from(1));
            }
        }
        Cmd::Key(KeyCmd::AsymEncrypt {
            key_id,
            algorithm,
            key_version_id,
            input,
        }) => {
            let r = pollster::block_on(kms.asymmetric_encrypt(
                strongroom::AsymmetricEncryptRequest {
                    key_id,
                    key_version_id,
                    algorithm: algorithm.parse()?,
                    plaintext: read_input(&input)?,
                },
            ))?;
            print(
                json_mode,
                &json!({"KeyId": r.key_id, "KeyVersionId": r.key_version_id, "CiphertextBlob": B64.encode(r.ciphertext_blob)}),
            );
        }
        Cmd::Key(KeyCmd::AsymDecrypt {
            key_id,
            algorithm,
            key_version_id,
            input,
            out,
        }) => {
            let blob = ciphertext_b64(&read_input(&input)?)?;
            let r = pollster::block_on(kms.asymmetric_decrypt(
                strongroom::AsymmetricDecryptRequest {
                    key_id,
                    key_version_id,
                    algorithm: algorithm.parse()?,
                    ciphertext_blob: blob,
                },
            ))?;
            write_plaintext(&out, r.plaintext.expose())?;
        }
        Cmd::Key(KeyCmd::Encrypt(a)) => {
            let plaintext = read_input(&a.input)?;
            let r = pollster::block_on(kms.encrypt(EncryptRequest {
                key_id: a.key_id,
                plaintext,
                encryption_context: parse_context(&a.context.context)?,
            }))?;
            let b64 = B64.encode(&r.ciphertext_blob);
            if json_mode {
                print(
                    true,
                    &json!({"KeyId": r.key_id, "KeyVersionId": r.key_version_id, "CiphertextBlob": b64}),
                );
            } else {
                write_output(&a.output, format!("{b64}\n").as_bytes())?;
            }
        }
        Cmd::Key(KeyCmd::Decrypt(a)) => {
            let blob = ciphertext_b64(&read_input(&a.input)?)?;
            let r = pollster::block_on(kms.decrypt(DecryptRequest {
                ciphertext_blob: blob,
                encryption_context: parse_context(&a.context.context)?,
            }))?;
            write_plaintext(&a.output, r.plaintext.expose())?;
            if json_mode {
                print_result(
                    &json!({"KeyId": r.key_id, "KeyVersionId": r.key_version_id}),
                    a.output == "-",
                );
            }
        }
        Cmd::Encrypt(a) => envelope::encrypt(kms, a, json_mode)?,
        Cmd::Decrypt(a) => envelope::decrypt(kms, a, json_mode)?,
        Cmd::ReEncrypt(a) => envelope::re_encrypt(kms, a, json_mode)?,
        Cmd::Store(StoreCmd::Verify) => {
            let p = progress::Activity::start("verifying", json_mode);
            let r = pollster::block_on(kms.verify_store())?;
            p.finish();
            let failed = !r.problems.is_empty() || !r.key_problems.is_empty();
            // VerifyStore's wire form (the one mapping of its fields), with the two
            // problem lists flat as `key list` prints its keys and without a RequestId.
            let mut v = strongroom::api::Response::VerifyStore(r).to_wire("")?;
            if let Some(o) = v.as_object_mut() {
                o.remove("RequestId");
                for (list, item) in [("Problems", "Problem"), ("KeyProblems", "KeyProblem")] {
                    let items = o
                        .get_mut(list)
                        .and_then(|w| w.get_mut(item))
                        .map(Value::take)
                        .unwrap_or_else(|| json!([]));
                    o.insert(list.into(), items);
                }
            }
            print(json_mode, &v);
            if failed {
                return Ok(ExitCode::from(1));
            }
        }
        Cmd::Store(cmd) => store_cmd(kms, cmd, json_mode)?,
        Cmd::RandomPassword(a) => {
            let p = kms.get_random_password(&strongroom::GetRandomPasswordRequest {
                length: a.length,
                exclude_characters: a.exclude_characters,
                exclude_lowercase: a.exclude_lowercase,
                exclude_uppercase: a.exclude_uppercase,
                exclude_numbers: a.exclude_numbers,
                exclude_punctuation: a.exclude_punctuation,
                require_each_included_type: Some(!a.no_require_each),
            })?;
            write_secret_file(&a.out, p.expose())?;
            print(
                json_mode,
                &json!({"RandomPasswordFile": a.out.display().to_string(), "Length": p.len()}),
            );
        }
        Cmd::Secret(cmd) => secret::run(kms, cmd, json_mode)?,
        Cmd::Lab(_)
        | Cmd::Kms(_)
        | Cmd::Run(_)
        | Cmd::Ram(_)
        | Cmd::Audit(_)
        | Cmd::Serve(_)
        | Cmd::BackendClientKey(_)
        | Cmd::Completions(_)
        | Cmd::Man(_) => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// A secret (a backup, a password, a data key) into a file created — or reset — to
/// mode 0600, never through a symbolic link.
pub(crate) fn write_secret_file(path: &Path, data: &[u8]) -> Result<(), Error> {
    strongroom::storage::create_private(path)
        .and_then(|mut f| f.write_all(data).and_then(|()| f.sync_all()))
        .map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display())))
}

/// Exit statuses: 0 success; 1 a signature that does not verify (`key verify`) or a
/// secret version that does not open (`store verify`); 2 a
/// KMS error (its code on stderr); 64 a usage error (bad flags or arguments).
const EXIT_USAGE: u8 = 64;

/// A usage error: clap's message, or under `--json` `{"Code": "InvalidParameter.Usage",
/// "Message"}` on stderr; exit status 64 (help and --version exit 0 as usual).
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if std::env::args().any(|a| a == "--json") {
        let msg = e.kind().to_string();
        let detail = e.to_string();
        let first = detail
            .lines()
            .next()
            .unwrap_or(&msg)
            .trim_start_matches("error: ");
        eprintln!(
            "{}",
            json!({"Code": "InvalidParameter.Usage", "Message": first})
        );
    } else {
        let _ = e.print();
    }
    ExitCode::from(EXIT_USAGE)
}

/// A reader that went away (`strongroom key list | head -1`) ends the process quietly
/// with the status a SIGPIPE would give (141), as other Unix tools do, instead of a
/// panic message: Rust ignores SIGPIPE, so `println!` panics on EPIPE.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let p = info.payload();
        let msg = p
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    quiet_on_closed_stdout();
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return usage_error(&e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    let store_given = matches.value_source("store") == Some(clap::parser::ValueSource::CommandLine);
    let json_mode = cli.json;
    match run(cli, store_given) {
        Ok(code) => code,
        Err(e) => {
            if json_mode {
                eprintln!("{}", json!({"Code": e.code(), "Message": e.to_string()}));
            } else {
                eprintln!("error: {}: {e}", e.code());
            }
            ExitCode::from(2)
        }
    }
}
