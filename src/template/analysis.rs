//! Which variables a template reads for certain, for the validator: walk minijinja's
//! syntax tree, skip names the template defines itself (`set`, `for`, macros), the globals
//! (`now()`, `lookup`...), and names it may not read at all: behind a guard (`x is
//! defined`, `x is undefined`, `x | default(..)`), in a branch of an `if` (`{% if
//! inventory_hostname in groups.lb %}` may be false on every host that renders it; so
//! may the branches of `a if c else b`). The check reports a variable only where every run reads it.

use super::TemplateError;
use minijinja::machinery::{ast, parse, parse_expr};
use minijinja::Environment;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};

pub fn template_reads(text: &str, env: &Environment<'static>) -> Result<BTreeSet<String>, TemplateError> {
    let text = &*super::source::normalize(text);
    let tree = match parse(text, "<template>", env.syntax().clone()) {
        Ok(tree) => tree,
        Err(_) => {
            return Err(compile_error(
                env.template_from_named_str("<template>", text).err(),
            ))
        }
    };
    let mut reads = Reads::new(env);
    reads.stmt(&tree);
    Ok(reads.out)
}

/// The variables a condition proves defined when it holds (`x is defined`, `x is defined
/// and y is not undefined`): a task whose `when` says so may read them.
pub fn defined_when_true(expr: &str) -> BTreeSet<String> {
    let expr = expr.trim();
    let inner = expr
        .strip_prefix("{{")
        .and_then(|e| e.strip_suffix("}}"))
        .unwrap_or(expr);
    match parse_expr(&super::source::normalize_expression(inner)) {
        Ok(tree) => defined_if_true(&tree).into_iter().map(str::to_owned).collect(),
        Err(_) => BTreeSet::new(),
    }
}

pub fn expression_reads(expr: &str, env: &Environment<'static>) -> Result<BTreeSet<String>, TemplateError> {
    let expr = &*super::source::normalize_expression(expr);
    let tree = match parse_expr(expr) {
        Ok(tree) => tree,
        Err(_) => return Err(compile_error(env.compile_expression(expr).err())),
    };
    let mut reads = Reads::new(env);
    reads.expr(&tree);
    Ok(reads.out)
}

fn compile_error(err: Option<minijinja::Error>) -> TemplateError {
    TemplateError::new(err.map_or_else(|| "syntax error".to_owned(), |err| TemplateError::describe(&err)))
}

/// A lookup chain (`x.y.z`) under `is defined` or `default`, by byte offsets: the chain
/// and each of its prefixes (`x`, `x.y`).
struct GuardedChain {
    span: (usize, usize),
    prefixes: Vec<(usize, usize)>,
}

/// Ansible reads `x.y is defined` as false and `x.y | default(1)` as 1 when `x` (or
/// `x.y` in `x.y.z`) is undefined; minijinja stops at the lookup on the undefined value.
/// The source rewritten so that each such chain reads `undef()` unless its prefixes are
/// defined: `(x.y if x is defined else undef()) is defined`. Anything that does not
/// parse is returned as it is (compiling it reports the error).
pub fn guard_lookup_chains(text: &str, expression: bool) -> Cow<'_, str> {
    let env = super::environment();
    let chains = if expression {
        match parse_expr(text) {
            Ok(tree) => {
                let mut reads = Reads::new(env);
                reads.expr(&tree);
                reads.chains
            }
            Err(_) => return Cow::Borrowed(text),
        }
    } else {
        match parse(text, "<template>", env.syntax().clone()) {
            Ok(tree) => {
                let mut reads = Reads::new(env);
                reads.stmt(&tree);
                reads.chains
            }
            Err(_) => return Cow::Borrowed(text),
        }
    };
    if chains.is_empty() {
        return Cow::Borrowed(text);
    }
    // Outermost chains only, from the end so that earlier offsets stay valid.
    let mut outer: Vec<&GuardedChain> = Vec::new();
    for chain in &chains {
        let inside = chains
            .iter()
            .any(|c| c.span != chain.span && c.span.0 <= chain.span.0 && chain.span.1 <= c.span.1);
        if !inside && !outer.iter().any(|o| o.span == chain.span) {
            outer.push(chain);
        }
    }
    outer.sort_by_key(|c| std::cmp::Reverse(c.span.0));
    let mut out = text.to_owned();
    for chain in outer {
        let Some(whole) = text.get(chain.span.0..chain.span.1) else {
            return Cow::Borrowed(text);
        };
        let mut tests = Vec::new();
        for (start, end) in &chain.prefixes {
            match text.get(*start..*end) {
                Some(prefix) => tests.push(format!("{prefix} is defined")),
                None => return Cow::Borrowed(text),
            }
        }
        let guarded = format!("({whole} if {} else undef())", tests.join(" and "));
        out.replace_range(chain.span.0..chain.span.1, &guarded);
    }
    Cow::Owned(out)
}

