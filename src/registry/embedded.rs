//! The embedded registry: the engine over a SQLite file, in-process.
//!
//! Each operation is one store transaction: catch up with journal entries other
//! processes appended, let time act (idle expiry, processing), decide, append the facts
//! (and audit entry, and idempotent answer), commit, apply. The world is kept in memory
//! and rebuilt at open, or whenever a commit failed after the world had already
//! changed: from the latest checkpoint (the world serialised as of one journal
//! position) and the journal after it. Checkpoints are written after commits, never
//! inside one: while writing, once the journal has grown by [`CHECKPOINT_WHILE_WRITING`]
//! facts and a quarter since the last; on opening and closing, when the tail is longer
//! than a few hundred facts. A crash between a commit and its checkpoint costs only a
//! longer replay at the next opening. rusqlite is synchronous, so every operation runs on
//! `tokio::task::spawn_blocking` behind one mutex: operations are serialised, which is
//! what the engine's rules need anyway (one decision sees every earlier one).
//!
//! Not journalled: the idle timer of reads. A session's last activity is the later of
//! its last write and, in this process, its last read; after a restart reads are
//! forgotten and a session may expire a little earlier than it would have.
//!
//! May use the engine, the store, tokio and rand.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::api::*;
use super::checkpoint;
use super::clock::{Clock, SystemClock, VirtualClock};
use super::engine::{Fact, World};
use super::sqlite::{self, AuditEntry, Store, StoreError};
use super::{Registry, RegistryError, RegistryOperator};
use crate::model::{Hco, Insz, Kbo, KnownAccounts, LiveState};

/// Which clock the registry runs on.
///
/// The file remembers the last explicit choice (its `meta` table), so that operator
/// commands and the reconciler open a file the way the server last did: opening a
/// virtual-clock file on the wall clock would let months of "idle time" pass at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClockKind {
    /// The wall clock.
    #[default]
    Wall,
    /// A virtual clock starting at [`VirtualClock::EPOCH_MS`], moved by the journalled
    /// `advance_clock` operations.
    Virtual,
    /// Whichever of the two the file last ran on (the wall clock for a new file).
    Stored,
}

impl ClockKind {
    const META_KEY: &'static str = "clock";

    fn as_meta(self) -> Option<&'static str> {
        match self {
            ClockKind::Wall => Some("wall"),
            ClockKind::Virtual => Some("virtual"),
            ClockKind::Stored => None,
        }
    }
}

/// How to open a registry file.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// The clock.
    pub clock: ClockKind,
    /// The limits.
    pub config: Limits,
}

impl OpenOptions {
    /// Virtual clock, default limits: what tests use.
    pub fn virtual_clock() -> Self {
        OpenOptions {
            clock: ClockKind::Virtual,
            config: Limits::default(),
        }
    }

    /// The file's own clock: what the file last ran on.
    pub fn stored_clock() -> Self {
        OpenOptions {
            clock: ClockKind::Stored,
            config: Limits::default(),
        }
    }

    fn new_clock(&self) -> Arc<dyn Clock> {
        match self.clock {
            ClockKind::Wall | ClockKind::Stored => Arc::new(SystemClock),
            ClockKind::Virtual => Arc::new(VirtualClock::new()),
        }
    }
}

/// Resolves [`ClockKind::Stored`] from the file, and records an explicit choice in it.
fn settle_clock(store: &Store, kind: ClockKind) -> Result<ClockKind, StoreError> {
    let tx = store.begin()?;
    let settled = match kind.as_meta() {
        Some(value) => {
            sqlite::set_meta(&tx, ClockKind::META_KEY, value)?;
            kind
        }
        None => match sqlite::meta(&tx, ClockKind::META_KEY)?.as_deref() {
            Some("virtual") => ClockKind::Virtual,
            _ => ClockKind::Wall,
        },
    };
    tx.commit()?;
    Ok(settled)
}

/// Why a named registry file cannot be opened as an existing registry.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RegistryFileError {
    /// Nothing at that path.
    #[error(
        "there is no registry file {0}: create it with `csamctl registry init --db {0} --reference FILE`"
    )]
    Missing(PathBuf),
    /// A 0-byte file: not a registry (a typo'd path touched by something else, or a
    /// file truncated by hand).
    #[error(
        "{0} is empty, not a registry file: create it with `csamctl registry init --db {0} --reference FILE`"
    )]
    Empty(PathBuf),
    /// A directory, device or other non-regular file.
    #[error("{0} is not a registry file (not a regular file)")]
    NotAFile(PathBuf),
    /// The file could not be examined.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Checks that `path` is an existing, non-empty regular file: every command but
