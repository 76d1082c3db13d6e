//! Durability (issue 3, item 8): a served registry is killed with SIGKILL during a burst
//! of acknowledged writes and restarted on the same file; every acknowledged write is
//! there, and no write is there in part.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use csamctl::model::{Application, Function};
use csamctl::registry::{IdempotencyKey, SessionId, UserLevel, Write, WriteReceipt};
use tokio::sync::{Mutex, Notify};

use crate::child::{ServedRegistry, fresh_registry};
use crate::suite::*;

/// Writers at once, each in its own session.
const WRITERS: usize = 4;
/// Acknowledged writes before the kill.
const ACKNOWLEDGED_BEFORE_KILL: usize = 200;

struct Sent {
    n: u32,
    session: SessionId,
    key: IdempotencyKey,
    write: Write,
    receipt: Option<WriteReceipt>,
}

fn user_write(n: u32) -> Write {
    let sites = ["73000101", "73000102", "73000201"];
    Write::CreateUser {
        level: site(sites[n as usize % sites.len()]),
        user: new_user(
            generated_insz(n),
            &format!("duurzaam{n:06}"),
            &[Function::Technologist],
            &[Application::Heracles],
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let (_dir, db) = fresh_registry();
    let mut server = ServedRegistry::start(&db, &[]);
    let env = server.env();
    build_ready_tree(&env).await;
    let htb = env.person(HTB_READY).await;

    let sent: Arc<Mutex<Vec<Sent>>> = Arc::new(Mutex::new(Vec::new()));
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let next = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let session = login(&*htb).await;
        let (htb, sent, acknowledged, enough, next) = (
            Arc::clone(&htb),
            Arc::clone(&sent),
            Arc::clone(&acknowledged),
            Arc::clone(&enough),
            Arc::clone(&next),
        );
        writers.push(tokio::spawn(async move {
            // Writes until the registry goes away; bounded in case it never does.
            for _ in 0..10_000 {
                let n = next.fetch_add(1, Ordering::SeqCst) as u32;
                let (k, w) = (key(), user_write(n));
                let index = {
                    let mut sent = sent.lock().await;
                    sent.push(Sent {
                        n,
                        session: session.clone(),
                        key: k.clone(),
                        write: w.clone(),
                        receipt: None,
                    });
                    sent.len() - 1
                };
                match htb.write(&session, &k, &w, password_for(&w).as_ref()).await {
                    Ok(receipt) => {
                        sent.lock().await[index].receipt = Some(receipt);
                        if acknowledged.fetch_add(1, Ordering::SeqCst) + 1
                            == ACKNOWLEDGED_BEFORE_KILL
                        {
                            enough.notify_one();
                        }
                    }
                    Err(e) => {
                        assert!(e.is_retryable(), "a lost registry is retryable: {e}");
                        return;
                    }
                }
            }
        }));
    }
    enough.notified().await;
    server.kill();
    for writer in writers {
        writer.await.expect("writer ends");
    }
    let sent = Arc::try_unwrap(sent)
        .unwrap_or_else(|_| panic!("writers are done"))
        .into_inner();
    let acked = sent.iter().filter(|s| s.receipt.is_some()).count();
    assert!(acked >= ACKNOWLEDGED_BEFORE_KILL);
    let in_flight = sent.len() - acked;
    assert!(in_flight <= WRITERS);
    eprintln!("killed with {acked} writes acknowledged and {in_flight} in flight");

    // The same file, a new process.
    let server = ServedRegistry::start(&db, &[]);
    let env = server.env();
    let htb = env.person(HTB_READY).await;
    // Every acknowledged write is durable: replaying its key gives its first answer
    // (and writes nothing). A write whose answer never came is either wholly there
    // (its key gives a stored answer) or wholly absent (it applies now); were it there
    // in part, the journal and the idempotency table would disagree and the replay
    // would be refused as a conflict.
    for s in &sent {
        let replay = htb
            .write(
                &s.session,
                &s.key,
                &s.write,
                password_for(&s.write).as_ref(),
            )
            .await
            .unwrap_or_else(|e| panic!("write {} after restart: {e}", s.n));
        if let Some(receipt) = &s.receipt {
            assert_eq!(&replay, receipt, "write {} answered as first", s.n);
        }
    }
    let open = htb
        .list_sessions()
        .await
        .expect("sessions survive the restart");
    assert_eq!(open.len(), WRITERS);
    for info in open {
        logout(&*htb, &info.id).await;
    }
    let s = login(&*htb).await;
    let live = htb.snapshot(&s, &kbo(READY)).await.expect("snapshot");
    let users: Vec<_> = live
        .enterprise
        .sites()
        .flat_map(|site| &site.users)
        .collect();
    assert_eq!(users.len(), 2 + sent.len(), "U1, U2 and every write, once");
    for s in &sent {
        let Write::CreateUser { level, user } = &s.write else {
            unreachable!("only users are written")
        };
        let found = live
            .enterprise
            .sites()
            .filter(|site| matches!(level, UserLevel::Site { hco } if *hco == site.hco))
            .flat_map(|site| &site.users)
            .find(|u| u.insz == user.insz)
            .unwrap_or_else(|| panic!("write {} is there", s.n));
        assert_eq!(found.username, user.username);
        assert_eq!(found.details.last_name, user.details.last_name);
        assert_eq!(found.details.email, user.details.email);
        assert_eq!(found.functions, user.functions);
        assert_eq!(found.applications, user.applications);
    }
}
