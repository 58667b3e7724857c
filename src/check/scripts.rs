//! Every gate script and every `when:` guard compiles, with errors at their place in the
//! `.rhai` file or in the YAML that holds the expression.

use std::path::PathBuf;

use crate::diagnostics::{Code, Diagnostic, Sources, Span, offset_of};
use crate::gates::{GateEngine, GateError};
use crate::spec::Lifecycle;

/// Compiles each resolved gate file; a file that does not compile is reported inside it.
pub(super) fn check_gates(
    sources: &mut Sources,
    engine: &GateEngine,
    gate_files: &[(String, PathBuf)],
    out: &mut Vec<Diagnostic>,
) {
    for (name, path) in gate_files {
        let source = match std::fs::read_to_string(path) {
            Ok(s) => s,
            Err(e) => {
                out.push(Diagnostic::new(
                    Code::MissingGate,
                    format!("cannot read gate `{name}` from `{}`: {e}", path.display()),
                ));
                continue;
            }
        };
        if let Err(GateError::Syntax { place, reason, .. }) = engine.compile(name, path, &source) {
            let offset = place.map_or(0, |p| offset_of(&source, p.line, p.column));
            let file = sources.add(path, source);
            let span = Span::new(file, offset..offset);
            out.push(Diagnostic::new(Code::GateSyntax, format!("gate `{name}` does not compile: {reason}")).at(span));
        }
    }
}

/// Compiles each guard of each lifecycle.
pub(super) fn check_guards(
    sources: &Sources,
    engine: &GateEngine,
    lifecycles: &[Lifecycle],
    out: &mut Vec<Diagnostic>,
) {
    for lifecycle in lifecycles {
        for transition in &lifecycle.transitions {
            let Some(when) = &transition.when else { continue };
            if let Err((place, reason)) = engine.compile_guard(&when.value) {
                out.push(
                    Diagnostic::new(
                        Code::GuardSyntax,
                        format!("guard `{}` does not compile: {reason}", when.value),
                    )
                    .at(guard_span(sources, when.span, &when.value, place)),
                );
            }
        }
    }
}

/// Points inside the YAML scalar when it is written as is (plain), else at the whole scalar.
fn guard_span(sources: &Sources, span: Span, expression: &str, place: Option<crate::gates::Place>) -> Span {
    let written = sources.text(span.file).get(span.range()).unwrap_or("");
    match place {
        Some(p) if written == expression => {
            let at = span.start + offset_of(expression, p.line, p.column);
            Span::new(span.file, at..at.min(span.end))
        }
        _ => span,
    }
}
