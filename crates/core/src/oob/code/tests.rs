use super::*;
use sha2::Digest;

/// A deterministic stream: SHA-256 in counter mode over a label. Not a CSPRNG for real use,
/// but its output passes for uniform, and the same sampler code runs over it.
struct Stream {
    label: &'static [u8],
    counter: u64,
    block: Vec<u8>,
}

impl Stream {
    fn new(label: &'static [u8]) -> Stream {
        Stream {
            label,
            counter: 0,
            block: Vec::new(),
        }
    }
}

impl RandomSource for Stream {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        for b in buf {
            if self.block.is_empty() {
                let mut h = sha2::Sha256::new();
                h.update(self.label);
                h.update(self.counter.to_le_bytes());
                self.counter += 1;
                self.block = h.finalize().to_vec();
            }
            *b = self.block.pop().unwrap();
        }
        Ok(())
    }
}

/// Returns the given 32-bit words, in order, then fails.
struct Words(Vec<u32>);

impl RandomSource for Words {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        assert_eq!(buf.len(), 4, "the sampler draws whole words");
        if self.0.is_empty() {
            return Err(RandomError);
        }
        buf.copy_from_slice(&self.0.remove(0).to_le_bytes());
        Ok(())
    }
}

struct Broken;

impl RandomSource for Broken {
    fn fill(&mut self, _: &mut [u8]) -> Result<(), RandomError> {
        Err(RandomError)
    }
}

/// Pearson's chi-square statistic of `counts` against a uniform expectation.
fn chi_square(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let expected = total as f64 / counts.len() as f64;
    counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}

#[test]
fn codes_have_the_length_asked_and_only_digits() {
    let mut s = Stream::new(b"length");
    for digits in MIN_DIGITS..=MAX_DIGITS {
        for _ in 0..200 {
            let code = OneTimeCode::generate(digits, &mut s).unwrap();
            assert_eq!(code.len(), digits);
            assert_eq!(code.as_bytes().len(), usize::from(digits));
            assert!(code.as_bytes().iter().all(u8::is_ascii_digit));
        }
    }
    for bad in [0, 5, 9, 10] {
        assert!(OneTimeCode::generate(bad, &mut s).is_err(), "{bad}");
    }
    // Debug output (which could reach a log) never shows the digits.
    let code = OneTimeCode::generate(8, &mut s).unwrap();
    let text = std::str::from_utf8(code.as_bytes()).unwrap().to_owned();
    assert!(!format!("{code:?}").contains(&text));
}

#[test]
fn leading_zeros_are_kept() {
    // 42 as a 6-digit code is "000042", not "42".
    let code = OneTimeCode::generate(6, &mut Words(vec![42])).unwrap();
    assert_eq!(code.as_bytes(), b"000042");
    let code = OneTimeCode::generate(8, &mut Words(vec![99_999_999])).unwrap();
    assert_eq!(code.as_bytes(), b"99999999");
}

#[test]
fn words_at_or_above_the_limit_are_rejected_not_folded() {
    for digits in MIN_DIGITS..=MAX_DIGITS {
        let bound = 10u32.pow(u32::from(digits));
        let limit = acceptance_limit(bound);
        assert_eq!(limit % u64::from(bound), 0);
        assert!(limit <= 1 << 32 && (1u64 << 32) - limit < u64::from(bound));
        let top = u32::try_from(limit - 1).unwrap();
        // The last accepted word maps to the top residue.
        assert_eq!(
            sample_below(bound, &mut Words(vec![top])).unwrap(),
            bound - 1
        );
        // Every word from the limit up is skipped; the next word below it is used.
        let first_rejected = u32::try_from(limit).unwrap();
        let words = vec![first_rejected, u32::MAX, 7];
        assert_eq!(sample_below(bound, &mut Words(words)).unwrap(), 7);
    }
}

#[test]
fn a_source_that_never_gives_an_acceptable_word_fails_closed() {
    let always_high = vec![u32::MAX; MAX_DRAWS + 1];
    assert_eq!(
        sample_below(100_000_000, &mut Words(always_high)),
        Err(RandomError)
    );
    assert!(OneTimeCode::generate(6, &mut Broken).is_err());
    assert!(CodeHash::new(
        &OneTimeCode::generate(6, &mut Words(vec![1])).unwrap(),
        &mut Broken
    )
    .is_err());
    assert_eq!(sample_below(0, &mut Stream::new(b"zero")), Err(RandomError));
}

