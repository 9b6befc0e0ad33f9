//! Which variables a template reads for certain, for the validator: walk minijinja's
//! syntax tree, skip names the template defines itself (`set`, `for`, macros), the globals
//! (`now()`, `lookup`...), and names it may not read at all: behind a guard (`x is
//! defined`, `x is undefined`, `x | default(..)`), in a branch of an `if` (`{% if
//! inventory_hostname in groups.lb %}` may be false on every host that renders it; so
//! may the branches of `a if c else b`). The check reports a variable only where every run reads it.

use super::TemplateError;
use minijinja::machinery::{ast, parse, parse_expr};
use minijinja::Environment;
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

struct Reads<'a> {
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

fn bare_var<'a>(expr: &ast::Expr<'a>) -> Option<&'a str> {
    match expr {
        ast::Expr::Var(var) => Some(var.id),
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
    fn new(env: &Environment<'static>) -> Self {
        let mut globals: HashSet<String> = env.globals().map(|(name, _)| name.to_owned()).collect();
        // Always there: Ansible's `omit` and `vars`, minijinja's `self` for blocks.
        globals.extend(["omit", "vars", "self"].map(String::from));
        globals.extend(super::globals::GLOBALS.iter().map(|g| (*g).to_owned()));
        Reads {
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
                if !guard {
                    self.expr(&test.expr);
                }
                self.args(&test.args);
            }
            ast::Expr::Filter(filter) => {
                if let Some(input) = &filter.expr {
                    if !(is_default_filter(filter.name) && bare_var(input).is_some()) {
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
                self.expr(&import.expr);
                self.assign(&import.name);
            }
            ast::Stmt::FromImport(import) => {
                self.expr(&import.expr);
                for (name, alias) in &import.names {
                    self.assign(alias.as_ref().unwrap_or(name));
                }
            }
            ast::Stmt::Extends(extends) => self.expr(&extends.name),
            ast::Stmt::Include(include) => self.expr(&include.name),
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
