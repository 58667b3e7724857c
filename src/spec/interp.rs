//! `${VAR}` and `${VAR:-default}` in scalar values, from the environment.
//!
//! `$${` writes a literal `${`. An unset variable without a default is a diagnostic, never an
//! empty string: a workflow that silently pays `0.0.0` would be worse than one that does not load.

use crate::diagnostics::Code;

/// Where variables come from. The process environment in the binary, a map in tests.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for std::collections::BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// A problem found while interpolating: code, message, hint.
pub type Problem = (Code, String, String);

/// Replaces every `${...}` in `text`. Returns every problem at once when any variable is unset.
pub fn interpolate(text: &str, env: &dyn Env) -> Result<String, Vec<Problem>> {
    if !text.contains('$') {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut problems = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(body_start) = tail.strip_prefix("${") {
            let Some(close) = body_start.find('}') else {
                problems.push((
                    Code::BadInterpolation,
                    "`${` is never closed".to_string(),
                    "write `${NAME}`, `${NAME:-default}`, or `$${` for a literal `${`".to_string(),
                ));
                return Err(problems);
            };
            match expand(&body_start[..close], env) {
                Ok(value) => out.push_str(&value),
                Err(p) => problems.push(p),
            }
            rest = &body_start[close + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    if problems.is_empty() { Ok(out) } else { Err(problems) }
}

fn expand(body: &str, env: &dyn Env) -> Result<String, Problem> {
    let (name, default) = match body.split_once(":-") {
        Some((n, d)) => (n, Some(d)),
        None => (body, None),
    };
    let valid = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if !valid {
        return Err((
            Code::BadInterpolation,
            format!("`${{{body}}}` does not name a variable"),
            "variable names are letters, digits and `_`, not starting with a digit".to_string(),
        ));
    }
    match (env.var(name), default) {
        (Some(v), Some(d)) if v.is_empty() => Ok(d.to_string()),
        (Some(v), _) => Ok(v),
        (None, Some(d)) => Ok(d.to_string()),
        (None, None) => Err((
            Code::UnsetVariable,
            format!("environment variable `{name}` is not set"),
            format!("set `{name}` in the environment or in `.env`, or give a default: `${{{name}:-value}}`"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn cases() {
        let env: BTreeMap<String, String> =
            [("A".to_string(), "1".to_string()), ("EMPTY".to_string(), String::new())].into();
        let cases: &[(&str, Result<&str, Code>)] = &[
            ("plain", Ok("plain")),
            ("${A}", Ok("1")),
            ("x-${A}-y", Ok("x-1-y")),
            ("${B:-2}", Ok("2")),
            ("${EMPTY:-d}", Ok("d")),
            ("${EMPTY}", Ok("")),
            ("$${A}", Ok("${A}")),
            ("cost $5", Ok("cost $5")),
            ("${B}", Err(Code::UnsetVariable)),
            ("${1X}", Err(Code::BadInterpolation)),
            ("${A", Err(Code::BadInterpolation)),
        ];
        for (input, expected) in cases {
            let got = interpolate(input, &env).map_err(|p| p[0].0);
            assert_eq!(got, expected.map(str::to_string), "input {input:?}");
        }
    }
}
