//! The CI examples (`examples/ci/*.yml`) are valid YAML, and every `csamctl` invocation
//! in their `run:` / `script:` lines parses with the real clap definitions, so that a
//! renamed or removed flag breaks this test before it breaks someone's pipeline.

mod cli_support;

use clap::Parser;
use csamctl::cli::Cli;
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/examples/ci/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("example readable");
    serde_saphyr::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{name}: not YAML: {e}"))
}

/// Every shell text under a `run`, `script`, `before_script` or `after_script` key.
fn shell_texts(v: &Value, under_shell_key: bool, out: &mut Vec<String>) {
    match v {
        Value::String(s) if under_shell_key => out.push(s.clone()),
        Value::Array(items) => items
            .iter()
            .for_each(|i| shell_texts(i, under_shell_key, out)),
        Value::Object(map) => {
            for (k, v) in map {
                let shell = matches!(
                    k.as_str(),
                    "run" | "script" | "before_script" | "after_script"
                );
                shell_texts(v, shell, out);
            }
        }
        _ => {}
    }
}

/// Splits a command line into words like a POSIX shell does (quotes, backslashes);
/// operators stay words of their own when written with spaces around them.
fn split(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                    in_word = true;
                }
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, '#') if !in_word => break,
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

fn is_operator(w: &str) -> bool {
    matches!(
        w,
        "|" | "||" | "&&" | ";" | "&" | "then" | "do" | "!" | "if"
    ) || w.starts_with('>')
        || w.starts_with("2>")
        || w.starts_with('<')
}

/// The `csamctl` invocations of a shell text (continuation lines joined), as argument
/// vectors cut at the first redirection or operator.
fn invocations(text: &str) -> Vec<Vec<String>> {
    let joined = text.replace("\\\n", " ");
    let mut found = Vec::new();
    for line in joined.lines() {
        let words = split(line);
        for (i, w) in words.iter().enumerate() {
            let at_command = i == 0 || is_operator(&words[i - 1]);
            if w != "csamctl" || !at_command {
                continue;
            }
            let mut argv = vec!["csamctl".to_string()];
            for w in &words[i + 1..] {
                if is_operator(w) {
                    break;
                }
                let ends = w.ends_with(';');
                argv.push(w.trim_end_matches(';').to_string());
                if ends {
                    break;
                }
            }
            found.push(argv);
        }
    }
    found
}

fn check(name: &str, at_least: usize) {
    let doc = load(name);
    let mut texts = Vec::new();
    shell_texts(&doc, false, &mut texts);
    let all: Vec<Vec<String>> = texts.iter().flat_map(|t| invocations(t)).collect();
    assert!(
        all.len() >= at_least,
        "{name}: only {} csamctl invocations found: {all:?}",
        all.len()
    );
    for argv in &all {
        if let Err(e) = Cli::try_parse_from(argv) {
            panic!("{name}: `{}` does not parse:\n{e}", argv.join(" "));
        }
    }
}

#[test]
fn github_actions_example_parses() {
    check("github-actions.yml", 4);
}

#[test]
fn gitlab_ci_example_parses() {
    check("gitlab-ci.yml", 5);
}

#[test]
fn the_splitter_cuts_at_operators_and_keeps_quotes() {
    let found = invocations(
        "csamctl plan csam/ --format markdown > plan.md || status=$?\nif csamctl validate 'a b'; then echo; fi\ncargo install csamctl --locked",
    );
    assert_eq!(
        found,
        vec![
            vec!["csamctl", "plan", "csam/", "--format", "markdown"],
            vec!["csamctl", "validate", "a b"],
        ]
    );
    // A flag that does not exist is refused by the real definitions.
    assert!(Cli::try_parse_from(["csamctl", "plan", "--no-such-flag"]).is_err());
}

// ---------------------------------------------------------------------------------------
// The workflows' shell steps, run as the forge would run them, against a real
// `csamctl registry serve` and a stand-in for the forge's comment API.
// ---------------------------------------------------------------------------------------

