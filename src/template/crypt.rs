//! `password_hash`: the crypt(3) strings `/etc/shadow` holds (`$6$` SHA-512, `$5$`
//! SHA-256, `$1$` MD5), as Ansible makes them with passlib: the crypt defaults for rounds
//! (656000 and 535000, written out), a given salt or a random one.

use super::filters::invalid;
use super::pyrepr::py_str;
use minijinja::value::Kwargs;
use minijinja::{Error, Value};

/// crypt's base-64 alphabet, which is also the alphabet of a salt.
const CRYPT64: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

pub fn password_hash(
    value: &Value,
    hashtype: Option<String>,
    salt: Option<Value>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let salt = match salt {
        Some(s) => Some(s),
        None => kwargs.get::<Option<Value>>("salt")?,
    };
    let salt_size = kwargs.get::<Option<usize>>("salt_size")?;
    let rounds = kwargs.get::<Option<usize>>("rounds")?;
    let _ident = kwargs.get::<Option<String>>("ident")?;
    let hashtype = match hashtype {
        Some(h) => h,
        None => kwargs
            .get::<Option<String>>("hashtype")?
            .unwrap_or_else(|| "sha512".into()),
    };
    kwargs.assert_all_used()?;
    let algorithm = match hashtype.as_str() {
        "sha512" | "sha512_crypt" => "6",
        "sha256" | "sha256_crypt" => "5",
        "md5" | "md5_crypt" => "1",
        "blowfish" | "bcrypt" => {
            return Err(invalid(
                "password_hash: bcrypt is not supported by zdd (use sha512)",
            ))
        }
        other => {
            return Err(invalid(format!(
                "{other} is not in the list of supported passlib algorithms: md5, blowfish, sha256, sha512"
            )))
        }
    };
    let salt = match salt
        .filter(|s| !s.is_none())
        .map(|s| py_str(&s))
        .filter(|s| !s.is_empty())
    {
        Some(salt) => {
            let max = if algorithm == "1" { 8 } else { 16 };
            if salt.len() > max || !salt.bytes().all(|b| CRYPT64.contains(&b)) {
                return Err(invalid(format!(
                    "Could not hash the secret: the salt must be at most {max} characters of [./0-9A-Za-z]"
                )));
            }
            salt
        }
        None => random_salt(salt_size.unwrap_or(if algorithm == "1" { 8 } else { 16 })),
    };
    let password = py_str(value);
    crypt(algorithm, password.as_bytes(), &salt, rounds)
}

fn random_salt(length: usize) -> String {
    let mut rng = super::pyrandom::PyRandom::new(super::pyrandom::Seed::Int(super::lookups::os_entropy()));
    (0..length)
        .map(|_| CRYPT64[rng.below(CRYPT64.len() as u64) as usize] as char)
        .collect()
}

/// The crypt string for `$algorithm$` with this salt; SHA rounds default to passlib's
/// (via Ansible), written out unless they are crypt's implicit 5000.
pub fn crypt(algorithm: &str, password: &[u8], salt: &str, rounds: Option<usize>) -> Result<String, Error> {
    let failed = |e: sha_crypt::CryptError| invalid(format!("Could not hash the secret: {e:?}"));
    let (hash, rounds) = match algorithm {
        "6" => {
            let rounds = rounds.unwrap_or(656_000);
            let params = sha_crypt::Sha512Params::new(rounds).map_err(failed)?;
            (
                sha_crypt::sha512_crypt_b64(password, salt.as_bytes(), &params).map_err(failed)?,
                rounds,
            )
        }
        "5" => {
            let rounds = rounds.unwrap_or(535_000);
            let params = sha_crypt::Sha256Params::new(rounds).map_err(failed)?;
            (
                sha_crypt::sha256_crypt_b64(password, salt.as_bytes(), &params).map_err(failed)?,
                rounds,
            )
        }
        _ => return Ok(md5_crypt(password, salt.as_bytes())),
    };
    Ok(if rounds == 5000 {
        format!("${algorithm}${salt}${hash}")
    } else {
        format!("${algorithm}$rounds={rounds}${salt}${hash}")
    })
}

/// Poul-Henning Kamp's MD5-crypt (`$1$`), as glibc and passlib compute it.
fn md5_crypt(password: &[u8], salt: &[u8]) -> String {
    use md5::{Digest, Md5};
    let alternate = Md5::new()
        .chain_update(password)
        .chain_update(salt)
        .chain_update(password)
        .finalize();
    let mut ctx = Md5::new()
        .chain_update(password)
        .chain_update(b"$1$")
        .chain_update(salt);
    let mut left = password.len();
    while left > 0 {
        let n = left.min(16);
        ctx.update(&alternate[..n]);
        left -= n;
    }
    let mut bits = password.len();
    while bits > 0 {
        if bits & 1 != 0 {
            ctx.update([0u8]);
        } else {
            ctx.update(&password[..1.min(password.len())]);
        }
        bits >>= 1;
    }
    let mut digest = ctx.finalize();
    for round in 0..1000 {
        let mut next = Md5::new();
        if round % 2 == 1 {
            next.update(password);
        } else {
            next.update(digest);
        }
        if round % 3 != 0 {
            next.update(salt);
        }
        if round % 7 != 0 {
            next.update(password);
        }
        if round % 2 == 1 {
            next.update(digest);
        } else {
            next.update(password);
        }
        digest = next.finalize();
    }
    let mut out = String::new();
    let mut put = |a: u8, b: u8, c: u8, n: usize| {
        let mut w = ((a as u32) << 16) | ((b as u32) << 8) | c as u32;
        for _ in 0..n {
            out.push(CRYPT64[(w & 0x3f) as usize] as char);
            w >>= 6;
        }
    };
    let d = digest;
    put(d[0], d[6], d[12], 4);
    put(d[1], d[7], d[13], 4);
    put(d[2], d[8], d[14], 4);
    put(d[3], d[9], d[15], 4);
    put(d[4], d[10], d[5], 4);
    put(0, 0, d[11], 2);
    format!("$1${}${out}", String::from_utf8_lossy(salt))
}
