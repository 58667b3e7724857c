//! Every shipped workflow is valid, with no warning, and plans.

use std::collections::BTreeMap;

use baton::diagnostics::render_human;
use baton::load::load;

#[test]
fn every_shipped_workflow_is_valid_without_warnings() {
    let mut paths: Vec<_> = std::fs::read_dir("workflows")
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    paths.sort();
    assert!(
        paths.len() >= 3,
        "expected the three shipped workflows, found {paths:?}"
    );
    let env = BTreeMap::<String, String>::new();
    for path in paths {
        let loaded = load(&path, &env).unwrap_or_else(|e| panic!("{e}"));
        let shown = render_human(&loaded.sources, &loaded.diagnostics, false);
        assert!(
            loaded.diagnostics.is_empty(),
            "{} has diagnostics:\n{shown}",
            path.display()
        );
        let festival = loaded
            .festival
            .unwrap_or_else(|| panic!("{} did not compile", path.display()));
        let plan = baton::plan::plan(&festival);
        assert!(!plan.waves.is_empty());
        assert_eq!(plan.wave_of.len(), festival.tasks.len());
    }
}