/// `registry init` (and the default demo registry) opens only such a file, so that a
/// mistyped `--db` is an error instead of a new, empty registry.
pub(crate) fn existing_registry_file(path: &Path) -> Result<(), RegistryFileError> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => Err(RegistryFileError::NotAFile(path.to_path_buf())),
        Ok(meta) if meta.len() == 0 => Err(RegistryFileError::Empty(path.to_path_buf())),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(RegistryFileError::Missing(path.to_path_buf()))
        }
        Err(source) => Err(RegistryFileError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

struct LoadedWorld {
    world: World,
    clock: Arc<dyn Clock>,
    /// The journal position of the stored checkpoint this process knows of.
    checkpoint_seq: u64,
}

/// While writing, a checkpoint follows once the journal has grown by this many facts
/// since the last one and by a quarter of its length: writing checkpoints then costs
/// time in proportion to the journal, however long it gets.
const CHECKPOINT_WHILE_WRITING: u64 = 5_000;

/// On opening (after a crash left a long tail) and on closing, a tail this long is
/// worth a checkpoint, so that the next opening replays little.
const CHECKPOINT_ON_OPEN_OR_CLOSE: u64 = 200;

impl LoadedWorld {
    fn tail(&self) -> u64 {
        self.world.journal_seq().saturating_sub(self.checkpoint_seq)
    }

    /// Stores a checkpoint of the world as it is (every fact in it is committed).
    fn checkpoint(&mut self, store: &Store) -> Result<(), StoreError> {
        let seq = self.world.journal_seq();
        let parts = checkpoint::encode(&mut self.world).map_err(StoreError::Checkpoint)?;
        let tx = store.begin()?;
        sqlite::set_checkpoint(&tx, seq, checkpoint::FORMAT, &parts)?;
        tx.commit()?;
        self.checkpoint_seq = seq;
        Ok(())
    }

    /// A checkpoint when the tail is at least `min` facts long. Failing to write one
    /// loses nothing (the journal has every fact), so it is not an error.
    fn checkpoint_if_behind(&mut self, store: &Store, min: u64) {
        if self.tail() >= min {
            let _ = self.checkpoint(store);
        }
    }
}

struct Inner {
    store: Store,
    loaded: Option<LoadedWorld>,
}

struct RegistryShared {
    path: PathBuf,
    options: OpenOptions,
    inner: Mutex<Inner>,
    /// Closing leaves the in-memory world to the operating system instead of freeing it
    /// record by record: set by a process that ends right after ([`SqliteRegistry::
    /// leave_memory_at_close`]).
    leave_memory: AtomicBool,
}

/// A registry in a SQLite file, used in-process. Cheap to clone.
#[derive(Clone)]
pub struct SqliteRegistry {
    shared: Arc<RegistryShared>,
}

impl std::fmt::Debug for SqliteRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteRegistry")
            .field("path", &self.shared.path)
            .finish_non_exhaustive()
    }
}

/// What an operation may do inside its transaction.
struct Txn<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    world: &'a mut World,
    clock: &'a Arc<dyn Clock>,
    now: Millis,
}

impl Txn<'_> {
    /// The first answer to `key` of `caller`, when the key was used before: for the
    /// same request (fingerprint `print`) its answer, for another one a refusal.
    fn replayed<T: serde::de::DeserializeOwned>(
        &self,
        caller: &Insz,
        key: &IdempotencyKey,
        print: &str,
    ) -> Result<Option<T>, RegistryError> {
        let Some((first_print, response)) =
            sqlite::idempotent_answer(self.tx, caller.compact(), key.as_str())?
        else {
            return Ok(None);
        };
        if first_print != print {
            return Err(RegistryError::IdempotencyKeyReused {
                key: key.as_str().to_string(),
            });
        }
        serde_json::from_str(&response)
            .map(Some)
            .map_err(|e| RegistryError::Internal {
                reason: format!("stored answer: {e}"),
            })
    }

    /// Stores the first answer to `key` of `caller`, for [`Txn::replayed`].
    fn remember<T: serde::Serialize>(
        &self,
        caller: &Insz,
        key: &IdempotencyKey,
        print: &str,
        answer: &T,
        seq: u64,
    ) -> Result<(), RegistryError> {
        let response = serde_json::to_string(answer).map_err(|e| RegistryError::Internal {
            reason: e.to_string(),
        })?;
        sqlite::remember_answer(
            self.tx,
            caller.compact(),
            key.as_str(),
            print,
            &response,
            seq,
        )?;
        Ok(())
    }

    /// Appends a fact to the journal and applies it.
    fn record(&mut self, fact: Fact) -> Result<u64, StoreError> {
        let seq = sqlite::append(self.tx, self.now, &fact)?;
        if let Fact::ClockAdvanced { by_ms } = &fact {
            self.clock.advance(*by_ms);
        }
        self.world.apply(seq, &fact);
        Ok(seq)
    }

    /// Lets time act: idle expiry and processing.
    fn tick(&mut self) -> Result<(), StoreError> {
        for fact in self.world.tick(self.now) {
            if let Fact::SessionClosed {
                id, expired: true, ..
            } = &fact
            {
                sqlite::audit(
                    self.tx,
                    &AuditEntry {
                        at_ms: self.now,
                        actor: "registry",
                        session: Some(&id.0),
                        action: "expire_session",
                        target: &id.0,
                        idempotency_key: None,
                        outcome: "ok",
                    },
                )?;
            }
            self.record(fact)?;
        }
        Ok(())
    }

    fn audit(&self, e: AuditEntry<'_>) -> Result<(), StoreError> {
        sqlite::audit(self.tx, &e)
    }
}

/// Rebuilds the world: the stored checkpoint, then the journal after it.
fn rebuild(store: &Store, options: &OpenOptions) -> Result<LoadedWorld, StoreError> {
    let clock = options.new_clock();
    let tx = store.begin()?;
    let mut world = restore(&tx, options)?.unwrap_or_else(|| World::new(options.config.clone()));
    clock.advance(world.clock_advanced_ms());
    let checkpoint_seq = world.journal_seq();
    for (seq, fact) in sqlite::journal_since(&tx, checkpoint_seq)? {
        if let Fact::ClockAdvanced { by_ms } = &fact {
            clock.advance(*by_ms);
        }
        world.apply(seq, &fact);
    }
    tx.commit()?;
    Ok(LoadedWorld {
        world,
        clock,
        checkpoint_seq,
    })
}

/// The world of the stored checkpoint, when there is one this csamctl can read.
fn restore(
    tx: &rusqlite::Transaction<'_>,
    options: &OpenOptions,
) -> Result<Option<World>, StoreError> {
    let Some((seq, format)) = sqlite::checkpoint(tx)? else {
        return Ok(None);
    };
    if format != checkpoint::FORMAT {
        return Ok(None);
    }
    let Some(blob) = sqlite::checkpoint_world(tx)? else {
        return Ok(None);
    };
    // An unreadable checkpoint is passed over: the journal is the record.
    let read = |into: &mut [u8], at: usize| blob.read_at_exact(into, at);
    Ok(checkpoint::decode_from(blob.len(), read)?
        .filter(|world| world.journal_seq() == seq)
        .map(|world| world.with_config(options.config.clone())))
}

