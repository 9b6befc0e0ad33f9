//! The functions Ansible's templates may call without defining them, besides minijinja's
//! own (`range`, `dict`, `namespace`) and the lookups in `filters.rs`: `now()`, `undef()`,
//! and Jinja2's `cycler`, `joiner`, `lipsum`. `GLOBALS` lists every name, for the validator.

use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, Value};
use minijinja::{Environment, Error, State};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

/// Every global of Ansible's Jinja environment: Jinja2's (`range`, `dict`, `lipsum`,
/// `cycler`, `joiner`, `namespace`) and Ansible's (`now`, `undef`, `omit`, `lookup`,
/// `query`, `q`). A template may call them without any variable defining them.
pub const GLOBALS: &[&str] = &[
    "range",
    "dict",
    "lipsum",
    "cycler",
    "joiner",
    "namespace",
    "now",
    "undef",
    "omit",
    "lookup",
    "query",
    "q",
];

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_function("now", now);
    env.add_function("undef", |_hint: Option<String>| Value::UNDEFINED);
    env.add_function("cycler", |items: minijinja::value::Rest<Value>| {
        Value::from_object(Cycler {
            items: items.0,
            position: AtomicUsize::new(0),
        })
    });
    env.add_function("joiner", |sep: Option<String>| {
        Value::from_object(Joiner {
            sep: sep.unwrap_or_else(|| ", ".into()),
            used: AtomicBool::new(false),
        })
    });
    env.add_function("lipsum", lipsum);
}

/// Jinja2's `cycler(a, b, c)`: `next()` gives each item in turn, `current` the one `next()`
/// gives next, `reset()` starts over.
#[derive(Debug)]
struct Cycler {
    items: Vec<Value>,
    position: AtomicUsize,
}

impl Object for Cycler {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "current" => self.items.get(self.position.load(Ordering::Relaxed)).cloned(),
            "items" => Some(Value::from(self.items.clone())),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        let len = self.items.len().max(1);
        match method {
            "next" => {
                let at = self.position.fetch_add(1, Ordering::Relaxed) % len;
                self.position.store((at + 1) % len, Ordering::Relaxed);
                Ok(self.items.get(at).cloned().unwrap_or_default())
            }
            "reset" => {
                self.position.store(0, Ordering::Relaxed);
                Ok(Value::from(()))
            }
            _ => Err(Error::new(
                minijinja::ErrorKind::UnknownMethod,
                format!("a cycler has no method `{method}`"),
            )),
        }
    }
}

/// Jinja2's `joiner(sep)`: called, it gives "" the first time and `sep` after.
#[derive(Debug)]
struct Joiner {
    sep: String,
    used: AtomicBool,
}

impl Object for Joiner {
    fn call(self: &Arc<Self>, _state: &mut State, _args: &[Value]) -> Result<Value, Error> {
        Ok(Value::from(if self.used.swap(true, Ordering::Relaxed) {
            self.sep.as_str()
        } else {
            ""
        }))
    }
}

/// Jinja2's `lipsum(n=5, html=True, min=20, max=100)`: `n` paragraphs of lorem ipsum. The
/// words are not random here (nothing should depend on them).
fn lipsum(n: Option<usize>, kwargs: Kwargs) -> Result<Value, Error> {
    let n = match n {
        Some(n) => Some(n),
        None => kwargs.get("n")?,
    };
    let html: Option<bool> = kwargs.get("html")?;
    let min: Option<usize> = kwargs.get("min")?;
    let max: Option<usize> = kwargs.get("max")?;
    kwargs.assert_all_used()?;
    const WORDS: &[&str] = &[
        "lorem",
        "ipsum",
        "dolor",
        "sit",
        "amet",
        "consectetur",
        "adipiscing",
        "elit",
        "sed",
        "do",
        "eiusmod",
        "tempor",
        "incididunt",
        "ut",
        "labore",
        "et",
        "dolore",
        "magna",
        "aliqua",
    ];
    let (min, max) = (min.unwrap_or(20), max.unwrap_or(100).max(1));
    let words = min.clamp(1, max);
    let paragraphs: Vec<String> = (0..n.unwrap_or(5))
        .map(|p| {
            let text: Vec<&str> = (0..words).map(|i| WORDS[(i + p) % WORDS.len()]).collect();
            let sentence = text.join(" ");
            format!("{}{}.", sentence[..1].to_uppercase(), &sentence[1..])
        })
        .collect();
    Ok(Value::from(if html.unwrap_or(true) {
        paragraphs
            .iter()
            .map(|p| format!("<p>{p}</p>"))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        paragraphs.join("\n\n")
    }))
}

