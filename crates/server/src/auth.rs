//! Users and password checks. Passwords are stored only as argon2id hashes
//! (slow and salted on purpose), and repeated failures lock a user out for a
//! while, as Neo4j does, so that guessing is slow even on a fast machine.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use causeway_value::{Code, Error};
use serde::{Deserialize, Serialize};

const USERS_FILE: &str = "users.json";

#[derive(Default, Serialize, Deserialize)]
struct UserFile {
    /// user name -> PHC-format argon2id hash
    users: HashMap<String, String>,
}

pub struct Auth {
    enabled: bool,
    path: PathBuf,
    users: Mutex<UserFile>,
    failures: Mutex<HashMap<String, Failures>>,
    max_failed: u32,
    lock_for: Duration,
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
            path,
            users: Mutex::new(file),
            failures: Mutex::new(HashMap::new()),
            max_failed,
            lock_for,
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
        let salt = SaltString::generate(&mut OsRng);
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| anyhow::anyhow!("hashing password: {e}"))?
            .to_string();
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
        let stored = lock(&self.users).users.get(user).cloned();
        let Some(hash) = stored else {
            // Spend the same time as for a real user, so that timing does
            // not reveal which names exist. Unknown names are not tracked:
            // they cannot log in anyway, and tracking them would let a
            // client grow the failure table without bound.
            verify(DUMMY_HASH, password);
            return Err(unauthorized());
        };
        // Reserve the attempt before the slow hash, so that parallel
        // guesses count against the limit too.
        self.begin_attempt(user)?;
        let ok = verify(&hash, password);
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
            Ok(user.to_owned())
        } else {
            f.count += 1;
            f.last = Instant::now();
            Err(unauthorized())
        }
    }

    fn begin_attempt(&self, user: &str) -> Result<(), Error> {
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
            return Err(Error::new(
                Code::AuthenticationRateLimit,
                "The client has provided incorrect authentication details too many times in a row.",
            ));
        }
        f.in_flight += 1;
        Ok(())
    }
}

// A valid argon2id hash of a random string, used to spend the same time on
// unknown users as on known ones.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0d6pWcbqiq2M7dUXcD9l3hHXe0zcPUvzVHRvKrVBL1s";

fn verify(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
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

    #[test]
    fn none_disables_auth() {
        let dir = tempfile::tempdir().unwrap();
        let auth = Auth::open(dir.path(), "none", 3, Duration::from_secs(60)).unwrap();
        assert!(auth.authenticate("none", None, None).is_ok());
    }
}
