//! Benchmark of the registry served over HTTP (issue 3, item 9): writes per second with
//! concurrent sessions, and the export of one enterprise's tree and of its 100,000
//! users (whole tree in one request, and paged). Goals on the 2-core machine: ≥ 2,000
//! writes/s; 100,000 users exported in ≤ 2 s.
//!
//!   cargo bench --bench registry -- [--users N] [--sites N] [--writes N] [--sessions N]
//!
//! The 100,000-user enterprise is built in-process on a registry file (through the
//! engine's own rules), then `csamctl registry serve` (release build) serves the file
//! on 127.0.0.1 with an ephemeral port and the measurements go through the reqwest
//! client, in a separate process, as the reconciler's would. `bench/registry.sh` runs
//! it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use csamctl::model::{
    AccessManager, Address, Application, CapacityType, Email, Function, Hco, Insz, Kbo, Language,
    LiveAdministrator, Password, Username, insz_check,
};
use csamctl::registry::http::{HttpOperator, HttpOptions, HttpRegistry};
use csamctl::registry::{
    AccountPassword, IdempotencyKey, OpenOptions, PageRequest, RecognisedUnit, Reference,
    ReferenceEnterprise, Registry, RegistryOperator, SessionId, SqliteRegistry, User, UserDetails,
    UserLevel, UserPage, Write,
};

const KBO: &str = "0666111173";
const HTB: &str = "66021958551";
const SUBDIVISION: &str = "73000000";
/// Persons (the HTB and access managers) writing at once; each opens up to 4 sessions.
const ACCESS_MANAGERS: [&str; 3] = ["61061906014", "87040208957", "82070324776"];

struct Args {
    users: u32,
    sites: u32,
    writes: u32,
    sessions: u32,
}