impl SqliteRegistry {
    /// Opens (creating and migrating if needed) a registry file.
    pub fn open(path: impl AsRef<Path>, options: OpenOptions) -> Result<Self, RegistryError> {
        let path = path.as_ref().to_path_buf();
        let store = Store::open(&path)?;
        let options = OpenOptions {
            clock: settle_clock(&store, options.clock)?,
            ..options
        };
        let mut loaded = rebuild(&store, &options)?;
        loaded.checkpoint_if_behind(&store, CHECKPOINT_ON_OPEN_OR_CLOSE);
        Ok(SqliteRegistry {
            shared: Arc::new(RegistryShared {
                path,
                options,
                inner: Mutex::new(Inner {
                    store,
                    loaded: Some(loaded),
                }),
                leave_memory: AtomicBool::new(false),
            }),
        })
    }

    /// For a process that ends once it is done with the registry (a command of the CLI):
    /// closing still writes its checkpoint, but leaves the in-memory world (the 100×
    /// fleet's is some 200 MB in millions of small blocks, 0.1 s of CPU to free one by
    /// one) to the operating system, which takes it back at exit.
    pub fn leave_memory_at_close(&self) {
        self.shared.leave_memory.store(true, Ordering::Relaxed);
    }

    /// Opens a registry file and loads reference data (YAML, the format of docs/registry-api.md).
    pub fn init_with_reference(
        path: impl AsRef<Path>,
        reference_yaml: &str,
        options: OpenOptions,
    ) -> Result<Self, RegistryError> {
        let reference = Reference::from_yaml(reference_yaml)?;
        let registry = Self::open(path, options)?;
        registry.load_reference_blocking(reference)?;
        Ok(registry)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The clock the registry runs on (never [`ClockKind::Stored`]).
    pub(crate) fn clock_kind(&self) -> ClockKind {
        self.shared.options.clock
    }

    /// The limits the registry enforces.
    pub fn limits(&self) -> Limits {
        self.shared.options.config.clone()
    }

    /// The person a bearer token acts for, if the token was issued here.
    pub(crate) async fn token_person(&self, token: &str) -> Result<Option<Insz>, RegistryError> {
        let token = token.to_string();
        let found = self
            .run(move |s| {
                let guard = s.inner.lock().map_err(|_| RegistryError::Internal {
                    reason: "an earlier operation panicked".into(),
                })?;
                Ok(guard.store.token_person(&token)?)
            })
            .await?;
        found
            .map(|insz| {
                Insz::parse(&insz).map_err(|e| RegistryError::Internal {
                    reason: format!("stored token person: {e}"),
                })
            })
            .transpose()
    }

    /// The registry as the bearer of `person`'s identity sees it, without a token: for
    /// the embedded default identity and tests. The HTTP server goes through tokens.
    pub fn as_person(&self, person: Insz) -> Arc<dyn Registry> {
        Arc::new(EmbeddedClient {
            registry: self.clone(),
            person,
        })
    }

    /// Loads (merges) reference data.
    pub(crate) fn load_reference_blocking(
        &self,
        reference: Reference,
    ) -> Result<(), RegistryError> {
        self.shared.transact(|t| {
            t.world.check_reference(&reference)?;
            let n = reference.enterprises.len();
            t.record(Fact::ReferenceLoaded { reference })?;
            t.audit(AuditEntry {
                at_ms: t.now,
                actor: "operator",
                session: None,
                action: "load_reference",
                target: &format!("{n} enterprises"),
                idempotency_key: None,
                outcome: "ok",
            })?;
            Ok(())
        })
    }

    async fn run<R: Send + 'static>(
        &self,
        op: impl FnOnce(&RegistryShared) -> Result<R, RegistryError> + Send + 'static,
    ) -> Result<R, RegistryError> {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || op(&shared))
            .await
            .map_err(|e| RegistryError::Internal {
                reason: format!("registry task failed: {e}"),
            })?
    }
}

