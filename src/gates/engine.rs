//! The Rhai engine, configured once: limits, no `eval`, no modules, no printing, no clock.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rhai::{AST, Dynamic, Engine, EvalAltResult, ParseError, Position, Scope};

use super::verdict::{self, Verdict};
use super::{Gate, GateError, GateInput, Guard, Place, script_hash};

/// Bounds every script runs within. Exceeding one is an error naming the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub operations: u64,
    pub call_levels: usize,
    pub expr_depth: usize,
    pub function_expr_depth: usize,
    pub string_size: usize,
    pub array_size: usize,
    pub map_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            operations: 100_000,
            call_levels: 32,
            expr_depth: 64,
            function_expr_depth: 32,
            string_size: 64 * 1024,
            array_size: 10_000,
            map_size: 10_000,
        }
    }
}

/// The names every gate and guard sees.
const INPUTS: [&str; 5] = ["task", "report", "params", "upstream", "festival"];

thread_local! {
    /// Reasons `require` collected during the evaluation running on this thread.
    static REQUIRED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn require(condition: bool, reason: &str) {
    if !condition {
        REQUIRED.with(|r| r.borrow_mut().push(reason.to_string()));
    }
}

fn current_verdict() -> rhai::Map {
    let reasons: rhai::Array = REQUIRED.with(|r| r.borrow().iter().map(|s| Dynamic::from(s.clone())).collect());
    let mut map = rhai::Map::new();
    map.insert("pass".into(), Dynamic::from(reasons.is_empty()));
    map.insert("reasons".into(), Dynamic::from(reasons));
    map.insert("score".into(), Dynamic::UNIT);
    map
}

/// Compiles and runs gates and guards. Compiled scripts are cached by the hash of their source.
pub struct GateEngine {
    engine: Engine,
    cache: Mutex<HashMap<String, Arc<AST>>>,
}

impl Default for GateEngine {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl GateEngine {
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        let mut engine = Engine::new();
        engine
            .set_max_operations(limits.operations)
            .set_max_call_levels(limits.call_levels)
            .set_max_expr_depths(limits.expr_depth, limits.function_expr_depth)
            .set_max_string_size(limits.string_size)
            .set_max_array_size(limits.array_size)
            .set_max_map_size(limits.map_size)
            .set_max_modules(0)
            .set_strict_variables(true)
            .set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new())
            .disable_symbol("eval")
            .on_print(|_| {})
            .on_debug(|_, _, _| {});
        engine.register_fn("require", require);
        engine.register_fn("verdict", current_verdict);
        Self {
            engine,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The names scripts may use, for strict-variables mode. Declared as variables, not constants:
    /// the optimizer folds constants into the script, which would freeze every input at `()`.
    fn compile_scope() -> Scope<'static> {
        let mut scope = Scope::new();
        for name in INPUTS {
            scope.push(name, Dynamic::UNIT);
        }
        scope
    }

    /// Compiles a gate's source, or takes it from the cache.
    pub fn compile(&self, name: &str, path: &Path, source: &str) -> Result<Gate, GateError> {
        let hash = script_hash(source);
        let cached = self.cache.lock().ok().and_then(|c| c.get(&hash).cloned());
        let ast = match cached {
            Some(ast) => ast,
            None => {
                let ast = self
                    .engine
                    .compile_with_scope(&Self::compile_scope(), source)
                    .map_err(|e| GateError::Syntax {
                        gate: name.to_string(),
                        path: path.to_path_buf(),
                        place: place(e.position()),
                        reason: parse_reason(&e),
                    })?;
                let ast = Arc::new(ast);
                if let Ok(mut cache) = self.cache.lock() {
                    cache.insert(hash.clone(), Arc::clone(&ast));
                }
                ast
            }
        };
        Ok(Gate {
            name: name.to_string(),
            path: path.to_path_buf(),
            hash,
            ast,
        })
    }

    /// Reads and compiles a gate file.
    pub fn load(&self, name: &str, path: &Path) -> Result<Gate, GateError> {
        let source = std::fs::read_to_string(path).map_err(|e| GateError::Read {
            gate: name.to_string(),
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        self.compile(name, path, &source)
    }

    /// Compiles a `when:` expression. The error's place is within the expression.
    pub fn compile_guard(&self, source: &str) -> Result<Guard, (Option<Place>, String)> {
        let ast = self
            .engine
            .compile_expression_with_scope(&Self::compile_scope(), source)
            .map_err(|e| (place(e.position()), parse_reason(&e)))?;
        Ok(Guard {
            source: source.to_string(),
            ast: Arc::new(ast),
        })
    }

    fn run(&self, ast: &AST, input: &GateInput) -> Result<(Dynamic, Vec<String>), Box<EvalAltResult>> {
        let mut scope = Scope::new();
        for (name, value) in INPUTS.into_iter().zip([
            &input.task,
            &input.report,
            &input.params,
            &input.upstream,
            &input.festival,
        ]) {
            let value = rhai::serde::to_dynamic(value)?;
            scope.push_constant(name, value);
        }
        REQUIRED.with(|r| r.borrow_mut().clear());
        let result = self.engine.eval_ast_with_scope::<Dynamic>(&mut scope, ast);
        let required = REQUIRED.with(|r| std::mem::take(&mut *r.borrow_mut()));
        result.map(|value| (value, required))
    }

    /// Runs a gate on its input. The same gate and input always give the same verdict.
    pub fn evaluate(&self, gate: &Gate, input: &GateInput) -> Result<Verdict, GateError> {
        let (value, required) = self.run(&gate.ast, input).map_err(|e| GateError::Runtime {
            gate: gate.name.clone(),
            path: gate.path.clone(),
            place: place(e.position()),
            reason: runtime_reason(&e),
        })?;
        let (pass, reasons, score) = verdict::from_dynamic(value, required).map_err(|found| GateError::WrongType {
            gate: gate.name.clone(),
            found,
        })?;
        Ok(Verdict {
            gate: gate.name.clone(),
            script_hash: gate.hash.clone(),
            pass,
            reasons,
            score,
        })
    }

    /// Evaluates a guard; anything but a bool is an error.
    pub fn check_guard(&self, guard: &Guard, input: &GateInput) -> Result<bool, String> {
        let (value, _) = self.run(&guard.ast, input).map_err(|e| runtime_reason(&e))?;
        value
            .as_bool()
            .map_err(|t| format!("`{}` gave {t}, not a bool", guard.source))
    }
}

fn place(position: Position) -> Option<Place> {
    Some(Place {
        line: position.line()?,
        column: position.position().unwrap_or(1),
    })
}

fn parse_reason(error: &ParseError) -> String {
    error.err_type().to_string()
}

/// The reason without Rhai's own position suffix (the place is reported separately).
fn runtime_reason(error: &EvalAltResult) -> String {
    match error {
        EvalAltResult::ErrorTooManyOperations(_) => {
            "exceeded the limit on operations (a loop that does not end?)".into()
        }
        EvalAltResult::ErrorStackOverflow(_) => "exceeded the limit on call depth (unbounded recursion?)".into(),
        EvalAltResult::ErrorDataTooLarge(what, _) => format!("exceeded the limit on {what}"),
        EvalAltResult::ErrorRuntime(value, _) => format!("the script threw: {value}"),
        EvalAltResult::ErrorInFunctionCall(name, _, inner, _) => format!("in `{name}`: {}", runtime_reason(inner)),
        other => {
            let text = other.to_string();
            match text.rfind(" (line ") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}
