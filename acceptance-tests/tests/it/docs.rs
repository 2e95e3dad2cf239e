//! The registry documentation in `docs/` is what the schema and `examples/` make of
//! it; run `UPDATE_DOCS=1 cargo test -p acceptance-tests docs` after changing either.

use std::path::Path;

#[test]
fn registry_docs_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let update = std::env::var_os("UPDATE_DOCS").is_some();
    let pages = terraform_provider_octopus::docs::pages(&root.join("examples"));
    let mut stale = Vec::new();
    for page in &pages {
        let path = root.join(&page.path);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current != page.text {
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &page.text).unwrap();
            } else {
                stale.push(page.path.clone());
            }
        }
    }
    // No page may be left over from a resource that is gone.
    for dir in ["docs/resources", "docs/data-sources"] {
        for entry in std::fs::read_dir(root.join(dir)).into_iter().flatten() {
            let rel = format!("{dir}/{}", entry.unwrap().file_name().to_string_lossy());
            if !pages.iter().any(|p| p.path == rel) {
                stale.push(format!("{rel} (no such resource or data source)"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale registry docs: {stale:?}\nrun: UPDATE_DOCS=1 cargo test -p acceptance-tests docs"
    );
}