impl RegistryShared {
    /// Runs one operation in one transaction (see the module docs).
    fn transact<R>(
        &self,
        op: impl FnOnce(&mut Txn<'_>) -> Result<R, RegistryError>,
    ) -> Result<R, RegistryError> {
        let mut guard = self.inner.lock().map_err(|_| RegistryError::Internal {
            reason: "an earlier operation panicked".into(),
        })?;
        let inner = &mut *guard;
        if inner.loaded.is_none() {
            inner.loaded = Some(rebuild(&inner.store, &self.options)?);
        }
        let Inner { store, loaded } = &mut *inner;
        let Some(LoadedWorld { world, clock, .. }) = loaded.as_mut() else {
            return Err(RegistryError::Internal {
                reason: "registry state not loaded".into(),
            });
        };
        let tx = store.begin()?;
        let outcome = (|| {
            for (seq, fact) in sqlite::journal_since(&tx, world.journal_seq())? {
                if let Fact::ClockAdvanced { by_ms } = &fact {
                    clock.advance(*by_ms);
                }
                world.apply(seq, &fact);
            }
            let mut t = Txn {
                tx: &tx,
                world,
                clock,
                now: clock.now(),
            };
            t.tick()?;
            let result = op(&mut t);
            // Time acts again so that a log-out with no processing delay is processed
            // before the answer.
            t.tick()?;
            Ok::<_, RegistryError>(result)
        })();
        let storage_failed = |r: &Result<R, RegistryError>| {
            matches!(
                r,
                Err(RegistryError::Internal { .. } | RegistryError::Unavailable { .. })
            )
        };
        match outcome {
            Ok(result) if !storage_failed(&result) => match tx.commit() {
                Ok(()) => {
                    if let Some(loaded) = loaded {
                        let due = CHECKPOINT_WHILE_WRITING.max(loaded.checkpoint_seq / 4);
                        loaded.checkpoint_if_behind(store, due);
                    }
                    result
                }
                Err(e) => {
                    *loaded = None;
                    Err(StoreError::from(e).into())
                }
            },
            Ok(Err(e)) | Err(e) => {
                // The world may hold facts that were never committed: roll back and
                // rebuild it from the journal on the next operation.
                drop(tx);
                *loaded = None;
                Err(e)
            }
            Ok(Ok(_)) => Err(RegistryError::Internal {
                reason: "unreachable outcome".into(),
            }),
        }
    }
}

impl Drop for RegistryShared {
    /// Closing: a checkpoint of what this process wrote since the last one.
    fn drop(&mut self) {
        if let Ok(inner) = self.inner.get_mut()
            && let Inner {
                store,
                loaded: Some(loaded),
            } = inner
        {
            loaded.checkpoint_if_behind(store, CHECKPOINT_ON_OPEN_OR_CLOSE);
        }
        if self.leave_memory.load(Ordering::Relaxed)
            && let Ok(inner) = self.inner.get_mut()
        {
            std::mem::forget(inner.loaded.take());
        }
    }
}

/// The embedded registry acting for one person.
struct EmbeddedClient {
    registry: SqliteRegistry,
    person: Insz,
}

/// The idempotency fingerprint of a write: the SHA-256 of the write without its
/// password and, when it carries one, of the password's keyed hash (HMAC-SHA-256 under
/// the registry's own key). So the same key with another password is another request
/// and is refused, while neither the password nor a hash that guesses could be tested
/// against (without the key) is stored. Writes without a password keep the fingerprint
/// they always had.
fn write_print(
    tx: &rusqlite::Transaction<'_>,
    write: &Write,
    password: Option<&AccountPassword>,
) -> Result<String, RegistryError> {
    // The wire's form without the password (`"password": null` inside a new user), the
    // bytes this fingerprint has always been taken over.
    let mut bytes = Vec::new();
    WithPassword::<AccountPassword>::serialize_parts(
        write,
        None,
        &mut serde_json::Serializer::new(&mut bytes),
    )
    .map_err(|e| RegistryError::Internal {
        reason: e.to_string(),
    })?;
    if let Some(secret) = password {
        let key = sqlite::secret_key(tx)?;
        bytes.extend_from_slice(b"\npassword:");
        bytes.extend_from_slice(
            hex::encode(sqlite::keyed_hash(&key, secret.0.expose().as_bytes())).as_bytes(),
        );
    }
    Ok(sqlite::fingerprint(&bytes))
}

fn masked_target(write: &Write) -> String {
    match write {
        Write::DesignateMainAccessManager { kbo, .. }
        | Write::AddAccessManager { kbo, .. }
        | Write::RemoveAccessManager { kbo, .. }
        | Write::ActivateCapacity { kbo, .. }
        | Write::UpdateCapacity { kbo, .. }
        | Write::CreateSubdivision { kbo, .. } => format!("enterprise {kbo}"),
        Write::UpdateSubdivision { hco, .. } | Write::DeleteSubdivision { hco } => {
            format!("subdivision {hco}")
        }
        Write::CreateSite { hco, .. }
        | Write::UpdateSite { hco, .. }
        | Write::DeleteSite { hco } => {
            format!("site {hco}")
        }
        Write::CreateUser { level, user } => format!("user {} on {level}", user.insz),
        Write::UpdateUser { level, insz, .. }
        | Write::DeleteUser { level, insz }
        | Write::SetFunctions { level, insz, .. } => format!("user {insz} on {level}"),
        Write::SetApplications { target, .. } | Write::SetActive { target, .. } => match target {
            WriteTarget::Capacity { kbo, kind } => format!("capacity {kind} of {kbo}"),
            WriteTarget::Subdivision { hco } => format!("subdivision {hco}"),
            WriteTarget::Site { hco } => format!("site {hco}"),
            WriteTarget::User { level, insz } => format!("user {insz} on {level}"),
        },
    }
}

/// One write of `person` in `session` under `key`, inside an operation's transaction:
/// the first answer again for a key used before, otherwise the engine's decision,
/// journalled, remembered under the key and audited (refusals are audited too).
fn write_in(
    t: &mut Txn<'_>,
    person: &Insz,
    session: &SessionId,
    key: &IdempotencyKey,
    write: &Write,
    password: Option<&AccountPassword>,
) -> Result<WriteReceipt, RegistryError> {
    let print = write_print(t.tx, write, password)?;
    if let Some(first) = t.replayed(person, key, &print)? {
        return Ok(first);
    }
    let target = masked_target(write);
    let decision = t
        .world
        .decide_write(person, session, write, password.is_some(), t.now);
    let audit = |t: &Txn<'_>, outcome: &str| {
        t.audit(AuditEntry {
            at_ms: t.now,
            actor: person.compact(),
            session: Some(&session.0),
            action: write.kind(),
            target: &target,
            idempotency_key: Some(key.as_str()),
            outcome,
        })
    };
    let fact = match decision {
        Ok(fact) => fact,
        Err(e) => {
            audit(t, e.code())?;
            return Err(e);
        }
    };
    let ticket_id = match &fact {
        Fact::Wrote { ticket, .. } => ticket.clone(),
        _ => None,
    };
    let seq = t.record(fact)?;
    let receipt = WriteReceipt {
        journal_seq: seq,
        acknowledged_at_ms: t.now,
        ticket: ticket_id.and_then(|id| t.world.ticket(&id).cloned()),
    };
    t.remember(person, key, &print, &receipt, seq)?;
    audit(t, "ok")?;
    Ok(receipt)
}

#[async_trait]
impl Registry for EmbeddedClient {
    async fn limits(&self) -> Result<Limits, RegistryError> {
        Ok(self.registry.shared.options.config.clone())
    }

    async fn whoami(&self) -> Result<Me, RegistryError> {
        let person = self.person;
        self.registry
            .run(move |s| s.transact(|t| Ok(t.world.whoami(&person, t.now))))
            .await
    }

