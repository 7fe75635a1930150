//! Deterministic values derived from (seed, row): the same dataset every run.

/// SplitMix64: a fast, well-mixed hash of one u64.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A hash of (seed, row, salt).
pub(crate) fn hash(seed: u64, row: u64, salt: u64) -> u64 {
    mix(mix(seed ^ salt.rotate_left(32)) ^ row)
}

/// A version-4-shaped UUID for a row.
pub(crate) fn uuid(seed: u64, row: u64) -> uuid::Uuid {
    let hi = hash(seed, row, 1);
    let lo = hash(seed, row, 2);
    uuid::Builder::from_random_bytes(((u128::from(hi) << 64) | u128::from(lo)).to_be_bytes())
        .into_uuid()
}

const FIRST: [&str; 16] = [
    "Ada", "Bo", "Cyd", "Dee", "Eli", "Fay", "Gus", "Hal", "Ida", "Jo", "Kai", "Lu", "Mo", "Ned",
    "Oz", "Pia",
];
const LAST: [&str; 16] = [
    "Stone", "Marsh", "Vale", "Frost", "Reyes", "Okafor", "Novak", "Lind", "Sato", "Moreau",
    "Costa", "Haas", "Quinn", "Ward", "Yildiz", "Zhou",
];

/// A display name for a row.
pub(crate) fn name(seed: u64, row: u64) -> String {
    let h = hash(seed, row, 3);
    format!(
        "{} {}",
        FIRST[(h & 15) as usize],
        LAST[((h >> 4) & 15) as usize]
    )
}

/// An email address for a row (unique per row).
pub(crate) fn email(seed: u64, row: u64) -> String {
    let h = hash(seed, row, 4);
    format!(
        "{}.{}{}@example.com",
        FIRST[(h & 15) as usize].to_lowercase(),
        LAST[((h >> 4) & 15) as usize].to_lowercase(),
        row
    )
}
