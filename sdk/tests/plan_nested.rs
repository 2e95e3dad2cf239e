//! The plan pipeline inside nested blocks and nested attributes: prior values are
//! paired by list index and map key, and `requires_replace` is found at any depth.

use std::collections::BTreeMap;
use tf_sdk::plan::{mark_computed_unknown, requires_replace};
use tf_sdk::value::Value;
use tf_sdk::{AttributePath, Model, Val};

/// A rule.
#[derive(Model, Clone, Debug)]
struct Rule {
    /// Rule name; changing it replaces the resource.
    #[tf(required, requires_replace)]
    name: Val<String>,
    /// Free text.
    #[tf(optional)]
    note: Val<String>,
    /// Server-assigned, stable.
    #[tf(computed, use_state_for_unknown)]
    rule_id: Val<String>,
    /// Server-computed, changes.
    #[tf(computed)]
    hits: Val<i64>,
}

/// A resource with rules as a list block and as a map nested attribute.
#[derive(Model, Clone, Debug)]
struct Firewall {
    /// Name.
    #[tf(required)]
    name: Val<String>,
    /// Ordered rules.
    #[tf(block)]
    rule: Val<Vec<Rule>>,
    /// Named rules.
    #[tf(optional, nested)]
    named: Val<BTreeMap<String, Rule>>,
}

fn rule(name: &str, note: &str, id: Val<String>, hits: Val<i64>) -> Rule {
    Rule {
        name: Val::Known(name.into()),
        note: Val::Known(note.into()),
        rule_id: id,
        hits,
    }
}

fn config(notes: [&str; 2], names: [&str; 2]) -> Firewall {
    Firewall {
        name: Val::Known("fw".into()),
        rule: Val::Known(vec![
            rule(names[0], notes[0], Val::Null, Val::Null),
            rule(names[1], notes[1], Val::Null, Val::Null),
        ]),
        named: Val::Known(BTreeMap::from([(
            "a".into(),
            rule(names[0], notes[0], Val::Null, Val::Null),
        )])),
    }
}

fn prior() -> Firewall {
    Firewall {
        name: Val::Known("fw".into()),
        rule: Val::Known(vec![
            rule("ssh", "x", Val::Known("r-1".into()), Val::Known(5)),
            rule("web", "y", Val::Known("r-2".into()), Val::Known(9)),
        ]),
        named: Val::Known(BTreeMap::from([(
            "a".into(),
            rule("ssh", "x", Val::Known("r-9".into()), Val::Known(1)),
        )])),
    }
}

/// What Terraform proposes: the configuration with computed values from the prior state.
fn proposed(cfg: &Firewall) -> Value {
    let mut p = cfg.clone();
    let prior = prior();
    if let (Val::Known(rules), Val::Known(prior_rules)) = (&mut p.rule, &prior.rule) {
        for (r, pr) in rules.iter_mut().zip(prior_rules) {
            r.rule_id = pr.rule_id.clone();
            r.hits = pr.hits.clone();
        }
    }
    if let (Val::Known(named), Val::Known(prior_named)) = (&mut p.named, &prior.named) {
        for (k, r) in named.iter_mut() {
            r.rule_id = prior_named[k].rule_id.clone();
            r.hits = prior_named[k].hits.clone();
        }
    }
    p.to_value()
}

#[test]
fn use_state_for_unknown_pairs_prior_by_index_and_key() {
    let cfg = config(["changed", "y"], ["ssh", "web"]);
    let mut plan = proposed(&cfg);
    mark_computed_unknown(
        &Firewall::block(),
        &mut plan,
        &cfg.to_value(),
        &prior().to_value(),
    );
    let planned = Firewall::from_value(&plan).unwrap();
    let rules = planned.rule.known().unwrap();
    assert_eq!(
        rules[0].rule_id,
        Val::Known("r-1".into()),
        "kept from prior element 0"
    );
    assert_eq!(
        rules[1].rule_id,
        Val::Known("r-2".into()),
        "kept from prior element 1"
    );
    assert_eq!(
        rules[0].hits,
        Val::Unknown,
        "plain computed becomes unknown"
    );
    let named = planned.named.known().unwrap();
    assert_eq!(
        named["a"].rule_id,
        Val::Known("r-9".into()),
        "kept from prior map entry"
    );
    assert_eq!(named["a"].hits, Val::Unknown);
}

#[test]
fn requires_replace_is_found_inside_nested_blocks_and_attributes() {
    let block = Firewall::block();
    // Only a note changed: no replacement.
    let cfg = config(["changed", "y"], ["ssh", "web"]);
    let plan = proposed(&cfg);
    assert!(requires_replace(&block, &prior().to_value(), &plan, &cfg.to_value()).is_empty());

    // The second rule's name changed: that path, and the map entry's.
    let cfg = config(["x", "y"], ["ssh", "https"]);
    let plan = proposed(&cfg);
    let paths = requires_replace(&block, &prior().to_value(), &plan, &cfg.to_value());
    assert_eq!(
        paths,
        vec![AttributePath::root("rule").index(1).attr("name")]
    );

    let cfg = config(["x", "y"], ["telnet", "web"]);
    let plan = proposed(&cfg);
    let paths = requires_replace(&block, &prior().to_value(), &plan, &cfg.to_value());
    assert_eq!(
        paths,
        vec![
            AttributePath::root("named").key("a").attr("name"),
            AttributePath::root("rule").index(0).attr("name"),
        ]
    );
}
