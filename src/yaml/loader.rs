//! yaml-rust2's parser events -> marked nodes, with anchors, aliases and `<<` merge keys
//! resolved as PyYAML (and so Ansible) resolves them, inside bounds that refuse hostile
//! documents before they cost time or memory.
//!
//! Nodes are first composed into a tree of shared (`Rc`) nodes, so an alias costs a pointer
//! whatever it refers to; each composed node knows how many nodes and how many levels it
//! stands for, which is what the expansion budget and the depth limit are checked against.
//! Only a document within both bounds is turned into marked nodes. Every step uses an
//! explicit stack: no recursion follows the input's nesting.
//!
//! A node reached through an alias keeps the position of the anchored node it copies, not
//! the alias's: that is where its text is written (and where to fix a mistake in it), and it
//! is the position Ansible reports, since PyYAML hands out the anchored node itself.

use super::TopLevel;
use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};
use marked_yaml::{Marker, Node, Span};
use std::collections::HashMap;
use std::rc::Rc;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker as ParserMarker, Scanner, TScalarStyle, TokenType};

/// The deepest nesting of lists and mappings accepted, aliases expanded. Real playbooks and
/// inventories stay under 20; the limit keeps every recursive walk of the values (to JSON,
/// templates, drop) far from the stack's end.
pub const MAX_DEPTH: usize = 200;

/// How many nodes aliases may produce in one file, counted over everything each alias
/// expands to. A real playbook expands a few hundred; a billion-laughs document asks for
/// billions.
pub const EXPANSION_BUDGET: usize = 100_000;

/// Why a document was refused; every variant carries where.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadError {
    Scan(Marker, String),
    TopLevelMustBeMapping(Marker),
    TopLevelMustBeSequence(Marker),
    KeyMustBeScalar(Marker),
    Tag(Marker),
    /// A `!vault` value that cannot be decrypted, at its key when it has one.
    Vault {
        at: Marker,
        key: Option<String>,
        error: crate::vault::VaultError,
    },
    DuplicateKey {
        key: String,
        first: Marker,
        second: Marker,
    },
    DuplicateAnchor {
        name: String,
        first: Marker,
        second: Marker,
    },
    UnknownAlias {
        name: String,
        at: Marker,
    },
    /// An alias inside the node its anchor names (`a: &a [*a]`).
    RecursiveAlias {
        name: String,
        at: Marker,
    },
    /// `<<` whose value is not a mapping or a list of mappings.
    BadMerge {
        found: &'static str,
        at: Marker,
    },
    TooDeep {
        at: Marker,
        through_alias: Option<String>,
    },
    OverBudget {
        name: String,
        at: Marker,
    },
}

/// Load the first document of `text`, whose top level must be `top` when given. An empty
/// document is an empty mapping or list, as asked, or an empty plain scalar (null).
pub fn load(text: &str, top: Option<TopLevel>) -> Result<Node, LoadError> {
    let mut composer = Composer::new(text, top);
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, mark) = parser.next_token().map_err(|e| composer.scan_error(e))?;
        let at = marker(mark);
        match event {
            Event::StreamEnd | Event::DocumentEnd => break,
            Event::Nothing | Event::StreamStart | Event::DocumentStart => {}
            Event::Alias(id) => composer.alias(id, at)?,
            Event::Scalar(text, style, anchor, tag) => match tag {
                Some(t) if t.handle == "!" && t.suffix == "vault" => {
                    // Decrypted here, at load, so that a missing or wrong password stops the
                    // run before any host (Ansible decrypts when the value is first used).
                    let plain = crate::vault::keyring().decrypt_text(&text).map_err(|error| {
                        let (key, at) = composer.pending_key().map_or((None, at), |(k, m)| (Some(k), m));
                        LoadError::Vault { at, key, error }
                    })?;
                    crate::vault::register_secret(&plain);
                    if let Some((key, _)) = composer.pending_key() {
                        crate::vault::register_secret_name(&key);
                    }
                    composer.scalar(plain, TScalarStyle::SingleQuoted, anchor, at)?;
                }
                tag => {
                    reject_tag(tag.is_some(), at)?;
                    composer.scalar(text, style, anchor, at)?;
                }
            },
            Event::SequenceStart(anchor, tag) => {
                reject_tag(tag.is_some(), at)?;
                composer.open(anchor, at, Collection::Sequence(Vec::new()))?;
            }
            Event::MappingStart(anchor, tag) => {
                reject_tag(tag.is_some(), at)?;
                composer.open(anchor, at, Collection::Mapping(OpenMapping::default()))?;
            }
            Event::SequenceEnd | Event::MappingEnd => composer.close(at)?,
        }
    }
    Ok(composer.finish())
}