    async fn open_session_keyed(&self, key: &IdempotencyKey) -> Result<SessionInfo, RegistryError> {
        let person = self.person;
        let key = key.clone();
        self.registry
            .run(move |s| {
                s.transact(|t| {
                    // One fingerprint for every log-in: the key alone tells them apart.
                    let print = sqlite::fingerprint(b"open_session");
                    if let Some(first) = t.replayed::<SessionInfo>(&person, &key, &print)? {
                        // The session as it is now; a closed one as it was opened (the
                        // caller's next request in it says it is closed).
                        return Ok(t.world.session_info(&first.id).unwrap_or(first));
                    }
                    let fact = t.world.decide_open_session(&person, t.now)?;
                    let Fact::SessionOpened { id, .. } = &fact else {
                        return Err(RegistryError::Internal {
                            reason: "unexpected fact".into(),
                        });
                    };
                    let id = id.clone();
                    let seq = t.record(fact)?;
                    t.audit(AuditEntry {
                        at_ms: t.now,
                        actor: person.compact(),
                        session: Some(&id.0),
                        action: "open_session",
                        target: &id.0,
                        // Keys in the audit log are write keys (one per write applied).
                        idempotency_key: None,
                        outcome: "ok",
                    })?;
                    let info =
                        t.world
                            .session_info(&id)
                            .ok_or_else(|| RegistryError::Internal {
                                reason: "session vanished".into(),
                            })?;
                    t.remember(&person, &key, &print, &info, seq)?;
                    Ok(info)
                })
            })
            .await
    }

    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, RegistryError> {
        let person = self.person;
        self.registry
            .run(move |s| s.transact(|t| Ok(t.world.sessions_of(&person))))
            .await
    }

    async fn close_session(&self, session: &SessionId) -> Result<CloseReceipt, RegistryError> {
        let person = self.person;
        let session = session.clone();
        self.registry
            .run(move |s| {
                s.transact(|t| {
                    let fact = t.world.decide_close_session(&person, &session, t.now)?;
                    let Fact::SessionClosed { process_at, .. } = &fact else {
                        return Err(RegistryError::Internal {
                            reason: "unexpected fact".into(),
                        });
                    };
                    let process_at = *process_at;
                    t.record(fact)?;
                    t.audit(AuditEntry {
                        at_ms: t.now,
                        actor: person.compact(),
                        session: Some(&session.0),
                        action: "close_session",
                        target: &session.0,
                        idempotency_key: None,
                        outcome: "ok",
                    })?;
                    // Processing is due now when there is no delay.
                    t.tick()?;
                    Ok(CloseReceipt {
                        processed: t.world.pending_processing(&session).is_none(),
                        id: session.clone(),
                        processed_at_ms: process_at,
                    })
                })
            })
            .await
    }

    async fn snapshot(&self, session: &SessionId, kbo: &Kbo) -> Result<LiveState, RegistryError> {
        let person = self.person;
        let session = session.clone();
        let kbo = *kbo;
        self.registry
            .run(move |s| {
                s.transact(|t| {
                    t.world.touch(&person, &session, t.now)?;
                    t.world.snapshot(&person, &session, &kbo)
                })
            })
            .await
    }

    async fn list_users(
        &self,
        session: &SessionId,
        kbo: &Kbo,
        page: &PageRequest,
    ) -> Result<UserPage, RegistryError> {
        let person = self.person;
        let session = session.clone();
        let kbo = *kbo;
        let offset = page.offset()?;
        let limit = page.page_size()?;
        self.registry
            .run(move |s| {
                s.transact(|t| {
                    t.world.touch(&person, &session, t.now)?;
                    let (users, next) =
                        t.world.users_page(&person, &session, &kbo, offset, limit)?;
                    Ok(UserPage {
                        users,
                        next: next.map(PageRequest::cursor),
                    })
                })
            })
            .await
    }

    async fn write(
        &self,
        session: &SessionId,
        key: &IdempotencyKey,
        write: &Write,
        password: Option<&AccountPassword>,
    ) -> Result<WriteReceipt, RegistryError> {
        let person = self.person;
        let session = session.clone();
        let key = key.clone();
        let write = write.clone();
        let password = password.cloned();
        self.registry
            .run(move |s| {
                s.transact(|t| write_in(t, &person, &session, &key, &write, password.as_ref()))
            })
            .await
    }

    async fn write_batch(
        &self,
        session: &SessionId,
        writes: &[BatchWrite],
    ) -> Result<BatchOutcomes, RegistryError> {
        BatchRequest::check_len(writes.len())?;
        let person = self.person;
        let session = session.clone();
        let writes = writes.to_vec();
        // One transaction for the whole batch: one commit, and a storage failure
        // anywhere leaves nothing of it behind (the whole request failed, and a retry
        // decides every write again).
        self.registry
            .run(move |s| {
                s.transact(|t| {
                    let mut out = Vec::with_capacity(writes.len());
                    for w in &writes {
                        let password = w.password.as_ref();
                        match write_in(t, &person, &session, &w.idempotency_key, &w.write, password)
                        {
                            Err(e) if e.fails_request() => return Err(e),
                            answer => out.push(answer),
                        }
                    }
                    Ok(out)
                })
            })
            .await
    }

    async fn tickets(&self, kbo: &Kbo) -> Result<Vec<Ticket>, RegistryError> {
        let person = self.person;
        let kbo = *kbo;
        self.registry
            .run(move |s| s.transact(|t| t.world.tickets_for(&person, &kbo)))
            .await
    }

    async fn look_up_accounts(&self, query: &AccountQuery) -> Result<KnownAccounts, RegistryError> {
        let query = query.clone();
        self.registry
            .run(move |s| s.transact(|t| t.world.look_up_accounts(&query)))
            .await
    }

    async fn evaluate_access(
        &self,
        person: &Insz,
        site: Option<&Hco>,
    ) -> Result<AccessReport, RegistryError> {
        let caller = self.person;
        let person = *person;
        let site = site.cloned();
        self.registry
            .run(move |s| {
                s.transact(|t| {
                    t.world
                        .evaluate_access(&caller, &person, site.as_ref(), t.now)
                })
            })
            .await
    }

