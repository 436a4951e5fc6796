//! Users and password checks. Passwords are stored only as argon2id hashes
//! (slow and salted on purpose), and repeated failures lock a user out for a
//! while, as Neo4j does, so that guessing is slow even on a fast machine.
//! Every login, whatever the protocol, goes through one [`Door`], which
//! bounds how many hashes run at once and remembers verified credentials.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use causeway_value::{Code, Error};
use serde::{Deserialize, Serialize};

use crate::security::Security;

const USERS_FILE: &str = "users.json";

#[derive(Default, Serialize, Deserialize)]
struct UserFile {
    /// user name -> PHC-format argon2id hash
    users: HashMap<String, String>,
}

/// Reads the replicated security state (users, roles, privileges).
pub type SecuritySource = Arc<dyn Fn() -> Arc<Security> + Send + Sync>;

pub struct Auth {
    enabled: bool,
    /// The user the `auth` setting names (`neo4j` when it names none).
    configured_user: String,
    /// Once set, users come from the replicated state as soon as it has
    /// been initialised; `users.json` only bootstraps it.
    replicated: Mutex<Option<SecuritySource>>,
    path: PathBuf,
    users: Mutex<UserFile>,
    attempts: Arc<Attempts>,
    rights: Mutex<RightsCache>,
}

/// Users' rights as one version of the security state gives them: every
/// transaction begins by asking, and working them out copies every
/// privilege row of every role the user holds.
#[derive(Default)]
struct RightsCache {
    /// The version they were worked out from. Held weakly, which also
    /// keeps its address from being reused by a later version.
    of: std::sync::Weak<Security>,
    by_user: HashMap<String, Arc<crate::security::Rights>>,
}

/// Users whose rights are remembered at most; when full, the memory starts
/// over.
const RIGHTS_ENTRIES: usize = 1_024;

/// Failed password checks per user, wherever a password is checked (a
/// login, or ALTER CURRENT USER's old password): after `max_failed` in a
/// row the user is locked out for `lock_for`.
pub struct Attempts {
    failures: Mutex<HashMap<String, Failures>>,
    max_failed: u32,
    lock_for: Duration,
}

impl std::fmt::Debug for Attempts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempts")
            .field("max_failed", &self.max_failed)
            .finish_non_exhaustive()
    }
}

struct Failures {
    count: u32,
    /// Checks of this user's password that are running right now.
    in_flight: u32,
    last: Instant,
}

/// Longer names and passwords are refused before any hashing, so that a
/// client cannot make the server hash or remember megabytes.
const MAX_PRINCIPAL_BYTES: usize = 256;
const MAX_CREDENTIAL_BYTES: usize = 4096;

impl Auth {
    /// `setting` is the `auth` config value: `none`, `USER/PASSWORD`, or
    /// empty (keep stored users; on first start create `neo4j` with a random
    /// password, which is logged once).
    pub fn open(
        dir: &Path,
        setting: &str,
        max_failed: u32,
        lock_for: Duration,
    ) -> anyhow::Result<Auth> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(USERS_FILE);
        let file = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => UserFile::default(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let auth = Auth {
            enabled: setting != "none",
            configured_user: setting
                .split_once('/')
                .map_or("neo4j", |(u, _)| u)
                .to_owned(),
            replicated: Mutex::new(None),
            path,
            users: Mutex::new(file),
            attempts: Arc::new(Attempts {
                failures: Mutex::new(HashMap::new()),
                max_failed,
                lock_for,
            }),
            rights: Mutex::default(),
        };
        if let Some((user, password)) = setting.split_once('/') {
            auth.set_password(user, password)?;
        } else if auth.enabled && lock(&auth.users).users.is_empty() {
            let password: String = {
                use rand::Rng;
                rand::thread_rng()
                    .sample_iter(rand::distributions::Alphanumeric)
                    .take(16)
                    .map(char::from)
                    .collect()
            };
            auth.set_password("neo4j", &password)?;
            tracing::warn!(
                "no users were configured: created user `neo4j` with password `{password}` \
                 (set one with --auth USER/PASSWORD or CAUSEWAY_AUTH)"
            );
        }
        if !auth.enabled {
            tracing::warn!("authentication is disabled (--auth none): any client may connect");
        }
        Ok(auth)
    }