/// The templates `text` names with a literal in `include`, `import`, `from` and
/// `extends`, with the line of each (`include ... ignore missing` left out).
pub fn template_refs(text: &str, env: &Environment<'static>) -> Vec<(String, usize)> {
    let text = &*super::source::normalize(text);
    match parse(text, "<template>", env.syntax().clone()) {
        Ok(tree) => {
            let mut reads = Reads::new(env);
            reads.stmt(&tree);
            reads.refs
        }
        Err(_) => Vec::new(),
    }
}

struct Reads<'a> {
    /// Templates named by a literal: (name, line).
    refs: Vec<(String, usize)>,
    chains: Vec<GuardedChain>,
    out: BTreeSet<String>,
    /// Names known at this point: assigned by the template or guarded. Innermost last.
    known: Vec<HashSet<&'a str>>,
    globals: HashSet<String>,
    /// How many branches deep the walk is: a name read inside one may never be read.
    branches: usize,
}

fn is_default_filter(name: &str) -> bool {
    name == "default" || name == "d"
}

/// The variable at the root of `x`, `x.y`, `x['y'].z`: what `is defined` and `default`
/// protect (Ansible's `x.y is defined` is false, not an error, when `x` is undefined).
fn bare_var<'a>(expr: &ast::Expr<'a>) -> Option<&'a str> {
    match expr {
        ast::Expr::Var(var) => Some(var.id),
        ast::Expr::GetAttr(attr) => bare_var(&attr.expr),
        ast::Expr::GetItem(item) if matches!(item.subscript_expr, ast::Expr::Const(_)) => {
            bare_var(&item.expr)
        }
        _ => None,
    }
}

/// Names that are defined whenever `expr` is true.
fn defined_if_true<'a>(expr: &ast::Expr<'a>) -> HashSet<&'a str> {
    match expr {
        ast::Expr::Test(test) if test.name == "defined" => bare_var(&test.expr).into_iter().collect(),
        ast::Expr::UnaryOp(op) if matches!(op.op, ast::UnaryOpKind::Not) => defined_if_false(&op.expr),
        ast::Expr::BinOp(op) if matches!(op.op, ast::BinOpKind::ScAnd) => {
            let mut names = defined_if_true(&op.left);
            names.extend(defined_if_true(&op.right));
            names
        }
        _ => HashSet::new(),
    }
}

/// Names that are defined whenever `expr` is false.
fn defined_if_false<'a>(expr: &ast::Expr<'a>) -> HashSet<&'a str> {
    match expr {
        ast::Expr::Test(test) if test.name == "undefined" => bare_var(&test.expr).into_iter().collect(),
        ast::Expr::UnaryOp(op) if matches!(op.op, ast::UnaryOpKind::Not) => defined_if_true(&op.expr),
        ast::Expr::BinOp(op) if matches!(op.op, ast::BinOpKind::ScOr) => {
            let mut names = defined_if_false(&op.left);
            names.extend(defined_if_false(&op.right));
            names
        }
        _ => HashSet::new(),
    }
}

/// The names an assignment target binds (`x`, `k, v`).
fn bound_names<'a>(target: &ast::Expr<'a>, out: &mut HashSet<&'a str>) {
    match target {
        ast::Expr::Var(var) => {
            out.insert(var.id);
        }
        ast::Expr::Tuple(tuple) => tuple.items.iter().for_each(|item| bound_names(item, out)),
        ast::Expr::List(list) => list.items.iter().for_each(|item| bound_names(item, out)),
        _ => {}
    }
}

impl<'a> Reads<'a> {
    fn template_ref(&mut self, name: &ast::Expr<'a>) {
        if let ast::Expr::Const(c) = name {
            if let Some(text) = c.value.as_str() {
                self.refs
                    .push((text.to_owned(), usize::from(c.span().start_line)));
            }
        }
    }

    fn new(env: &Environment<'static>) -> Self {
        let mut globals: HashSet<String> = env.globals().map(|(name, _)| name.to_owned()).collect();
        // Always there: Ansible's `omit` and `vars`, minijinja's `self` for blocks.
        globals.extend(["omit", "vars", "self"].map(String::from));
        globals.extend(super::globals::GLOBALS.iter().map(|g| (*g).to_owned()));
        Reads {
            refs: Vec::new(),
            chains: Vec::new(),
            out: BTreeSet::new(),
            known: vec![HashSet::new()],
            globals,
            branches: 0,
        }
    }

