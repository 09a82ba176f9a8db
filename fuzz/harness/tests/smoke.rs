//! The fuzz smoke run on stable Rust (CI): every target replays its committed seeds
//! (`fuzz/seeds/<target>/`) and any crash reproducers (`fuzz/regressions/<target>/`),
//! then a few thousand mutations of them from a fixed-seed generator. The long run is
//! libFuzzer's (`cargo +nightly fuzz run <target>`, see `fuzz/README.md`).
//!
//! `M2M_FUZZ_ITERATIONS` (per target, default 20 000) and `M2M_FUZZ_SEED` override
//! the defaults.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use m2m_fuzz_harness::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every file of a corpus folder, sorted. A missing or empty folder fails the run: a
/// replay over nothing would pass without checking anything.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("corpus folder {} cannot be read: {e}", dir.display()));
    let mut out: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "corpus folder {} is empty", dir.display());
    out
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Tokens that matter to the parsers, spliced in by the mutator (libFuzzer gets the
/// same from `-dict=fuzz/dict/<target>.dict` when given one; here it is built in).
const DICTIONARY: &[&[u8]] = &[
    b"&",
    b"=",
    b"%",
    b"%3A",
    b"%00",
    b"+",
    b":",
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b"\n",
    b"Basic ",
    b"grant_type",
    b"client_credentials",
    b"client_id",
    b"client_secret",
    b"audience",
    b"client_assertion",
    b"client_assertion_type",
    b"urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    b"eyJ",
    b".",
    b"\"alg\"",
    b"\"kid\"",
    b"\"aud\"",
    b"\"exp\"",
    b"resource",
    b"scope",
    b"#",
    b"\\u0000",
    b"null",
    b"true",
    b"1e999",
    b"\x30",
    b"\x02",
    b"\x00",
    b"\x81",
    b"\xff",
    b"{\"S\":\"\"}",
    b"{\"N\":\"1\"}",
    b"{\"L\":[]}",
    b"{\"M\":{}}",
    b"{\"NULL\":true}",
    b"claims",
    b"scopes",
    b"deny",
];

fn mutate(rng: &mut StdRng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.gen_range(1..=4) {
        let len = out.len();
        match rng.gen_range(0..7) {
            0 if len > 0 => {
                let i = rng.gen_range(0..len);
                out[i] ^= 1 << rng.gen_range(0..8);
            }
            1 => {
                let i = rng.gen_range(0..=len);
                out.insert(i, rng.gen());
            }
            2 if len > 0 => {
                let i = rng.gen_range(0..len);
                let j = rng.gen_range(i..=len.min(i + 16));
                out.drain(i..j);
            }
            3 if len > 0 => {
                let i = rng.gen_range(0..len);
                let j = rng.gen_range(i..=len.min(i + 16));
                let piece = out[i..j].to_vec();
                let at = rng.gen_range(0..=len);
                out.splice(at..at, piece);
            }
            4 => {
                let token = DICTIONARY[rng.gen_range(0..DICTIONARY.len())];
                let at = rng.gen_range(0..=len);
                out.splice(at..at, token.iter().copied());
            }
            5 if !corpus.is_empty() => {
                let other = &corpus[rng.gen_range(0..corpus.len())];
                let cut = rng.gen_range(0..=len);
                let from = rng.gen_range(0..=other.len());
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
            _ if len > 0 => {
                let i = rng.gen_range(0..len);
                out[i] = rng.gen();
            }
            _ => out.push(rng.gen()),
        }
    }
    out
}

#[test]
fn every_target_seeded() {
    for (name, _) in TARGETS {
        let seeds = files(&fuzz_dir().join("seeds").join(name));
        assert!(!seeds.is_empty(), "fuzz/seeds/{name}/ is empty");
        assert!(
            fuzz_dir()
                .join("fuzz_targets")
                .join(format!("{name}.rs"))
                .exists(),
            "no libFuzzer target for {name}"
        );
    }
}

#[test]
fn seeds_and_regressions_replay_clean() {
    for (name, target) in TARGETS {
        for dir in ["seeds", "regressions"] {
            for (path, bytes) in files(&fuzz_dir().join(dir).join(name)) {
                eprintln!("replaying {}", path.display());
                target(&bytes);
            }
        }
    }
}

#[test]
fn mutated_seeds_hold_invariants() {
    let iterations = env_u64("M2M_FUZZ_ITERATIONS", 20_000);
    let seed = env_u64("M2M_FUZZ_SEED", 0x6d32_6d2d_6675_7a7a);
    for (index, (name, target)) in TARGETS.iter().enumerate() {
        let corpus: Vec<Vec<u8>> = files(&fuzz_dir().join("seeds").join(name))
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        let mut rng = StdRng::seed_from_u64(seed.wrapping_add(index as u64));
        for i in 0..iterations {
            let base = &corpus[rng.gen_range(0..corpus.len())];
            let input = mutate(&mut rng, base, &corpus);
            let caught = std::panic::catch_unwind(|| target(&input));
            assert!(
                caught.is_ok(),
                "target {name} failed on iteration {i} (M2M_FUZZ_SEED={seed}); input: {:?}",
                String::from_utf8_lossy(&input)
            );
        }
        eprintln!("{name}: {iterations} mutated inputs");
    }
}

#[test]
fn form_post_seed_reaches_issuance() {
    // The token_request target is only as good as how deep its seeds go: the fixture
    // request must parse and be issued a token, or mutations never reach issuance.
    let bytes = std::fs::read(fuzz_dir().join("seeds/token_request/form_post")).unwrap();
    let (method, content_type, authorization, body) = m2m_fuzz_harness::split_request(&bytes);
    m2m_core::http_response::admit(&method, body).unwrap();
    let request =
        m2m_core::parse_token_request(content_type.as_deref(), authorization.as_deref(), body)
            .unwrap();
    let outcome = m2m_fuzz_harness::block_on(m2m_core::issue_token(
        &request,
        m2m_core::testing::fixtures::NOW,
        &m2m_core::IssuerConfig {
            issuer: m2m_core::testing::fixtures::ISSUER.into(),
            default_audience: None,
            assertions: Default::default(),
        },
        &m2m_core::testing::fixtures::directory(),
        &m2m_core::testing::NoopSigner::new(),
        None::<&m2m_core::testing::FakeHook>,
        &m2m_core::ports::NoKeySets,
    ));
    assert!(outcome.is_ok(), "{outcome:?}");
}

#[test]
fn dynamo_item_json_round_trips() {
    for (_, bytes) in files(&fuzz_dir().join("seeds/dynamo_item")) {
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let item = m2m_fuzz_harness::item(&json).unwrap();
        assert_eq!(m2m_fuzz_harness::item_json(&item), json);
    }
}