    pub fn set_password(&self, user: &str, password: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            !user.is_empty() && !password.is_empty(),
            "user name and password must not be empty"
        );
        let hash = hash_password(password).map_err(|e| anyhow::anyhow!("{}", e.message))?;
        let mut users = lock(&self.users);
        users.users.insert(user.to_owned(), hash);
        let bytes = serde_json::to_vec_pretty(&*users)?;
        write_atomically(&self.path, &bytes)
    }

    /// Checks credentials; returns the authenticated user name. Slow by
    /// design (argon2): call it off the async executor.
    pub fn authenticate(
        &self,
        scheme: &str,
        principal: Option<&str>,
        credentials: Option<&str>,
    ) -> Result<String, Error> {
        if !self.enabled {
            return Ok(principal.unwrap_or("").to_owned());
        }
        let (Some(user), Some(password)) = (principal, credentials) else {
            return Err(unauthorized());
        };
        if scheme != "basic" {
            return Err(unauthorized());
        }
        if user.len() > MAX_PRINCIPAL_BYTES || password.len() > MAX_CREDENTIAL_BYTES {
            return Err(unauthorized());
        }
        let Some(hash) = self.stored_hash(user) else {
            // Spend the same time as for a real user, so that timing does
            // not reveal which names exist. Unknown names are not tracked:
            // they cannot log in anyway, and tracking them would let a
            // client grow the failure table without bound.
            verify(DUMMY_HASH, password);
            return Err(unauthorized());
        };
        self.attempts.check(user, &hash, password)?;
        Ok(user.to_owned())
    }

    /// `user`'s rights in `security` (no rights if the user does not exist
    /// or is suspended there).
    pub fn rights(&self, security: &Arc<Security>, user: &str) -> Arc<crate::security::Rights> {
        let mut cache = lock(&self.rights);
        if !std::ptr::eq(cache.of.as_ptr(), Arc::as_ptr(security)) {
            cache.of = Arc::downgrade(security);
            cache.by_user.clear();
        }
        if let Some(r) = cache.by_user.get(user) {
            return r.clone();
        }
        let r = Arc::new(
            security
                .rights(user)
                .unwrap_or_else(|| crate::security::Rights::none(user)),
        );
        if cache.by_user.len() >= RIGHTS_ENTRIES {
            cache.by_user.clear();
        }
        cache.by_user.insert(user.to_owned(), r.clone());
        r
    }

    /// The lock-out accounting, for checks of a password outside a login.
    pub fn attempts(&self) -> &Arc<Attempts> {
        &self.attempts
    }

    /// Takes users from the replicated state from now on (once it is
    /// initialised).
    pub fn follow(&self, source: SecuritySource) {
        *lock(&self.replicated) = Some(source);
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The replicated security state, once initialised.
    pub fn security(&self) -> Option<Arc<Security>> {
        let source = lock(&self.replicated).clone()?;
        Some(source()).filter(|s| s.initialized)
    }

    /// A user's id in the replicated state, once it is initialised.
    pub fn user_id(&self, user: &str) -> Option<u64> {
        self.security()?.users.get(user).map(|u| u.id)
    }

    /// The first user of a new DBMS and its hash: the user the `auth`
    /// setting names, with the password stored for it locally (a random
    /// one nobody knows when there is none, as with `--auth none`).
    pub fn bootstrap_identity(&self) -> Result<(String, String), Error> {
        let user = self.configured_user.clone();
        if !self.enabled {
            return Ok((user, UNSET_HASH.to_owned()));
        }
        let hash = match lock(&self.users).users.get(&user).cloned() {
            Some(h) => h,
            None => {
                use rand::RngCore;
                let mut bytes = [0u8; 24];
                rand::thread_rng().fill_bytes(&mut bytes);
                let random: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                hash_password(&random)?
            }
        };
        Ok((user, hash))
    }

    /// The hash a login is checked against: from the replicated state once
    /// it is initialised (a suspended user has none), else from the local
    /// file.
    fn stored_hash(&self, user: &str) -> Option<String> {
        if let Some(security) = self.security() {
            return security
                .users
                .get(user)
                .filter(|u| !u.suspended)
                .map(|u| u.hash.clone());
        }
        lock(&self.users).users.get(user).cloned()
    }
}

