//! Where the registry is and who is acting: the settings every command that talks to a
//! registry shares (`plan`, `apply`, `export`, `verify`, ...), resolved once from flags,
//! environment and defaults (the "cheap args, then resolved settings" habit).
//!
//! - `--registry ADDR` / `CSAM_REGISTRY`: `http(s)://host:port`, or `file:PATH` for an
//!   embedded registry. Default [`DEFAULT_REGISTRY`], created on first use with the
//!   examples' reference data, so that a fresh clone can plan and apply the examples.
//! - `--token-file FILE` / `CSAM_TOKEN_FILE`, or `CSAM_TOKEN` (or `--token`, which
//!   other users of the machine can read in the process list): the acting person's
//!   bearer token; a token file wins over a token. Tokens are never echoed.
//! - Who acts comes from the registry: [`connect`] asks it (`GET /v1/me`,
//!   [`Registry::whoami`]) whose the token is. `--actor INSZ` / `CSAM_ACTOR` is then an
//!   assertion, checked against that answer.
//! - A registry file needs no token: `--actor INSZ` acts as that person (whoever may
//!   open the file is its operator anyway). Only the default registry, created from the
//!   examples' reference data, acts without either, as the documented demo identity
//!   [`DEMO_IDENTITY`]: the main access manager of the multi-campus example
//!   (AZ VLASLAND VZW), whose HTB designation that reference data marks as validated.
//!   A served registry always needs a token.
//!
//! Commands flatten [`RegistryArgs`] into their own arguments, call
//! [`RegistrySettings::resolve`], then [`connect`]; commands that work from a desired
//! state then call [`check_roles`].
//!
//! May use clap, the registry module, execute's retry policy and tokio.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::execute::{self, ExecuteOptions};
use crate::model::{DesiredState, Insz};
use crate::registry::embedded::{RegistryFileError, existing_registry_file};
use crate::registry::http::{HttpClientError, HttpOperator, HttpOptions, HttpRegistry};
use crate::registry::{Me, OpenOptions, Registry, RegistryError, RegistryOperator, SqliteRegistry};

/// The registry used when none is named.
pub(super) const DEFAULT_REGISTRY: &str = "file:.csamctl/registry.db";

/// The INSZ the embedded registry acts as when no token is given: Geert VANDAMME,
/// fictional main access manager of AZ VLASLAND VZW in `examples/multi-campus.yaml`.
pub(super) const DEMO_IDENTITY: &str = "82120926312";

/// The reference data a new default registry is created with.
pub(super) const EXAMPLES_REFERENCE: &str = include_str!("../../examples/reference.yaml");

/// A secret given on the command line or in the environment: never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that sends it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

/// The registry flags, as given. Flatten into a command's arguments with
/// `#[command(flatten)]`.
#[derive(Clone, Debug, Default, clap::Args)]
pub(crate) struct RegistryArgs {
    /// The registry: http(s)://host:port, or file:PATH for an embedded registry
    /// [default: file:.csamctl/registry.db, created with the examples' reference data].
    #[arg(
        long = "registry",
        env = "CSAM_REGISTRY",
        hide_env_values = true,
        value_name = "ADDR"
    )]
    pub registry: Option<String>,
    /// The acting person's bearer token. Prefer CSAM_TOKEN or --token-file: arguments
    /// show in the process list.
    #[arg(long, env = "CSAM_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub token: Option<Secret>,
    /// A file holding the bearer token (wins over --token / CSAM_TOKEN).
    #[arg(
        long,
        env = "CSAM_TOKEN_FILE",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub token_file: Option<PathBuf>,
    /// The acting person's INSZ. With a token, an assertion: the command stops when the
    /// registry says the token is someone else's. On a registry file without a token,
    /// the person to act as.
    #[arg(long, env = "CSAM_ACTOR", hide_env_values = true, value_name = "INSZ")]
    pub actor: Option<String>,
}

/// Where a registry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum RegistryAddress {
    /// An embedded registry in a SQLite file.
    File(PathBuf),
    /// A registry served over HTTP, by its base URL.
    Http(String),
}

impl RegistryAddress {
    /// Reads `file:PATH` or `http(s)://host:port`.
    pub(super) fn parse(text: &str) -> Result<Self, SettingsError> {
        if let Some(path) = text.strip_prefix("file:") {
            if path.is_empty() {
                return Err(SettingsError::Address(text.to_string()));
            }
            return Ok(RegistryAddress::File(PathBuf::from(path)));
        }
        if text.starts_with("http://") || text.starts_with("https://") {
            return Ok(RegistryAddress::Http(
                text.trim_end_matches('/').to_string(),
            ));
        }
        Err(SettingsError::Address(text.to_string()))
    }
}