    async fn pending_notices(&self, kbo: &Kbo) -> Result<Vec<PendingNotice>, RegistryError> {
        let person = self.person;
        let kbo = *kbo;
        self.registry
            .run(move |s| s.transact(|t| t.world.pending_notices(&person, &kbo)))
            .await
    }

    async fn acquire_lease(
        &self,
        kbo: &Kbo,
        request: &LeaseRequest,
    ) -> Result<Lease, RegistryError> {
        let person = self.person;
        let kbo = *kbo;
        let request = request.clone();
        self.registry
            .run(move |s| {
                s.transact(|t| {
                    let fact = t.world.decide_lease(&person, &kbo, &request, t.now)?;
                    let Fact::LeaseTaken { lease, .. } = &fact else {
                        return Err(RegistryError::Internal {
                            reason: "unexpected fact".into(),
                        });
                    };
                    let lease = lease.clone();
                    // A lease taken while another was held was taken over: the audit
                    // log says from whom (and the actor says who broke it).
                    let (action, target) = match t.world.lease_held(&kbo, t.now) {
                        Some((holder, held)) if held.id != lease.id => (
                            "take_over_lease",
                            format!(
                                "enterprise {kbo}: lease {} of {} held by {:?}",
                                held.id.0,
                                holder.compact(),
                                held.holder
                            ),
                        ),
                        _ => ("acquire_lease", format!("enterprise {kbo}")),
                    };
                    t.record(fact)?;
                    t.audit(AuditEntry {
                        at_ms: t.now,
                        actor: person.compact(),
                        session: None,
                        action,
                        target: &target,
                        idempotency_key: None,
                        outcome: "ok",
                    })?;
                    Ok(lease)
                })
            })
            .await
    }

    async fn release_lease(&self, lease: &LeaseId) -> Result<(), RegistryError> {
        let person = self.person;
        let lease = lease.clone();
        self.registry
            .run(move |s| {
                s.transact(|t| {
                    if let Some(fact) = t.world.decide_release(&person, &lease, t.now)? {
                        t.record(fact)?;
                        t.audit(AuditEntry {
                            at_ms: t.now,
                            actor: person.compact(),
                            session: None,
                            action: "release_lease",
                            target: &lease.0,
                            idempotency_key: None,
                            outcome: "ok",
                        })?;
                    }
                    Ok(())
                })
            })
            .await
    }
}

fn operator_audit(t: &Txn<'_>, action: &str, target: &str) -> Result<(), StoreError> {
    t.audit(AuditEntry {
        at_ms: t.now,
        actor: "operator",
        session: None,
        action,
        target,
        idempotency_key: None,
        outcome: "ok",
    })
}

#[async_trait]
impl RegistryOperator for SqliteRegistry {
    async fn issue_token(&self, person: &Insz) -> Result<String, RegistryError> {
        let person = *person;
        self.run(move |s| {
            s.transact(|t| {
                let token = format!("csam_{}", hex::encode(rand::random::<[u8; 32]>()));
                sqlite::insert_token(t.tx, &token, person.compact(), t.now)?;
                operator_audit(t, "issue_token", &person.masked())?;
                Ok(token)
            })
        })
        .await
    }

    async fn connect(&self, token: &str) -> Result<Arc<dyn Registry>, RegistryError> {
        let person =
            self.token_person(token)
                .await?
                .ok_or_else(|| RegistryError::NotAuthorised {
                    reason: "unknown bearer token".into(),
                })?;
        Ok(self.as_person(person))
    }

    async fn all_tickets(&self) -> Result<Vec<Ticket>, RegistryError> {
        self.run(|s| s.transact(|t| Ok(t.world.all_tickets())))
            .await
    }

    async fn validate_ticket(&self, ticket: &str) -> Result<Ticket, RegistryError> {
        let id = ticket.to_string();
        self.run(move |s| {
            s.transact(|t| {
                let fact = t.world.decide_validate_ticket(&id, t.now)?;
                t.record(fact)?;
                operator_audit(t, "validate_ticket", &id)?;
                t.world
                    .ticket(&id)
                    .cloned()
                    .ok_or_else(|| RegistryError::NotFound {
                        what: format!("ticket {id}"),
                    })
            })
        })
        .await
    }

    async fn notify_head_radiologist(
        &self,
        site: &Hco,
        person: &Insz,
    ) -> Result<(), RegistryError> {
        let site = site.clone();
        let person = *person;
        self.run(move |s| {
            s.transact(|t| {
                t.record(Fact::HeadRadiologistNotified {
                    site: site.clone(),
                    person,
                    at: t.now,
                })?;
                operator_audit(t, "notify_head_radiologist", &format!("site {site}"))?;
                Ok(())
            })
        })
        .await
    }

    async fn advance_clock(&self, by_ms: u64) -> Result<i64, RegistryError> {
        self.run(move |s| {
            s.transact(|t| {
                t.record(Fact::ClockAdvanced { by_ms })?;
                operator_audit(t, "advance_clock", &format!("{by_ms} ms"))?;
                // Time acts at the new time within the same transaction.
                t.now = t.clock.now();
                t.tick()?;
                Ok(t.now)
            })
        })
        .await
    }

    async fn load_reference(&self, reference: &Reference) -> Result<(), RegistryError> {
        let this = self.clone();
        let reference = reference.clone();
        tokio::task::spawn_blocking(move || this.load_reference_blocking(reference))
            .await
            .map_err(|e| RegistryError::Internal {
                reason: format!("registry task failed: {e}"),
            })?
    }

