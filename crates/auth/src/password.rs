//! Passwords: argon2id hashing off the async workers with a concurrency cap, and the policy
//! of 12–128 characters, no composition rules, guessable ones refused (zxcvbn score < 3).

use std::sync::Arc;

use std::cell::RefCell;
use std::sync::{Mutex, mpsc};

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, PasswordHasher, Version};

use compact_db::DbError;

use crate::AuthError;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 128;

/// argon2id cost. The default is the design's floor: m = 19 MiB, t = 2, p = 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordCost {
    fn default() -> Self {
        Self::FLOOR
    }
}

/// The most memory a cost may ask for (1 GiB): verification refuses hashes asking for more.
pub const MAX_MEMORY_KIB: u32 = 1 << 20;

impl PasswordCost {
    /// DESIGN §5's floor: m = 19 MiB, t = 2, p = 1. A configured cost below it is refused at
    /// start (compact-api `Settings::validate`).
    pub const FLOOR: PasswordCost = PasswordCost {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// Far cheaper, for tests only.
    pub fn insecure_for_tests() -> Self {
        Self {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }
}

/// Why a new password is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeakPassword(pub String);

/// Checks a new password. `context` holds the user's name, e-mail and organization, which
/// make a password guessable when it contains them.
pub fn check_strength(password: &str, context: &[&str]) -> Result<(), WeakPassword> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(WeakPassword(format!(
            "must be at least {MIN_LENGTH} characters"
        )));
    }
    if length > MAX_LENGTH {
        return Err(WeakPassword(format!(
            "must be at most {MAX_LENGTH} characters"
        )));
    }
    let mut inputs: Vec<&str> = Vec::new();
    for item in context {
        inputs.push(item);
        inputs.extend(
            item.split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.len() >= 3),
        );
    }
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if (estimate.score() as u8) < 3 {
        let hint = estimate
            .feedback()
            .and_then(|f| f.warning().map(|w| w.to_string()))
            .unwrap_or_else(|| "it is too easy to guess".to_owned());
        return Err(WeakPassword(format!("is too easy to guess: {hint}")));
    }
    Ok(())
}

/// Hashes and verifies passwords on a few dedicated threads (one per permitted concurrent
/// hash) running at the lowest CPU priority (nice 19 on Linux). A storm of sign-ins
/// then queues here and uses only CPU that nothing else wants, so other requests keep their
/// latency; and argon2's 19 MiB per hash is only ever held by these few threads. A full
/// queue answers "unavailable" (503) instead of growing without bound.
#[derive(Clone)]
pub struct PasswordHasherPool {
    cost: PasswordCost,
    jobs: mpsc::SyncSender<Job>,
    /// Verified against when the account does not exist, so that costs the same time.
    dummy_hash: Arc<String>,
}

type Job = Box<dyn FnOnce() + Send>;

/// Sign-ins waiting for a hashing thread before new ones are refused.
const QUEUE: usize = 512;

impl PasswordHasherPool {
    pub fn new(cost: PasswordCost, threads: usize) -> Result<Self, AuthError> {
        Self::with_queue(cost, threads, QUEUE)
    }

    fn with_queue(cost: PasswordCost, threads: usize, waiting: usize) -> Result<Self, AuthError> {
        let dummy_hash = hash_with(cost, "dummy password for unknown accounts")?;
        let (jobs, queue) = mpsc::sync_channel::<Job>(waiting);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    lowest_priority();
                    // Ends when every sender (every clone of the pool) is gone.
                    loop {
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| AuthError::Internal(format!("start hashing thread: {e}")))?;
        }
        Ok(Self {
            cost,
            jobs,
            dummy_hash: Arc::new(dummy_hash),
        })
    }

    pub fn cost(&self) -> PasswordCost {
        self.cost
    }

    pub async fn hash(&self, password: String) -> Result<String, AuthError> {
        let cost = self.cost;
        self.run(move || hash_with(cost, &password)).await?
    }

    /// Checks `password` against `hash` (or against a dummy hash when there is no account,
    /// taking the same time). Returns whether it matched and whether the hash should be
    /// redone at the current cost.
    pub async fn verify(
        &self,
        password: String,
        hash: Option<String>,
    ) -> Result<Verification, AuthError> {
        let cost = self.cost;
        let dummy = self.dummy_hash.clone();
        self.run(move || {
            let real = hash.is_some();
            let hash = hash.unwrap_or_else(|| dummy.as_str().to_owned());
            let matched = verify_with(&password, &hash) && real;
            let outdated = matched && !uses_cost(&hash, cost);
            Verification { matched, outdated }
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(f());
        });
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => {
                AuthError::Db(DbError::Unavailable("too many sign-ins waiting".into()))
            }
            mpsc::TrySendError::Disconnected(_) => {
                AuthError::Internal("hashing threads stopped".into())
            }
        })?;
        result
            .await
            .map_err(|_| AuthError::Internal("hashing thread failed".into()))
    }
}