    fn read(&mut self, name: &str) {
        let known = self.known.iter().any(|scope| scope.contains(name)) || self.globals.contains(name);
        if !known && self.branches == 0 {
            self.out.insert(name.to_owned());
        }
    }

    fn with_known(&mut self, names: HashSet<&'a str>, visit: impl FnOnce(&mut Self)) {
        self.known.push(names);
        visit(self);
        self.known.pop();
    }

    /// Visit a branch that may not run: what it reads, it may never read.
    fn in_branch(&mut self, names: HashSet<&'a str>, visit: impl FnOnce(&mut Self)) {
        self.branches += 1;
        self.with_known(names, visit);
        self.branches -= 1;
    }

    /// Note a guarded lookup chain (`x.y`, not a bare `x`) for `guard_lookup_chains`.
    fn chain(&mut self, expr: &ast::Expr<'a>) {
        let mut prefixes = Vec::new();
        let mut at = expr;
        loop {
            at = match at {
                ast::Expr::GetAttr(attr) => &attr.expr,
                ast::Expr::GetItem(item) => &item.expr,
                _ => break,
            };
            let span = at.span();
            prefixes.push((span.start_offset as usize, span.end_offset as usize));
        }
        if prefixes.is_empty() {
            return;
        }
        prefixes.reverse();
        // A nested lookup's own span may begin at its `.`: every part starts at the root.
        let start = prefixes.iter().map(|p| p.0).min().unwrap_or(0);
        let prefixes = prefixes.into_iter().map(|(_, end)| (start, end)).collect();
        let span = expr.span();
        self.chains.push(GuardedChain {
            span: (start.min(span.start_offset as usize), span.end_offset as usize),
            prefixes,
        });
    }

    fn assign(&mut self, target: &ast::Expr<'a>) {
        let mut names = HashSet::new();
        bound_names(target, &mut names);
        self.known.last_mut().expect("a scope").extend(names);
        if let ast::Expr::GetAttr(attr) = target {
            // `set ns.count = ..` reads the namespace.
            self.expr(&attr.expr);
        }
    }