fn reject_tag(tagged: bool, at: Marker) -> Result<(), LoadError> {
    if tagged {
        Err(LoadError::Tag(at))
    } else {
        Ok(())
    }
}

fn marker(m: ParserMarker) -> Marker {
    Marker::new(0, m.index(), m.line(), m.col() + 1)
}

/// A node as composed: children are shared, so an alias is a pointer, not a copy.
struct Composed {
    span: Span,
    shape: Shape,
    /// Nodes this one stands for, itself and everything under it, aliases expanded.
    nodes: usize,
    /// Levels of lists and mappings in it: 0 for a scalar.
    height: usize,
}

/// A mapping's key (a scalar) and value.
type Entry = (Rc<Composed>, Rc<Composed>);

enum Shape {
    Scalar { text: String, plain: bool },
    Sequence(Vec<Rc<Composed>>),
    Mapping(Vec<Entry>),
}

impl Composed {
    fn scalar_text(&self) -> Option<&str> {
        match &self.shape {
            Shape::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    fn is_merge_key(&self) -> bool {
        // Only a plain `<<` merges: PyYAML resolves a quoted '<<' to an ordinary string.
        matches!(&self.shape, Shape::Scalar { text, plain: true } if text == "<<")
    }

    fn kind(&self) -> &'static str {
        match self.shape {
            Shape::Scalar { .. } => "a scalar",
            Shape::Sequence(_) => "a list",
            Shape::Mapping(_) => "a mapping",
        }
    }

    fn start(&self) -> Marker {
        self.span
            .start()
            .copied()
            .unwrap_or_else(|| Marker::new(0, 0, 1, 1))
    }
}

/// A list or mapping whose end has not been seen yet.
struct Open {
    start: Marker,
    anchor: usize,
    collection: Collection,
}

enum Collection {
    Sequence(Vec<Rc<Composed>>),
    Mapping(OpenMapping),
}

#[derive(Default)]
struct OpenMapping {
    entries: Vec<Entry>,
    /// Where each key written in this mapping is, to name both lines of a duplicate.
    keys: HashMap<String, Marker>,
    /// The key read, waiting for its value.
    key: Option<Rc<Composed>>,
    /// The value of `<<`, merged when the mapping ends.
    merge: Option<Rc<Composed>>,
}

struct Composer<'a> {
    text: &'a str,
    top: Option<TopLevel>,
    stack: Vec<Open>,
    root: Option<Rc<Composed>>,
    /// Finished anchored nodes by anchor id (the parser numbers anchors from 1, in order).
    anchors: HashMap<usize, Rc<Composed>>,
    /// Anchor names and positions by id, read from the scanner's tokens the first time an
    /// anchor is met (the parser's events carry only ids).
    anchor_names: Option<Vec<(String, Marker)>>,
    /// Anchor names met so far, and where.
    anchors_seen: HashMap<String, Marker>,
    expanded: usize,
}

impl<'a> Composer<'a> {
    fn new(text: &'a str, top: Option<TopLevel>) -> Self {
        Composer {
            text,
            top,
            stack: Vec::new(),
            root: None,
            anchors: HashMap::new(),
            anchor_names: None,
            anchors_seen: HashMap::new(),
            expanded: 0,
        }
    }