    async fn stats(&self) -> Result<RegistryStats, RegistryError> {
        self.run(|s| {
            s.transact(|t| {
                let (journal_entries, audit_entries) = sqlite::counts(t.tx)?;
                Ok(RegistryStats {
                    journal_entries,
                    audit_entries,
                    now_ms: t.now,
                })
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: &str = include_str!("../../examples/reference.yaml");

    /// A world as JSON: maps compare whatever their order in memory.
    fn value(world: &World) -> serde_json::Value {
        serde_json::to_value(world).expect("world")
    }

    /// The world as the journal alone rebuilds it.
    fn replayed(path: &Path) -> World {
        let store = Store::open(path).expect("store");
        let tx = store.begin().expect("begin");
        let mut world = World::new(Limits::default());
        for (seq, fact) in sqlite::journal_since(&tx, 0).expect("journal") {
            world.apply(seq, &fact);
        }
        world
    }

    fn loaded<R>(registry: &SqliteRegistry, f: impl FnOnce(&Store, &mut LoadedWorld) -> R) -> R {
        let mut inner = registry.shared.inner.lock().expect("lock");
        let Inner {
            store,
            loaded: Some(loaded),
        } = &mut *inner
        else {
            panic!("not loaded");
        };
        f(store, loaded)
    }

    /// A new registry file with the examples' reference data, on the virtual clock (the
    /// directory goes when the first item is dropped).
    fn new_registry() -> (tempfile::TempDir, PathBuf, SqliteRegistry) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("registry.db");
        let registry =
            SqliteRegistry::init_with_reference(&path, REFERENCE, OpenOptions::virtual_clock())
                .expect("registry");
        (dir, path, registry)
    }

    /// Log-ins, log-outs (processed a second later) and clock moves: facts of several
    /// kinds, one session left open.
    async fn activity(registry: &SqliteRegistry, rounds: usize) {
        let person = registry.as_person(Insz::parse("82120926312").expect("insz"));
        for _ in 0..rounds {
            let s = person.open_session().await.expect("log in").id;
            person.close_session(&s).await.expect("log out");
            registry.advance_clock(1_000).await.expect("clock");
        }
        person.open_session().await.expect("log in");
    }

    #[tokio::test]
    async fn a_checkpoint_and_the_journal_after_it_rebuild_the_journals_world() {
        let (_dir, path, registry) = new_registry();
        activity(&registry, 3).await;
        let checkpointed = loaded(&registry, |store, l| {
            l.checkpoint(store).expect("checkpoint");
            l.world.journal_seq()
        });
        // Facts committed after the checkpoint, then a crash (no checkpoint at closing).
        activity(&registry, 3).await;
        let stats = registry.stats().await.expect("stats");
        std::mem::forget(registry);

        let reopened = SqliteRegistry::open(&path, OpenOptions::virtual_clock()).expect("open");
        let (from, world) = loaded(&reopened, |_, l| (l.checkpoint_seq, l.world.clone()));
        assert_eq!(from, checkpointed, "restored from the checkpoint");
        assert!(world.journal_seq() > checkpointed, "and the tail replayed");
        assert_eq!(value(&world), value(&replayed(&path)));
        let after = reopened.stats().await.expect("stats");
        assert_eq!(after.now_ms, stats.now_ms, "the clock as it was");
        assert_eq!(after.journal_entries, stats.journal_entries);
    }

    #[tokio::test]
    async fn closing_after_a_long_tail_leaves_a_checkpoint() {
        // Also when the closing process leaves the world's memory to the system.
        for leave_memory in [false, true] {
            let (_dir, path, registry) = new_registry();
            activity(&registry, 80).await;
            let seq = loaded(&registry, |_, l| l.world.journal_seq());
            assert!(seq >= CHECKPOINT_ON_OPEN_OR_CLOSE);
            if leave_memory {
                registry.leave_memory_at_close();
            }
            drop(registry);
            let reopened = SqliteRegistry::open(&path, OpenOptions::virtual_clock()).expect("open");
            let (from, world) = loaded(&reopened, |_, l| (l.checkpoint_seq, l.world.clone()));
            assert_eq!(from, seq, "leave_memory: {leave_memory}");
            assert_eq!(value(&world), value(&replayed(&path)));
        }
    }

    /// Replaces the stored checkpoint by `bytes` as they are.
    fn store_checkpoint(path: &Path, seq: u64, format: i64, bytes: &[u8]) {
        let store = Store::open(path).expect("store");
        let tx = store.begin().expect("begin");
        tx.execute("DELETE FROM checkpoint", []).expect("delete");
        tx.execute(
            "INSERT INTO checkpoint (id, journal_seq, format, world) VALUES (1, ?1, ?2, ?3)",
            rusqlite::params![seq as i64, format, bytes],
        )
        .expect("checkpoint");
        tx.commit().expect("commit");
    }

    fn stored_format(path: &Path) -> (u64, i64) {
        let store = Store::open(path).expect("store");
        let tx = store.begin().expect("begin");
        let (seq, format) = sqlite::checkpoint(&tx)
            .expect("read")
            .expect("a checkpoint");
        (seq, format)
    }

    #[tokio::test]
    async fn an_unreadable_checkpoint_is_passed_over() {
        let (_dir, path, registry) = new_registry();
        activity(&registry, 2).await;
        let seq = loaded(&registry, |_, l| l.world.journal_seq());
        std::mem::forget(registry);
        let mut cut_short = Vec::new();
        for part in loaded_parts(&path) {
            cut_short.extend_from_slice(&checkpoint::length_prefix(&part));
            cut_short.extend_from_slice(&part);
        }
        let whole = cut_short.clone();
        let last = cut_short.pop().expect("a byte");
        for (format, bytes, as_text) in [
            (checkpoint::FORMAT + 1, &b"{}"[..], false),
            (checkpoint::FORMAT - 1, &whole, false),
            (checkpoint::FORMAT, b"[1,", false),
            (checkpoint::FORMAT, &cut_short, false),
            (checkpoint::FORMAT, &whole, true),
        ] {
            store_checkpoint(&path, seq, format, bytes);
            if as_text {
                let store = Store::open(&path).expect("store");
                let tx = store.begin().expect("begin");
                tx.execute("UPDATE checkpoint SET world = CAST(world AS TEXT)", [])
                    .expect("as text");
                tx.commit().expect("commit");
            }
            let reopened = SqliteRegistry::open(&path, OpenOptions::virtual_clock()).expect("open");
            let (from, world) = loaded(&reopened, |_, l| (l.checkpoint_seq, l.world.clone()));
            assert_eq!(from, 0, "the journal replayed from its start");
            assert_eq!(value(&world), value(&replayed(&path)));
            std::mem::forget(reopened);
        }
        cut_short.push(last);
        store_checkpoint(&path, seq, checkpoint::FORMAT, &cut_short);
        let reopened = SqliteRegistry::open(&path, OpenOptions::virtual_clock()).expect("open");
        assert_eq!(
            loaded(&reopened, |_, l| l.checkpoint_seq),
            seq,
            "whole, it is read"
        );
    }

    /// The parts of the checkpoint of the journal's world.
    fn loaded_parts(path: &Path) -> Vec<Vec<u8>> {
        checkpoint::encode(&mut replayed(path)).expect("encode")
    }

    /// Facts that give the world user records on several levels, two versions each (a
    /// user and later its functions), accounts and the per-person indexes: appended to
    /// the journal as the registry would have.
    fn journal_users(path: &Path, people: u64) {
        use crate::model::{
            Application, Email, Function, Language, User, UserDetails, UserLevel, Username,
            insz_check,
        };
        let store = Store::open(path).expect("store");
        let tx = store.begin().expect("begin");
        let person = Insz::parse("82120926312").expect("insz");
        let id = SessionId("s-users".into());
        let mut facts = vec![Fact::SessionOpened {
            id: id.clone(),
            person,
            at: 0,
        }];
        for i in 0..people {
            let nine = 850_101_001 + i;
            let insz = Insz::parse(&format!("{nine}{:02}", insz_check(nine, false))).expect("insz");
            let site = UserLevel::Site {
                hco: Hco::parse(&format!("7000000{}", i % 3)).expect("hco"),
            };
            let subdivision = UserLevel::Subdivision {
                hco: Hco::parse("71000000").expect("hco"),
            };
            let levels = if i % 2 == 0 {
                vec![site, subdivision]
            } else {
                vec![site]
            };
            for level in levels {
                let user = User {
                    insz,
                    username: Username::parse(&format!("persoon{i:04}")).expect("username"),
                    details: UserDetails {
                        last_name: "PERSOON".into(),
                        first_name: format!("Nummer{i}"),
                        title: None,
                        language: Language::Dutch,
                        email: Email::parse(&format!("p{i}@fleet.example")).expect("email"),
                        local_email: None,
                    },
                    active: true,
                    applications: [Application::Heracles].into(),
                    functions: Default::default(),
                };
                for write in [
                    Write::CreateUser {
                        level: level.clone(),
                        user,
                    },
                    Write::SetFunctions {
                        level,
                        insz,
                        functions: [Function::HeadRadiologist].into(),
                    },
                ] {
                    facts.push(Fact::Wrote {
                        session: id.clone(),
                        at: 0,
                        write,
                        ticket: None,
                    });
                }
            }
        }
        facts.push(Fact::SessionClosed {
            id: id.clone(),
            at: 0,
            process_at: 0,
            expired: false,
        });
        facts.push(Fact::SessionProcessed { id, at: 0 });
        for fact in &facts {
            sqlite::append(&tx, 0, fact).expect("append");
        }
        tx.commit().expect("commit");
    }

    /// User records travel through a checkpoint (cut in many parts) unchanged.
    #[tokio::test]
    async fn a_checkpoint_holds_the_user_records() {
        let (_dir, path, registry) = new_registry();
        drop(registry);
        journal_users(&path, 150);
        let registry = SqliteRegistry::open(&path, OpenOptions::virtual_clock()).expect("open");
        let (seq, world) = loaded(&registry, |_, l| (l.world.journal_seq(), l.world.clone()));
        assert_eq!(
            loaded(&registry, |_, l| l.checkpoint_seq),
            seq,
            "written on opening"
        );
        let users = value(&world)["users"].as_array().map(Vec::len);
        assert_eq!(users, Some(4), "three sites and a subdivision");
        std::mem::forget(registry);
        let reopened = SqliteRegistry::open(&path, OpenOptions::virtual_clock()).expect("open");
        let (from, restored) = loaded(&reopened, |_, l| (l.checkpoint_seq, l.world.clone()));
        assert_eq!(from, seq, "restored from the checkpoint");
        assert_eq!(value(&restored), value(&world));
        assert_eq!(value(&restored), value(&replayed(&path)));
    }

    /// A file written by an older csamctl holds its world as JSON (format 1): it is
    /// passed over, the journal replayed, and (the tail being long) a checkpoint of this
    /// format written at once, which the next opening restores.
    #[tokio::test]
    async fn an_older_formats_checkpoint_is_replaced() {
        let (_dir, path, registry) = new_registry();
        activity(&registry, 80).await;
        let (seq, json) = loaded(&registry, |_, l| {
            (
                l.world.journal_seq(),
                serde_json::to_vec(&l.world).expect("json"),
            )
        });
        assert!(seq >= CHECKPOINT_ON_OPEN_OR_CLOSE);
        std::mem::forget(registry);
        store_checkpoint(&path, seq, 1, &json);

        let reopened = SqliteRegistry::open(&path, OpenOptions::virtual_clock()).expect("open");
        let world = loaded(&reopened, |_, l| l.world.clone());
        assert_eq!(value(&world), value(&replayed(&path)));
        assert_eq!(stored_format(&path), (seq, checkpoint::FORMAT));
        std::mem::forget(reopened);

        let again = SqliteRegistry::open(&path, OpenOptions::virtual_clock()).expect("open");
        let (from, world) = loaded(&again, |_, l| (l.checkpoint_seq, l.world.clone()));
        assert_eq!(from, seq, "restored from the new checkpoint");
        assert_eq!(value(&world), value(&replayed(&path)));
    }
}