mod forge {
    //! A stand-in for the comment API of GitHub (`/repos/O/R/issues/N/comments`,
    //! `/repos/O/R/issues/comments/ID`) and GitLab (`/projects/P/merge_requests/N/notes`,
    //! `…/notes/ID`): comments kept in memory, every request recorded. Like the real
    //! forges it refuses a body of 65,536 characters or more, and a missing token.

    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};

    #[derive(Clone, Debug)]
    pub struct Request {
        pub method: String,
        pub path: String,
    }

    #[derive(Default)]
    pub struct State {
        pub comments: Vec<(u64, String)>,
        pub requests: Vec<Request>,
        next_id: u64,
    }

    pub struct Forge {
        pub url: String,
        pub state: Arc<Mutex<State>>,
    }

    impl Forge {
        /// Serves on 127.0.0.1; `auth` is the header line a request must carry.
        pub fn start(auth: &'static str) -> Forge {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let url = format!("http://{}", listener.local_addr().expect("address"));
            let state = Arc::new(Mutex::new(State {
                next_id: 1000,
                ..State::default()
            }));
            let shared = Arc::clone(&state);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { break };
                    serve(stream, &shared, auth);
                }
            });
            Forge { url, state }
        }

        /// Adds a comment as if someone had written it.
        pub fn seed(&self, body: &str) -> u64 {
            let mut s = self.state.lock().expect("lock");
            s.next_id += 1;
            let id = s.next_id;
            s.comments.push((id, body.to_string()));
            id
        }

        /// The comments that start with csamctl's marker, in order.
        pub fn plan_comments(&self) -> Vec<(u64, String)> {
            let s = self.state.lock().expect("lock");
            s.comments
                .iter()
                .filter(|(_, b)| b.starts_with("<!-- csamctl-plan"))
                .cloned()
                .collect()
        }

        pub fn take_requests(&self) -> Vec<Request> {
            std::mem::take(&mut self.state.lock().expect("lock").requests)
        }
    }

    fn serve(stream: TcpStream, state: &Mutex<State>, auth: &str) {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let mut words = line.split_whitespace();
        let method = words.next().unwrap_or_default().to_string();
        let target = words.next().unwrap_or_default().to_string();
        let (mut length, mut authorised) = (0usize, false);
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                break;
            }
            let lower = header.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if header.trim() == auth {
                authorised = true;
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let (status, reply) = {
            let mut s = state.lock().expect("lock");
            s.requests.push(Request {
                method: method.clone(),
                path: path.to_string(),
            });
            if authorised {
                route(&mut s, &method, path, query, &body)
            } else {
                (401, json!({"message": "Bad credentials"}))
            }
        };
        let text = reply.to_string();
        let mut stream = reader.into_inner();
        let _ = write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
    }

    fn route(s: &mut State, method: &str, path: &str, query: &str, body: &[u8]) -> (u16, Value) {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let last = segments.last().copied().unwrap_or_default();
        let collection = matches!(last, "comments" | "notes");
        let item = last.parse::<u64>().ok().filter(|_| {
            segments.len() >= 2 && matches!(segments[segments.len() - 2], "comments" | "notes")
        });
        let new_body = || -> Result<String, (u16, Value)> {
            let v: Value = serde_json::from_slice(body).map_err(|_| (400, json!({})))?;
            let b = v["body"].as_str().ok_or((400, json!({})))?.to_string();
            if b.chars().count() >= 65_536 {
                return Err((
                    422,
                    json!({"message": "body is too long (maximum is 65536 characters)"}),
                ));
            }
            Ok(b)
        };
        match (method, collection, item) {
            ("GET", true, _) => {
                let param = |name: &str| {
                    query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                        .and_then(|v| v.parse::<usize>().ok())
                };
                let (per, page) = (param("per_page").unwrap_or(30), param("page").unwrap_or(1));
                let all: Vec<Value> = s
                    .comments
                    .iter()
                    .map(|(id, b)| json!({"id": id, "body": b}))
                    .collect();
                let chunk: Vec<Value> = all.into_iter().skip(per * (page - 1)).take(per).collect();
                (200, Value::Array(chunk))
            }
            ("POST", true, _) => match new_body() {
                Ok(b) => {
                    s.next_id += 1;
                    let id = s.next_id;
                    s.comments.push((id, b.clone()));
                    (201, json!({"id": id, "body": b}))
                }
                Err(e) => e,
            },
            ("PATCH" | "PUT", _, Some(id)) => match new_body() {
                Ok(b) => match s.comments.iter_mut().find(|(i, _)| *i == id) {
                    Some(c) => {
                        c.1 = b.clone();
                        (200, json!({"id": id, "body": b}))
                    }
                    None => (404, json!({})),
                },
                Err(e) => e,
            },
            ("DELETE", _, Some(id)) => {
                let before = s.comments.len();
                s.comments.retain(|(i, _)| *i != id);
                if s.comments.len() < before {
                    (204, json!({}))
                } else {
                    (404, json!({}))
                }
            }
            _ => (404, json!({})),
        }
    }
}