impl std::fmt::Display for RegistryAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryAddress::File(path) => write!(f, "file:{}", path.display()),
            RegistryAddress::Http(url) => f.write_str(url),
        }
    }
}

/// Who acts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Identity {
    /// The bearer of a token (whose it is, the registry says).
    Token(Secret),
    /// A person named with `--actor` on a registry file, without a token.
    Person(Insz),
    /// The default registry's demo identity ([`DEMO_IDENTITY`]).
    Demo,
}

/// Why the registry settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub(super) enum SettingsError {
    /// Neither `file:` nor `http(s)://`.
    #[error("{0:?} is not a registry address: use http(s)://host:port or file:PATH")]
    Address(String),
    /// `--registry ""` or an empty `CSAM_REGISTRY`: a mistake, never the default.
    #[error(
        "the registry address is empty (--registry or CSAM_REGISTRY): give http(s)://host:port or file:PATH, or unset CSAM_REGISTRY to use the default {DEFAULT_REGISTRY}"
    )]
    EmptyAddress,
    /// `--actor` is not a national register number.
    #[error("--actor / CSAM_ACTOR: {0}")]
    Actor(String),
    /// A registry file other than the default, with neither a token nor `--actor`.
    #[error(
        "{0} does not say who acts: give --actor INSZ (or CSAM_ACTOR) to act as that person on this file, or that person's token (CSAM_TOKEN or CSAM_TOKEN_FILE); only the default registry {DEFAULT_REGISTRY} acts as the demo identity"
    )]
    NoActor(String),
    /// The registry does not know the token.
    #[error(
        "{0} does not know this bearer token: check CSAM_TOKEN / CSAM_TOKEN_FILE, or get a token for the person from the registry's operator (csamctl registry token)"
    )]
    UnknownToken(String),
    /// `--actor` names someone else than the token's person.
    #[error(
        "--actor / CSAM_ACTOR says {asserted}, but the registry says the token is {person}'s: use that person's token, or correct --actor (or leave it out: the token says who acts)"
    )]
    ActorMismatch {
        /// What `--actor` said.
        asserted: Insz,
        /// Whose the token is.
        person: Insz,
    },
    /// The acting person has no role in declared enterprises and may not request their
    /// designation either: a plan would only guess at trees it cannot read.
    #[error(
        "{person} has no role in {enterprises} in the registry, and is not the main access manager or legal representative the file declares for it: act with the token of someone who has a role there (the main access manager, an access manager or an administrator), or ask its main access manager to appoint {person}"
    )]
    NoRole {
        /// The acting person.
        person: Insz,
        /// The enterprises, listed for people.
        enterprises: String,
    },
    /// The token file could not be read.
    #[error("cannot read the token file {path}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The token is empty.
    #[error("the bearer token is empty")]
    EmptyToken,
    /// A served registry needs a token.
    #[error(
        "{0} needs a bearer token: set CSAM_TOKEN or CSAM_TOKEN_FILE (csamctl registry token prints one); --actor alone acts only on a registry file"
    )]
    MissingToken(String),
    /// A served registry's operator surface needs the operator token.
    #[error(
        "{0} is a served registry: recording this goes through its operator surface; give the server's operator token file with --operator-token-file (what `registry serve --admin-token-file` names; default the database path plus .admin-token)"
    )]
    MissingOperatorToken(String),
    /// A named registry file does not exist, or is empty.
    #[error(transparent)]
    NoRegistryFile(#[from] RegistryFileError),
    /// The default registry's directory could not be created.
    #[error("cannot create {path}")]
    CreateDefault {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client could not be set up.
    #[error(transparent)]
    Http(#[from] HttpClientError),
    /// The registry refused or failed.
    #[error("registry: {0}")]
    Registry(#[from] RegistryError),
}

/// The registry settings, resolved.
#[derive(Clone, Debug)]
pub(super) struct RegistrySettings {
    /// Where the registry is.
    pub address: RegistryAddress,
    /// True when no address was given and the default is used (created on first use).
    pub is_default: bool,
    /// Who acts.
    pub identity: Identity,
    /// `--actor` with a token: whom the token must belong to.
    pub actor: Option<Insz>,
    /// Timeouts for a served registry.
    pub http: HttpOptions,
}

impl RegistrySettings {
    /// Resolves flags and environment (clap has read both) against the defaults.
    pub(super) fn resolve(args: &RegistryArgs) -> Result<Self, SettingsError> {
        let (address, is_default) = match &args.registry {
            Some(text) if text.trim().is_empty() => return Err(SettingsError::EmptyAddress),
            Some(text) => (RegistryAddress::parse(text.trim())?, false),
            None => (RegistryAddress::parse(DEFAULT_REGISTRY)?, true),
        };
        let actor = args
            .actor
            .as_deref()
            .map(Insz::parse)
            .transpose()
            .map_err(|e| SettingsError::Actor(e.to_string()))?;
        let token = match (&args.token_file, &args.token) {
            (Some(path), _) => Some(read_token_file(path)?),
            (None, Some(token)) => Some(token.clone()),
            (None, None) => None,
        };
        let identity = match token {
            Some(token) if token.0.trim().is_empty() => return Err(SettingsError::EmptyToken),
            Some(token) => Identity::Token(Secret(token.0.trim().to_string())),
            None => match (&address, actor) {
                (RegistryAddress::File(_), Some(person)) => Identity::Person(person),
                (RegistryAddress::File(_), None) if is_default => Identity::Demo,
                (RegistryAddress::File(_), None) => {
                    return Err(SettingsError::NoActor(address.to_string()));
                }
                (RegistryAddress::Http(url), _) => {
                    return Err(SettingsError::MissingToken(url.clone()));
                }
            },
        };
        Ok(RegistrySettings {
            address,
            is_default,
            identity,
            actor,
            http: HttpOptions::default(),
        })
    }
}

fn read_token_file(path: &Path) -> Result<Secret, SettingsError> {
    // A token is about 70 bytes; a token file named by mistake (a device, a big file)
    // is not read further than this.
    let text = crate::config::load::read_limited_text(path, 64 * 1024).map_err(|source| {
        SettingsError::TokenFile {
            path: path.to_path_buf(),
            source,
        }
    })?;
    Ok(Secret(text.trim().to_string()))
}

/// Opens an embedded registry file: the default one is created (with its directory,
/// private to its owner, and the examples' reference data) on first use, or when it is
/// empty; a named one must exist and not be empty.
fn open_file(path: &Path, is_default: bool) -> Result<SqliteRegistry, SettingsError> {
    match existing_registry_file(path) {
        Ok(()) => {
            let registry = SqliteRegistry::open(path, OpenOptions::stored_clock())?;
            // A command ends when it is done with the registry.
            registry.leave_memory_at_close();
            return Ok(registry);
        }
        Err(RegistryFileError::Missing(_) | RegistryFileError::Empty(_)) if is_default => {}
        Err(e) => return Err(e.into()),
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(|source| SettingsError::CreateDefault {
                path: dir.to_path_buf(),
                source,
            })?;
    }
    Ok(SqliteRegistry::init_with_reference(
        path,
        EXAMPLES_REFERENCE,
        OpenOptions::stored_clock(),
    )?)
}

/// [`open_file`] on a blocking thread (SQLite is synchronous).
async fn open_file_blocking(
    path: &Path,
    is_default: bool,
) -> Result<SqliteRegistry, SettingsError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || open_file(&path, is_default))
        .await
        .map_err(|e| {
            SettingsError::Registry(RegistryError::Internal {
                reason: format!("opening task failed: {e}"),
            })
        })?
}

/// A registry as the acting person sees it, and who that person is by its own account.
#[derive(Clone)]
pub(super) struct Connected {
    /// The registry.
    pub registry: Arc<dyn Registry>,
    /// Its answer to `GET /v1/me` when connecting: the person, their roles, its time.
    pub me: Me,
}

impl std::fmt::Debug for Connected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connected").field("me", &self.me).finish()
    }
}

