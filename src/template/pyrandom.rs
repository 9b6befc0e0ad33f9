//! Python's `random.Random(seed)`: the Mersenne Twister seeded as CPython seeds it, so a
//! seeded `random`/`shuffle` filter or `password` lookup gives what Ansible gives
//! (`{{ 59 | random(seed=inventory_hostname) }}` is the same minute under both).

use sha2::Digest;

const N: usize = 624;
const M: usize = 397;

pub struct PyRandom {
    state: [u32; N],
    index: usize,
}

/// What a seed is, as Python tells them apart: an integer, or text (hashed with SHA-512).
pub enum Seed<'a> {
    Int(i128),
    Text(&'a str),
}

impl PyRandom {
    /// `random.Random(seed)` (version 2 seeding).
    pub fn new(seed: Seed<'_>) -> Self {
        // The seed as a big-endian magnitude, then cut into 32-bit words, least significant first.
        let magnitude: Vec<u8> = match seed {
            Seed::Int(n) => n.unsigned_abs().to_be_bytes().to_vec(),
            Seed::Text(text) => {
                let mut bytes = text.as_bytes().to_vec();
                bytes.extend_from_slice(&sha2::Sha512::digest(text.as_bytes()));
                bytes
            }
        };
        let mut key: Vec<u32> = Vec::new();
        for chunk in magnitude.rchunks(4) {
            let mut word = [0u8; 4];
            word[4 - chunk.len()..].copy_from_slice(chunk);
            key.push(u32::from_be_bytes(word));
        }
        while key.len() > 1 && key.last() == Some(&0) {
            key.pop();
        }
        if key.is_empty() {
            key.push(0);
        }
        let mut rng = PyRandom {
            state: [0; N],
            index: N,
        };
        rng.init_by_array(&key);
        rng
    }

    fn init_genrand(&mut self, seed: u32) {
        self.state[0] = seed;
        for i in 1..N {
            let prev = self.state[i - 1];
            self.state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        self.index = N;
    }

    fn init_by_array(&mut self, key: &[u32]) {
        self.init_genrand(19_650_218);
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            let prev = self.state[i - 1];
            self.state[i] = (self.state[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                self.state[0] = self.state[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = self.state[i - 1];
            self.state[i] =
                (self.state[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                self.state[0] = self.state[N - 1];
                i = 1;
            }
        }
        self.state[0] = 0x8000_0000;
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            for k in 0..N {
                let y = (self.state[k] & 0x8000_0000) | (self.state[(k + 1) % N] & 0x7fff_ffff);
                let mut next = self.state[(k + M) % N] ^ (y >> 1);
                if y & 1 != 0 {
                    next ^= 0x9908_b0df;
                }
                self.state[k] = next;
            }
            self.index = 0;
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `getrandbits(k)` for k up to 64.
    fn bits(&mut self, k: u32) -> u64 {
        match k {
            0 => 0,
            1..=32 => (self.next_u32() >> (32 - k)) as u64,
            _ => {
                let low = self.next_u32() as u64;
                let high = (self.next_u32() >> (64 - k)) as u64;
                (high << 32) | low
            }
        }
    }

    /// `_randbelow(n)`: uniform in `0..n`, by rejection as CPython draws it.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let k = 64 - n.leading_zeros();
        loop {
            let r = self.bits(k);
            if r < n {
                return r;
            }
        }
    }

    /// `randrange(start, stop, step)` for a positive step; `None` when the range is empty.
    pub fn randrange(&mut self, start: i64, stop: i64, step: i64) -> Option<i64> {
        let width = stop.checked_sub(start)?;
        let count = if step == 1 {
            width
        } else {
            (width + step - 1).div_euclid(step)
        };
        if count <= 0 {
            return None;
        }
        Some(start + step * self.below(count as u64) as i64)
    }

    /// `shuffle(list)`: Fisher-Yates from the end, as CPython.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}