mod runner {
    //! Runs a workflow's shell text the way the forge's runner does (`bash -eo pipefail`),
    //! with `${{ … }}` expressions of `env:` maps resolved from a table, in a work
    //! directory laid out like a checkout of a desired-state repository.

    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output, Stdio};

    use serde_json::Value;

    pub struct Job {
        pub dir: PathBuf,
        pub env: BTreeMap<String, String>,
        pub expressions: BTreeMap<&'static str, String>,
    }

    impl Job {
        /// `${{ expr }}` replaced from the table (an unknown expression fails the test).
        pub fn resolve(&self, text: &str) -> String {
            let mut out = String::new();
            let mut rest = text;
            while let Some(start) = rest.find("${{") {
                out.push_str(&rest[..start]);
                let end = rest[start..].find("}}").expect("closed expression") + start;
                let expr = rest[start + 3..end].trim();
                let value = expr
                    .strip_prefix("env.")
                    .and_then(|name| self.env.get(name))
                    .or_else(|| self.expressions.get(expr))
                    .unwrap_or_else(|| panic!("no value for the expression `{expr}`"));
                out.push_str(value);
                rest = &rest[end + 2..];
            }
            out.push_str(rest);
            out
        }

        /// Adds an `env:` map (resolved) to the job's environment.
        pub fn add_env(&mut self, map: &Value) {
            if let Value::Object(m) = map {
                for (k, v) in m {
                    let text = match v {
                        Value::String(s) => self.resolve(s),
                        other => other.to_string(),
                    };
                    self.env.insert(k.clone(), text);
                }
            }
        }

        /// Runs shell text; `extra` env for this step only.
        pub fn run(&self, text: &str, extra: &BTreeMap<String, String>) -> Output {
            assert!(
                !text.contains("${{"),
                "an expression inside shell text: {text}"
            );
            Command::new("bash")
                .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", text])
                .current_dir(&self.dir)
                .env_clear()
                .envs(&self.env)
                .envs(extra)
                .stdin(Stdio::null())
                .output()
                .expect("bash runs")
        }

        pub fn path(&self, name: &str) -> PathBuf {
            self.dir.join(name)
        }
    }

    pub fn text(out: &Output) -> String {
        format!(
            "exit {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// A directory (and its files) made in `root`.
    pub fn write(root: &Path, name: &str, text: &str) -> PathBuf {
        let path = root.join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write");
        path
    }
}

mod served {
    //! A real `csamctl registry serve` on 127.0.0.1 over a registry file made from the
    //! examples' reference data, and a token of AZ VLASLAND's main access manager.

    use std::path::Path;

    use super::cli_support;

    pub const CSAMCTL: &str = env!("CARGO_BIN_EXE_csamctl");
    pub const VLASLAND_HTB: &str = "82120926312";

    pub struct Served {
        _server: cli_support::Served,
        pub url: String,
        pub token: String,
    }

    fn csamctl(args: &[&str]) -> String {
        let out = cli_support::csamctl_in(cli_support::crate_root(), args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).expect("utf-8")
    }

    impl Served {
        pub fn start(dir: &Path) -> Served {
            let db = dir.join("registry.db");
            let db = db.to_str().expect("utf-8");
            let reference = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/reference.yaml");
            csamctl(&["registry", "init", "--db", db, "--reference", reference]);
            let token = csamctl(&["registry", "token", "--db", db, "--insz", VLASLAND_HTB])
                .trim()
                .to_string();
            let server = cli_support::Served::start_with(Path::new(db), &[]);
            let url = server.url.clone();
            Served {
                _server: server,
                url,
                token,
            }
        }
    }
}

use std::collections::BTreeMap;
use std::path::Path;

fn crate_file(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).expect("readable")
}