/// The registry the settings name, as the acting person sees it, with whom the
/// registry says that person is. This is what `plan`, `apply` and every other command
/// that acts as a person call. An unknown token, or an `--actor` that is not the
/// token's person, is an error here, before anything is read or planned; acting as
/// the demo identity is said once on stderr.
pub(super) async fn connect(settings: &RegistrySettings) -> Result<Connected, SettingsError> {
    let unknown_token = |e: RegistryError| match (&settings.identity, e) {
        (Identity::Token(_), RegistryError::NotAuthorised { .. }) => {
            SettingsError::UnknownToken(settings.address.to_string())
        }
        (_, e) => SettingsError::Registry(e),
    };
    let registry = match open_as_person(settings).await {
        Err(SettingsError::Registry(e)) => return Err(unknown_token(e)),
        other => other?,
    };
    let me = execute::retried(&ExecuteOptions::default(), |_| registry.whoami())
        .await
        .map_err(unknown_token)?;
    if let Some(asserted) = settings.actor
        && asserted != me.person
    {
        return Err(SettingsError::ActorMismatch {
            asserted,
            person: me.person,
        });
    }
    if settings.identity == Identity::Demo {
        // A registry may know the person without a name yet (no user record): then
        // nothing, rather than empty brackets.
        let parts: Vec<&str> = [&me.first_name, &me.last_name]
            .into_iter()
            .flatten()
            .map(|part| part.trim())
            .filter(|part| !part.is_empty())
            .collect();
        let name = if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join(" "))
        };
        eprintln!(
            "Acting as the demo identity {}{name} on the default registry {}; give --actor INSZ or a token to act as someone else.",
            me.person, settings.address
        );
    }
    Ok(Connected { registry, me })
}