impl Attempts {
    /// Checks `password` against `user`'s stored `hash` (slow: call it off
    /// the async workers), counting a failure; refused at once while the
    /// user is locked out.
    pub fn check(&self, user: &str, hash: &str, password: &str) -> Result<(), Error> {
        // Reserve the attempt before the slow hash, so that parallel
        // guesses count against the limit too.
        self.begin(user)?;
        let ok = verify(hash, password);
        let mut failures = lock(&self.failures);
        let Some(f) = failures.get_mut(user) else {
            return Err(unauthorized());
        };
        f.in_flight = f.in_flight.saturating_sub(1);
        if ok {
            if f.in_flight == 0 {
                failures.remove(user);
            } else {
                f.count = 0;
            }
            Ok(())
        } else {
            f.count += 1;
            f.last = Instant::now();
            Err(unauthorized())
        }
    }

    /// Whether `user` is locked out after failed attempts right now.
    pub fn locked_out(&self, user: &str) -> bool {
        lock(&self.failures)
            .get(user)
            .is_some_and(|f| f.count >= self.max_failed && f.last.elapsed() < self.lock_for)
    }

    fn begin(&self, user: &str) -> Result<(), Error> {
        let mut failures = lock(&self.failures);
        let f = failures.entry(user.to_owned()).or_insert(Failures {
            count: 0,
            in_flight: 0,
            last: Instant::now(),
        });
        if f.count >= self.max_failed && f.last.elapsed() >= self.lock_for {
            f.count = 0;
        }
        // Checks already running count only once a failure has been seen:
        // a connection pool logging in with the right password in parallel
        // must not lock itself out, while a guesser's parallel attempts do
        // count (and the caller bounds how many run at once).
        let pending = if f.count > 0 { f.in_flight } else { 0 };
        if f.count + pending >= self.max_failed {
            return Err(rate_limited());
        }
        f.in_flight += 1;
        Ok(())
    }
}

/// How long verified credentials are remembered: a connection pool opening
/// connections, or a probe every few seconds, then pays for one hash.
pub const VERIFIED_TTL: Duration = Duration::from_secs(60);
/// Verified credentials remembered at most; when full, the memory starts
/// over.
pub const VERIFIED_ENTRIES: usize = 1_024;

/// The one way in: Bolt's HELLO and LOGON, HTTP Basic auth on the
/// transactional endpoint and on the health endpoints all log in here.
/// Each argon2 check takes about 19 MiB and a core for tens of
/// milliseconds, so at most `slots` run at once, off the async workers;
/// the rest wait their turn. Credentials that passed are remembered (as a
/// keyed hash, never in clear) for [`VERIFIED_TTL`], as long as the user's
/// stored hash is unchanged, so a changed password or a dropped user
/// invalidates them at once.
pub struct Door {
    auth: Arc<Auth>,
    slots: Arc<tokio::sync::Semaphore>,
    key: [u8; 32],
    verified: Mutex<HashMap<[u8; 32], Verified>>,
    /// Password checks run so far.
    hashed: std::sync::atomic::AtomicU64,
}

struct Verified {
    user: String,
    /// The stored hash the credentials were checked against.
    hash: String,
    at: Instant,
}