/// A temporary checkout of a desired-state repository: `csam/` with the multi-campus
/// example, csamctl's source at `.csamctl-src` (the pinned checkout), and csamctl's
/// binary where the workflow's cache restores it.
fn checkout(root: &Path) {
    runner::write(
        root,
        "csam/multi-campus.yaml",
        &crate_file("examples/multi-campus.yaml"),
    );
    std::os::unix::fs::symlink(env!("CARGO_MANIFEST_DIR"), root.join(".csamctl-src"))
        .expect("symlink");
}

fn bin_dir() -> &'static Path {
    Path::new(served::CSAMCTL).parent().expect("bin dir")
}

/// A step of the GitHub plan job, by the start of its name.
fn github_step<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["jobs"]["plan"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["name"].as_str().is_some_and(|n| n.starts_with(name)))
        .unwrap_or_else(|| panic!("no step named {name}…"))
}

/// Runs the plan job's shell steps in order, as GitHub does: the Post step always, the
/// others while everything before succeeded. Returns the output of every step run.
fn run_github_plan_job(job: &runner::Job, doc: &Value) -> Vec<(String, std::process::Output)> {
    let mut outputs = Vec::new();
    let mut failed = false;
    let github_path = job.path("github_path");
    std::fs::write(&github_path, "").expect("GITHUB_PATH");
    for step in doc["jobs"]["plan"]["steps"].as_array().expect("steps") {
        let Some(run) = step["run"].as_str() else {
            continue;
        };
        let always = step["if"].as_str() == Some("always()");
        if failed && !always {
            continue;
        }
        let mut step_job = runner::Job {
            dir: job.dir.clone(),
            env: job.env.clone(),
            expressions: job.expressions.clone(),
        };
        step_job.add_env(&step["env"]);
        // What earlier steps added to GITHUB_PATH comes first on PATH, as on a runner.
        let added: Vec<String> = std::fs::read_to_string(&github_path)
            .expect("GITHUB_PATH")
            .lines()
            .map(str::to_string)
            .collect();
        let mut path = added.join(":");
        path.push(':');
        path.push_str(&std::env::var("PATH").unwrap_or_default());
        let mut extra = BTreeMap::new();
        extra.insert("PATH".to_string(), path);
        extra.insert(
            "GITHUB_PATH".to_string(),
            github_path.to_string_lossy().into_owned(),
        );
        let out = step_job.run(run, &extra);
        failed |= !out.status.success();
        outputs.push((step["name"].as_str().unwrap_or("?").to_string(), out));
    }
    outputs
}

fn step_output<'a>(
    outputs: &'a [(String, std::process::Output)],
    name: &str,
) -> &'a std::process::Output {
    &outputs
        .iter()
        .find(|(n, _)| n.starts_with(name))
        .unwrap_or_else(|| panic!("step {name} did not run: {:?}", names(outputs)))
        .1
}

fn names(outputs: &[(String, std::process::Output)]) -> Vec<&str> {
    outputs.iter().map(|(n, _)| n.as_str()).collect()
}

fn github_job(root: &Path, forge: &forge::Forge, served: &served::Served) -> runner::Job {
    let home = root.join("home");
    std::fs::create_dir_all(home.join(".csamctl-build/bin")).expect("home");
    // The cache restored this revision's binary: the build step must not rebuild it.
    std::os::unix::fs::symlink(served::CSAMCTL, home.join(".csamctl-build/bin/csamctl"))
        .expect("symlink");
    let mut expressions = BTreeMap::new();
    expressions.insert("vars.CSAM_REGISTRY", served.url.clone());
    expressions.insert("secrets.CSAM_TOKEN", served.token.clone());
    expressions.insert("github.token", "forge-secret".to_string());
    expressions.insert("github.event.pull_request.number", "7".to_string());
    expressions.insert("github.server_url", "https://github.example".to_string());
    expressions.insert("github.repository", "hospital/csam".to_string());
    expressions.insert("github.run_id", "4242".to_string());
    expressions.insert("vars.CSAMCTL_REPOSITORY", "hospital/csamctl".to_string());
    let mut env = BTreeMap::new();
    env.insert("HOME".to_string(), home.to_string_lossy().into_owned());
    env.insert("GITHUB_ACTIONS".to_string(), "true".to_string());
    env.insert("GITHUB_API_URL".to_string(), forge.url.clone());
    env.insert("GITHUB_REPOSITORY".to_string(), "hospital/csam".to_string());
    env.insert("CSAM_ACTOR".to_string(), served::VLASLAND_HTB.to_string());
    let mut job = runner::Job {
        dir: root.to_path_buf(),
        env,
        expressions,
    };
    job.add_env(&load("github-actions.yml")["env"]);
    job
}