fn args() -> Args {
    let argv: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let get = |name: &str, default: u32| {
        argv.iter()
            .position(|a| a == name)
            .and_then(|i| argv.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    Args {
        users: get("--users", 100_000),
        sites: get("--sites", 100),
        writes: get("--writes", 20_000),
        sessions: get("--sessions", 16).clamp(1, 16),
    }
}

fn insz(n: u32) -> Insz {
    let first_nine = 700_101_000u64 + u64::from(n);
    let check = insz_check(first_nine, false);
    Insz::parse(&format!("{first_nine:09}{check:02}")).expect("generated INSZ")
}

fn site_hco(i: u32) -> Hco {
    Hco::parse(&format!("7301{i:04}")).expect("HCO")
}

fn email() -> Email {
    Email::parse("bench@proef.example").expect("email")
}

fn key(tag: &str, n: u64) -> IdempotencyKey {
    IdempotencyKey::new(format!("bench-{tag}-{n}")).expect("key")
}

/// The password every account the benchmark creates gets.
fn test_password() -> AccountPassword {
    AccountPassword(Password::new("Proef2026!x".into()).expect("password"))
}

fn create_user(n: u32, site: &Hco) -> Write {
    Write::CreateUser {
        level: UserLevel::Site { hco: site.clone() },
        user: User {
            insz: insz(n),
            username: Username::parse(&format!("bench{n:08}")).expect("username"),
            details: UserDetails {
                last_name: format!("GEBRUIKER{n}"),
                first_name: "Bench".into(),
                title: None,
                language: Language::Dutch,
                email: email(),
                local_email: None,
            },
            active: true,
            applications: [Application::Heracles].into(),
            functions: [Function::Technologist].into(),
        },
    }
}

fn reference(sites: u32) -> Reference {
    Reference {
        enterprises: vec![ReferenceEnterprise {
            kbo: Kbo::parse(KBO).expect("kbo"),
            name: "ZIEKENHUIS BENCH VZW".into(),
            address: Address {
                street: "Kaai".into(),
                number: "12".into(),
                postcode: "2000".into(),
                municipality: "Antwerpen".into(),
                country: "BE".into(),
            },
            main_access_manager: Some(Insz::parse(HTB).expect("htb")),
            recognised_units: vec![RecognisedUnit {
                subdivision: Hco::parse(SUBDIVISION).expect("hco"),
                sites: (0..sites).map(site_hco).collect(),
            }],
        }],
        accounts: Vec::new(),
    }
}

async fn login(r: &dyn Registry) -> SessionId {
    r.open_session().await.expect("login").id
}

async fn logout(r: &dyn Registry, s: &SessionId) {
    r.close_session(s).await.expect("logout");
}

/// The enterprise: capacity, one subdivision, `sites` sites, three access managers and
/// `users` users spread over the sites, all processed. Returns the in-process write rate.
async fn build(db: &Path, a: &Args) -> f64 {
    let registry = SqliteRegistry::open(db, OpenOptions::virtual_clock()).expect("registry file");
    registry
        .load_reference(&reference(a.sites))
        .await
        .expect("reference");
    let htb = registry.as_person(Insz::parse(HTB).expect("htb"));
    let kbo = Kbo::parse(KBO).expect("kbo");
    let mut n = 0u64;
    let s = login(&*htb).await;
    htb.write(
        &s,
        &key("build", n),
        &Write::ActivateCapacity {
            kbo,
            kind: CapacityType::MammographyUnit,
            email: email(),
            local_administrator: None,
            applications: [Application::Heracles, Application::EHealthBox].into(),
        },
        None,
    )
    .await
    .expect("capacity");
    for am in ACCESS_MANAGERS {
        n += 1;
        htb.write(
            &s,
            &key("build", n),
            &Write::AddAccessManager {
                kbo,
                access_manager: AccessManager {
                    insz: Insz::parse(am).expect("am"),
                    last_name: "TOEGANG".into(),
                    first_name: "Bench".into(),
                    email: email(),
                    domains: vec![],
                },
            },
            None,
        )
        .await
        .expect("access manager");
    }
    logout(&*htb, &s).await;
    let s = login(&*htb).await;
    n += 1;
    htb.write(
        &s,
        &key("build", n),
        &Write::CreateSubdivision {
            kbo,
            kind: CapacityType::MammographyUnit,
            hco: Hco::parse(SUBDIVISION).expect("hco"),
            name: "Bench".into(),
            email: email(),
            administrator: LiveAdministrator::Itself,
            applications: [Application::Heracles, Application::EHealthBox].into(),
        },
        None,
    )
    .await
    .expect("subdivision");
    logout(&*htb, &s).await;
    for i in 0..a.sites {
        let s = login(&*htb).await;
        n += 1;
        htb.write(
            &s,
            &key("build", n),
            &Write::CreateSite {
                subdivision: Hco::parse(SUBDIVISION).expect("hco"),
                hco: site_hco(i),
                name: format!("Campus {i}"),
                email: None,
                administrator: LiveAdministrator::Itself,
                applications: [Application::Heracles, Application::EHealthBox].into(),
            },
            None,
        )
        .await
        .expect("site");
        logout(&*htb, &s).await;
    }
    let start = Instant::now();
    let per_site = a.users.div_ceil(a.sites.max(1));
    let mut made = 0u32;
    for i in 0..a.sites {
        let s = login(&*htb).await;
        let site = site_hco(i);
        for _ in 0..per_site {
            if made == a.users {
                break;
            }
            n += 1;
            htb.write(
                &s,
                &key("build", n),
                &create_user(made, &site),
                Some(&test_password()),
            )
            .await
            .expect("user");
            made += 1;
        }
        logout(&*htb, &s).await;
    }
    f64::from(made) / start.elapsed().as_secs_f64()
}

struct Server {
    child: Child,
    url: String,
    operator_token: String,
    startup: Duration,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(db: &Path) -> Server {
    let token_file = db.with_extension("operator-token");
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_csamctl"))
        .args([
            "registry",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--virtual-clock",
        ])
        .arg("--db")
        .arg(db)
        .arg("--admin-token-file")
        .arg(&token_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("csamctl registry serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let startup = start.elapsed();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let operator_token = std::fs::read_to_string(&token_file)
        .expect("operator token")
        .trim()
        .to_string();
    Server {
        child,
        url,
        operator_token,
        startup,
    }
}

fn best_and_median(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    (times[0], times[times.len() / 2])
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("registry.db");

    let t = Instant::now();
    let build_rate = build(&db, &a).await;
    println!(
        "built: 1 enterprise, {} sites, {} users in {:.1} s (in-process CreateUser: {:.0} writes/s)",
        a.sites,
        a.users,
        t.elapsed().as_secs_f64(),
        build_rate
    );

    {
        // The engine alone, in-process: what the HTTP export adds JSON and transfer to.
        let registry =
            SqliteRegistry::open(&db, OpenOptions::virtual_clock()).expect("registry file");
        let htb = registry.as_person(Insz::parse(HTB).expect("htb"));
        let s = login(&*htb).await;
        let kbo = Kbo::parse(KBO).expect("kbo");
        let mut times = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            let live = htb.snapshot(&s, &kbo).await.expect("snapshot");
            times.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let json = serde_json::to_vec(&live).expect("json");
            let encode = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let back: csamctl::model::LiveState = serde_json::from_slice(&json).expect("parse");
            let decode = t.elapsed().as_secs_f64();
            std::hint::black_box(back);
            if times.len() == 3 {
                println!(
                    "in-process: snapshot {:.3} s; its JSON ({} MB) encodes in {encode:.3} s, decodes in {decode:.3} s",
                    best_and_median(times.clone()).0,
                    json.len() / 1_000_000
                );
            }
        }
        logout(&*htb, &s).await;
    }

    let server = serve(&db);
    println!(
        "served: ready in {:.2} s (journal replay included)",
        server.startup.as_secs_f64()
    );
    let operator = HttpOperator::new(&server.url, &server.operator_token, HttpOptions::default())
        .expect("operator");
    let kbo = Kbo::parse(KBO).expect("kbo");
    let htb_token = operator
        .issue_token(&Insz::parse(HTB).expect("htb"))
        .await
        .expect("token");
    let htb = HttpRegistry::new(&server.url, &htb_token, HttpOptions::default()).expect("client");

    // Export: the whole tree in one request, then every user page by page.
    let s = login(&htb).await;
    let mut tree = Vec::new();
    let mut count = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let live = htb.snapshot(&s, &kbo).await.expect("snapshot");
        tree.push(t.elapsed().as_secs_f64());
        count = live
            .enterprise
            .sites()
            .map(|site| site.users.len())
            .sum::<usize>();
    }
    let (best, median) = best_and_median(tree);
    println!("export tree: {count} users in one request: best {best:.3} s, median {median:.3} s");
    for limit in [PageRequest::MAX_LIMIT, PageRequest::DEFAULT_LIMIT] {
        let mut paged = Vec::new();
        let mut total = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let mut page = PageRequest::first(limit);
            total = 0;
            loop {
                let p: UserPage = htb.list_users(&s, &kbo, &page).await.expect("page");
                total += p.users.len();
                match p.next {
                    Some(next) => page = PageRequest::after(next, limit),
                    None => break,
                }
            }
            paged.push(t.elapsed().as_secs_f64());
        }
        let (best, median) = best_and_median(paged);
        println!(
            "export users paged by {limit}: {total} users: best {best:.3} s, median {median:.3} s"
        );
    }
    logout(&htb, &s).await;

    // Writes: `sessions` concurrent sessions (4 per person), each creating users one
    // request at a time, every request with its own idempotency key.
    let mut persons: Vec<Arc<HttpRegistry>> = vec![Arc::new(htb)];
    for am in ACCESS_MANAGERS {
        let token = operator
            .issue_token(&Insz::parse(am).expect("am"))
            .await
            .expect("token");
        persons.push(Arc::new(
            HttpRegistry::new(&server.url, &token, HttpOptions::default()).expect("client"),
        ));
    }
    let next = Arc::new(AtomicU64::new(0));
    let total = u64::from(a.writes);
    let mut workers = Vec::new();
    let t = Instant::now();
    for w in 0..a.sessions {
        let person = Arc::clone(&persons[w as usize % persons.len()]);
        let next = Arc::clone(&next);
        let sites = a.sites;
        let base = a.users;
        workers.push(tokio::spawn(async move {
            let s = login(&*person).await;
            let mut done = 0u64;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let user = base + n as u32;
                let site = site_hco(user % sites);
                person
                    .write(
                        &s,
                        &key("http", n),
                        &create_user(user, &site),
                        Some(&test_password()),
                    )
                    .await
                    .expect("write");
                done += 1;
            }
            logout(&*person, &s).await;
            done
        }));
    }
    let mut written = 0;
    for worker in workers {
        written += worker.await.expect("worker");
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "writes over HTTP: {written} CreateUser in {secs:.2} s with {} concurrent sessions: {:.0} writes/s",
        a.sessions,
        written as f64 / secs
    );
    let stats = operator.stats().await.expect("stats");
    println!("journal: {} entries", stats.journal_entries);
}
