use super::*;

fn entry(kind: char, rel: &str) -> Entry {
    Entry::parse(&format!(
        "{kind} {kind} 644 0 0 10 1 2 1 1.5 2.5 3.5 root root {rel}"
    ))
    .unwrap()
}

#[test]
fn names_match_as_fnmatch_or_re_match() {
    // fnmatch.fnmatch: 'a.log' '*.log' True, 'a.LOG' False, 'b1' '[!a]?' True, '[x' '[x' True
    assert!(fnmatch_regex("*.log").is_match("a.log"));
    assert!(!fnmatch_regex("*.log").is_match("a.LOG"));
    assert!(fnmatch_regex("[!a]?").is_match("b1"));
    assert!(fnmatch_regex("[x").is_match("[x"));
    assert!(!fnmatch_regex("a.c").is_match("abc"));
    let args: Args = args::parse(
        "find",
        &json!({"paths": "/x", "patterns": "^app", "use_regex": true, "excludes": ".*\\.tmp$"}),
    )
    .unwrap();
    let names = NameFilter::new(&args).unwrap();
    assert!(names.matches("app.log") && !names.matches("xapp") && !names.matches("app.tmp"));
}

#[test]
fn ages_and_sizes_read_their_units() {
    assert_eq!(with_unit("2d", AGE_UNITS), Some(172_800));
    assert_eq!(with_unit("-1W", AGE_UNITS), Some(-604_800));
    assert_eq!(with_unit("10", SIZE_UNITS), Some(10));
    assert_eq!(with_unit("1k", SIZE_UNITS), Some(1024));
    assert_eq!(with_unit("1x", SIZE_UNITS), None);
    assert_eq!(with_unit("k", SIZE_UNITS), None);
}

#[test]
fn paths_are_normalised_as_python() {
    assert_eq!(normpath("/a//b/./c/"), "/a/b/c");
    assert_eq!(normpath("/a/../../b"), "/b");
    assert_eq!(normpath("a/.."), ".");
}

#[test]
fn the_walk_is_os_walks_order() {
    // find lists a directory's entries and descends at once; os.walk gives a directory's
    // files, then its directories, then what is in each.
    let entries = vec![
        entry('d', "sub"),
        entry('f', "sub/x"),
        entry('f', "a"),
        entry('d', "sub/deeper"),
        entry('f', "sub/deeper/y"),
        entry('f', "b"),
    ];
    let walk = Walk::new(&entries, false);
    let mut seen = Vec::new();
    let (looked, _) = walk.run(true, &mut |e, depth| {
        seen.push(format!("{}@{depth}", e.rel));
        false
    });
    assert_eq!(
        seen,
        ["a@1", "b@1", "sub@1", "sub/x@2", "sub/deeper@2", "sub/deeper/y@3"]
    );
    assert_eq!(looked, 6);
    let mut top = Vec::new();
    let (looked, _) = walk.run(false, &mut |e, _| {
        top.push(e.rel.clone());
        false
    });
    assert_eq!((top.len(), looked), (3, 3));
}

#[test]
fn entries_carry_ansibles_keys() {
    let e = Entry::parse(
        "f f 4755 1000 1000 6 42 2049 1 1700000000.25 1700000001.5 1700000002 1000 deploy dir/a b",
    )
    .unwrap();
    assert_eq!(e.rel, "dir/a b");
    let info = e.info("/w/dir/a b");
    assert_eq!(info["mode"], json!("4755"));
    assert_eq!(info["isreg"], json!(true));
    assert_eq!(info["isuid"], json!(true));
    assert_eq!(info["mtime"], json!(1_700_000_001.5));
    assert_eq!(info["pw_name"], json!(""));
    assert_eq!(info["gr_name"], json!("deploy"));
    let keys: Vec<&str> = info.keys().map(String::as_str).collect();
    assert_eq!(keys[..4], ["path", "mode", "isdir", "ischr"]);
}

#[test]
fn arguments_and_their_rules() {
    let check = |v: Value| args::parse::<Args>("find", &v).and_then(|a| check_args(&a));
    assert!(check(
        json!({"path": "/x", "pattern": "*.log", "exclude": "a*", "file_type": "any", "depth": 2})
    )
    .is_ok());
    assert!(check(json!({"name": ["/x", "/y"], "checksum": "sha256", "get_checksum": true})).is_ok());
    assert!(check(json!({"paths": "/x", "file_type": "dir"})).is_err());
    assert!(check(json!({"paths": "/x", "limit": 0})).is_err());
    assert!(check(json!({"patterns": "*"})).is_err());
    assert!(check(json!({"paths": "/x", "recursive": true})).is_err());
}