#[test]
fn the_github_plan_job_posts_every_part_and_the_reasons_against_a_stand_in_forge() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    checkout(root);
    let served = served::Served::start(root);
    let forge = forge::Forge::start("Authorization: Bearer forge-secret");
    // 120 comments by people (two pages), and one of an older csamctl with the old marker.
    for i in 0..120 {
        forge.seed(&format!("looks good {i}"));
    }
    let old = forge.seed("<!-- csamctl-plan -->\nan old plan");
    let doc = load("github-actions.yml");
    let job = github_job(root, &forge, &served);

    // 1. A pull request: the plan of the multi-campus example, one part.
    let outputs = run_github_plan_job(&job, &doc);
    for (name, out) in &outputs {
        assert!(out.status.success(), "{name}: {}", runner::text(out));
    }
    assert_eq!(outputs.len(), 5, "{:?}", names(&outputs));
    let comments = forge.plan_comments();
    assert_eq!(comments.len(), 1, "{comments:?}");
    let (first_id, body) = &comments[0];
    assert!(
        body.starts_with("<!-- csamctl-plan part 1 -->\n### csamctl plan"),
        "{body}"
    );
    assert!(body.contains("AZ VLASLAND VZW"), "{body}");
    // The reviewer's summary, and the rules linked at the pinned revision of the docs.
    assert!(body.contains("| name | username | INSZ | site | functions | change |"));
    assert!(body.contains("```mermaid"), "{body}");
    let rev = job.env.get("CSAMCTL_REV").expect("the pinned revision");
    let link = format!("[R1](https://github.example/hospital/csamctl/blob/{rev}/docs/rules.md#r1)");
    assert!(body.contains(&link), "{link} in {body}");
    assert!(!body.contains("](docs/"), "no relative link left: {body}");
    assert!(
        forge
            .state
            .lock()
            .expect("lock")
            .comments
            .iter()
            .all(|(i, _)| *i != old)
    );
    let requests = forge.take_requests();
    let gets = requests.iter().filter(|r| r.method == "GET").count();
    assert_eq!(gets, 2, "two pages listed: {requests:?}");
    assert!(
        requests
            .iter()
            .all(|r| r.path.starts_with("/repos/hospital/csam/issues/"))
    );

    // 2. The next push makes a plan of three parts: part 1 is edited, 2 and 3 are new.
    let parts: Vec<String> = (1..=3)
        .map(|i| {
            format!(
                "{}\n### part {i}\n\n{}\n",
                csamctl::render::markdown::part_marker(i, 3),
                "x".repeat(60_000)
            )
        })
        .collect();
    std::fs::write(job.path("plan.md"), parts.join("\n")).expect("plan.md");
    std::fs::write(job.path("plan.status"), "2\n").expect("status");
    let post = github_step(&doc, "Post");
    let mut post_job = runner::Job {
        dir: job.dir.clone(),
        env: job.env.clone(),
        expressions: job.expressions.clone(),
    };
    post_job.add_env(&post["env"]);
    let out = post_job.run(post["run"].as_str().expect("run"), &BTreeMap::new());
    assert!(out.status.success(), "{}", runner::text(&out));
    let comments = forge.plan_comments();
    assert_eq!(comments.len(), 3, "{comments:?}");
    assert_eq!(comments[0].0, *first_id, "part 1 edited in place");
    for (i, (_, body)) in comments.iter().enumerate() {
        assert!(body.starts_with(&format!("<!-- csamctl-plan part {} -->\n", i + 1)));
        assert!(body.contains(&format!("### part {}", i + 1)));
    }
    let requests = forge.take_requests();
    let methods: Vec<&str> = requests.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(
        methods,
        ["GET", "GET", "PATCH", "POST", "POST"],
        "{requests:?}"
    );

    // 3. A push that breaks the desired state: the plan fails, the reason replaces the
    //    plan, the extra parts are deleted, and the job fails after posting.
    std::fs::write(
        job.path("csam/multi-campus.yaml"),
        crate_file("examples/multi-campus.yaml").replace("0198.765.470", "0198.765.471"),
    )
    .expect("edit");
    let outputs = run_github_plan_job(&job, &doc);
    let validate = step_output(&outputs, "Validate");
    assert!(validate.status.success(), "{}", runner::text(validate));
    let annotations = String::from_utf8_lossy(&validate.stdout);
    assert!(
        annotations.contains("::error file=csam/multi-campus.yaml,line=")
            && annotations.contains(",title=csam%3A%3Akbo%3A%3Achecksum::"),
        "{annotations}"
    );
    let fail = step_output(&outputs, "Fail");
    assert!(
        !fail.status.success(),
        "the job fails: {}",
        runner::text(fail)
    );
    let comments = forge.plan_comments();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert_eq!(comments[0].0, *first_id);
    let body = &comments[0].1;
    assert!(body.contains("### csamctl plan failed (exit 1)"), "{body}");
    assert!(body.contains("wrong check number"), "the reason: {body}");
    assert!(
        body.contains("https://github.example/hospital/csam/actions/runs/4242"),
        "{body}"
    );
    let methods: Vec<String> = forge
        .take_requests()
        .into_iter()
        .map(|r| r.method)
        .collect();
    assert_eq!(methods, ["GET", "GET", "PATCH", "DELETE", "DELETE"]);

    // 4. A plan that is refused (a site the programme does not recognise, R8): the plan
    //    itself is posted, then the reason in a part of its own.
    runner::write(
        root,
        "csam/multi-campus.yaml",
        &crate_file("examples/multi-campus.yaml").replace("\"71977103\"", "\"71977109\""),
    );
    let outputs = run_github_plan_job(&job, &doc);
    assert!(!step_output(&outputs, "Fail").status.success());
    let comments = forge.plan_comments();
    assert_eq!(comments.len(), 2, "{comments:?}");
    assert!(comments[0].1.contains("AZ VLASLAND"), "{}", comments[0].1);
    assert!(comments[0].1.contains("Error:"), "{}", comments[0].1);
    assert!(
        comments[0].1.contains("**Plan refused: "),
        "{}",
        comments[0].1
    );
    assert!(
        comments[1].1.contains("### csamctl plan refused (exit 1)"),
        "{}",
        comments[1].1
    );
    drop(served);
}

