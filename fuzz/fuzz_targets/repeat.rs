//! A mutation libFuzzer lacks: repeating a short piece of the input many times in
//! place, so nesting (`((((`, `${${`, `[[[[`) grows to the depths where unbounded
//! recursion shows within minutes instead of hours. Used by the targets whose inputs
//! nest; every other mutation is libFuzzer's own.

/// One input in eight gets a short slice (1 to 4 bytes) repeated up to 2048 times
/// where it stands; the others go through libFuzzer's mutations.
pub fn mutate(data: &mut [u8], size: usize, max_size: usize, seed: u32) -> usize {
    if seed % 8 != 0 || size == 0 || size >= max_size {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    // A small xorshift over the seed, so a run is reproducible from its seed.
    let mut state = u64::from(seed) | 1;
    let mut next = move |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let start = next(size);
    let len = 1 + next((size - start).min(4));
    let times = 1 + next(2048);
    let chunk: Vec<u8> = data[start..start + len].to_vec();
    let added = (len * times).min(max_size - size) / len * len;
    let after = start + len;
    data.copy_within(after..size, after + added);
    for copy in data[after..after + added].chunks_exact_mut(len) {
        copy.copy_from_slice(&chunk);
    }
    size + added
}