impl Door {
    pub fn new(auth: Arc<Auth>, slots: usize) -> Door {
        use rand::RngCore;
        let mut key = [0; 32];
        rand::thread_rng().fill_bytes(&mut key);
        Door {
            auth,
            slots: Arc::new(tokio::sync::Semaphore::new(slots.max(1))),
            key,
            verified: Mutex::new(HashMap::new()),
            hashed: Default::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.auth.enabled
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// Checks a Bolt-shaped auth token (HTTP's Basic header becomes one).
    pub async fn admit(&self, token: &causeway_bolt::AuthToken) -> Result<String, Error> {
        self.login(
            &token.scheme,
            token.principal.as_deref(),
            token.credentials.as_deref(),
        )
        .await
    }

    /// Checks credentials; returns the authenticated user name.
    pub async fn login(
        &self,
        scheme: &str,
        principal: Option<&str>,
        credentials: Option<&str>,
    ) -> Result<String, Error> {
        if !self.auth.enabled {
            return Ok(principal.unwrap_or("").to_owned());
        }
        let (Some(user), Some(password)) = (principal, credentials) else {
            return Err(unauthorized());
        };
        if scheme != "basic"
            || user.len() > MAX_PRINCIPAL_BYTES
            || password.len() > MAX_CREDENTIAL_BYTES
        {
            return Err(unauthorized());
        }
        // A locked-out user stays locked out, even with the right password
        // remembered from before, as in Neo4j.
        if self.auth.attempts.locked_out(user) {
            return Err(rate_limited());
        }
        let key = self.fingerprint(user, password);
        if let Some(user) = self.remembered(&key) {
            return Ok(user);
        }
        // The slot travels with the hash: a client that gives up waiting
        // does not free it before the hash it started has run.
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::new(Code::Unknown, "the server is shutting down"))?;
        self.hashed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let auth = self.auth.clone();
        let (u, p) = (user.to_owned(), password.to_owned());
        let checked = hashing(move || {
            let _slot = slot;
            let hash = auth.stored_hash(&u);
            auth.authenticate("basic", Some(&u), Some(&p))
                .map(|name| (name, hash))
        })
        .await?;
        let (name, hash) = checked?;
        if let Some(hash) = hash {
            let mut verified = lock(&self.verified);
            if verified.len() >= VERIFIED_ENTRIES {
                verified.clear();
            }
            verified.insert(
                key,
                Verified {
                    user: name.clone(),
                    hash,
                    at: Instant::now(),
                },
            );
        }
        Ok(name)
    }

    fn fingerprint(&self, user: &str, password: &str) -> [u8; 32] {
        use blake2::Digest;
        let mut h = blake2::Blake2s256::new();
        h.update(self.key);
        h.update((user.len() as u64).to_le_bytes());
        h.update(user.as_bytes());
        h.update(password.as_bytes());
        h.finalize().into()
    }

    fn remembered(&self, key: &[u8; 32]) -> Option<String> {
        let mut verified = lock(&self.verified);
        let v = verified.get(key)?;
        let current = self.auth.stored_hash(&v.user);
        if v.at.elapsed() < VERIFIED_TTL && current.as_deref() == Some(v.hash.as_str()) {
            return Some(v.user.clone());
        }
        verified.remove(key);
        None
    }
}

// A valid argon2id hash of a random string, used to spend the same time on
// unknown users as on known ones.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0d6pWcbqiq2M7dUXcD9l3hHXe0zcPUvzVHRvKrVBL1s";

type Job = Box<dyn FnOnce() + Send>;

/// Runs `f` (a password hash or check) on the hashing threads: one per
/// core, started on first use. argon2 takes about 19 MiB per hash, and the
/// allocator keeps a thread's freed memory for that thread; run on any
/// blocking thread, a flood of logins would leave every one of hundreds of
/// pool threads holding its 19 MiB. On a few threads of their own, the
/// memory hashing holds is bounded by their number.
pub async fn hashing<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    static POOL: std::sync::OnceLock<Mutex<std::sync::mpsc::Sender<Job>>> =
        std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("hasher-{i}"))
                .spawn(move || loop {
                    let job = lock(&rx).recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        Mutex::new(tx)
    });
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(f());
    });
    lock(pool)
        .send(job)
        .map_err(|_| Error::new(Code::Unknown, "the password hashing threads have stopped"))?;
    rx.await
        .map_err(|_| Error::new(Code::Unknown, "a password hashing task failed"))
}