#[test]
fn the_gitlab_plan_job_posts_its_notes_against_a_stand_in_forge() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    checkout(root);
    let served = served::Served::start(root);
    let forge = forge::Forge::start("PRIVATE-TOKEN: gitlab-secret");
    let doc = load("gitlab-ci.yml");
    // The cache restored this revision's build: binary, scripts and revision stamp.
    let rev = doc["variables"]["CSAMCTL_REV"]
        .as_str()
        .expect("rev")
        .to_string();
    std::fs::create_dir_all(root.join(".csamctl-build/bin")).expect("mkdir");
    std::os::unix::fs::symlink(served::CSAMCTL, root.join(".csamctl-build/bin/csamctl"))
        .expect("symlink");
    std::os::unix::fs::symlink(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci"),
        root.join(".csamctl-build/ci"),
    )
    .expect("symlink");
    std::fs::write(root.join(".csamctl-build/rev"), format!("{rev}\n")).expect("rev");

    let lines = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("a list of lines")
            .iter()
            .map(|l| l.as_str().expect("a line").to_string())
            .collect()
    };
    let mut script = lines(&doc["default"]["before_script"]);
    script.extend(lines(&doc["plan"]["script"]));
    let script = script.join("\n");
    let mut env = BTreeMap::new();
    for (k, v) in doc["variables"].as_object().expect("variables") {
        env.insert(k.clone(), v.as_str().expect("text").to_string());
    }
    for (k, v) in [
        ("GITLAB_CI", "true"),
        ("CI_PROJECT_ID", "42"),
        ("CI_MERGE_REQUEST_IID", "7"),
        (
            "CI_JOB_URL",
            "https://gitlab.example/hospital/csam/-/jobs/9",
        ),
        ("GITLAB_API_TOKEN", "gitlab-secret"),
        ("CSAM_TOKEN", served.token.as_str()),
        ("CSAM_REGISTRY", served.url.as_str()),
        ("CSAM_ACTOR", served::VLASLAND_HTB),
    ] {
        env.insert(k.to_string(), v.to_string());
    }
    env.insert("CI_API_V4_URL".into(), format!("{}/api/v4", forge.url));
    // Only what the image has: no csamctl on PATH until the script puts it there.
    env.insert(
        "PATH".into(),
        std::env::var("PATH")
            .unwrap_or_default()
            .split(':')
            .filter(|d| Path::new(d) != bin_dir())
            .collect::<Vec<_>>()
            .join(":"),
    );
    let job = runner::Job {
        dir: root.to_path_buf(),
        env,
        expressions: BTreeMap::new(),
    };
    let out = job.run(&script, &BTreeMap::new());
    assert!(out.status.success(), "changes pass: {}", runner::text(&out));
    let notes = forge.plan_comments();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0]
            .1
            .starts_with("<!-- csamctl-plan part 1 -->\n### csamctl plan")
    );
    let requests = forge.take_requests();
    assert!(
        requests.iter().all(|r| r
            .path
            .starts_with("/api/v4/projects/42/merge_requests/7/notes")),
        "{requests:?}"
    );
    let methods: Vec<&str> = requests.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["GET", "POST"]);

    // The registry is gone: the note says so, with csamctl's words, and the job fails.
    drop(served);
    let out = job.run(&script, &BTreeMap::new());
    assert_eq!(out.status.code(), Some(1), "{}", runner::text(&out));
    let notes = forge.plan_comments();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].1.contains("### csamctl plan failed (exit 1)"),
        "{}",
        notes[0].1
    );
    assert!(
        notes[0]
            .1
            .contains("https://gitlab.example/hospital/csam/-/jobs/9")
    );
    let methods: Vec<String> = forge
        .take_requests()
        .into_iter()
        .map(|r| r.method)
        .collect();
    assert_eq!(methods, ["GET", "PUT"]);
}