    fn scan_error(&mut self, e: yaml_rust2::ScanError) -> LoadError {
        let at = marker(*e.marker());
        if e.info() == "while parsing node, found unknown anchor" {
            let name = self.alias_name_at(&at).unwrap_or_default();
            return LoadError::UnknownAlias { name, at };
        }
        LoadError::Scan(at, e.info().to_owned())
    }

    /// The name of the alias token at `at` (`*name`).
    fn alias_name_at(&self, at: &Marker) -> Option<String> {
        Scanner::new(self.text.chars()).find_map(|token| match token.1 {
            TokenType::Alias(name) if marker(token.0).character() == at.character() => Some(name),
            _ => None,
        })
    }

    /// Name and position of anchor `id`, scanning the text for them once.
    fn anchor(&mut self, id: usize) -> (String, Marker) {
        let names = self.anchor_names.get_or_insert_with(|| {
            Scanner::new(self.text.chars())
                .filter_map(|token| match token.1 {
                    TokenType::Anchor(name) => Some((name, marker(token.0))),
                    _ => None,
                })
                .collect()
        });
        names
            .get(id.wrapping_sub(1))
            .cloned()
            .unwrap_or_else(|| (format!("#{id}"), Marker::new(0, 0, 1, 1)))
    }

    /// A new anchor: refused when its name was already given to another node, as PyYAML
    /// (and libyaml) refuse it.
    fn check_anchor(&mut self, id: usize) -> Result<(), LoadError> {
        let (name, second) = self.anchor(id);
        match self.anchors_seen.get(&name) {
            Some(first) => Err(LoadError::DuplicateAnchor {
                name,
                first: *first,
                second,
            }),
            None => {
                self.anchors_seen.insert(name, second);
                Ok(())
            }
        }
    }

    /// The document's first node must be what was asked for; `found` is `None` for a scalar.
    fn check_top(&self, found: Option<TopLevel>, at: Marker) -> Result<(), LoadError> {
        if !self.stack.is_empty() || self.root.is_some() || self.top.is_none() || found == self.top {
            return Ok(());
        }
        match self.top {
            Some(TopLevel::Sequence) => Err(LoadError::TopLevelMustBeSequence(at)),
            _ => Err(LoadError::TopLevelMustBeMapping(at)),
        }
    }

    fn open(&mut self, anchor: usize, at: Marker, collection: Collection) -> Result<(), LoadError> {
        let found = match collection {
            Collection::Mapping(_) => TopLevel::Mapping,
            Collection::Sequence(_) => TopLevel::Sequence,
        };
        self.check_top(Some(found), at)?;
        self.check_key_position(at)?;
        if anchor != 0 {
            self.check_anchor(anchor)?;
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(LoadError::TooDeep {
                at,
                through_alias: None,
            });
        }
        self.stack.push(Open {
            start: at,
            anchor,
            collection,
        });
        Ok(())
    }

    /// A list or mapping cannot be a key.
    fn check_key_position(&self, at: Marker) -> Result<(), LoadError> {
        match self.stack.last() {
            Some(Open {
                collection: Collection::Mapping(m),
                ..
            }) if m.key.is_none() => Err(LoadError::KeyMustBeScalar(at)),
            _ => Ok(()),
        }
    }

    fn scalar(
        &mut self,
        text: String,
        style: TScalarStyle,
        anchor: usize,
        at: Marker,
    ) -> Result<(), LoadError> {
        let plain = matches!(style, TScalarStyle::Plain);
        if self.stack.is_empty() && self.root.is_none() {
            // `---` alone is an empty document, as PyYAML reads it (None) and Ansible uses it.
            if plain && text.is_empty() {
                return Ok(());
            }
            self.check_top(None, at)?;
        }
        if anchor != 0 {
            self.check_anchor(anchor)?;
        }
        let node = Rc::new(Composed {
            span: Span::new_start(at),
            shape: Shape::Scalar { text, plain },
            nodes: 1,
            height: 0,
        });
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.add(node)
    }