    fn exprs(&mut self, exprs: &[ast::Expr<'a>]) {
        exprs.iter().for_each(|e| self.expr(e));
    }

    fn args(&mut self, args: &[ast::CallArg<'a>]) {
        for arg in args {
            match arg {
                ast::CallArg::Pos(e)
                | ast::CallArg::Kwarg(_, e)
                | ast::CallArg::PosSplat(e)
                | ast::CallArg::KwargSplat(e) => self.expr(e),
            }
        }
    }

    fn expr(&mut self, expr: &ast::Expr<'a>) {
        match expr {
            ast::Expr::Var(var) => self.read(var.id),
            ast::Expr::Const(_) => {}
            ast::Expr::Test(test) => {
                let guard = matches!(test.name, "defined" | "undefined") && bare_var(&test.expr).is_some();
                if guard {
                    self.chain(&test.expr);
                } else {
                    self.expr(&test.expr);
                }
                self.args(&test.args);
            }
            ast::Expr::Filter(filter) => {
                if let Some(input) = &filter.expr {
                    if is_default_filter(filter.name) && bare_var(input).is_some() {
                        self.chain(input);
                    } else {
                        self.expr(input);
                    }
                }
                self.args(&filter.args);
            }
            ast::Expr::IfExpr(if_expr) => {
                self.expr(&if_expr.test_expr);
                let (yes, no) = (
                    defined_if_true(&if_expr.test_expr),
                    defined_if_false(&if_expr.test_expr),
                );
                self.in_branch(yes, |r| r.expr(&if_expr.true_expr));
                if let Some(otherwise) = &if_expr.false_expr {
                    self.in_branch(no, |r| r.expr(otherwise));
                }
            }
            ast::Expr::BinOp(op) => {
                self.expr(&op.left);
                let guarded = match op.op {
                    ast::BinOpKind::ScAnd => defined_if_true(&op.left),
                    ast::BinOpKind::ScOr => defined_if_false(&op.left),
                    _ => HashSet::new(),
                };
                self.with_known(guarded, |r| r.expr(&op.right));
            }
            ast::Expr::UnaryOp(op) => self.expr(&op.expr),
            ast::Expr::Compare(cmp) => {
                self.expr(&cmp.expr);
                cmp.ops.iter().for_each(|op| self.expr(&op.expr));
            }
            ast::Expr::Slice(slice) => {
                self.expr(&slice.expr);
                for part in [&slice.start, &slice.stop, &slice.step].into_iter().flatten() {
                    self.expr(part);
                }
            }
            ast::Expr::GetAttr(attr) => self.expr(&attr.expr),
            ast::Expr::GetItem(item) => {
                self.expr(&item.expr);
                self.expr(&item.subscript_expr);
            }
            ast::Expr::Call(call) => {
                self.expr(&call.expr);
                self.args(&call.args);
            }
            ast::Expr::List(list) => self.exprs(&list.items),
            ast::Expr::Tuple(tuple) => self.exprs(&tuple.items),
            ast::Expr::Map(map) => {
                self.exprs(&map.keys);
                self.exprs(&map.values);
            }
        }
    }

    fn body(&mut self, stmts: &[ast::Stmt<'a>]) {
        stmts.iter().for_each(|s| self.stmt(s));
    }

    fn macro_decl(&mut self, m: &ast::Macro<'a>, caller: bool) {
        self.exprs(&m.defaults);
        let mut names: HashSet<&'a str> = ["varargs", "kwargs"].into();
        if caller {
            names.insert("caller");
        }
        m.args.iter().for_each(|arg| bound_names(arg, &mut names));
        self.with_known(names, |r| r.body(&m.body));
    }

    fn stmt(&mut self, stmt: &ast::Stmt<'a>) {
        match stmt {
            ast::Stmt::Template(t) => self.body(&t.children),
            ast::Stmt::EmitExpr(e) => self.expr(&e.expr),
            ast::Stmt::EmitRaw(_) | ast::Stmt::Continue(_) | ast::Stmt::Break(_) => {}
            ast::Stmt::ForLoop(f) => {
                self.expr(&f.iter);
                let mut names: HashSet<&'a str> = ["loop"].into();
                bound_names(&f.target, &mut names);
                self.with_known(names, |r| {
                    if let Some(filter) = &f.filter_expr {
                        r.expr(filter);
                    }
                    r.body(&f.body);
                });
                self.body(&f.else_body);
            }
            ast::Stmt::IfCond(cond) => {
                self.expr(&cond.expr);
                let (yes, no) = (defined_if_true(&cond.expr), defined_if_false(&cond.expr));
                self.in_branch(yes, |r| r.body(&cond.true_body));
                self.in_branch(no, |r| r.body(&cond.false_body));
            }
            ast::Stmt::WithBlock(with) => {
                let mut names = HashSet::new();
                for (target, value) in &with.assignments {
                    self.expr(value);
                    bound_names(target, &mut names);
                }
                self.with_known(names, |r| r.body(&with.body));
            }
            ast::Stmt::Set(set) => {
                self.expr(&set.expr);
                self.assign(&set.target);
            }
            ast::Stmt::SetBlock(set) => {
                if let Some(filter) = &set.filter {
                    self.expr(filter);
                }
                self.body(&set.body);
                self.assign(&set.target);
            }
            ast::Stmt::AutoEscape(block) => {
                self.expr(&block.enabled);
                self.body(&block.body);
            }
            ast::Stmt::FilterBlock(block) => {
                self.expr(&block.filter);
                self.body(&block.body);
            }
            ast::Stmt::Block(block) => self.body(&block.body),
            ast::Stmt::Import(import) => {
                self.template_ref(&import.expr);
                self.expr(&import.expr);
                self.assign(&import.name);
            }
            ast::Stmt::FromImport(import) => {
                self.template_ref(&import.expr);
                self.expr(&import.expr);
                for (name, alias) in &import.names {
                    self.assign(alias.as_ref().unwrap_or(name));
                }
            }
            ast::Stmt::Extends(extends) => {
                self.template_ref(&extends.name);
                self.expr(&extends.name);
            }
            ast::Stmt::Include(include) => {
                if !include.ignore_missing {
                    self.template_ref(&include.name);
                }
                self.expr(&include.name);
            }
            ast::Stmt::Macro(m) => {
                self.known.last_mut().expect("a scope").insert(m.name);
                self.macro_decl(m, false);
            }
            ast::Stmt::CallBlock(call) => {
                self.expr(&call.call.expr);
                self.args(&call.call.args);
                self.macro_decl(&call.macro_decl, true);
            }
            ast::Stmt::Do(d) => {
                self.expr(&d.call.expr);
                self.args(&d.call.args);
            }
        }
    }
}