/// The stored "hash" of a first user created while authentication was off:
/// no password matches it. A member started later with authentication on
/// replaces it with the configured password.
pub const UNSET_HASH: &str = "!unset";

/// An argon2id hash of `password` (slow on purpose: call it off the async
/// workers).
pub fn hash_password(password: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::new(Code::Unknown, format!("hashing a password: {e}")))
}

/// Whether `password` matches a stored hash: argon2id, or the SHA-256
/// form a password given `ENCRYPTED` in Neo4j's format is kept in.
pub fn verify(hash: &str, password: &str) -> bool {
    if let Some(rest) = hash.strip_prefix("SHA-256,") {
        return verify_sha256(rest, password);
    }
    verify_argon2(hash, password)
}

/// The largest argon2 memory a stored hash may ask for (64 MiB, in 1 KiB
/// blocks); the default asks for 19 MiB.
const MAX_ARGON2_BLOCKS: usize = 64 * 1024;

thread_local! {
    /// argon2's working memory, kept by each hashing thread from one check
    /// to the next: allocating 19 MiB per check left the allocator holding
    /// a new 19 MiB block for each of the first dozen checks of a thread.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn verify_argon2(hash: &str, password: &str) -> bool {
    use argon2::{Algorithm, Params, Version};
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    if blocks > MAX_ARGON2_BLOCKS {
        return false;
    }
    let mut out = vec![0u8; expected.len()];
    let computed = ARGON2_MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, argon2::Block::default());
        }
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt,
                &mut out,
                &mut memory[..blocks],
            )
            .is_ok()
    });
    computed
        && out.len() == expected.len()
        && out
            .iter()
            .zip(expected.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Neo4j's iteration counts for its encrypted-password versions.
const ENCRYPTION_VERSIONS: [u32; 2] = [1, 1024];

/// Takes a password given `SET ENCRYPTED PASSWORD` in Neo4j's format,
/// `<version>,<hex hash>,<hex salt>`, as the hash to store. Version 0 is
/// SHA-256 once, version 1 SHA-256 1024 times (salt first); others are
/// refused, as Neo4j refuses them.
pub fn import_encrypted(text: &str) -> Result<String, Error> {
    let format = || {
        Error::new(
            Code::ArgumentError,
            "Incorrect format of encrypted password. Correct format is '<encryption-version>,<hash>,<salt>'.",
        )
    };
    let mut parts = text.splitn(3, ',');
    let (Some(version), Some(hash), Some(salt)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format());
    };
    let hex =
        |s: &str| !s.is_empty() && s.len() <= 1024 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if version.len() != 1 || !version.as_bytes()[0].is_ascii_digit() || !hex(hash) || !hex(salt) {
        return Err(format());
    }
    let iterations = ENCRYPTION_VERSIONS
        .get(usize::from(version.as_bytes()[0] - b'0'))
        .ok_or_else(|| {
            Error::new(
                Code::ArgumentError,
                "The encryption version specified is not available.",
            )
        })?;
    Ok(format!(
        "SHA-256,{},{},{iterations}",
        hash.to_ascii_lowercase(),
        salt.to_ascii_lowercase()
    ))
}