    /// The key of the mapping being read whose value comes next, and where it is written.
    fn pending_key(&self) -> Option<(String, Marker)> {
        let Collection::Mapping(m) = &self.stack.last()?.collection else {
            return None;
        };
        let key = m.key.as_ref()?;
        Some((key.scalar_text()?.to_owned(), *key.span.start()?))
    }

    fn alias(&mut self, id: usize, at: Marker) -> Result<(), LoadError> {
        let Some(node) = self.anchors.get(&id).cloned() else {
            // The parser knows the name, so its node is still open around this alias.
            let (name, _) = self.anchor(id);
            return Err(LoadError::RecursiveAlias { name, at });
        };
        if !matches!(node.shape, Shape::Scalar { .. }) {
            self.check_key_position(at)?;
        }
        if self.stack.len() + node.height > MAX_DEPTH {
            let (name, _) = self.anchor(id);
            return Err(LoadError::TooDeep {
                at,
                through_alias: Some(name),
            });
        }
        self.expanded = self.expanded.saturating_add(node.nodes);
        if self.expanded > EXPANSION_BUDGET {
            let (name, _) = self.anchor(id);
            return Err(LoadError::OverBudget { name, at });
        }
        self.add(node)
    }

    fn close(&mut self, end: Marker) -> Result<(), LoadError> {
        let open = self.stack.pop().expect("the parser balances starts and ends");
        let span = Span::new_with_marks(open.start, end);
        let node = match open.collection {
            Collection::Sequence(items) => {
                let nodes = 1usize.saturating_add(items.iter().fold(0, |n, i| n.saturating_add(i.nodes)));
                let height = 1 + items.iter().map(|i| i.height).max().unwrap_or(0);
                Composed {
                    span,
                    shape: Shape::Sequence(items),
                    nodes,
                    height,
                }
            }
            Collection::Mapping(m) => {
                let entries = match m.merge {
                    Some(merge) => merged(&merge, m.entries)?,
                    None => m.entries,
                };
                let nodes = entries.iter().fold(1usize, |n, (k, v)| {
                    n.saturating_add(k.nodes).saturating_add(v.nodes)
                });
                let height = 1 + entries.iter().map(|(_, v)| v.height).max().unwrap_or(0);
                Composed {
                    span,
                    shape: Shape::Mapping(entries),
                    nodes,
                    height,
                }
            }
        };
        let node = Rc::new(node);
        if open.anchor != 0 {
            self.anchors.insert(open.anchor, node.clone());
        }
        self.add(node)
    }

    /// Put a finished node where it belongs: the document, a list, or a mapping's key or value.
    fn add(&mut self, node: Rc<Composed>) -> Result<(), LoadError> {
        let Some(open) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        let m = match &mut open.collection {
            Collection::Sequence(items) => {
                items.push(node);
                return Ok(());
            }
            Collection::Mapping(m) => m,
        };
        let Some(key) = m.key.take() else {
            if node.scalar_text().is_none() {
                return Err(LoadError::KeyMustBeScalar(node.start()));
            }
            m.key = Some(node);
            return Ok(());
        };
        let name = key.scalar_text().unwrap_or_default();
        if let Some(first) = m.keys.get(name) {
            return Err(LoadError::DuplicateKey {
                key: name.to_owned(),
                first: *first,
                second: key.start(),
            });
        }
        m.keys.insert(name.to_owned(), key.start());
        if key.is_merge_key() {
            m.merge = Some(node);
        } else {
            m.entries.push((key, node));
        }
        Ok(())
    }

