//! How a run's inventory sources name its journal and identify it: one `-i` keeps the
//! names zdd always gave (the file's stem, its absolute path), several are joined.

use crate::inventory::is_host_list;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::Path;

/// The sources as the journal records them: a path made absolute (symlinks resolved), a
/// host list as written.
pub fn identify(sources: &[String]) -> Vec<String> {
    sources
        .iter()
        .map(|s| {
            if is_host_list(s) {
                s.clone()
            } else {
                super::absolute(Path::new(s)).display().to_string()
            }
        })
        .collect()
}

/// The inventory part of the default journal name: `localhost` for none, a file's or
/// directory's stem, `hostlist-<hash>` for a host list; several joined with `+`.
pub fn stem(sources: &[String]) -> String {
    if sources.is_empty() {
        return "localhost".into();
    }
    let names: Vec<String> = sources
        .iter()
        .map(|s| {
            if is_host_list(s) {
                let digest = super::sha256_hex(s.as_bytes());
                format!("hostlist-{}", &digest[..8])
            } else {
                Path::new(s)
                    .file_stem()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "inventory".into())
            }
        })
        .collect();
    names.join("+")
}

/// `inventory` in the journal: `null` for none, a string for one source (as journals have
/// always had it), a list for several.
pub fn serialize<S: Serializer>(sources: &[String], s: S) -> Result<S::Ok, S::Error> {
    match sources {
        [] => s.serialize_none(),
        [one] => s.serialize_str(one),
        many => many.serialize(s),
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_source_keeps_its_stem_and_several_are_joined() {
        assert_eq!(stem(&[]), "localhost");
        assert_eq!(stem(&["/x/lab.ini".into()]), "lab");
        assert_eq!(stem(&["inventory/".into()]), "inventory");
        assert_eq!(stem(&["hosts.ini".into(), "inventory".into()]), "hosts+inventory");
        let list = stem(&["web1,web2,".into()]);
        assert!(list.starts_with("hostlist-") && list.len() == 17, "{list}");
        assert_ne!(list, stem(&["web1,web3,".into()]));
    }

    #[test]
    fn the_journal_field_is_null_a_string_or_a_list() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct J {
            #[serde(with = "super", default)]
            inventory: Vec<String>,
        }
        for (sources, json) in [
            (vec![], r#"{"inventory":null}"#),
            (vec!["/a.ini".to_owned()], r#"{"inventory":"/a.ini"}"#),
            (
                vec!["/a.ini".to_owned(), "w1,".to_owned()],
                r#"{"inventory":["/a.ini","w1,"]}"#,
            ),
        ] {
            let j = J { inventory: sources };
            assert_eq!(serde_json::to_string(&j).unwrap(), json);
            assert_eq!(serde_json::from_str::<J>(json).unwrap(), j);
        }
        assert_eq!(serde_json::from_str::<J>("{}").unwrap(), J { inventory: vec![] });
    }
}