/// Refuses a desired state that declares an enterprise where the acting person has no
/// role (by the registry's answer `me`), unless the file names them its main access
/// manager or legal representative, who may request its designation. Planning such an
/// enterprise would only guess at a tree the person cannot read.
pub(super) fn check_roles(me: &Me, desired: &DesiredState) -> Result<(), SettingsError> {
    let missing: Vec<String> = desired
        .enterprises
        .iter()
        .filter(|e| {
            me.roles_in(&e.kbo).is_none()
                && e.main_access_manager.insz != me.person
                && e.legal_representative
                    .as_ref()
                    .is_none_or(|l| l.insz != me.person)
        })
        .map(|e| format!("enterprise {} ({})", e.kbo, e.name))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(SettingsError::NoRole {
        person: me.person,
        enterprises: missing.join(", "),
    })
}

/// The registry the settings name, for the person they name (not yet asked who that
/// is).
async fn open_as_person(settings: &RegistrySettings) -> Result<Arc<dyn Registry>, SettingsError> {
    match &settings.address {
        RegistryAddress::Http(url) => {
            let Identity::Token(token) = &settings.identity else {
                return Err(SettingsError::MissingToken(url.clone()));
            };
            let registry = HttpRegistry::new(url, token.expose(), settings.http)?;
            registry.probe().await?;
            Ok(Arc::new(registry))
        }
        RegistryAddress::File(path) => {
            let registry = open_file_blocking(path, settings.is_default).await?;
            match &settings.identity {
                Identity::Token(token) => Ok(registry.connect(token.expose()).await?),
                Identity::Person(person) => Ok(registry.as_person(*person)),
                Identity::Demo => {
                    let demo = Insz::parse(DEMO_IDENTITY).map_err(|e| RegistryError::Internal {
                        reason: format!("demo identity: {e}"),
                    })?;
                    Ok(registry.as_person(demo))
                }
            }
        }
    }
}

