//! The fuzz targets' bodies (`fuzz/src/lib.rs`) on the committed seeds in `fuzz/seeds/<target>/`, and on
//! every prefix of each seed: so `cargo test` compiles and runs what `fuzz/run` fuzzes, and an input the
//! fuzzer once found (kept as a seed) stays fixed.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod fuzz;

use std::path::Path;

#[test]
fn every_target_survives_its_seeds_and_their_prefixes() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    for (name, target) in fuzz::TARGETS {
        let dir = seeds.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert!(files.len() >= 5, "{name}: only {} seeds", files.len());
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let result = std::panic::catch_unwind(|| {
                for end in 0..=data.len().min(512) {
                    target(&data[..end]);
                }
                target(&data);
            });
            assert!(result.is_ok(), "{name} panicked on {}", file.display());
        }
    }
}

#[test]
fn the_seeds_reach_both_the_accepting_and_the_refusing_paths() {
    // Seeds that are all refused would leave the invariants on accepted input (E.164 round trip, a loaded
    // config within bounds) unexercised.
    use phoneverify::api::extract::parse_body;
    use phoneverify::api::types::SetPhoneRequest;
    use phoneverify::config::Config;
    use phoneverify::domain::phone::PhoneNumber;
    let seed = |t: &str, n: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fuzz/seeds/{t}/{n}"));
        String::from_utf8(std::fs::read(path).unwrap()).unwrap()
    };
    assert!(PhoneNumber::parse(&seed("phone", "spaced")).is_ok());
    assert!(PhoneNumber::parse(&seed("phone", "too_short")).is_err());
    assert!(parse_body::<SetPhoneRequest>(seed("json_body", "set_phone").as_bytes()).is_ok());
    let trailing = parse_body::<SetPhoneRequest>(seed("json_body", "trailing").as_bytes());
    assert_eq!(
        trailing.err().map(|e| e.code),
        Some(phoneverify::api::error::Code::InvalidArgument)
    );
    assert_eq!(
        Config::from_toml_overrides(&seed("config", "code"))
            .unwrap()
            .code
            .length,
        8
    );
    assert!(Config::from_toml_overrides(&seed("config", "bad_len")).is_err());
}