fn verify_sha256(stored: &str, password: &str) -> bool {
    use sha2::{Digest, Sha256};
    let mut parts = stored.split(',');
    let (Some(hash), Some(salt), Some(iterations)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Some(salt), Ok(iterations)) = (decode_hex(salt), iterations.parse::<u32>()) else {
        return false;
    };
    let mut h = Sha256::new();
    h.update(&salt);
    h.update(password.as_bytes());
    let mut digest = h.finalize();
    for _ in 1..iterations.clamp(1, ENCRYPTION_VERSIONS[1]) {
        digest = Sha256::digest(digest);
    }
    let computed: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    // Both sides are public-length hex; compare without an early exit.
    computed.len() == hash.len()
        && computed
            .bytes()
            .zip(hash.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() & 1 == 1 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn rate_limited() -> Error {
    Error::new(
        Code::AuthenticationRateLimit,
        "The client has provided incorrect authentication details too many times in a row.",
    )
}

fn unauthorized() -> Error {
    Error::new(
        Code::Unauthorized,
        "The client is unauthorized due to authentication failure.",
    )
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave them half-updated in a
    // way that matters (whole-value replacement), so poisoning is ignored.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Write to a temporary file, fsync it, rename it over the target and fsync
/// the directory, so a crash leaves either the old or the new file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_check_and_failures_lock_out() {
        let dir = tempfile::tempdir().unwrap();
        let auth = Auth::open(dir.path(), "neo4j/secret", 3, Duration::from_secs(60)).unwrap();
        assert_eq!(
            auth.authenticate("basic", Some("neo4j"), Some("secret"))
                .unwrap(),
            "neo4j"
        );
        for _ in 0..3 {
            assert_eq!(
                auth.authenticate("basic", Some("neo4j"), Some("wrong"))
                    .unwrap_err()
                    .code,
                Code::Unauthorized
            );
        }
        let e = auth
            .authenticate("basic", Some("neo4j"), Some("secret"))
            .unwrap_err();
        assert_eq!(e.code, Code::AuthenticationRateLimit);
        assert_eq!(
            auth.authenticate("none", None, None).unwrap_err().code,
            Code::Unauthorized
        );
        // The hash, not the password, is what reaches the disk.
        let stored = std::fs::read_to_string(dir.path().join(USERS_FILE)).unwrap();
        assert!(stored.contains("$argon2id$") && !stored.contains("secret"));
        // Reopening with no setting keeps the stored user.
        let again = Auth::open(dir.path(), "", 3, Duration::from_secs(60)).unwrap();
        assert!(again
            .authenticate("basic", Some("neo4j"), Some("secret"))
            .is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_door_remembers_until_the_password_changes() {
        let dir = tempfile::tempdir().unwrap();
        let auth =
            Arc::new(Auth::open(dir.path(), "neo4j/secret", 3, Duration::from_secs(60)).unwrap());
        let door = Door::new(auth.clone(), 2);
        let login = |p: &'static str| door.login("basic", Some("neo4j"), Some(p));
        assert_eq!(login("secret").await.unwrap(), "neo4j");
        // Remembered: later logins do not hash.
        for _ in 0..100 {
            login("secret").await.unwrap();
        }
        assert_eq!(door.hashed.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert_eq!(lock(&door.verified).len(), 1);
        assert!(lock(&door.verified)
            .keys()
            .all(|k| !k.windows(6).any(|w| w == b"secret")));
        auth.set_password("neo4j", "other").unwrap();
        assert_eq!(login("secret").await.unwrap_err().code, Code::Unauthorized);
        assert_eq!(login("other").await.unwrap(), "neo4j");
        // A lock-out holds for remembered credentials too.
        for _ in 0..3 {
            let _ = login("wrong").await;
        }
        assert_eq!(
            login("other").await.unwrap_err().code,
            Code::AuthenticationRateLimit
        );
    }

    #[test]
    fn none_disables_auth() {
        let dir = tempfile::tempdir().unwrap();
        let auth = Auth::open(dir.path(), "none", 3, Duration::from_secs(60)).unwrap();
        assert!(auth.authenticate("none", None, None).is_ok());
    }
}