/// The operator surface of the registry the settings name: an embedded file directly
/// (whoever may open the file is its operator, as with `csamctl registry ...`), a served
/// registry over HTTP with the server's operator token read from `operator_token_file`.
pub(super) async fn connect_operator(
    settings: &RegistrySettings,
    operator_token_file: Option<&Path>,
) -> Result<Arc<dyn RegistryOperator>, SettingsError> {
    match &settings.address {
        RegistryAddress::Http(url) => {
            let path = operator_token_file
                .ok_or_else(|| SettingsError::MissingOperatorToken(url.clone()))?;
            let token = read_token_file(path)?;
            if token.0.is_empty() {
                return Err(SettingsError::EmptyToken);
            }
            let operator = HttpOperator::new(url, token.expose(), settings.http)?;
            operator.probe().await?;
            Ok(Arc::new(operator))
        }
        RegistryAddress::File(path) => {
            let registry = open_file_blocking(path, settings.is_default).await?;
            Ok(Arc::new(registry))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(registry: Option<&str>, token: Option<&str>) -> RegistryArgs {
        RegistryArgs {
            registry: registry.map(str::to_string),
            token: token.map(|t| Secret(t.to_string())),
            token_file: None,
            actor: None,
        }
    }

    #[test]
    fn default_is_the_embedded_file_with_the_demo_identity() {
        let s = RegistrySettings::resolve(&args(None, None)).expect("resolves");
        assert_eq!(
            s.address,
            RegistryAddress::File(PathBuf::from(".csamctl/registry.db"))
        );
        assert!(s.is_default);
        assert_eq!(s.identity, Identity::Demo);
    }

    #[test]
    fn served_registries_need_a_token_that_is_never_shown() {
        let err = RegistrySettings::resolve(&args(Some("http://127.0.0.1:8443"), None))
            .expect_err("no token");
        assert!(matches!(err, SettingsError::MissingToken(_)));
        let s = RegistrySettings::resolve(&args(Some("http://127.0.0.1:8443/"), Some("csam_x")))
            .expect("resolves");
        assert_eq!(
            s.address,
            RegistryAddress::Http("http://127.0.0.1:8443".into())
        );
        assert!(!format!("{s:?}").contains("csam_x"));
        assert!(matches!(
            RegistrySettings::resolve(&args(Some("ftp://x"), None)),
            Err(SettingsError::Address(_))
        ));
    }

    #[test]
    fn an_empty_address_is_an_error_and_a_named_file_needs_an_actor() {
        assert!(matches!(
            RegistrySettings::resolve(&args(Some(""), None)),
            Err(SettingsError::EmptyAddress)
        ));
        assert!(matches!(
            RegistrySettings::resolve(&args(Some("  "), None)),
            Err(SettingsError::EmptyAddress)
        ));
        let err =
            RegistrySettings::resolve(&args(Some("file:other.db"), None)).expect_err("no actor");
        assert!(matches!(err, SettingsError::NoActor(_)), "{err}");
        let mut with_actor = args(Some("file:other.db"), None);
        with_actor.actor = Some("82.12.09-263.12".into());
        let s = RegistrySettings::resolve(&with_actor).expect("resolves");
        assert_eq!(
            s.identity,
            Identity::Person(Insz::parse(DEMO_IDENTITY).expect("insz"))
        );
        with_actor.actor = Some("82120926313".into());
        assert!(matches!(
            RegistrySettings::resolve(&with_actor),
            Err(SettingsError::Actor(_))
        ));
    }

    #[test]
    fn a_token_file_wins_and_is_trimmed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("token");
        std::fs::write(&file, "csam_from_file\n").expect("write");
        let s = RegistrySettings::resolve(&RegistryArgs {
            registry: Some("http://127.0.0.1:1".into()),
            token: Some(Secret("csam_from_env".into())),
            token_file: Some(file),
            actor: None,
        })
        .expect("resolves");
        assert_eq!(s.identity, Identity::Token(Secret("csam_from_file".into())));
    }

    /// The default registry appears on first use, with the examples' enterprises, and
    /// the demo identity can read AZ VLASLAND's tree.
    #[tokio::test]
    async fn default_registry_is_created_with_the_examples() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("registry.db");
        let settings = RegistrySettings {
            address: RegistryAddress::File(path.clone()),
            is_default: true,
            identity: Identity::Demo,
            actor: None,
            http: HttpOptions::default(),
        };
        let connected = connect(&settings).await.expect("created");
        assert_eq!(
            connected.me.person,
            Insz::parse(DEMO_IDENTITY).expect("insz")
        );
        let registry = connected.registry;
        assert!(path.exists());
        let session = registry.open_session().await.expect("login").id;
        let kbo = crate::model::Kbo::parse("0198765470").expect("kbo");
        let live = registry.snapshot(&session, &kbo).await.expect("snapshot");
        assert_eq!(live.enterprise.name, "AZ VLASLAND VZW");
        // A token issued on the file acts for its person instead.
        let file = SqliteRegistry::open(&path, OpenOptions::stored_clock()).expect("open");
        let token = file
            .issue_token(&Insz::parse("66021958551").expect("insz"))
            .await
            .expect("token");
        let as_token = RegistrySettings {
            identity: Identity::Token(Secret(token)),
            is_default: false,
            ..settings.clone()
        };
        let other = connect(&as_token).await.expect("token accepted").registry;
        let s = other.open_session().await.expect("login").id;
        let err = other
            .snapshot(&s, &kbo)
            .await
            .expect_err("no role in VLASLAND");
        assert_eq!(err.code(), "not_authorised");
        let bad = RegistrySettings {
            identity: Identity::Token(Secret("csam_unknown".into())),
            ..as_token
        };
        assert!(matches!(
            connect(&bad).await,
            Err(SettingsError::UnknownToken(_))
        ));
        // A named file that does not exist is not created.
        let missing = RegistrySettings {
            address: RegistryAddress::File(dir.path().join("missing.db")),
            is_default: false,
            ..settings
        };
        assert!(matches!(
            connect(&missing).await,
            Err(SettingsError::NoRegistryFile(RegistryFileError::Missing(_)))
        ));
        assert!(!dir.path().join("missing.db").exists(), "not created");
        // Nor is an empty one taken for a registry.
        let empty = dir.path().join("empty.db");
        std::fs::write(&empty, "").expect("touch");
        let empty = RegistrySettings {
            address: RegistryAddress::File(empty.clone()),
            ..missing
        };
        assert!(matches!(
            connect(&empty).await,
            Err(SettingsError::NoRegistryFile(RegistryFileError::Empty(_)))
        ));
    }
}