/// `now(utc=False, fmt=None)`: the time as a date object (`year`, `month`, ...,
/// `strftime(fmt)`, printed as Python prints a datetime), or a string with `fmt`.
fn now(kwargs: Kwargs) -> Result<Value, Error> {
    let utc: Option<bool> = kwargs.get("utc")?;
    let fmt: Option<String> = kwargs.get("fmt")?;
    kwargs.assert_all_used()?;
    let time = DateTime::at(SystemTime::now(), utc.unwrap_or(false));
    Ok(match fmt {
        Some(fmt) => Value::from(time.strftime(&fmt)),
        None => Value::from_object(time),
    })
}

/// A moment as seconds since the epoch, read in local time or UTC.
#[derive(Debug, Clone)]
struct DateTime {
    secs: i64,
    micros: u32,
    utc: bool,
}

/// `t` in local time through the C library's `strftime`, with Python's `%f`
/// (microseconds): the one clock formatter behind `now()`, the `start`/`end` of command
/// results and the `log_path` lines.
pub(crate) fn local_strftime(t: SystemTime, fmt: &str) -> String {
    DateTime::at(t, false).strftime(fmt)
}

/// `t` formatted in UTC or local time (the `strftime` filter).
pub(crate) fn strftime_at(t: SystemTime, utc: bool, fmt: &str) -> String {
    DateTime::at(t, utc).strftime(fmt)
}

impl DateTime {
    fn at(t: SystemTime, utc: bool) -> Self {
        let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        DateTime {
            secs: since.as_secs() as i64,
            micros: since.subsec_micros(),
            utc,
        }
    }

    fn tm(&self) -> libc::tm {
        // `as _`: the C library's time_t (naming it is deprecated on musl, where it may change).
        let secs = self.secs as _;
        // SAFETY: localtime_r and gmtime_r only write the struct handed to them.
        unsafe {
            let mut tm: libc::tm = std::mem::zeroed();
            if self.utc {
                libc::gmtime_r(&secs, &mut tm);
            } else {
                libc::localtime_r(&secs, &mut tm);
            }
            tm
        }
    }

    fn strftime(&self, fmt: &str) -> String {
        // `%f` (microseconds) is Python's own; the C library does the rest.
        let fmt = fmt.replace("%f", &format!("{:06}", self.micros));
        let Ok(c_fmt) = std::ffi::CString::new(fmt) else {
            return String::new();
        };
        let mut buf = vec![0u8; 256];
        // SAFETY: strftime writes at most buf.len() bytes into buf and reads tm.
        let tm = self.tm();
        let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), c_fmt.as_ptr(), &tm) };
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    fn field(&self, name: &str) -> Option<i64> {
        let tm = self.tm();
        Some(match name {
            "year" => tm.tm_year as i64 + 1900,
            "month" => tm.tm_mon as i64 + 1,
            "day" => tm.tm_mday as i64,
            "hour" => tm.tm_hour as i64,
            "minute" => tm.tm_min as i64,
            "second" => tm.tm_sec as i64,
            "microsecond" => self.micros as i64,
            _ => return None,
        })
    }
}

impl std::fmt::Display for DateTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.strftime("%Y-%m-%d %H:%M:%S.%f"))
    }
}

impl Object for DateTime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.field(key.as_str()?).map(Value::from)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["year", "month", "day", "hour", "minute", "second", "microsecond"])
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match (method, args) {
            ("strftime", [fmt]) => Ok(Value::from(self.strftime(fmt.as_str().unwrap_or_default()))),
            ("isoformat", []) => Ok(Value::from(self.strftime("%Y-%m-%dT%H:%M:%S.%f"))),
            ("timestamp", []) => Ok(Value::from(self.secs as f64 + self.micros as f64 / 1e6)),
            _ => Err(Error::new(
                minijinja::ErrorKind::UnknownMethod,
                format!("a date has no method `{method}`"),
            )),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self.as_ref(), f)
    }
}
