//! INSZ and KBO validity agree exactly with python-stdnum (`stdnum.be.ssn`,
//! `stdnum.be.vat`), the reference implementation: the verdicts in
//! `tests/data/stdnum-vectors.tsv` were produced by `tools/stdnum_vectors.py`.

use csamctl::model::{Insz, Kbo};

#[test]
fn every_stdnum_verdict_is_reproduced() {
    let table = include_str!("data/stdnum-vectors.tsv");
    let header = table.lines().next().unwrap();
    // stdnum decides the post-2000 rule against the year it ran in.
    let year: i32 = header.rsplit(' ').next().unwrap().parse().unwrap();
    let mut checked = 0;
    let mut disagreements = Vec::new();
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let input: String = serde_json::from_str(cols[1]).unwrap();
        let valid = cols[2] == "1";
        let (ours, compact) = match cols[0] {
            "insz" => match Insz::parse_as_of(&input, year) {
                Ok(i) => (true, i.compact().to_string()),
                Err(_) => (false, String::new()),
            },
            "kbo" => match Kbo::parse(&input) {
                Ok(k) => (true, k.compact().to_string()),
                Err(_) => (false, String::new()),
            },
            other => panic!("unknown kind {other}"),
        };
        if ours != valid || (valid && compact != cols[3]) {
            disagreements.push(format!(
                "{} {:?}: stdnum {} ours {}",
                cols[0], input, valid, ours
            ));
        }
        checked += 1;
    }
    assert!(checked > 8000, "only {checked} vectors");
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