/// Every shell text of both workflows, and the scripts they call, pass shellcheck.
#[test]
fn the_workflow_shell_passes_shellcheck() {
    let available = std::process::Command::new("shellcheck")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        eprintln!("SKIPPED: shellcheck is not installed (.ci/run installs it where apt-get can)");
        return;
    }
    let mut texts: Vec<(String, String)> = Vec::new();
    for name in ["github-actions.yml", "gitlab-ci.yml"] {
        let doc = load(name);
        let mut found = Vec::new();
        shell_texts(&doc, false, &mut found);
        // GitLab runs a script list as one shell: check each list as one text.
        if let Value::Object(jobs) = &doc {
            for (job, v) in jobs {
                for key in ["before_script", "script"] {
                    if let Some(Value::Array(items)) = v.get(key) {
                        let joined: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                        texts.push((format!("{name} {job}.{key}"), joined.join("\n")));
                    }
                }
            }
        }
        if name.starts_with("github") {
            for (i, t) in found.into_iter().enumerate() {
                texts.push((format!("{name} shell text {i}"), t));
            }
        }
    }
    for script in ["post-plan.sh", "annotate.sh"] {
        texts.push((script.into(), crate_file(&format!("examples/ci/{script}"))));
    }
    for (what, text) in texts {
        let mut child = std::process::Command::new("shellcheck")
            .args(["--shell=bash", "--severity=style", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("shellcheck runs");
        {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(text.as_bytes()).expect("write");
        }
        let out = child.wait_with_output().expect("shellcheck ends");
        assert!(
            out.status.success(),
            "{what}:\n{}\n{text}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