/// Hashing threads yield the CPU to everything else. Nice 19 rather than `SCHED_IDLE`:
/// the scheduler counts a CPU that runs only `SCHED_IDLE` work as idle and wakes request
/// threads there, and preempting the hash on it took milliseconds in our VMs (GET p99
/// 3.6 ms beside one such thread, 0.7 ms beside one at nice 19; see bench/README.md).
fn lowest_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::ThreadPriority;
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        let normal = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other);
        // For the normal policy the priority is the niceness; `Min` is nice 19.
        if let Err(error) =
            set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, normal)
        {
            tracing::warn!(?error, "could not lower the priority of a hashing thread");
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub matched: bool,
    /// Hashed with a lower cost than configured now: rehash on this login.
    pub outdated: bool,
}

fn argon2(cost: PasswordCost) -> Result<Argon2<'static>, AuthError> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
        .map_err(|e| AuthError::Internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub fn hash_with(cost: PasswordCost, password: &str) -> Result<String, AuthError> {
    let hash: PasswordHash = argon2(cost)?
        .hash_password(password.as_bytes())
        .map_err(|e| AuthError::Internal(format!("argon2: {e}")))?;
    Ok(hash.to_string())
}

thread_local! {
    /// Each hashing thread's argon2 memory, kept between hashes. Allocating 19 MiB per hash
    /// left glibc's per-thread arenas holding several such blocks each (about 110 MB of
    /// resident memory per hashing thread after a sign-in storm); reusing one keeps it at
    /// the 19 MiB the cost asks for.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// The most memory a stored hash may ask of a verification (1 GiB, in 1 KiB blocks): far
/// above any sensible cost, far below what a tampered hash could demand.
const MAX_VERIFY_BLOCKS: usize = MAX_MEMORY_KIB as usize;

/// Checks `password` against a PHC-format argon2 hash, with the parameters the hash names,
/// in this thread's reusable memory; the outputs are compared in constant time.
fn verify_with(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let blocks = params.block_count();
    if blocks > MAX_VERIFY_BLOCKS {
        return false;
    }
    let argon2 = Argon2::new(algorithm, version, params);
    let mut output = vec![0u8; expected.len()];
    let computed = MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            // A failed allocation refuses this sign-in instead of aborting the process.
            memory
                .try_reserve_exact(blocks - memory.len())
                .map_err(|_| argon2::Error::MemoryTooLittle)?;
            memory.resize(blocks, Block::default());
        }
        argon2.hash_password_into_with_memory(
            password.as_bytes(),
            salt.as_ref(),
            &mut output,
            &mut memory[..blocks],
        )
    });
    computed.is_ok()
        && argon2::password_hash::phc::Output::new(&output).is_ok_and(|o| o == *expected)
}