    fn finish(self) -> Node {
        let at = Marker::new(0, 0, 1, 1);
        match self.root {
            Some(root) => to_node(&root),
            None => match self.top {
                Some(TopLevel::Mapping) => {
                    Node::Mapping(MarkedMappingNode::new_empty(Span::new_with_marks(at, at)))
                }
                Some(TopLevel::Sequence) => {
                    Node::Sequence(MarkedSequenceNode::new_empty(Span::new_with_marks(at, at)))
                }
                None => Node::Scalar(MarkedScalarNode::new(Span::new_start(at), "")),
            },
        }
    }
}

/// A mapping's own entries after its `<<` value: the merged mappings' keys come first, a key
/// the mapping sets itself wins, and among several merged mappings the earlier one wins (the
/// YAML merge-key rule).
fn merged(merge: &Rc<Composed>, own: Vec<Entry>) -> Result<Vec<Entry>, LoadError> {
    let sources: Vec<&Rc<Composed>> = match &merge.shape {
        Shape::Mapping(_) => vec![merge],
        Shape::Sequence(items) => items.iter().collect(),
        Shape::Scalar { .. } => {
            return Err(LoadError::BadMerge {
                found: merge.kind(),
                at: merge.start(),
            })
        }
    };
    let mut entries: Vec<Entry> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for source in sources {
        let Shape::Mapping(source_entries) = &source.shape else {
            return Err(LoadError::BadMerge {
                found: source.kind(),
                at: source.start(),
            });
        };
        for (k, v) in source_entries {
            let name = k.scalar_text().unwrap_or_default();
            if !index.contains_key(name) {
                index.insert(name.to_owned(), entries.len());
                entries.push((k.clone(), v.clone()));
            }
        }
    }
    for (k, v) in own {
        match index.get(k.scalar_text().unwrap_or_default()) {
            Some(&i) => entries[i].1 = v,
            None => entries.push((k, v)),
        }
    }
    Ok(entries)
}

/// The marked node for a composed one, aliases copied out. Bottom-up over an explicit stack.
fn to_node(root: &Rc<Composed>) -> Node {
    enum Step<'c> {
        Enter(&'c Composed),
        Build(&'c Composed),
    }
    let mut steps = vec![Step::Enter(root)];
    let mut built: Vec<Node> = Vec::new();
    while let Some(step) = steps.pop() {
        match step {
            Step::Enter(c) => match &c.shape {
                Shape::Scalar { .. } => built.push(scalar_node(c)),
                Shape::Sequence(items) => {
                    steps.push(Step::Build(c));
                    steps.extend(items.iter().rev().map(|i| Step::Enter(i)));
                }
                Shape::Mapping(entries) => {
                    steps.push(Step::Build(c));
                    steps.extend(entries.iter().rev().map(|(_, v)| Step::Enter(v)));
                }
            },
            Step::Build(c) => match &c.shape {
                Shape::Scalar { .. } => unreachable!("scalars are built on entry"),
                Shape::Sequence(items) => {
                    let children = built.split_off(built.len() - items.len());
                    built.push(Node::Sequence(MarkedSequenceNode::new(c.span, children)));
                }
                Shape::Mapping(entries) => {
                    let children = built.split_off(built.len() - entries.len());
                    let mut map = MarkedMappingNode::new_empty(c.span);
                    for ((k, _), v) in entries.iter().zip(children) {
                        if let Node::Scalar(key) = scalar_node(k) {
                            map.insert(key, v);
                        }
                    }
                    built.push(Node::Mapping(map));
                }
            },
        }
    }
    built.pop().expect("one node per document")
}

fn scalar_node(c: &Composed) -> Node {
    let Shape::Scalar { text, plain } = &c.shape else {
        unreachable!("keys and leaves are scalars")
    };
    let mut node = MarkedScalarNode::new(c.span, text.as_str());
    // Only plain scalars are resolved (YAML 1.1 booleans, numbers, null): quoted text stays text.
    node.set_coerce(*plain);
    Node::Scalar(node)
}