#[test]
fn every_digit_position_is_uniform() {
    // 60,000 codes of each length; at each position the ten digits are counted and compared
    // with a uniform spread. With 9 degrees of freedom the chi-square statistic exceeds
    // 37.7 with probability 1e-5 for a uniform source; a sampler that folded the high words
    // (x % 10^8) would put about 2 % more weight on low leading digits, and one that only
    // ever produced even digits, or a constant, would be far out.
    const DRAWS: usize = 60_000;
    for digits in MIN_DIGITS..=MAX_DIGITS {
        let mut counts = vec![[0u64; 10]; usize::from(digits)];
        let mut s = Stream::new(b"uniform");
        for _ in 0..DRAWS {
            let code = OneTimeCode::generate(digits, &mut s).unwrap();
            for (pos, d) in code.as_bytes().iter().enumerate() {
                counts[pos][usize::from(d - b'0')] += 1;
            }
        }
        for (pos, c) in counts.iter().enumerate() {
            let x2 = chi_square(c);
            assert!(
                x2 < 37.7,
                "digits {digits}, position {pos}: chi-square {x2:.1} ({c:?})"
            );
        }
    }
}

#[test]
fn the_chi_square_check_can_fail() {
    // The same statistic over a biased sampler (modulo folding, made visible with a
    // bound for which the fold is large: 3 * 2^30 folds the top quarter onto the bottom
    // third) is far beyond the bound, so the test above is able to fail.
    let mut s = Stream::new(b"biased");
    let bound: u32 = 3 << 30;
    let mut counts = [0u64; 3];
    for _ in 0..30_000 {
        let mut w = [0u8; 4];
        s.fill(&mut w).unwrap();
        let folded = u32::from_le_bytes(w) % bound;
        counts[(folded / (1 << 30)) as usize] += 1;
    }
    assert!(chi_square(&counts) > 37.7, "{counts:?}");
    // And the rejection sampler over the same bound is uniform.
    let mut counts = [0u64; 3];
    for _ in 0..30_000 {
        let x = sample_below(bound, &mut s).unwrap();
        counts[(x / (1 << 30)) as usize] += 1;
    }
    assert!(chi_square(&counts) < 37.7, "{counts:?}");
}

#[test]
fn the_os_source_gives_distinct_codes() {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..50 {
        let code = OneTimeCode::generate(8, &mut OsRandom).unwrap();
        seen.insert(code.as_bytes().to_vec());
    }
    // 50 draws from 10^8 values: a repeat has probability about 1e-5.
    assert!(seen.len() >= 49, "{}", seen.len());
    let mut a = [0u8; 64];
    let mut b = [0u8; 64];
    os_random(&mut a).unwrap();
    os_random(&mut b).unwrap();
    assert_ne!(a, b);
}

#[test]
fn the_hash_matches_only_its_code_and_salts_differ() {
    let mut s = Stream::new(b"hash");
    let code = OneTimeCode::generate(6, &mut s).unwrap();
    let h1 = CodeHash::new(&code, &mut s).unwrap();
    let h2 = CodeHash::new(&code, &mut s).unwrap();
    assert_ne!(h1.salt, h2.salt);
    assert_ne!(h1.mac, h2.mac, "a fresh salt gives a fresh hash");
    assert!(h1.matches(code.as_bytes()));
    assert!(h2.matches(code.as_bytes()));
    let mut other = code.as_bytes().to_vec();
    other[0] = if other[0] == b'9' { b'0' } else { other[0] + 1 };
    assert!(!h1.matches(&other));
    assert!(!h1.matches(&code.as_bytes()[..5]));
    assert!(!h1.matches(b""));
    // The known answer: HMAC-SHA256 keyed by the salt over the digits.
    let known = CodeHash::with_salt([0x0b; SALT_LEN], b"123456").unwrap();
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&[0x0b; SALT_LEN]).unwrap();
    m.update(b"123456");
    assert_eq!(known.mac[..], m.finalize().into_bytes()[..]);
}
