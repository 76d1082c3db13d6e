//! `csamctl export` as a whole run: the file is written with mode 0600 and says where
//! it came from; without `--out` the full national register numbers are printed only
//! with `--show-personal-data`; an unreadable enterprise is an error.

mod cli_support;
mod plan_support;

use std::process::Output;

use plan_support::Fixture;

fn csamctl(fx: &Fixture, args: &[&str]) -> Output {
    cli_support::command(cli_support::crate_root())
        .args(args)
        .env("CSAM_REGISTRY", format!("file:{}", fx.path().display()))
        // A named registry file acts as the person --actor names (here the demo identity).
        .env("CSAM_ACTOR", "82120926312")
        .env("NO_COLOR", "1")
        .output()
        .expect("csamctl runs")
}

#[test]
fn export_writes_a_private_file_that_validates() {
    let fx = Fixture::examples();
    let out = fx.dir.path().join("csam.yaml");
    let out_text = out.to_string_lossy().into_owned();
    let run = csamctl(
        &fx,
        &["export", "--enterprise", "0198765470", "--out", &out_text],
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(run.stdout.is_empty(), "nothing on stdout");
    assert!(stderr.contains("mode 0600"), "{stderr}");
    let text = std::fs::read_to_string(&out).expect("written");
    assert!(text.contains(&format!("from file:{}", fx.path().display())));
    assert!(text.contains("insz: \"82.12.09-263.12\""));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let validate = cli_support::csamctl_in(cli_support::crate_root(), &["validate", &out_text]);
    assert_eq!(
        validate.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&validate.stderr)
    );
}

#[test]
fn export_to_stdout_needs_show_personal_data() {
    let fx = Fixture::examples();
    let refused = csamctl(&fx, &["export", "--enterprise", "0198765470"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(refused.stdout.is_empty());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--show-personal-data"));
    let shown = csamctl(
        &fx,
        &[
            "export",
            "--enterprise",
            "0198765470",
            "--show-personal-data",
        ],
    );
    assert_eq!(shown.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&shown.stdout).contains("82.12.09-263.12"));
}

#[test]
fn export_of_an_enterprise_nobody_may_read_fails() {
    let fx = Fixture::examples();
    // CLINIQUE DU VAL DE HOYOUX: the demo identity has no role there.
    let run = csamctl(
        &fx,
        &[
            "export",
            "--enterprise",
            "0187654319",
            "--show-personal-data",
        ],
    );
    assert_eq!(run.status.code(), Some(1));
    assert!(run.stdout.is_empty());
    assert!(String::from_utf8_lossy(&run.stderr).contains("may not read"));
}