fn uses_cost(hash: &str, cost: PasswordCost) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    parsed.algorithm.as_str() == "argon2id"
        && params.m_cost() >= cost.memory_kib
        && params.t_cost() >= cost.iterations
        && params.p_cost() >= cost.parallelism
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_and_guessability_are_checked() {
        assert!(check_strength("short", &[]).is_err());
        assert!(check_strength(&"x".repeat(129), &[]).is_err());
        assert!(check_strength("password1234", &[]).is_err());
        assert!(check_strength("aaaaaaaaaaaaaaaa", &[]).is_err());
        assert!(check_strength("correct horse battery staple", &[]).is_ok());
        // No composition rules: a long passphrase of lower-case words is fine.
        assert!(check_strength("quiet lantern orbit meadow", &[]).is_ok());
        // The user's own name and organization make it guessable.
        let context = ["amina.diallo@unoct.org", "Amina Diallo", "UNOCT"];
        assert!(check_strength("amina.diallo@unoct.org", &context).is_err());
    }

    #[tokio::test]
    async fn hashes_verify_and_report_outdated_cost() {
        let pool = PasswordHasherPool::new(PasswordCost::insecure_for_tests(), 2).expect("pool");
        let hash = pool
            .hash("correct horse battery staple".into())
            .await
            .expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        let ok = pool
            .verify("correct horse battery staple".into(), Some(hash.clone()))
            .await
            .expect("verify");
        assert_eq!(
            ok,
            Verification {
                matched: true,
                outdated: false
            }
        );
        let wrong = pool
            .verify("wrong horse battery staple".into(), Some(hash.clone()))
            .await
            .expect("verify");
        assert!(!wrong.matched);
        let none = pool
            .verify("dummy password for unknown accounts".into(), None)
            .await
            .expect("verify");
        assert!(!none.matched, "the dummy hash never logs anyone in");

        let stronger = PasswordCost {
            memory_kib: 128,
            ..PasswordCost::insecure_for_tests()
        };
        let raised = PasswordHasherPool::new(stronger, 1).expect("pool");
        let outdated = raised
            .verify("correct horse battery staple".into(), Some(hash))
            .await
            .expect("verify");
        assert_eq!(
            outdated,
            Verification {
                matched: true,
                outdated: true
            }
        );
    }

    #[test]
    fn one_thread_verifies_hashes_of_any_cost_in_its_reused_memory() {
        let small = PasswordCost::insecure_for_tests();
        let large = PasswordCost {
            memory_kib: 256,
            ..small
        };
        let password = "correct horse battery staple";
        let hashes = [
            hash_with(small, password).expect("hash"),
            hash_with(large, password).expect("hash"),
        ];
        // Small after large, and the reverse: the memory grows and is reused in part.
        for hash in hashes.iter().chain(hashes.iter().rev()) {
            assert!(verify_with(password, hash));
            assert!(!verify_with("wrong horse battery staple", hash));
        }
        // Another first character of the stored output: the comparison must see it.
        let (head, output) = hashes[0].rsplit_once('$').expect("phc");
        let other = if output.starts_with('A') { 'B' } else { 'A' };
        let tampered = format!("{head}${other}{}", &output[1..]);
        assert!(!verify_with(password, &tampered));
        assert!(!verify_with(password, "not a hash"));
    }

    #[test]
    fn the_default_cost_meets_the_design_floor() {
        let cost = PasswordCost::default();
        assert!(cost.memory_kib >= 19 * 1024 && cost.iterations >= 2 && cost.parallelism >= 1);
        assert_eq!(PasswordCost::FLOOR, cost);
    }

    /// A full queue refuses at once with "unavailable" (the API's 503) rather than growing,
    /// and the pool serves again once the queue drains.
    #[tokio::test]
    async fn a_full_hashing_queue_answers_unavailable() {
        let pool =
            PasswordHasherPool::with_queue(PasswordCost::insecure_for_tests(), 1, 1).expect("pool");
        // Hold the only hashing thread until released.
        let (started_tx, started) = mpsc::channel::<()>();
        let (release, released) = mpsc::channel::<()>();
        pool.jobs
            .try_send(Box::new(move || {
                let _ = started_tx.send(());
                let _ = released.recv();
            }))
            .expect("first job");
        started.recv().expect("the thread took the first job");
        // One waiting job fills the queue of one.
        pool.jobs.try_send(Box::new(|| {})).expect("queued");
        let refused = pool
            .verify("correct horse battery staple".into(), None)
            .await
            .expect_err("refused");
        assert!(
            matches!(refused, AuthError::Db(DbError::Unavailable(_))),
            "{refused:?}"
        );
        release.send(()).expect("release");
        // Once the thread has worked through the queue, there is room again.
        let (drained_tx, drained) = mpsc::channel::<()>();
        pool.jobs
            .send(Box::new(move || {
                let _ = drained_tx.send(());
            }))
            .expect("queued once there is room");
        drained.recv().expect("the queue drained");
        let hash = pool
            .hash("correct horse battery staple".into())
            .await
            .expect("served again");
        assert!(hash.starts_with("$argon2id$"));
    }
}
